// Package loader generates SSE load against Dify's service API and measures
// it honestly: time to response headers, time to first token, time to the
// stream's end event, events per stream, TPS inside a measured window, a
// per-second timeline, and every failed request classified by kind with a
// redacted first example.
//
// The pipeline is Config → Run → Summary: a Scenario builds each request and
// judges its response; a load shape (closed-loop users with think time,
// spawn rate and stages, or an open-loop arrival rate free of coordinated
// omission) decides when requests start; a recorder keeps HdrHistograms.
// Summary converts to results.Measurement for the search. A Mix splits the
// users among several apps (their scenarios and their own keys) by weight,
// as one Dify serving several apps sees them.
//
// Each virtual user keeps one HTTP/1.1 connection (HTTP/2 and proxies
// are not used: Dify is served over HTTP/1.1 and a browser fleet opens a
// connection per tab) and does its own request and response on it, so the
// client's cost per stream is the stream's, not a connection pool's. On
// Linux its reads and writes are raw system calls on the non-blocking
// socket, waiting on Go's netpoller as net.Conn does but unseen by the
// scheduler, whose bookkeeping (waking its monitor thread after each idle
// spell, handing off a P) cost more CPU than the reads themselves against
// a server that flushes every event. What Dify always sends (a 200
// chunked response, events whose keys are plain lowercase JSON) is read
// on byte-level fast paths that hand anything else to net/http and
// encoding/json, and are fuzzed against them; answer chunks after the
// first token are not decoded at all.
//
// Measurement choices: times are taken with the monotonic clock and
// recorded in microseconds (HdrHistogram, 1 µs to 10 min, 3 significant
// digits); time to headers is when the response's status and headers are read; percentiles are of
// successful requests ending inside the window; requests cut by the end
// of the run are not counted at all; in an open loop every time is
// measured from the scheduled start.
//
// It owns load generation and measurement only. It must not import search
// or deployer; its subpackage sse decodes the event streams.
//
// Imports of this module: spaces, results, loader/sse and internal/wait.
// Never imports: helm.sh/helm, k8s.io, github.com/c-bata/goptuna.
package loader
