// Package loader generates SSE load against a Dify chat API and measures it:
// time to first byte, time to the stream's end event, completed and failed
// streams. Its subpackage sse decodes the event streams.
//
// It knows nothing of search: it must not import search or deployer.
package loader
