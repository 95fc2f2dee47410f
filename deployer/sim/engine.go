package sim

import (
	"container/heap"
	"math"
	"math/rand/v2"
)

// engine is the discrete-event core: a clock in seconds of virtual time, a
// heap of pending callbacks and the one seeded random source every random
// draw of a run comes from.
type engine struct {
	now    float64
	seq    uint64
	events eventHeap
	rng    *rand.Rand

	// busyCores is how many cores all stations (except those flagged
	// noContention) use at this instant; a shared Weaviate reads it.
	busyCores float64
}

type event struct {
	t   float64
	seq uint64 // FIFO among equal times, so runs are deterministic
	fn  func()
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// at runs fn at absolute time t (never before now).
func (e *engine) at(t float64, fn func()) {
	if t < e.now {
		t = e.now
	}
	e.seq++
	heap.Push(&e.events, event{t: t, seq: e.seq, fn: fn})
}

// after runs fn d seconds from now.
func (e *engine) after(d float64, fn func()) { e.at(e.now+d, fn) }

// step pops and runs the next event; false when none is left or the next is
// past until.
func (e *engine) step(until float64) bool {
	if len(e.events) == 0 || e.events[0].t > until {
		return false
	}
	ev := heap.Pop(&e.events).(event)
	e.now = ev.t
	ev.fn()
	return true
}

// work draws a service demand with the given mean: gamma with shape 4
// (coefficient of variation 0.5), the spread of request CPU times seen in
// profiles of Python web handlers.
func (e *engine) work(mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	s := e.rng.ExpFloat64() + e.rng.ExpFloat64() + e.rng.ExpFloat64() + e.rng.ExpFloat64()
	return mean * s / 4
}

// lognormal draws a latency with the given mean and log-space sigma: the
// heavy right tail of network storage and remote APIs.
func (e *engine) lognormal(mean, sigma float64) float64 {
	mu := math.Log(mean) - sigma*sigma/2
	return math.Exp(mu + sigma*e.rng.NormFloat64())
}

// ps is a processor-sharing station: n jobs share `total` cores, none faster
// than perJob cores (a single-threaded backend or process). It keeps one
// virtual clock v, the service each job present since t0 has received, so
// arrivals, departures and rate changes cost O(log n).
type ps struct {
	e      *engine
	total  float64 // cores given to the station now (may change: throttling, stalls)
	perJob float64 // cap per job
	jobs   psHeap
	v      float64 // attained service per job (core-seconds)
	last   float64
	gen    uint64 // invalidates stale completion events
	busy   float64
	used   float64 // cores in use now
	// onBusy is called when the station turns busy or idle (n 0↔1) so a
	// parent (an api pod) can share its quota anew.
	onBusy func()
	// own marks a station whose use is not counted in engine.busyCores.
	own bool
}

type psJob struct {
	tag  float64 // v at which it completes
	done func()
}

type psHeap []psJob

func (h psHeap) Len() int           { return len(h) }
func (h psHeap) Less(i, j int) bool { return h[i].tag < h[j].tag }
func (h psHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *psHeap) Push(x any)        { *h = append(*h, x.(psJob)) }
func (h *psHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	return j
}

func newPS(e *engine, total, perJob float64) *ps {
	return &ps{e: e, total: total, perJob: perJob}
}

func (p *ps) rate() float64 {
	n := float64(len(p.jobs))
	if n == 0 {
		return 0
	}
	return math.Min(p.perJob, p.total/n)
}

// sync advances the virtual clock to now and accrues busy core-seconds.
func (p *ps) sync() {
	dt := p.e.now - p.last
	if dt > 0 && len(p.jobs) > 0 {
		r := p.rate()
		p.v += dt * r
		p.busy += dt * r * float64(len(p.jobs))
	}
	p.last = p.e.now
}

// n is the number of jobs in service.
func (p *ps) n() int { return len(p.jobs) }

// add starts a job of `demand` core-seconds; done runs when it completes.
func (p *ps) add(demand float64, done func()) {
	p.sync()
	heap.Push(&p.jobs, psJob{tag: p.v + demand, done: done})
	p.reschedule()
	if len(p.jobs) == 1 && p.onBusy != nil {
		p.onBusy()
	}
}

// setTotal changes the cores the station gets (a throttled or stalled pod).
func (p *ps) setTotal(total float64) {
	if total == p.total {
		return
	}
	p.sync()
	p.total = total
	p.reschedule()
}

func (p *ps) reschedule() {
	p.gen++
	r := p.rate()
	used := r * float64(len(p.jobs))
	if !p.own {
		p.e.busyCores += used - p.used
	}
	p.used = used
	if len(p.jobs) == 0 || r <= 0 {
		return
	}
	gen := p.gen
	dt := (p.jobs[0].tag - p.v) / r
	p.e.after(math.Max(dt, 0), func() {
		if p.gen != gen {
			return
		}
		p.sync()
		// Complete every job whose tag is reached (ties, rounding).
		var done []func()
		for len(p.jobs) > 0 && p.jobs[0].tag <= p.v+1e-12 {
			done = append(done, heap.Pop(&p.jobs).(psJob).done)
		}
		p.reschedule()
		if len(p.jobs) == 0 && p.onBusy != nil {
			p.onBusy()
		}
		for _, f := range done {
			f()
		}
	})
}

// mutex is a FIFO lock (a hot row): one holder, waiters served in order.
type mutex struct {
	held    bool
	waiters []func()
}

func (m *mutex) lock(fn func()) {
	if !m.held {
		m.held = true
		fn()
		return
	}
	m.waiters = append(m.waiters, fn)
}

func (m *mutex) unlock() {
	if len(m.waiters) == 0 {
		m.held = false
		return
	}
	fn := m.waiters[0]
	m.waiters = m.waiters[1:]
	fn()
}
