package local

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/internal/leakcheck"
	"github.com/tune-dify/tune/loader/sse"
)

// steppedCall is a model call the test moves along by hand: its first
// byte, each generated chunk and its end come when the test says, so what
// the server writes in between is observable without timing.
type steppedCall struct {
	first  chan struct{}
	tokens chan int
	done   chan string
}

func (c *steppedCall) First() <-chan struct{} { return c.first }
func (c *steppedCall) Done() <-chan string    { return c.done }
func (c *steppedCall) Tokens() <-chan int     { return c.tokens }

// steppedModel hands out stepped calls.
type steppedModel struct {
	calls chan *steppedCall
}

func (m *steppedModel) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (m *steppedModel) Do(string) (call, error) {
	c := &steppedCall{first: make(chan struct{}), tokens: make(chan int), done: make(chan string, 1)}
	m.calls <- c
	return c, nil
}
func (m *steppedModel) Cancel(call)                     {}
func (m *steppedModel) Err() error                      { return nil }
func (m *steppedModel) Utilisation() map[string]float64 { return nil }

const testKey = "app-internal-test"

func startStepped(t *testing.T, opts Options) (*Server, *steppedModel) {
	t.Helper()
	opts.Keys = []string{testKey}
	opts, err := opts.defaults()
	if err != nil {
		t.Fatal(err)
	}
	m := &steppedModel{calls: make(chan *steppedCall, 1)}
	srv, err := start("127.0.0.1:0", opts, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, m
}

// reader reads a stream event by event, pings included.
type reader struct {
	t     *testing.T
	dec   *sse.Decoder
	pings int
}

func openStream(t *testing.T, srv *Server) (*reader, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL()+"/chat-messages",
		strings.NewReader(`{"inputs":{},"query":"hi","response_mode":"streaming","user":"u"}`))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	r := &reader{t: t}
	r.dec = sse.NewDecoder(resp.Body, sse.WithEmptyEventFunc(func(typ string) {
		if typ == "ping" {
			r.pings++
		}
	}))
	return r, resp
}

// next returns the next event's name.
func (r *reader) next() string {
	r.t.Helper()
	ev, err := r.dec.Next()
	if err != nil {
		r.t.Fatalf("stream: %v", err)
	}
	var m struct{ Event string }
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		r.t.Fatal(err)
	}
	return m.Event
}

// TestPingsBeforeTheFirstByte: an app slow to start gets its headers and a
// ping once the ping interval passes, before any event, as Dify's queue
// listener pings whether or not the workflow has started.
func TestPingsBeforeTheFirstByte(t *testing.T) {
	leakcheck.Check(t)
	srv, m := startStepped(t, Options{App: AppChatflow, Ping: 20 * time.Millisecond})
	done := make(chan *http.Response, 1)
	var r *reader
	go func() {
		var resp *http.Response
		r, resp = openStream(t, srv)
		done <- resp
	}()
	c := <-m.calls
	resp := <-done // headers arrive although the model has not sent its first byte
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	close(c.first)
	if got := r.next(); got != "workflow_started" || r.pings == 0 {
		t.Errorf("first event %s after %d pings; want workflow_started after at least one ping", got, r.pings)
	}
	c.done <- ""
	for r.next() != "message_end" {
	}
}

// TestTokensStreamAsGenerated: a generating call's chunks reach the client
// one by one as the model produces them: each message event is read
// before the next token exists.
func TestTokensStreamAsGenerated(t *testing.T) {
	leakcheck.Check(t)
	srv, m := startStepped(t, Options{App: AppLLM, Chunks: 5})
	got := make(chan *reader, 1)
	go func() {
		r, _ := openStream(t, srv)
		got <- r
	}()
	c := <-m.calls
	close(c.first)
	r := <-got
	for _, want := range []string{"workflow_started", "node_started"} {
		if e := r.next(); e != want {
			t.Fatalf("event %s, want %s", e, want)
		}
	}
	for i := range 4 { // 8 tokens in 4 batches, more than the answer has chunks: the text starts over
		c.tokens <- 2
		if i == 0 {
			for _, want := range []string{"node_finished", "node_started"} {
				if e := r.next(); e != want {
					t.Fatalf("event %s, want %s", e, want)
				}
			}
		}
		for j := range 2 {
			if e := r.next(); e != "message" {
				t.Fatalf("batch %d token %d: event %s, want message", i, j, e)
			}
		}
	}
	close(c.tokens)
	c.done <- ""
	var tail []string
	for {
		e := r.next()
		tail = append(tail, e)
		if e == "message_end" {
			break
		}
	}
	if strings.Join(tail, ",") != "node_finished,node_started,node_finished,workflow_finished,message_end" {
		t.Errorf("after the last token: %v", tail)
	}
}

// TestFailureAfterPingIsAnErrorEvent: once a ping has opened the stream, a
// call the model fails ends in Dify's error event, not a 500.
func TestFailureAfterPingIsAnErrorEvent(t *testing.T) {
	leakcheck.Check(t)
	srv, m := startStepped(t, Options{App: AppChatflow, Ping: 10 * time.Millisecond})
	got := make(chan *http.Response, 1)
	go func() {
		_, resp := openStream(t, srv)
		got <- resp
	}()
	c := <-m.calls
	resp := <-got
	c.done <- "pool_timeout"
	body, _ := io.ReadAll(resp.Body)
	last := body[bytes.LastIndex(bytes.TrimSuffix(body, []byte("\n\n")), []byte("\n\n"))+2:]
	if resp.StatusCode != 200 || !bytes.HasPrefix(last, []byte(`data: {"event":"error",`)) ||
		!bytes.Contains(last, []byte(`"code":"internal_server_error"`)) {
		t.Errorf("status %d, stream ends %q", resp.StatusCode, last)
	}
}

func TestAppendJSONMatchesOrjson(t *testing.T) {
	// orjson's output for the same dict, by hand: compact, raw UTF-8,
	// control characters escaped, floats with a point.
	got := string(appendJSON(nil, object{{"event", "message"}, {"answer", "é\"\\\n\x01中</>"},
		{"n", 3}, {"f", 1.0}, {"g", 0.25}, {"none", nil}, {"list", []any{true, []string{"a"}}}, {"o", object{}}}))
	want := `{"event":"message","answer":"é\"\\\n\u0001中</>","n":3,"f":1.0,"g":0.25,"none":null,"list":[true,["a"]],"o":{}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// FuzzAppendString: whatever the string, the JSON is valid and decodes
// back to it (each byte of invalid UTF-8 as U+FFFD).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "中文", "\x00\x1f\"\\", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSON(nil, object{{"s", s}})
		var m struct{ S string }
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%q: %s: %v", s, b, err)
		}
		if want := string([]rune(s)); m.S != want { // each invalid byte as U+FFFD
			t.Errorf("%q round-trips to %q", s, m.S)
		}
	})
}
