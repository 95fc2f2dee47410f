package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/loader"
)

func startServer(t *testing.T, flushEach bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		newSSEServer(0, flushEach, false, 0).run(ctx, ln)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

// The pre-rendered server speaks HTTP/1.1 well enough for net/http's
// client (as it must for Locust's): chunked, kept alive, the stream's 21
// events whole, and a 404 for another path.
func TestServerAnswersAnHTTPClient(t *testing.T) {
	for _, flushEach := range []bool{true, false} {
		url := startServer(t, flushEach)
		c := &http.Client{Timeout: 10 * time.Second}
		want := string(bytes.Repeat(messageEvent, messages)) + string(messageEndEvent)
		for range 3 { // on one kept-alive connection
			resp, err := c.Post(url+"/v1/chat-messages", "application/json", strings.NewReader(`{"query":"q"}`))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" || string(body) != want {
				t.Fatalf("flush-each=%v: %d %q, body %d bytes, want %d", flushEach, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), len(want))
			}
		}
		resp, err := c.Get(url + "/elsewhere")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /elsewhere: %d, want 404", resp.StatusCode)
		}
	}
}

// tune load reads every stream the benchmark serves to its end: no
// failure, 21 events each.
func TestTuneLoadReadsTheServer(t *testing.T) {
	url := startServer(t, true)
	s, err := loader.Run(context.Background(), loader.Config{BaseURL: url + "/v1", APIKey: "app-k", Scenario: &loader.Chat{},
		Users: 4, Duration: 300 * time.Millisecond, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if s.Completed == 0 || s.Failed != 0 || s.EventsPerStream.Max != 21 || s.EventsPerStream.P50 != 21 {
		t.Fatalf("completed %d, failed %d %v, events per stream %+v", s.Completed, s.Failed, s.Errors, s.EventsPerStream)
	}
}

// A request the server cannot frame is answered 400 and the connection
// closed; a clean close between requests is not an error.
func TestReadRequest(t *testing.T) {
	for _, tc := range []struct {
		in, path string
		keep     bool
		bad      bool
	}{
		{"POST /v1/chat-messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", "/v1/chat-messages", true, false},
		{"POST /v1/chat-messages HTTP/1.1\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n", "/v1/chat-messages", false, false},
		{"GET /x HTTP/1.0\r\n\r\n", "/x", false, false},
		{"POST /v1/chat-messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "", false, true},
		{"POST /v1/chat-messages HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "", false, true},
		{"POST /v1/chat-messages HTTP/1.1\r\nno colon\r\n\r\n", "", false, true},
		{"BREW /pot HTCPCP/1.0\r\n\r\n", "", false, true},
		{"POST /v1/chat-messages HTTP/1.1\r\nContent-Le", "", false, true},
	} {
		path, keep, err := readRequest(bufio.NewReader(strings.NewReader(tc.in)))
		if bad := err != nil; bad != tc.bad || path != tc.path || keep != tc.keep {
			t.Errorf("%q: %q keep %v err %v; want %q keep %v bad %v", tc.in, path, keep, err, tc.path, tc.keep, tc.bad)
		}
	}
	if _, _, err := readRequest(bufio.NewReader(strings.NewReader(""))); err != io.EOF {
		t.Errorf("a closed connection: %v, want io.EOF", err)
	}
}

// FuzzReadRequest: any bytes give a request with a path or an error,
// never a panic.
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("POST /v1/chat-messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}POST"))
	f.Add([]byte("GET / HTTP/1.0\r\nConnection: close\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		path, _, err := readRequest(bufio.NewReader(bytes.NewReader(in)))
		if err == nil && path == "" {
			t.Fatalf("%q: no path and no error", in)
		}
	})
}
