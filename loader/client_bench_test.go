package loader

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// memEvents is the bench-load stream (Dify 1.12 bytes, 20 message events
// and message_end) as chunked HTTP/1.1 segments, one per flushed event.
var memEvents = memStream(20)

// memStream is a stream of n message events and message_end as chunked
// HTTP/1.1 segments, one per flushed event.
func memStream(n int) [][]byte {
	msg := `data: {"event":"message","conversation_id":"0b8f6c1e-7f0e-4f55-9a43-2f6ad1a0c9b1","message_id":"5ad4cb98-f0c7-4085-b384-88c403be6290","created_at":1764000000,"task_id":"d6b4ff4e-8e4b-4a7f-9f3c-2b8f5e3f1a77","id":"5ad4cb98-f0c7-4085-b384-88c403be6290","answer":"Dify streams its answer ","from_variable_selector":["1733000000002","text"]}` + "\n\n"
	end := `data: {"event":"message_end","conversation_id":"0b8f6c1e-7f0e-4f55-9a43-2f6ad1a0c9b1","message_id":"5ad4cb98-f0c7-4085-b384-88c403be6290","created_at":1764000000,"task_id":"d6b4ff4e-8e4b-4a7f-9f3c-2b8f5e3f1a77","id":"5ad4cb98-f0c7-4085-b384-88c403be6290","metadata":{"annotation_reply":null,"retriever_resources":[],"usage":{"prompt_tokens":12,"completion_tokens":100,"total_tokens":112,"latency":0.2}},"files":[]}` + "\n\n"
	segs := [][]byte{[]byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nDate: Mon, 30 Nov 2026 00:00:00 GMT\r\nTransfer-Encoding: chunked\r\n\r\n")}
	for range n {
		segs = append(segs, []byte(fmt.Sprintf("%x\r\n%s\r\n", len(msg), msg)))
	}
	return append(segs, []byte(fmt.Sprintf("%x\r\n%s\r\n", len(end), end)), []byte("0\r\n\r\n"))
}

// memConn is a connection to an in-memory server that answers every
// request with memEvents, one event a read (as a client that keeps up
// with a server flushing each event reads them): the client's own CPU per
// stream, without the kernel's or the server's.
type memConn struct {
	mu       sync.Mutex
	cond     *sync.Cond
	in       []byte
	out      [][]byte
	closed   bool
	deadline time.Time
	perEvent bool
	stream   [][]byte // the response to every request
}

func newMemConn(perEvent bool) *memConn {
	c := &memConn{perEvent: perEvent, stream: memEvents}
	c.cond = sync.NewCond(&c.mu)
	return c
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func (c *memConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.out) == 0 {
		if c.closed {
			return 0, net.ErrClosed
		}
		if !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
			return 0, timeoutErr{}
		}
		c.cond.Wait()
	}
	n := 0
	for len(c.out) > 0 && n < len(p) {
		k := copy(p[n:], c.out[0])
		n += k
		c.out[0] = c.out[0][k:]
		if len(c.out[0]) == 0 {
			c.out = c.out[1:]
		}
		if c.perEvent {
			break
		}
	}
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in = append(c.in, p...)
	for {
		i := bytes.Index(c.in, []byte("\r\n\r\n"))
		if i < 0 {
			break
		}
		cl := 0
		if j := bytes.Index(bytes.ToLower(c.in[:i]), []byte("content-length: ")); j >= 0 {
			k := bytes.IndexByte(c.in[j:], '\r')
			cl, _ = strconv.Atoi(string(c.in[j+16 : j+k]))
		}
		if len(c.in) < i+4+cl {
			break
		}
		c.in = c.in[i+4+cl:]
		c.out = append(c.out, c.stream...)
	}
	c.cond.Broadcast()
	return len(p), nil
}

func (c *memConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}
func (c *memConn) LocalAddr() net.Addr  { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}
func (c *memConn) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }

func memConfig() Config {
	return Config{BaseURL: "http://mem.invalid/v1", APIKey: "app-k", Scenario: &Chat{}, Users: 1, Duration: time.Hour}.defaults()
}

// memLoad is a run's state without Run: its users do requests on
// connections dial makes.
func memLoad(cfg Config, dial func(context.Context) (net.Conn, error)) *load {
	return &load{cfg: cfg, base: "http://mem.invalid/v1", auth: "Bearer app-k",
		rec: newRecorder(time.Now(), 0, time.Hour, cfg.APIKey), runCtx: context.Background(), dialer: &dialer{fn: dial, hs: time.Second}}
}

// allocsPerStream is the allocations of one stream of events on l's user,
// over 100 streams after one that dials and grows the buffers; every
// stream must complete whole. It returns the user too.
func allocsPerStream(t *testing.T, l *load, events int) (float64, *user) {
	t.Helper()
	u := l.newUser(1)
	l.do(u, time.Now())
	n := testing.AllocsPerRun(100, func() { l.do(u, time.Now()) })
	if s := l.rec.summary(time.Now()); s.Failed != 0 || s.Completed != 102 || s.EventsPerStream.Max != float64(events+1) {
		t.Fatalf("%d events: %d completed, %d failed %v, events per stream %+v", events, s.Completed, s.Failed, s.Errors, s.EventsPerStream)
	}
	return n, u
}

// A stream of twenty times the events costs the client not one allocation
// more: reading, skimming and judging events allocates nothing; what
// allocates is the request and its response headers, once a stream.
func TestNoAllocationPerEvent(t *testing.T) {
	allocs := func(events int) float64 {
		dial := func(context.Context) (net.Conn, error) {
			c := newMemConn(true)
			c.stream = memStream(events)
			return c, nil
		}
		l := memLoad(memConfig(), dial)
		defer l.closeConns()
		n, _ := allocsPerStream(t, l, events)
		return n
	}
	// One allocation of slack: under the race detector sync.Pool drops
	// some of what it is given, so the counts wobble; an allocation per
	// event would add 380.
	few, many := allocs(20), allocs(400)
	if many > few+1 {
		t.Errorf("allocations per stream: %.0f with 21 events, %.0f with 401: something allocates per event", few, many)
	}
}

func cpuNow() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(0, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// BenchmarkClientPerStream is the client's CPU per stream on an in-memory
// connection (no kernel, no server): tune's exchange on the user's own
// connection, and as anchor the same request, decoder and judgement
// through net/http's Client and Transport. It reports process CPU µs per
// stream (rusage), which other work on the machine does not inflate.
func BenchmarkClientPerStream(b *testing.B) {
	dial := func(context.Context) (net.Conn, error) { return newMemConn(true), nil }
	cfg := memConfig()
	newLoad := func() *load { return memLoad(cfg, dial) }
	report := func(b *testing.B, l *load, cpu time.Duration) {
		s := l.rec.summary(time.Now())
		if s.Failed > 0 || s.Completed == 0 {
			b.Fatalf("%d completed, %d failed %v", s.Completed, s.Failed, s.Errors)
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/stream")
	}
	b.Run("tune", func(b *testing.B) {
		l := newLoad()
		u := l.newUser(1)
		b.ReportAllocs()
		c0 := cpuNow()
		for b.Loop() {
			l.do(u, time.Now())
		}
		report(b, l, cpuNow()-c0)
		l.closeConns()
	})
	b.Run("net-http-anchor", func(b *testing.B) {
		l := newLoad()
		u := l.newUser(1)
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
			DisableCompression: true, ReadBufferSize: readBufferSize}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		b.ReportAllocs()
		c0 := cpuNow()
		for b.Loop() {
			start := time.Now()
			ctx, cancel := context.WithTimeout(l.runCtx, cfg.Timeout)
			req, err := cfg.Scenario.Request(ctx, l.base, Call{User: u.name, Query: cfg.Queries[0]})
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", l.auth)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			headers := time.Now()
			u.dec.Reset(resp.Body)
			s := &u.stream
			*s = Stream{Resp: resp, dec: u.dec}
			if err := cfg.Scenario.Read(s); err != nil {
				b.Fatal(err)
			}
			s.End()
			l.rec.success(start, headers, s)
			_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBody)
			resp.Body.Close()
			cancel()
		}
		report(b, l, cpuNow()-c0)
	})
}
