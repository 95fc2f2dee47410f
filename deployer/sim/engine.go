package sim

import (
	"math"
	"math/rand/v2"
)

// engine is the discrete-event core: a clock in seconds of virtual time, a
// heap of pending callbacks and the one seeded random source every random
// draw of a run comes from.
type engine struct {
	now   float64
	seq   uint64
	heap  []int32 // item ids; ints, so sifting costs no GC write barriers
	items []item
	free  []int32
	rng   *rand.Rand

	// busyCores is how many cores all stations (except those flagged own)
	// use at this instant; a shared Weaviate reads it.
	busyCores float64

	rtt   float64 // one network round trip (Constants.RTT)
	speed float64 // core speed (Constants.CPUSpeed): CPU demands take 1/speed as long
}

// item is a pending callback. A station keeps one item and moves it
// (schedule again) instead of leaving stale events behind.
type item struct {
	t    float64
	seq  uint64 // FIFO among equal times, so runs are deterministic
	fn   func()
	idx  int32 // position in the heap, -1 when not in it
	keep bool  // a station's timer, reused; others are freed once run
}

func (e *engine) less(i, j int32) bool {
	a, b := &e.items[e.heap[i]], &e.items[e.heap[j]]
	if a.t != b.t {
		return a.t < b.t
	}
	return a.seq < b.seq
}

func (e *engine) swap(i, j int32) {
	e.heap[i], e.heap[j] = e.heap[j], e.heap[i]
	e.items[e.heap[i]].idx = i
	e.items[e.heap[j]].idx = j
}

func (e *engine) up(i int32) {
	for i > 0 {
		p := (i - 1) / 2
		if !e.less(i, p) {
			return
		}
		e.swap(i, p)
		i = p
	}
}

func (e *engine) down(i int32) {
	n := int32(len(e.heap))
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && e.less(r, l) {
			m = r
		}
		if !e.less(m, i) {
			return
		}
		e.swap(i, m)
		i = m
	}
}

// newItem returns the id of a fresh item running fn.
func (e *engine) newItem(fn func(), keep bool) int32 {
	var id int32
	if n := len(e.free); n > 0 {
		id = e.free[n-1]
		e.free = e.free[:n-1]
	} else {
		id = int32(len(e.items))
		e.items = append(e.items, item{})
	}
	e.items[id] = item{fn: fn, idx: -1, keep: keep}
	return id
}

// schedule puts item id in the heap at time t, or moves it there.
func (e *engine) schedule(id int32, t float64) {
	if t < e.now {
		t = e.now
	}
	e.seq++
	it := &e.items[id]
	it.t, it.seq = t, e.seq
	if i := it.idx; i >= 0 {
		e.up(i)
		e.down(e.items[id].idx)
		return
	}
	it.idx = int32(len(e.heap))
	e.heap = append(e.heap, id)
	e.up(it.idx)
}

// cancel takes item id out of the heap if it is there.
func (e *engine) cancel(id int32) {
	i := e.items[id].idx
	if i < 0 {
		return
	}
	last := int32(len(e.heap) - 1)
	if i != last {
		e.swap(i, last)
	}
	e.heap = e.heap[:last]
	e.items[id].idx = -1
	if i != last {
		moved := e.heap[i]
		e.up(i)
		e.down(e.items[moved].idx)
	}
}

// at runs fn at absolute time t (never before now).
func (e *engine) at(t float64, fn func()) { e.schedule(e.newItem(fn, false), t) }

// after runs fn d seconds from now.
func (e *engine) after(d float64, fn func()) { e.at(e.now+d, fn) }

// step runs the next event; false when none is left or the next is past
// until.
func (e *engine) step(until float64) bool {
	if len(e.heap) == 0 || e.items[e.heap[0]].t > until {
		return false
	}
	id := e.heap[0]
	e.cancel(id)
	it := &e.items[id]
	e.now = it.t
	fn := it.fn
	if !it.keep {
		it.fn = nil
		e.free = append(e.free, id)
	}
	fn()
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
	jobs   []psJob // min-heap by tag
	v      float64 // attained service per job (core-seconds)
	last   float64
	timer  int32 // item of the next completion
	busy   float64
	used   float64 // cores in use now
	// onBusy is called when the station turns busy or idle (n 0↔1) so a
	// parent (an api pod) can share its quota anew.
	onBusy func()
	// own marks a station whose use is not counted in engine.busyCores.
	own  bool
	done []func() // scratch for completions
}

type psJob struct {
	tag  float64 // v at which it completes
	done func()
}

func newPS(e *engine, total, perJob float64) *ps {
	p := &ps{e: e, total: total, perJob: perJob}
	p.timer = e.newItem(p.fire, true)
	return p
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
	p.jobs = append(p.jobs, psJob{tag: p.v + demand/p.e.speed, done: done})
	for i := len(p.jobs) - 1; i > 0; {
		u := (i - 1) / 2
		if p.jobs[u].tag <= p.jobs[i].tag {
			break
		}
		p.jobs[u], p.jobs[i] = p.jobs[i], p.jobs[u]
		i = u
	}
	p.reschedule()
	if len(p.jobs) == 1 && p.onBusy != nil {
		p.onBusy()
	}
}

func (p *ps) popJob() func() {
	j := p.jobs[0]
	n := len(p.jobs) - 1
	p.jobs[0] = p.jobs[n]
	p.jobs[n] = psJob{}
	p.jobs = p.jobs[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && p.jobs[r].tag < p.jobs[l].tag {
			m = r
		}
		if p.jobs[i].tag <= p.jobs[m].tag {
			break
		}
		p.jobs[i], p.jobs[m] = p.jobs[m], p.jobs[i]
		i = m
	}
	return j.done
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
	r := p.rate()
	used := r * float64(len(p.jobs))
	if !p.own {
		p.e.busyCores += used - p.used
	}
	p.used = used
	if len(p.jobs) == 0 || r <= 0 {
		p.e.cancel(p.timer)
		return
	}
	p.e.schedule(p.timer, p.e.now+math.Max((p.jobs[0].tag-p.v)/r, 0))
}

// fire completes every job whose tag is reached (ties, rounding).
func (p *ps) fire() {
	p.sync()
	done := p.done[:0]
	for len(p.jobs) > 0 && p.jobs[0].tag <= p.v+1e-12 {
		done = append(done, p.popJob())
	}
	p.reschedule()
	if len(p.jobs) == 0 && p.onBusy != nil {
		p.onBusy()
	}
	p.done = done[:0]
	for i, f := range done {
		done[i] = nil
		f()
	}
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
