//go:build !race && !tune_netconn

package loader

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair is a connected client (through fastIO) and server connection.
func tcpPair(t *testing.T) (client net.Conn, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	client = fastIO(nc)
	if _, ok := client.(*rawConn); !ok {
		t.Fatalf("fastIO gave a %T, want *rawConn", client)
	}
	t.Cleanup(func() { _ = client.Close(); _ = sc.Close() })
	return client, sc
}

// A raw connection reads, writes and fails as net.Conn does: the bytes in
// order, a write larger than the socket's buffer whole, io.EOF at the
// peer's close, a timeout at a deadline, net.ErrClosed once closed.
func TestRawConn(t *testing.T) {
	c, s := tcpPair(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MB: the write must wait for the reader
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(s, int64(len(big))))
		got <- b
	}()
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("write: %d of %d, %v", n, len(big), err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the server read %d bytes, not what was written", len(b))
	}

	if _, err := s.Write([]byte("event")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := io.ReadFull(c, buf[:5]); err != nil || string(buf[:n]) != "event" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}

	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var ne net.Error
	if _, err := c.Read(buf); !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	_ = c.SetReadDeadline(time.Time{})

	_ = s.Close()
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v; want io.EOF", n, err)
	}
	_ = c.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
}

// A write to a peer that reset the connection fails as a reset, the
// kind idleClosed and isReset recognise.
func TestRawConnReset(t *testing.T) {
	c, s := tcpPair(t)
	_ = s.(*net.TCPConn).SetLinger(0) // close with a reset
	_ = s.Close()
	var err error
	for i := 0; i < 100 && err == nil; i++ { // the first write may land before the reset does
		_, err = c.Write([]byte("POST / HTTP/1.1\r\n\r\n"))
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
	}
	if !isReset(err) {
		t.Fatalf("after a reset: %v, want a connection error", err)
	}
}

// tcpStreams serves every request on its connections with the response in
// segs, each segment its own write, and answers nothing else.
func tcpStreams(t *testing.T, segs [][]byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for ctx.Err() == nil {
					// Each request: headers to the blank line, then its
					// Content-Length body.
					length := 0
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
						if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
							for _, d := range bytes.TrimSpace(v) {
								length = 10*length + int(d-'0')
							}
						}
					}
					if _, err := br.Discard(length); err != nil {
						return
					}
					for _, s := range segs {
						if _, err := c.Write(s); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { cancel(); _ = ln.Close(); <-done })
	return "http://" + ln.Addr().String() + "/v1"
}

// Over TCP too, a stream of twenty times the events costs the client not
// one allocation more: the raw reads allocate nothing.
func TestNoAllocationPerEventTCP(t *testing.T) {
	allocs := func(events int) float64 {
		cfg := memConfig()
		cfg.BaseURL = tcpStreams(t, memStream(events))
		d, err := newDialer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l := memLoad(cfg, nil)
		l.dialer = d
		defer l.closeConns()
		n, u := allocsPerStream(t, l, events)
		if _, ok := u.conn.nc.(*rawConn); !ok {
			t.Fatalf("the user's connection is a %T, want *rawConn", u.conn.nc)
		}
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
