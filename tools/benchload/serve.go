package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// The events of one Dify chatflow stream as Dify 1.12 writes them (its
// advanced-chat converter's key order, serialised with orjson: compact,
// raw UTF-8; LF line ends): 20 message events, then message_end with the
// usage.
var (
	messageEvent = []byte(`data: {"event":"message","conversation_id":"0b8f6c1e-7f0e-4f55-9a43-2f6ad1a0c9b1",` +
		`"message_id":"5ad4cb98-f0c7-4085-b384-88c403be6290","created_at":1764000000,` +
		`"task_id":"d6b4ff4e-8e4b-4a7f-9f3c-2b8f5e3f1a77","id":"5ad4cb98-f0c7-4085-b384-88c403be6290",` +
		`"answer":"Dify streams its answer ","from_variable_selector":["1733000000002","text"]}` + "\n\n")
	messageEndEvent = []byte(`data: {"event":"message_end","conversation_id":"0b8f6c1e-7f0e-4f55-9a43-2f6ad1a0c9b1",` +
		`"message_id":"5ad4cb98-f0c7-4085-b384-88c403be6290","created_at":1764000000,` +
		`"task_id":"d6b4ff4e-8e4b-4a7f-9f3c-2b8f5e3f1a77","id":"5ad4cb98-f0c7-4085-b384-88c403be6290",` +
		`"metadata":{"annotation_reply":null,"retriever_resources":[],"usage":{"prompt_tokens":12,` +
		`"completion_tokens":100,"total_tokens":112,"latency":0.2}},"files":[]}` + "\n\n")
)

const messages = 20

// sseServer serves POST /v1/chat-messages. With flushEach (the default)
// every event is its own write and flush, as Dify's generator yields and
// its server flushes them, so a client reads the stream as it would read
// Dify's; without, the events go out as the response writer's 4 KB buffer
// fills (21 events in two writes), which spares the clients most of their
// reads. With a gap, each event is flushed gap after the previous one.
type sseServer struct {
	gap       time.Duration
	flushEach bool

	mu    sync.Mutex
	log   bool
	skip  time.Duration   // log only streams starting this long after the first
	first time.Time       // the first stream's start
	took  []time.Duration // handler start → message_end flushed, of the logged streams
}

// serve is the server mode: it prints its address, serves until ctx ends,
// then writes its stream durations to -log, in nanoseconds, one a line.
func serve(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	gap := fs.Duration("gap", 0, "pause before each message event")
	flushEach := fs.Bool("flush-each", true, "flush every event, as Dify does (false: only as the buffer fills and at the end)")
	logPath := fs.String("log", "", "on exit, write each completed stream's duration here")
	skip := fs.Duration("skip", 0, "log only streams starting this long after the first (a warm-up)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s := &sseServer{gap: *gap, flushEach: *flushEach || *gap > 0, log: *logPath != "", skip: *skip}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintln(stdout, ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-done:
		return err
	}
	_ = srv.Close()
	if *logPath == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, t := range s.took {
		fmt.Fprintln(&b, t.Nanoseconds())
	}
	return os.WriteFile(*logPath, []byte(b.String()), 0o644)
}

func (s *sseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat-messages" {
		http.NotFound(w, r)
		return
	}
	start := time.Now()
	if s.log {
		s.mu.Lock()
		if s.first.IsZero() {
			s.first = start
		}
		s.mu.Unlock()
	}
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var tm *time.Timer
	if s.gap > 0 {
		tm = time.NewTimer(s.gap)
		defer tm.Stop()
	}
	for i := range messages {
		if tm != nil {
			if i > 0 {
				tm.Reset(s.gap)
			}
			select {
			case <-tm.C:
			case <-r.Context().Done():
				return
			}
		}
		if _, err := w.Write(messageEvent); err != nil {
			return
		}
		if s.flushEach && rc.Flush() != nil {
			return
		}
	}
	if _, err := w.Write(messageEndEvent); err != nil || rc.Flush() != nil {
		return
	}
	took := time.Since(start)
	if s.log {
		s.mu.Lock()
		if start.Sub(s.first) >= s.skip {
			s.took = append(s.took, took)
		}
		s.mu.Unlock()
	}
}
