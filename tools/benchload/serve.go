package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
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

// The response as bytes on the wire, rendered once: the status line and
// headers, each event as one HTTP/1.1 chunk, and the last chunk that ends
// the body. Every response is the same, so a request costs the server its
// reads and writes and nothing else.
var (
	streamHead = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n" +
		"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
	messageChunk    = chunk(messageEvent)
	messageEndChunk = chunk(messageEndEvent)
	lastChunk       = []byte("0\r\n\r\n")
	notFound        = []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	badRequest      = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
)

func chunk(b []byte) []byte { return fmt.Appendf(nil, "%x\r\n%s\r\n", len(b), b) }

// maxHead bounds a request's line and headers.
const maxHead = 16 << 10

// sseServer serves POST /v1/chat-messages over raw HTTP/1.1 keep-alive
// connections, from the pre-rendered bytes above, so that a one-core
// server outpaces the client it measures. With flushEach (the default)
// every event is its own write, a TCP segment of its own, as Dify's
// generator yields each event and its server flushes it; the first goes
// with the headers and the last chunk alone after message_end, as Go's
// net/http and Dify's gevent server write them. Without, the whole
// response is one write, which spares the clients most of their reads.
// With a gap, each message event is written gap after the previous one.
type sseServer struct {
	gap       time.Duration
	flushEach bool
	first     chan struct{} // closed at the first request
	once      sync.Once

	mu    sync.Mutex
	log   bool
	skip  time.Duration   // log only streams starting this long after the first
	start time.Time       // the first stream's start
	took  []time.Duration // request read → message_end written, of the logged streams
}

// serve is the server mode: it prints its address, then "first" at the
// first request (the client's start-up is over), serves until ctx ends,
// then writes its stream durations to -log, in nanoseconds, one a line.
func serve(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	gap := fs.Duration("gap", 0, "pause before each message event")
	flushEach := fs.Bool("flush-each", true, "write every event on its own, as Dify flushes them (false: the whole response in one write)")
	logPath := fs.String("log", "", "on exit, write each completed stream's duration here")
	skip := fs.Duration("skip", 0, "log only streams starting this long after the first (a warm-up)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s := newSSEServer(*gap, *flushEach, *logPath != "", *skip)
	fmt.Fprintln(stdout, ln.Addr())
	go func() {
		select {
		case <-s.first:
			fmt.Fprintln(stdout, "first")
		case <-ctx.Done():
		}
	}()
	s.run(ctx, ln)
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

func newSSEServer(gap time.Duration, flushEach, log bool, skip time.Duration) *sseServer {
	return &sseServer{gap: gap, flushEach: flushEach || gap > 0, log: log, skip: skip, first: make(chan struct{})}
}

// run serves ln until ctx ends, then closes it and every connection and
// returns once their goroutines have.
func (s *sseServer) run(ctx context.Context, ln net.Listener) {
	var conns sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	conns.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[c] = true
			mu.Unlock()
			conns.Go(func() {
				s.conn(ctx, c)
				mu.Lock()
				delete(open, c)
				mu.Unlock()
				_ = c.Close()
			})
		}
	})
	<-ctx.Done()
	_ = ln.Close()
	mu.Lock()
	for c := range open {
		_ = c.Close()
	}
	mu.Unlock()
	conns.Wait()
}

// conn serves one connection's requests until the client closes it.
func (s *sseServer) conn(ctx context.Context, c net.Conn) {
	br := bufio.NewReaderSize(c, 4<<10)
	var tm *time.Timer
	if s.gap > 0 {
		tm = time.NewTimer(time.Hour)
		defer tm.Stop()
	}
	var whole []byte // the response in one piece, without flushEach
	if !s.flushEach {
		whole = bytes.Join([][]byte{streamHead, bytes.Repeat(messageChunk, messages), messageEndChunk, lastChunk}, nil)
	}
	for {
		path, keep, err := readRequest(br)
		if err != nil {
			if errors.Is(err, errBadRequest) {
				_, _ = c.Write(badRequest)
			}
			return
		}
		s.once.Do(func() { close(s.first) })
		if path != "/v1/chat-messages" {
			if _, err := c.Write(notFound); err != nil {
				return
			}
			continue
		}
		start := time.Now()
		if whole != nil {
			if _, err := c.Write(whole); err != nil {
				return
			}
		} else if !s.stream(ctx, c, tm) {
			return
		}
		if s.log {
			s.record(start, time.Since(start))
		}
		if !keep {
			return
		}
	}
}

// stream writes one response event by event.
func (s *sseServer) stream(ctx context.Context, c net.Conn, tm *time.Timer) bool {
	var buf [1 << 10]byte
	for i := range messages {
		if tm != nil {
			tm.Reset(s.gap)
			select {
			case <-tm.C:
			case <-ctx.Done():
				return false
			}
		}
		b := messageChunk
		if i == 0 {
			b = append(append(buf[:0], streamHead...), messageChunk...)
		}
		if _, err := c.Write(b); err != nil {
			return false
		}
	}
	if _, err := c.Write(messageEndChunk); err != nil {
		return false
	}
	_, err := c.Write(lastChunk)
	return err == nil
}

func (s *sseServer) record(start time.Time, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.start.IsZero() {
		s.start = start
	}
	if start.Sub(s.start) >= s.skip {
		s.took = append(s.took, took)
	}
}

var errBadRequest = errors.New("bad request")

// readRequest reads one request's line and headers and discards its body
// (Content-Length only: the clients measured send no chunked bodies). It
// returns the path and whether the connection stays open.
func readRequest(br *bufio.Reader) (path string, keep bool, err error) {
	n, length, keep := 0, int64(0), true
	for i := 0; ; i++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if i > 0 || !errors.Is(err, io.EOF) {
				err = errors.Join(errBadRequest, err)
			}
			return "", false, err
		}
		if n += len(line); n > maxHead {
			return "", false, errBadRequest
		}
		line = bytes.TrimRight(line, "\r\n")
		if i == 0 {
			f := bytes.Fields(line)
			if len(f) != 3 || string(f[0]) != "POST" && string(f[0]) != "GET" {
				return "", false, errBadRequest
			}
			path, keep = string(f[1]), string(f[2]) == "HTTP/1.1"
			continue
		}
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return "", false, errBadRequest
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("content-length")):
			if length, err = strconv.ParseInt(string(v), 10, 64); err != nil || length < 0 {
				return "", false, errBadRequest
			}
		case bytes.EqualFold(k, []byte("transfer-encoding")):
			return "", false, errBadRequest
		case bytes.EqualFold(k, []byte("connection")):
			keep = !bytes.EqualFold(v, []byte("close"))
		}
	}
	if _, err := br.Discard(int(length)); err != nil {
		return "", false, err
	}
	return path, keep, nil
}
