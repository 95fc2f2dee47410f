package loader

import (
	"context"
	"sync"
	"time"

	"github.com/tune-dify/tune/internal/wait"
)

// Run drives the load cfg describes until its duration ends or ctx is
// cancelled, and returns its summary. On cancellation it still returns the
// summary so far, with ctx's error. It stops every goroutine it started and
// closes its connections before returning.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.defaults()
	d, err := newDialer(cfg)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	runCtx, cancel := context.WithDeadline(ctx, start.Add(cfg.Duration))
	defer cancel()
	l := &load{
		cfg:    cfg,
		base:   trimBase(cfg.BaseURL),
		auth:   "Bearer " + string(cfg.APIKey),
		dialer: d,
		rec:    newRecorder(start, cfg.rampTime()+cfg.WarmUp, cfg.Duration, cfg.keys()...),
		runCtx: runCtx,
	}
	var wg sync.WaitGroup
	wg.Go(l.sample)
	if cfg.Rate > 0 {
		l.open(&wg)
	} else {
		l.closed(&wg)
	}
	<-runCtx.Done()
	stopped := time.Now()
	l.rec.sampleThrough(l.rec.second(stopped)) // the last, partial second, and any tick the deadline beat
	cancel()
	wg.Wait()
	l.closeConns()
	return l.rec.summary(stopped), ctx.Err()
}

// sample records the load gauges at the end of each second and reports
// the second to cfg.Progress.
func (l *load) sample() {
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	for i := 1; wait.Until(l.runCtx, tm, l.rec.start.Add(time.Duration(i)*time.Second)); i++ {
		s := l.rec.sample(i - 1)
		if l.cfg.Progress != nil {
			l.cfg.Progress(s)
		}
	}
}

// closed runs the stages: users spawn and stop at the spawn rate (all at
// once without one) and loop request, think, request until told to stop. A
// user stopped by a smaller stage finishes its request first, as a person
// would; the end of the run cuts requests short.
func (l *load) closed(wg *sync.WaitGroup) {
	var interval time.Duration
	if l.cfg.SpawnRate > 0 {
		interval = time.Duration(float64(time.Second) / l.cfg.SpawnRate)
	}
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	var stops []chan struct{}
	next, stageEnd := l.rec.start, l.rec.start
	for _, st := range l.cfg.Stages {
		stageEnd = stageEnd.Add(st.Duration)
		next = later(next, time.Now())
		for len(stops) != st.Users {
			if interval > 0 {
				if !wait.Until(l.runCtx, tm, earlier(next, stageEnd)) {
					return
				}
				if !time.Now().Before(stageEnd) {
					break
				}
				next = next.Add(interval)
			}
			if len(stops) < st.Users {
				stop := make(chan struct{})
				stops = append(stops, stop)
				u := l.newUser(len(stops))
				wg.Go(func() { l.user(u, stop) })
			} else {
				close(stops[len(stops)-1])
				stops = stops[:len(stops)-1]
			}
		}
		if !wait.Until(l.runCtx, tm, stageEnd) {
			return
		}
	}
}

// user is one closed-loop user's life.
func (l *load) user(u *user, stop <-chan struct{}) {
	l.rec.users.Add(1)
	defer l.rec.users.Add(-1)
	defer u.drop() // a user who leaves closes its connection
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if ended(l.runCtx) {
			return
		}
		l.do(u, time.Now())
		if d := u.think(l.cfg.ThinkMin, l.cfg.ThinkMax); d > 0 {
			tm.Reset(d)
			select {
			case <-tm.C:
			case <-stop:
				return
			case <-l.runCtx.Done():
				return
			}
		}
	}
}

// open starts requests at cfg.Rate on a fixed schedule. A start falls due
// whether or not earlier requests have finished, and each request is timed
// from its scheduled start, so a slow server shows as latency instead of
// as fewer requests (no coordinated omission). At most MaxInFlight run at
// once; a due start with no free slot is recorded as KindOverload.
func (l *load) open(wg *sync.WaitGroup) {
	slots := make(chan *user, l.cfg.MaxInFlight)
	for i := range l.cfg.MaxInFlight {
		slots <- &user{id: i + 1} // made ready on first use
	}
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	end := l.rec.start.Add(l.cfg.Duration)
	for i := 0; ; i++ {
		at := l.rec.start.Add(time.Duration(float64(i) / l.cfg.Rate * float64(time.Second)))
		if !at.Before(end) || !wait.Until(l.runCtx, tm, at) {
			return
		}
		select {
		case u := <-slots:
			if u.dec == nil {
				u = l.newUser(u.id)
			}
			wg.Go(func() {
				l.do(u, at)
				slots <- u
			})
		default:
			l.rec.failure(errorf(KindOverload, "%d requests in flight", l.cfg.MaxInFlight), at)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
