package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tune-dify/tune/loader/sse"
)

// Error kinds a failed request is counted under. HTTP failures are
// "http_<status>" or, when the body is Dify's {code, message, status},
// "http_<status>_<code>".
const (
	KindErrorEvent     = "error_event"     // an error event inside a 200 stream
	KindWorkflowFailed = "workflow_failed" // workflow_finished with a status other than succeeded
	KindNoEndEvent     = "no_end_event"    // the stream ended without its end event
	KindTimeout        = "timeout"         // request or header timeout
	KindConnection     = "connection"      // dial failure, reset, truncated body
	KindMalformed      = "malformed"       // wrong content type, bad JSON, event too large
	KindOverload       = "overload"        // open loop: start skipped at the in-flight cap
)

// maxExample bounds an error example, so a hostile body cannot bloat the summary.
const maxExample = 300

// Error is a failed request: its kind and what the server said.
type Error struct {
	Kind    string
	Status  int    // HTTP status, 0 if none
	Code    string // Dify's code, when it sent one
	Message string // redacted and bounded
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Kind
	}
	return e.Kind + ": " + e.Message
}

func errorf(kind, format string, a ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, a...)}
}

// difyError is Dify's error body, before the stream and in error events.
type difyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status"`
}

// httpError classifies a non-200 response from its status and body. A code
// that contains a key (a server echoing it) is not used as a kind.
func httpError(status int, body []byte, keys ...Secret) *Error {
	e := &Error{Kind: "http_" + strconv.Itoa(status), Status: status}
	var d difyError
	if json.Unmarshal(body, &d) == nil && d.Code != "" {
		for _, key := range keys {
			if key != "" && strings.Contains(d.Code, string(key)) {
				d.Code = "redacted"
			}
		}
		e.Code = d.Code
		if c := kindSafe(d.Code); c != "" {
			e.Kind += "_" + c
		}
		e.Message = d.Message
	} else {
		e.Message = string(body)
	}
	return e
}

// kindSafe keeps a server-chosen code usable as a map key and CSV field:
// lowercase letters, digits and underscores, at most 40 of them.
func kindSafe(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		if b.Len() == 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// classify turns whatever ended a request into an *Error. It returns nil
// when the run itself was stopping: such a request is cut by us, not failed
// by the server, and is not counted.
func classify(err error, reqCtx, runCtx context.Context) *Error {
	if ended(runCtx) {
		return nil
	}
	var e *Error
	var ne net.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(reqCtx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Error{Kind: KindTimeout, Message: err.Error()}
	case errors.Is(err, sse.ErrEventTooLarge):
		return &Error{Kind: KindMalformed, Message: err.Error()}
	case errors.Is(err, sse.ErrIncompleteEvent):
		return &Error{Kind: KindNoEndEvent, Message: err.Error()}
	default:
		return &Error{Kind: KindConnection, Message: err.Error()}
	}
}

// ended reports whether ctx is done or its deadline has passed. On a busy
// machine the deadline's timer fires late; a connection deadline taken from
// it has already failed every read in between, and those requests were cut
// by the run's end, not failed by the server.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// redact removes the keys from s and bounds it to maxExample bytes of valid
// UTF-8. A key could only get there if a server echoed it, but a load
// tester's output gets pasted into tickets.
func redact(s string, keys ...Secret) string {
	for _, key := range keys {
		if key != "" {
			s = strings.ReplaceAll(s, string(key), redacted)
		}
	}
	if len(s) > maxExample {
		s = s[:maxExample]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
