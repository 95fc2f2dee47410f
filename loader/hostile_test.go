package loader_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/internal/leakcheck"
	"github.com/tune-dify/tune/loader"
)

func sse(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, e := range events {
		fmt.Fprint(w, e)
		w.(http.Flusher).Flush()
	}
}

const msg = "data: {\"event\":\"message\",\"answer\":\"hi\"}\n\n"

// wait blocks until the client goes or d passes, so a hostile handler
// never outlives its test.
func wait(r *http.Request, d time.Duration) {
	// The server notices a client hanging up only once the body is read.
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(d):
	}
}

var huge = "data: {\"event\":\"message\",\"answer\":\"" + strings.Repeat("a", 10<<20) + "\"}\n\n"

// slowScan is the timeout and run of the cases whose bytes take the client
// long to scan: a megabyte takes the race detector 200 ms, five times that
// on a busy machine, and a request still running at the run's end is cut,
// not judged.
const slowScan = 3 * time.Second

// TestHostile runs the loader against servers that misbehave, each of which
// must be classified under one kind, never counted as a success, and must
// not hold the run past its duration.
func TestHostile(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		kinds   []string // acceptable kinds
		sc      loader.Scenario
		timeout time.Duration // when not the default
	}{
		{"slow headers", func(w http.ResponseWriter, r *http.Request) { wait(r, 5*time.Second) }, []string{"timeout"}, nil, 0},
		{"never ends", func(w http.ResponseWriter, r *http.Request) {
			sse(w, msg)
			for r.Context().Err() == nil {
				sse(w, "event: ping\n\n")
				wait(r, 20*time.Millisecond)
			}
		}, []string{"timeout"}, nil, 0},
		{"slow error body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			w.(http.Flusher).Flush()
			wait(r, 5*time.Second)
		}, []string{"timeout"}, nil, 0},
		{"garbage json", func(w http.ResponseWriter, r *http.Request) { sse(w, msg, "data: \x00\xff{garbage\n\n") }, []string{"malformed"}, nil, 0},
		{"garbage bytes", func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 64<<10)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			sse(w, string(b))
		}, []string{"malformed", "no_end_event"}, nil, slowScan},
		{"10 MB event", func(w http.ResponseWriter, r *http.Request) {
			sse(w, huge)
		}, []string{"malformed"}, nil, slowScan},
		{"reset mid-stream", func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(msg), msg)
			_ = buf.Flush()
			_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
			_ = conn.Close()
		}, []string{"connection"}, nil, 0},
		{"cut without end", func(w http.ResponseWriter, r *http.Request) { sse(w, msg, msg) }, []string{"no_end_event"}, nil, 0},
		{"cut mid-event", func(w http.ResponseWriter, r *http.Request) { sse(w, msg, "data: {\"event\":") }, []string{"no_end_event"}, nil, 0},
		{"401 dify", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, map[string]any{"code": "unauthorized", "message": "Access token is invalid", "status": 401})
		}, []string{"http_401_unauthorized"}, nil, 0},
		{"401 bare", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, []string{"http_401"}, nil, 0},
		{"400 invalid param", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 400, map[string]any{"code": "invalid_param", "message": "query is required", "status": 400})
		}, []string{"http_400_invalid_param"}, nil, 0},
		{"429 dify", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 429, map[string]any{"code": "too_many_requests", "message": "Too many requests", "status": 429})
		}, []string{"http_429_too_many_requests"}, nil, 0},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "Internal Server Error", 500) }, []string{"http_500"}, nil, 0},
		{"302", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, []string{"http_302"}, nil, 0},
		{"wrong content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>"+msg)
		}, []string{"malformed"}, nil, 0},
		{"error event", func(w http.ResponseWriter, r *http.Request) {
			sse(w, msg, "event: error\ndata: {\"event\":\"error\",\"status\":500,\"code\":\"internal_server_error\",\"message\":\"model quota exceeded\"}\n\n")
		}, []string{"error_event"}, nil, 0},
		{"workflow failed", func(w http.ResponseWriter, r *http.Request) {
			sse(w, "data: {\"event\":\"workflow_started\"}\n\n", msg,
				"data: {\"event\":\"workflow_finished\",\"data\":{\"status\":\"failed\",\"error\":\"node llm failed\"}}\n\n",
				"data: {\"event\":\"message_end\"}\n\n")
		}, []string{"workflow_failed"}, nil, 0},
		{"workflow never finishes", func(w http.ResponseWriter, r *http.Request) {
			sse(w, "data: {\"event\":\"workflow_started\"}\n\n", msg, "data: {\"event\":\"message_end\"}\n\n")
		}, []string{"no_end_event"}, nil, 0},
		{"retrieval without records", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"query": map[string]any{"content": "q"}})
		}, []string{"malformed"}, &loader.Retrieval{DatasetID: "d"}, 0},
		{"retrieval not json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{\"records\": [")
		}, []string{"malformed"}, &loader.Retrieval{DatasetID: "d"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			sc := tc.sc
			if sc == nil {
				sc = &loader.Chat{}
			}
			cfg := config(srv.URL, sc)
			cfg.Users, cfg.Duration, cfg.Timeout, cfg.HeaderTimeout = 2, 300*time.Millisecond, timeout, 100*time.Millisecond
			cfg.ThinkMin, cfg.ThinkMax = 10*time.Millisecond, 20*time.Millisecond
			if tc.timeout != 0 {
				cfg.Timeout, cfg.HeaderTimeout, cfg.Duration = tc.timeout, tc.timeout, tc.timeout
			}
			start := time.Now()
			s, err := loader.Run(t.Context(), cfg)
			// Nothing hangs past its timeout: the bound is generous (a busy
			// machine), the 10 s streams and endless servers are far beyond it.
			if el := time.Since(start); err != nil || el > cfg.Duration+3*time.Second {
				t.Fatalf("run took %v, err %v", el, err)
			}
			if s.Completed != 0 || s.Failed == 0 || len(s.Errors) != 1 {
				t.Fatalf("completed %d, failed %d, errors %v", s.Completed, s.Failed, s.Errors)
			}
			for k := range s.Errors {
				if !slices.Contains(tc.kinds, k) {
					t.Errorf("kind %q (%s), want one of %v", k, s.ErrorExamples[k], tc.kinds)
				}
				t.Logf("%s: %d × %s", k, s.Errors[k], s.ErrorExamples[k])
			}
		})
	}
}

func TestDialFailure(t *testing.T) {
	leakcheck.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	cfg := config("http://"+addr, &loader.Chat{})
	cfg.Users, cfg.Duration = 1, 100*time.Millisecond
	cfg.ThinkMin, cfg.ThinkMax = 20*time.Millisecond, 20*time.Millisecond
	s, err := loader.Run(t.Context(), cfg)
	if err != nil || s.Errors["connection"] == 0 || len(s.Errors) != 1 {
		t.Fatalf("err %v, errors %v", err, s.Errors)
	}
}
