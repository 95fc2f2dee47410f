// Package mockllm serves an OpenAI-compatible chat-completions endpoint
// whose answers cost nothing: each completion waits a time to first token,
// then produces its tokens at a set rate, streamed as OpenAI's
// chat.completion.chunk events (or returned whole). A real Dify pointed at
// it through its OpenAI-API-compatible model provider can be load-tested
// as a platform (api, workers, database, plugin daemon) without paying for
// tokens or measuring a vendor's queue.
//
// It serves POST /v1/chat/completions (streaming and not, with
// stream_options.include_usage), GET /v1/models and GET /health; an
// optional Bearer key; OpenAI's error bodies for bad requests. Every
// request body, completion length and connection is bounded, and a
// client that goes away ends its completion.
//
// It owns the mock provider only and uses the standard library alone.
//
// Imports of this module: internal/wait.
package mockllm
