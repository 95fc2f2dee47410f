package loader

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tune-dify/tune/loader/sse"
)

// drainGrace is how long the rest of a successful body may take to arrive.
// Reading it to EOF returns the connection to the pool; a server that keeps
// the stream open after its end event costs a connection, not a hang.
const drainGrace = 100 * time.Millisecond

// maxErrorBody bounds how much of a non-200 body is read for its code.
const maxErrorBody = 64 << 10

// user is one virtual user, or, in an open loop, one in-flight slot: its
// name, its random source, its decoder reused across its streams.
type user struct {
	id           int
	name         string
	rng          *rand.Rand
	dec          *sse.Decoder
	stream       Stream
	conversation string
	conn         *conn // its keep-alive connection, dialled on first use
}

func (l *load) newUser(id int) *user {
	u := &user{
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
	l.mu.Lock()
	l.users = append(l.users, u)
	l.mu.Unlock()
	return u
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
	dialer *dialer
	rec    *recorder
	runCtx context.Context

	mu    sync.Mutex
	users []*user // every user made, to close their connections at the end
}

// closeConns closes every user's connection; the users must be done.
func (l *load) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.users {
		u.drop()
	}
}

// drop closes u's connection: a failure left it in an unknown state.
func (u *user) drop() {
	if u.conn != nil {
		u.conn.close()
		u.conn = nil
	}
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
	if req.Header.Get("Authorization") == "" { // a Mix sets each app's own key
		req.Header.Set("Authorization", l.auth)
	}
	resp, err := l.roundTrip(ctx, u, req)
	if err != nil {
		fail(err)
		return
	}
	headers := time.Now()
	if resp.StatusCode != http.StatusOK {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil && (ctx.Err() != nil || isTimeout(err)) {
			u.drop()
			fail(err) // the error body itself timed out (the connection's deadline is the request's)
			return
		}
		l.finish(u, resp)
		fail(httpError(resp.StatusCode, body, l.rec.keys...))
		return
	}
	u.dec.Reset(resp.Body)
	s := &u.stream
	*s = Stream{Resp: resp, dec: u.dec}
	err = l.cfg.Scenario.Read(s)
	l.rec.events.Add(int64(s.events))
	l.rec.skimmed.Add(int64(s.skimmed))
	if err != nil {
		u.drop()
		fail(err)
		return
	}
	s.End()
	if s.conversation != "" {
		u.conversation = s.conversation
	}
	l.rec.success(start, headers, s)
	l.finish(u, resp)
	u.dec.Reset(nil) // drop the body
}

func trimBase(s string) string { return strings.TrimRight(s, "/") }
