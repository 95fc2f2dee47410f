// Package sse decodes a text/event-stream into events, exactly as the WHATWG
// HTML spec's "Parsing an event stream" and "Interpreting an event stream"
// define it: CRLF, LF and CR line ends (a CRLF split across reads is one line
// end), one leading BOM skipped, comments, the event, data, id and retry
// fields, dispatch on a blank line, and an unfinished event at the end of
// the stream discarded (and reported as ErrIncompleteEvent, so a load
// tester can tell a cut stream from a finished one). Invalid UTF-8 is
// replaced with U+FFFD as the spec's UTF-8 decode does, paying only for a
// validity check when the bytes are valid.
//
// It is built for a load generator reading thousands of streams per second
// per core: Event.Data aliases the decoder's buffer, and Reset reuses a
// decoder across streams, so steady-state decoding does not allocate. Lines
// and events are bounded by a max size, so a hostile server cannot make it
// hold unbounded memory.
//
// Dify's keep-alive is "event: ping" and a blank line. That event has no
// data, so by the spec it is never dispatched and Next does not return it;
// WithEmptyEventFunc sees it, as WithCommentFunc sees ": ping" comments.
//
// It owns only decoding the byte stream into events. It knows nothing of
// Dify's JSON, HTTP, reconnection or load, and must not import any package
// of this module; it uses the standard library only.
//
// Imports of this module: nothing.
package sse
