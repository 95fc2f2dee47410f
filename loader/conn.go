package loader

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"time"
)

// maxHeaderBytes bounds a response's status line and headers, as
// http.Transport's MaxResponseHeaderBytes does.
const maxHeaderBytes = 1 << 20

// readBufferSize holds most of a stream (a 21-event chatflow answer is
// 7–15 KB), so a user that falls behind catches up in one read.
const readBufferSize = 16 << 10

// conn is one user's keep-alive HTTP/1.1 connection. Each virtual user
// owns one, as each browser tab of a fleet does, so the request path needs
// no pool, no connection goroutines and no hand-offs between them: the
// user's goroutine writes the request and reads the response itself (on
// the fast path of http1.go for Dify's shapes, with http.Request.Write and
// http.ReadResponse for any other). That is the client's whole hot path,
// and what makes it cheaper per stream than http.Transport.
type conn struct {
	nc  net.Conn
	lim io.LimitedReader // under br: bounds the headers, unbounded for bodies
	br  *bufio.Reader
	bw  *bufio.Writer
	// served counts the responses read whole on it; a reused connection
	// the server closed while idle fails before the response's first byte.
	served int
	h      h1 // the request and response fast path's reused state
	// stop ends the watch that unblocks its reads and writes when the run
	// ends. A request's own time limit is the connection's deadline, so a
	// request costs no watch of its own.
	stop func() bool
}

// dialer opens users' connections to one server.
type dialer struct {
	addr string      // host:port
	tls  *tls.Config // nil for http
	net  net.Dialer
	hs   time.Duration // TLS handshake timeout
	// fn, if set, replaces the TCP dial: the benchmark's in-memory server.
	fn func(ctx context.Context) (net.Conn, error)
}

func newDialer(cfg Config) (*dialer, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	d := &dialer{net: net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}, hs: cfg.DialTimeout}
	port := u.Port()
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
		d.tls = &tls.Config{}
		if cfg.TLS != nil {
			d.tls = cfg.TLS.Clone()
		}
		if d.tls.ServerName == "" {
			d.tls.ServerName = u.Hostname()
		}
		d.tls.NextProtos = []string{"http/1.1"}
	default:
		return nil, fmt.Errorf("loader: base URL scheme %q: want http or https", u.Scheme)
	}
	d.addr = net.JoinHostPort(u.Hostname(), port)
	return d, nil
}

func (d *dialer) dial(ctx context.Context) (*conn, error) {
	dial := d.fn
	if dial == nil {
		dial = func(ctx context.Context) (net.Conn, error) { return d.net.DialContext(ctx, "tcp", d.addr) }
	}
	nc, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	nc = fastIO(nc)
	if d.tls != nil {
		tc := tls.Client(nc, d.tls)
		hctx, cancel := context.WithTimeout(ctx, d.hs)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	c := &conn{nc: nc, lim: io.LimitedReader{R: nc, N: math.MaxInt64}}
	c.br = bufio.NewReaderSize(&c.lim, readBufferSize)
	c.bw = bufio.NewWriterSize(nc, 4<<10)
	return c, nil
}

func (c *conn) close() {
	if c.stop != nil {
		c.stop()
	}
	_ = c.nc.Close()
}

// errIdleClosed: the server closed a kept-alive connection before
// answering; the request is sent again on a new one.
var errIdleClosed = errors.New("loader: the server closed the idle connection")

// roundTrip sends req on u's connection (dialling one when it has none)
// and reads the response's status and headers within headerTimeout. The
// body reads from the connection until the request's context ends; call
// finish when done with it.
func (l *load) roundTrip(ctx context.Context, u *user, req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		if u.conn == nil {
			c, err := l.dialer.dial(ctx)
			if err != nil {
				return nil, err
			}
			nc := c.nc
			c.stop = context.AfterFunc(l.runCtx, func() { _ = nc.SetDeadline(past) })
			u.conn = c
		}
		resp, err := l.exchange(ctx, u.conn, req)
		if err == nil {
			return resp, nil
		}
		u.conn.close()
		u.conn = nil
		if !errors.Is(err, errIdleClosed) || attempt > 0 || req.GetBody == nil {
			return nil, err
		}
		if req.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
}

// past is a deadline that has passed: setting it unblocks every read and
// write on the connection at once.
var past = time.Unix(1, 0)

// exchange writes req on c and reads the response's status and headers.
// The connection's deadline is the time limit: first for the headers,
// then, for the body, the request's (ctx's deadline). The run's end is
// the connection's watch's to enforce.
func (l *load) exchange(ctx context.Context, c *conn, req *http.Request) (*http.Response, error) {
	deadline, hasDeadline := ctx.Deadline()
	hd := time.Now().Add(l.cfg.HeaderTimeout)
	if hasDeadline && deadline.Before(hd) {
		hd = deadline
	}
	// The request goes out even if the run ended a moment ago: a start
	// that fell due before the end is sent (the open loop counts every
	// scheduled start as sent or overloaded); the watch cuts it short.
	if err := c.nc.SetDeadline(hd); err != nil {
		return nil, err
	}
	// On a kept-alive connection, a write that fails or a response that
	// ends before its first byte means the server had closed it while it
	// idled: nothing of the request was served.
	idleClosed := func(err error) error {
		if c.served > 0 && ctx.Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)) {
			return errIdleClosed
		}
		return err
	}
	if err := writeRequest(c.bw, req); err != nil {
		return nil, idleClosed(err)
	}
	if err := c.bw.Flush(); err != nil {
		return nil, idleClosed(err)
	}
	c.lim.N = maxHeaderBytes + int64(c.br.Buffered())
	if _, err := c.br.Peek(1); err != nil {
		return nil, idleClosed(err)
	}
	resp, err := c.h.readResponse(c.br, req)
	if err != nil {
		if c.lim.N <= 0 {
			return nil, fmt.Errorf("response headers over %d bytes", maxHeaderBytes)
		}
		return nil, err
	}
	c.lim.N = math.MaxInt64
	// The body is read until the request's deadline (or the run's end).
	if !hasDeadline {
		deadline = time.Time{}
	}
	if err := l.setDeadline(c, deadline); err != nil {
		return nil, err
	}
	return resp, nil
}

// setDeadline sets c's deadline unless the run has ended: the watch may
// have set it in the past just before, and a later deadline must not undo
// that.
func (l *load) setDeadline(c *conn, t time.Time) error {
	if err := c.nc.SetDeadline(t); err != nil {
		return err
	}
	if err := l.runCtx.Err(); err != nil {
		_ = c.nc.SetDeadline(past)
		return err
	}
	return nil
}

// finish reads what is left of resp's body (within drainGrace, at most
// maxErrorBody bytes) so the connection can carry the user's next request;
// a body that does not end by then, or a server that asked to close,
// closes it.
func (l *load) finish(u *user, resp *http.Response) {
	c := u.conn
	if c == nil {
		return
	}
	if l.setDeadline(c, time.Now().Add(drainGrace)) != nil {
		c.close()
		u.conn = nil
		return
	}
	_, err := io.CopyN(io.Discard, resp.Body, maxErrorBody)
	if err != io.EOF || resp.Close || l.runCtx.Err() != nil {
		c.close()
		u.conn = nil
		return
	}
	c.served++
}

// isTimeout reports a connection deadline that passed under a read or write.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isReset reports a connection the peer reset or closed under a read or
// write (not a timeout).
func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}
