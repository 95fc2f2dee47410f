package loader

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// The fast request writer writes the bytes req.Write writes, for the
// scenarios' requests and for the shapes it hands to net/http.
func TestWriteRequestAsNetHTTP(t *testing.T) {
	ctx := context.Background()
	call := Call{User: "tune-7", Query: "What is Dify? <b>&</b> 天气", ConversationID: "c-1"}
	build := []struct {
		name string
		make func() (*http.Request, error)
	}{
		{"chat", func() (*http.Request, error) {
			return (&Chat{Conversation: true}).Request(ctx, "http://dify.local:8080/v1", call)
		}},
		{"workflow", func() (*http.Request, error) {
			return (&Workflow{Inputs: map[string]any{"k": 1}, QueryInput: "q"}).Request(ctx, "http://127.0.0.1/v1", call)
		}},
		{"retrieval", func() (*http.Request, error) {
			return (&Retrieval{DatasetID: "ds-1"}).Request(ctx, "https://x.example/v1", call)
		}},
		{"escaped path", func() (*http.Request, error) {
			return (&Retrieval{DatasetID: "a b/c"}).Request(ctx, "http://x/v1", call)
		}},
		{"get", func() (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, "http://x:1/v1/parameters", nil)
		}},
		{"query", func() (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, "http://x/v1/messages?user=a", nil)
		}},
		{"put", func() (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPut, "http://x/v1/a", strings.NewReader("{}"))
		}},
		{"unicode host", func() (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, "http://dïfy.example/v1/chat-messages", strings.NewReader("{}"))
		}},
	}
	headers := []struct {
		name string
		set  func(http.Header)
	}{
		{"auth", func(h http.Header) { h.Set("Authorization", "Bearer app-1") }},
		{"many", func(h http.Header) {
			h.Set("Authorization", "Bearer app-1")
			h.Set("X-Trace", "abc")
			h.Set("Accept", "text/event-stream")
		}},
		{"spaced value", func(h http.Header) { h.Set("Authorization", " Bearer app-1 ") }},
		{"two values", func(h http.Header) { h.Add("X-A", "1"); h.Add("X-A", "2") }},
		{"own user agent", func(h http.Header) { h.Set("User-Agent", "tune") }},
		{"newline", func(h http.Header) { h["X-Bad"] = []string{"a\r\nb"} }},
		{"lower-case name", func(h http.Header) { h["x-lower"] = []string{"v"} }},
	}
	for _, b := range build {
		for _, hd := range headers {
			t.Run(b.name+"/"+hd.name, func(t *testing.T) {
				var want, got bytes.Buffer
				for i, out := range []*bytes.Buffer{&want, &got} {
					req, err := b.make()
					if err != nil {
						t.Fatal(err)
					}
					hd.set(req.Header)
					bw := bufio.NewWriter(out)
					if i == 0 {
						err = req.Write(bw)
					} else {
						err = writeRequest(bw, req)
					}
					if err != nil {
						t.Fatal(err)
					}
					_ = bw.Flush()
				}
				if got.String() != want.String() {
					t.Errorf("wrote\n%q\nnet/http writes\n%q", got.String(), want.String())
				}
			})
		}
	}
}

// A body shorter or longer than ContentLength is refused, as net/http
// refuses it.
func TestWriteRequestContentLength(t *testing.T) {
	for _, n := range []int64{1, 5} {
		req, err := http.NewRequest(http.MethodPost, "http://x/v1/a", strings.NewReader("abc"))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = n
		if err := writeRequest(bufio.NewWriter(io.Discard), req); !errors.Is(err, http.ErrContentLength) {
			t.Errorf("content length %d for 3 bytes: %v", n, err)
		}
	}
}

// readBoth reads in as a response with the fast path and with
// http.ReadResponse, each body to its end; fast reports whether the fast
// path took it.
type readResult struct {
	resp    *http.Response
	err     error
	body    []byte
	bodyErr error
}

func readWith(in []byte, fastPath bool) (r readResult, fast bool) {
	br := bufio.NewReaderSize(bytes.NewReader(in), 4096)
	_, _ = br.Peek(1) // as exchange does: the first read is in the buffer
	req, _ := http.NewRequest(http.MethodPost, "http://x/v1/chat-messages", nil)
	if fastPath {
		var h h1
		if r.resp = h.fastResponse(br, req); r.resp != nil {
			fast = true
		} else {
			r.resp, r.err = http.ReadResponse(br, req)
		}
	} else {
		r.resp, r.err = http.ReadResponse(br, req)
	}
	if r.err == nil {
		r.body, r.bodyErr = io.ReadAll(r.resp.Body)
	}
	return r, fast
}

// FuzzReadResponse: whatever the bytes, a response the fast path takes is
// the one http.ReadResponse reads (status, headers, length, transfer
// encoding, close) with the same body, or the same failure to read it.
func FuzzReadResponse(f *testing.F) {
	// A short stream: the fuzzer minimizes every input that finds new
	// code, which for the 10 KB bench-load stream takes it minutes.
	var stream []byte
	for _, seg := range memStream(1) {
		stream = append(stream, seg...)
	}
	f.Add(stream)
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nX-A: 1\r\nx-a:  2 \r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nPragma: no-cache\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, fast := readWith(in, true)
		if !fast {
			return
		}
		want, _ := readWith(in, false)
		if want.err != nil {
			t.Fatalf("%q: the fast path took a response net/http refuses: %v", in, want.err)
		}
		g, w := got.resp, want.resp
		if g.Status != w.Status || g.StatusCode != w.StatusCode || g.Proto != w.Proto || g.ContentLength != w.ContentLength ||
			g.Close != w.Close || !reflect.DeepEqual(g.TransferEncoding, w.TransferEncoding) || !reflect.DeepEqual(g.Header, w.Header) {
			t.Fatalf("%q:\nfast path %+v\nnet/http  %+v", in, g, w)
		}
		if (got.bodyErr == nil) != (want.bodyErr == nil) {
			t.Fatalf("%q: body error %v, net/http's %v", in, got.bodyErr, want.bodyErr)
		}
		if got.bodyErr == nil && !bytes.Equal(got.body, want.body) {
			t.Fatalf("%q: body %q, net/http's %q", in, got.body, want.body)
		}
	})
}

// Dify's responses (a stream as bench-load's server and Dify write it)
// take the fast path, and a reused h1 reads one after another.
func TestFastResponseTakesDifysShape(t *testing.T) {
	var stream []byte
	for _, seg := range memEvents {
		stream = append(stream, seg...)
	}
	two := append(append([]byte{}, stream...), stream...)
	br := bufio.NewReaderSize(bytes.NewReader(two), readBufferSize)
	var h h1
	for i := range 2 {
		_, _ = br.Peek(1)
		resp := h.fastResponse(br, nil)
		if resp == nil {
			t.Fatalf("response %d: not on the fast path", i)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || bytes.Count(body, []byte("data: ")) != 21 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
			t.Fatalf("response %d: %v, %d events, header %v", i, err, bytes.Count(body, []byte("data: ")), resp.Header)
		}
	}
}
