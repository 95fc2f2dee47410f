package loader

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tune-dify/tune/loader/sse"
)

// drainGrace is how long the rest of a successful body may take to arrive.
// Reading it to EOF returns the connection to the pool; a server that keeps
// the stream open after its end event costs a connection, not a hang.
const drainGrace = 100 * time.Millisecond

// maxErrorBody bounds how much of a non-200 body is read for its code.
const maxErrorBody = 64 << 10

// newTransport returns one transport for the whole run, sized so that every
// user keeps its connection: HTTP/1.1 keep-alive, no HTTP/2 (Dify is served
// over HTTP/1.1 by nginx, and one TCP connection per stream is what a
// browser fleet looks like), no proxy from the environment, no compression
// (a gzipped event stream would be buffered, hiding the first token), and
// a read buffer that holds most of a stream (a 21-event chatflow answer is
// 7–15 KB), so a client that falls behind catches up in one read, not one
// per 4 KB.
func newTransport(cfg Config, conns int) *http.Transport {
	d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          conns + 16,
		MaxIdleConnsPerHost:   conns + 16,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.HeaderTimeout,
		TLSHandshakeTimeout:   cfg.DialTimeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ReadBufferSize:        16 << 10,
	}
}

// noRedirect makes a 3xx a counted failure rather than a silent second
// request.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// user is one virtual user, or, in an open loop, one in-flight slot: its
// name, its random source, its decoder reused across its streams.
type user struct {
	id           int
	name         string
	rng          *rand.Rand
	dec          *sse.Decoder
	stream       Stream
	conversation string
}

func (l *load) newUser(id int) *user {
	return &user{
		id:   id,
		name: "tune-" + strconv.Itoa(id),
		rng:  rand.New(rand.NewPCG(l.cfg.Seed, uint64(id))),
		dec: sse.NewDecoder(nil, sse.WithMaxEventSize(l.cfg.MaxEventSize),
			sse.WithEmptyEventFunc(func(t string) {
				if t == "ping" {
					l.rec.pings.Add(1)
				}
			})),
	}
}

// think returns the user's next think time.
func (u *user) think(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(u.rng.Int64N(int64(hi-lo)+1))
}

// load is one run in progress.
type load struct {
	cfg    Config
	base   string
	auth   string
	client *http.Client
	rec    *recorder
	runCtx context.Context
}

// do makes one request for u and records it. start is when it was sent or,
// in an open loop, scheduled: all its times are measured from there.
func (l *load) do(u *user, start time.Time) {
	l.rec.inFlight.Add(1)
	defer l.rec.inFlight.Add(-1)
	ctx, cancel := context.WithTimeout(l.runCtx, l.cfg.Timeout)
	defer cancel()
	fail := func(err error) {
		if e := classify(err, ctx, l.runCtx); e != nil {
			l.rec.failure(e, time.Now())
		}
	}
	call := Call{User: u.name, Query: l.cfg.Queries[u.rng.IntN(len(l.cfg.Queries))], ConversationID: u.conversation}
	req, err := l.cfg.Scenario.Request(ctx, l.base, call)
	if err != nil {
		fail(errorf(KindConnection, "build request: %v", err))
		return
	}
	req.Header.Set("Authorization", l.auth)
	resp, err := l.client.Do(req)
	if err != nil {
		fail(err)
		return
	}
	headers := time.Now()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil && ctx.Err() != nil {
			fail(err) // the error body itself timed out
			return
		}
		fail(httpError(resp.StatusCode, body, l.cfg.APIKey))
		return
	}
	u.dec.Reset(resp.Body)
	s := &u.stream
	*s = Stream{Resp: resp, dec: u.dec}
	err = l.cfg.Scenario.Read(s)
	l.rec.events.Add(int64(s.events))
	l.rec.skimmed.Add(int64(s.skimmed))
	if err != nil {
		fail(err)
		return
	}
	s.End()
	if s.conversation != "" {
		u.conversation = s.conversation
	}
	l.rec.success(start, headers, s)
	t := time.AfterFunc(drainGrace, cancel)
	_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBody)
	t.Stop()
	u.dec.Reset(nil) // drop the body
}

// sleepUntil waits for t on the reusable timer tm; false if ctx ends first.
func sleepUntil(ctx context.Context, tm *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm.Reset(d)
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		tm.Stop()
		return false
	}
}

func trimBase(s string) string { return strings.TrimRight(s, "/") }
