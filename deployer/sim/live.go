package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/tune-dify/tune/spaces"
)

// Live is the model run in wall-clock time: requests come from outside
// (an HTTP server) instead of from virtual users, and each one takes as long
// as the model says it takes. Start a Live with Run; Do serves one request.
type Live struct {
	mu     sync.Mutex
	r      *run
	scs    map[string]*scenario
	origin time.Time
	wake   chan struct{}
	calls  map[*Call]struct{}
	err    error // the model's failure (OOM), once it has failed
	start  usage
}

// ErrStopped is the outcome of requests after the model stopped serving:
// a pod was OOM-killed (Live.Err says which) or Run returned.
var ErrStopped = errors.New("sim: the system is down")

// Live builds sys for real-time serving. app is the scenario the chat endpoint
// runs (chatflow, agent or llm); the workflow and retrieval scenarios are
// always there too. llm is the model provider an LLM node streams from (zero
// fields: the defaults). A configuration whose pods cannot start (OOM) gives
// the *OOMError here.
func (m *Model) Live(sys spaces.System, app string, llm spaces.LLM) (*Live, error) {
	r, _, _, err := build(m.Seed, sys, spaces.Workload{Scenario: app, LLM: llm}, m.constants(), &reader{sys: sys})
	if err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	l := &Live{r: r, scs: map[string]*scenario{}, wake: make(chan struct{}, 1),
		calls: map[*Call]struct{}{}}
	for name, sc := range scenariosOf(r.topo) {
		l.scs[name] = &sc
	}
	l.scs[app] = r.sc
	return l, nil
}

// Call is one request in the model. First is closed when the model sends
// the response headers (its first byte); Done delivers the outcome once:
// "" for success, else an error kind such as db_too_many_connections or
// pool_timeout ("down" when the system failed under it).
type Call struct {
	first  chan struct{}
	done   chan string
	tokens chan int
	q      *request
	sentTo bool
}

// First is closed at the request's first byte.
func (c *Call) First() <-chan struct{} { return c.first }

// Done delivers the request's outcome.
func (c *Call) Done() <-chan string { return c.done }

// Tokens delivers how many answer tokens an LLM node has just generated,
// as the model generates them (the llm scenario; nothing for the others),
// so a server can stream them as Dify relays the provider's chunks. A
// reader that falls behind loses counts, never blocks the model.
func (c *Call) Tokens() <-chan int { return c.tokens }

// Run moves the model along the wall clock until ctx is done or the model
// fails (an OOM kill: its error is returned). Every call still in flight
// then ends with "down".
func (l *Live) Run(ctx context.Context) error {
	l.mu.Lock()
	l.origin = time.Now()
	l.start = l.r.usage()
	l.mu.Unlock()
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	for {
		l.mu.Lock()
		l.advance()
		if l.r.stopped {
			l.err = l.r.err
			l.failAll()
			l.mu.Unlock()
			return l.err
		}
		wait := time.Second
		if len(l.r.e.heap) > 0 {
			next := l.r.e.items[l.r.e.heap[0]].t
			wait = min(wait, time.Duration((next-l.clock())*float64(time.Second)))
		}
		l.mu.Unlock()
		tm.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			l.mu.Lock()
			l.r.stopped = true
			l.failAll()
			l.mu.Unlock()
			return nil
		case <-l.wake:
			if !tm.Stop() {
				<-tm.C
			}
		case <-tm.C:
		}
	}
}

// clock is the wall time since Run started, in the model's seconds.
func (l *Live) clock() float64 { return time.Since(l.origin).Seconds() }

// advance runs every event due by now and brings the model's clock to now.
// l.mu must be held.
func (l *Live) advance() {
	now := l.clock()
	for !l.r.stopped && l.r.e.step(now) {
	}
	if l.r.e.now < now {
		l.r.e.now = now
	}
}

func (l *Live) failAll() {
	for c := range l.calls {
		c.q.over = true
		l.finish(c, "down")
	}
}

// finish delivers kind to c once. l.mu must be held.
func (l *Live) finish(c *Call, kind string) {
	if c.sentTo {
		return
	}
	c.sentTo = true
	delete(l.calls, c)
	c.done <- kind
}

// Do starts one request of the named scenario (chatflow, agent,
// workflow or retrieval: workflow runs the chatflow's steps). Cancel it
// with Cancel when the client goes away: the server side goes on with the
// work, as a real server does, but nothing is delivered.
func (l *Live) Do(name string) (*Call, error) {
	if name == "workflow" {
		name = "chatflow"
	}
	sc, ok := l.scs[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown scenario %q", ErrBadSystem, name)
	}
	c := &Call{first: make(chan struct{}), done: make(chan string, 1), tokens: make(chan int, llmBatches)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.r.stopped {
		return nil, ErrStopped
	}
	l.advance()
	q := &request{r: l.r, sc: sc, i: -1, start: l.r.e.now}
	q.nextFn, q.contFn = q.next, q.cont
	q.onFirst = func() { close(c.first) }
	q.onDone = func(kind string) { l.finish(c, kind) }
	q.onTokens = func(n int) {
		if c.sentTo {
			return
		}
		select {
		case c.tokens <- n:
		default:
		}
	}
	c.q = q
	l.calls[c] = struct{}{}
	q.next()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return c, nil
}

// Cancel tells the model that c's client went away.
func (l *Live) Cancel(c *Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.q.gone = true
	if !c.sentTo {
		c.sentTo = true
		delete(l.calls, c)
	}
}

// Err is the model's failure once it has one (an *OOMError).
func (l *Live) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Utilisation is each service's CPU use since Run started, as a fraction
// of what it was given.
func (l *Live) Utilisation() map[string]float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.origin.IsZero() {
		return nil
	}
	l.advance()
	u := l.r.utilisation(l.start)
	for k, v := range u {
		u[k] = math.Round(v*1000) / 1000
	}
	return u
}
