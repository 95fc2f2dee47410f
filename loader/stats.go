package loader

import (
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/tune-dify/tune/results"
)

// Histogram bounds: latencies are recorded in microseconds from 1 µs to 10
// minutes at 3 significant digits, so a percentile is within 0.1% of the
// true value; events per stream up to ten million.
const (
	maxLatencyUS = int64(10 * time.Minute / time.Microsecond)
	maxEvents    = 10_000_000
	sigFigs      = 3
)

// maxKinds bounds the error kinds, as a server picks its codes; the rest
// are counted under "other".
const maxKinds = 64

// Percentiles of one figure. Latencies are in milliseconds, with
// microsecond resolution.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Second is one second of the run, warm-up included: requests that ended
// in it and the load at its end (users for a closed loop, requests in
// flight for both), the latency percentiles of its successes and its
// failures by kind. Progress sees the counts only: a second's percentiles
// and errors are complete once the run's Summary is.
type Second struct {
	T         int   `json:"t"` // seconds since the start; the second [T, T+1)
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Users     int64 `json:"users"`
	InFlight  int64 `json:"in_flight"`
	SecondLatency
	Errors map[string]int64 `json:"errors,omitempty"` // kind → count
}

// Summary is a run's result. Counts, rates and percentiles cover requests
// that ended inside the measured window; percentiles are of successful
// requests only. The timeline covers the whole run.
type Summary struct {
	TPS             float64           `json:"tps"`
	Completed       int64             `json:"completed"`
	Failed          int64             `json:"failed"`
	ErrorRate       float64           `json:"error_rate"` // failed / (completed + failed)
	Errors          map[string]int64  `json:"errors"`
	ErrorExamples   map[string]string `json:"error_examples"`
	TTFB            Percentiles       `json:"ttfb_ms"` // to response headers
	TTFT            Percentiles       `json:"ttft_ms"` // to the first event with content
	Total           Percentiles       `json:"total_ms"`
	EventsPerStream Percentiles       `json:"events_per_stream"`
	Pings           int64             `json:"pings"` // keep-alive events, all streams
	// Events counts the events of all streams; Skimmed those the client
	// recognised from their first bytes (node progress, answer chunks
	// after the first) and passed over without decoding their JSON.
	Events   int64    `json:"events"`
	Skimmed  int64    `json:"skimmed_events"`
	WarmUp   float64  `json:"warmup_s"`   // the window starts here
	Duration float64  `json:"duration_s"` // the window's length
	Timeline []Second `json:"timeline"`
}

// Measurement converts s to what a trial records.
func (s *Summary) Measurement() results.Measurement {
	m := results.Measurement{
		Metrics: results.Metrics{
			TPS:       s.TPS,
			P50:       s.Total.P50,
			P95:       s.Total.P95,
			P99:       s.Total.P99,
			TTFBP95:   s.TTFB.P95,
			ErrorRate: s.ErrorRate,
		},
		Completed: int(s.Completed),
		Failed:    int(s.Failed),
	}
	if len(s.Errors) > 0 {
		m.Errors = make(map[string]int, len(s.Errors))
		for k, v := range s.Errors {
			m.Errors[k] = int(v)
		}
	}
	return m
}

// recorder collects samples from all users. One mutex is enough: it is
// held for four histogram updates per request, far below the cost of a
// request.
type recorder struct {
	start  time.Time
	t0, t1 time.Duration // measured window, from start
	keys   []Secret      // redacted from error examples

	mu                      sync.Mutex
	ttfb, ttft, total, evs  *hdrhistogram.Histogram
	completed, failed       int64
	errs                    map[string]int64
	examples                map[string]string
	pings, users, inFlight  atomic.Int64
	events, skimmed         atomic.Int64
	secCompleted, secFailed []atomic.Int64
	secUsers, secInFlight   []atomic.Int64
	seconds                 seconds      // guarded by mu
	sampled                 atomic.Int64 // the last second sampled, -1 before the first
}

func newRecorder(start time.Time, t0, t1 time.Duration, keys ...Secret) *recorder {
	n := int(t1/time.Second) + 2
	lat := func() *hdrhistogram.Histogram { return hdrhistogram.New(1, maxLatencyUS, sigFigs) }
	r := &recorder{
		start: start, t0: t0, t1: t1, keys: keys,
		ttfb: lat(), ttft: lat(), total: lat(),
		evs:          hdrhistogram.New(1, maxEvents, sigFigs),
		errs:         map[string]int64{},
		examples:     map[string]string{},
		secCompleted: make([]atomic.Int64, n),
		secFailed:    make([]atomic.Int64, n),
		secUsers:     make([]atomic.Int64, n),
		secInFlight:  make([]atomic.Int64, n),
		seconds:      newSeconds(n),
	}
	r.sampled.Store(-1)
	return r
}

// second returns the timeline index of t, or -1 outside the run.
func (r *recorder) second(t time.Time) int {
	i := int(t.Sub(r.start) / time.Second)
	if i < 0 || i >= len(r.secCompleted) {
		return -1
	}
	return i
}

func (r *recorder) inWindow(t time.Time) bool {
	d := t.Sub(r.start)
	return d >= r.t0 && d <= r.t1
}

func us(d time.Duration) int64 {
	v := d.Microseconds()
	return min(max(v, 0), maxLatencyUS)
}

// success records a completed request; start is when it was sent, or, in
// an open loop, scheduled.
func (r *recorder) success(start, headers time.Time, s *Stream) {
	end := s.end
	i := r.second(end)
	if i >= 0 {
		r.secCompleted[i].Add(1)
	}
	ttft := int64(-1)
	if !s.token.IsZero() {
		ttft = us(s.token.Sub(start))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seconds.record(i, us(end.Sub(start)), ttft)
	if !r.inWindow(end) {
		return
	}
	r.completed++
	_ = r.ttfb.RecordValue(us(headers.Sub(start)))
	_ = r.total.RecordValue(us(end.Sub(start)))
	if ttft >= 0 {
		_ = r.ttft.RecordValue(ttft)
	}
	if s.streamed {
		_ = r.evs.RecordValue(min(int64(s.events), maxEvents))
	}
}

// failure records a failed request ending at end, keeping the first
// example of each kind.
func (r *recorder) failure(e *Error, end time.Time) {
	i := r.second(end)
	if i >= 0 {
		r.secFailed[i].Add(1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	kind := e.Kind
	if _, ok := r.errs[kind]; !ok && len(r.errs) >= maxKinds {
		kind = "other"
	}
	r.seconds.fail(i, kind)
	if !r.inWindow(end) {
		return
	}
	r.failed++
	r.errs[kind]++
	if _, ok := r.examples[kind]; !ok {
		r.examples[kind] = redact(e.Error(), r.keys...)
	}
}

// sample stores the load gauges for second i and closes the latency
// histograms of the seconds before i-1: a request is recorded as it ends,
// so one second of grace covers any scheduling delay.
func (r *recorder) sample(i int) Second {
	if i < 0 || i >= len(r.secUsers) {
		return Second{T: i}
	}
	r.secUsers[i].Store(r.users.Load())
	r.secInFlight[i].Store(r.inFlight.Load())
	if prev := r.sampled.Load(); int64(i) > prev {
		r.sampled.CompareAndSwap(prev, int64(i))
	}
	r.mu.Lock()
	r.seconds.closeBefore(i - 1)
	r.mu.Unlock()
	return r.secondAt(i)
}

// sampleThrough samples the seconds up to i that were not sampled yet: the
// run's deadline and the sampler's last tick fall on the same instant, and
// a last full second left unsampled would read as zero users.
func (r *recorder) sampleThrough(i int) {
	for j := int(r.sampled.Load()) + 1; j <= i; j++ {
		r.sample(j)
	}
}

func (r *recorder) secondAt(i int) Second {
	return Second{
		T:         i,
		Completed: r.secCompleted[i].Load(),
		Failed:    r.secFailed[i].Load(),
		Users:     r.secUsers[i].Load(),
		InFlight:  r.secInFlight[i].Load(),
	}
}

// summary computes the result of a run that ended at end.
func (r *recorder) summary(end time.Time) *Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	t1 := min(r.t1, end.Sub(r.start))
	s := &Summary{
		Completed:       r.completed,
		Failed:          r.failed,
		Errors:          make(map[string]int64, len(r.errs)),
		ErrorExamples:   make(map[string]string, len(r.examples)),
		TTFB:            percentiles(r.ttfb, 1e-3),
		TTFT:            percentiles(r.ttft, 1e-3),
		Total:           percentiles(r.total, 1e-3),
		EventsPerStream: percentiles(r.evs, 1),
		Pings:           r.pings.Load(),
		Events:          r.events.Load(),
		Skimmed:         r.skimmed.Load(),
		WarmUp:          r.t0.Seconds(),
		Duration:        max(t1-r.t0, 0).Seconds(),
	}
	for k, v := range r.errs {
		s.Errors[k] = v
	}
	for k, v := range r.examples {
		s.ErrorExamples[k] = v
	}
	if s.Duration > 0 {
		s.TPS = float64(s.Completed) / s.Duration
	}
	if n := s.Completed + s.Failed; n > 0 {
		s.ErrorRate = float64(s.Failed) / float64(n)
	}
	last := min(int((end.Sub(r.start)+time.Second-1)/time.Second), len(r.secCompleted))
	r.seconds.closeBefore(last)
	s.Timeline = make([]Second, 0, last)
	for i := range last {
		sec := r.secondAt(i)
		sec.SecondLatency = r.seconds.lat[i]
		if e := r.seconds.errs[i]; len(e) > 0 {
			sec.Errors = make(map[string]int64, len(e))
			for k, v := range e {
				sec.Errors[k] = v
			}
		}
		s.Timeline = append(s.Timeline, sec)
	}
	return s
}

// percentiles reads h; scale converts its unit (µs to ms: 1e-3).
func percentiles(h *hdrhistogram.Histogram, scale float64) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) * scale }
	return Percentiles{
		Count: h.TotalCount(),
		P50:   q(50), P90: q(90), P95: q(95), P99: q(99),
		Max: float64(h.Max()) * scale,
	}
}
