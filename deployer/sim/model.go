package sim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// Model is the embedded, calibrated model of a Dify deployment. The zero
// value is usable; Seed varies the noise between otherwise equal studies.
type Model struct {
	Seed int64
	// Constants, if set, replace the calibrated figures a what-if may
	// change (LoadOverrides reads them from a file).
	Constants *Constants
}

// constants is m's Constants or the defaults.
func (m *Model) constants() Constants {
	if m.Constants != nil {
		return *m.Constants
	}
	return DefaultConstants()
}

// New returns a model whose noise is seeded by seed.
func New(seed int64) *Model { return &Model{Seed: seed} }

// OOMError is a pod killed because its processes need more memory than its
// limit: the trial fails, as it would on a cluster.
type OOMError struct {
	Service  string
	NeedMiB  int64
	LimitMiB int64
}

func (e *OOMError) Error() string {
	return fmt.Sprintf("%s: OOMKilled: needs ~%d MiB, limit %d MiB", e.Service, e.NeedMiB, e.LimitMiB)
}

// ErrBadSystem wraps every problem with the System or Workload handed to
// Evaluate (an unknown scenario, a non-positive allocation, ...).
var ErrBadSystem = errors.New("sim: bad system or workload")

// run is the state of one evaluation.
type run struct {
	e       engine
	sc      *scenario    // the first part's scenario (Live's app)
	scs     []*scenario  // each part's, in the order of Workload.Parts
	parts   []*partStats // each part's figures; nil unless the load is mixed
	k       Constants
	topo    topology
	llm     spaces.LLM // the provider the llm scenario's LLM node streams from
	stopped bool
	err     error

	thinkMin, thinkMax float64
	t0, t1             float64 // measured window

	reserved   *ps
	pods       []*apiPod  // dify-api replicas
	wpods      []*apiPod  // Celery worker replicas
	tasks      []*request // Celery's queue on Redis: runs waiting for a worker slot
	pg         *postgres
	pgb        *pgbouncer
	redis      *ps
	plugins    []*ps
	weaviate   *ps
	xinference *ps // nil when the System has no xinference
	ollama     *ps // nil when the System has no ollama

	shared      bool // Weaviate shares nodes with the other pods
	budgetCores float64

	resCores, redisCores float64
	util                 map[string]float64

	pending []*request // requests in order of their client deadline
	timeout int32      // the timer of pending's head, -1 before the first

	total, ttfb       *hdrhistogram.Histogram
	completed, failed int
	errs              map[string]int
}

// Evaluate runs the workload against the system in virtual time and returns
// what a load test would have measured. It is deterministic in (Seed, sys,
// w). An *OOMError means a pod was OOM-killed; errors wrapping ErrBadSystem
// mean the input is wrong; ctx's error means it was cancelled.
func (m *Model) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	r, err := newRun(m.Seed, sys, w, m.constants())
	if err != nil {
		return results.Measurement{}, err
	}
	if err := r.loop(ctx); err != nil {
		return results.Measurement{}, err
	}
	return r.measurement(), nil
}

func (r *run) oom(service string, need, limit float64) {
	if r.err == nil {
		r.err = &OOMError{Service: service, NeedMiB: int64(math.Round(need)), LimitMiB: int64(limit)}
	}
	r.stopped = true
}

// loop runs events up to the end of the measured window, checking ctx every
// few thousand events.
func (r *run) loop(ctx context.Context) error {
	if r.err != nil {
		return r.err
	}
	var start usage
	r.e.at(r.t0, func() { start = r.usage() })
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if r.stopped || !r.e.step(r.t1) {
			break
		}
	}
	if r.err != nil {
		return r.err
	}
	r.e.now = r.t1
	r.util = r.utilisation(start)
	return nil
}

// usage is what every station has used up to one instant: busy
// core-seconds per station and the api pods' CPU quota spent.
type usage struct {
	at    float64
	busy  map[*ps]float64
	quota map[string]float64 // by service: api, worker
}

func (r *run) usage() usage {
	u := usage{at: r.e.now, busy: map[*ps]float64{}, quota: map[string]float64{}}
	for _, p := range r.stations() {
		p.sync()
		u.busy[p] = p.busy
	}
	for _, p := range append(slices.Clone(r.pods), r.wpods...) {
		p.accrue()
		u.quota[p.service] += p.quota
	}
	return u
}

// utilisation is each service's CPU use since start as a fraction of what
// it was given (the api: of its pods' limits).
func (r *run) utilisation(start usage) map[string]float64 {
	end := r.usage()
	dt := end.at - start.at
	util := map[string]float64{}
	if dt <= 0 {
		return util
	}
	limits := map[string]float64{}
	for _, p := range append(slices.Clone(r.pods), r.wpods...) {
		limits[p.service] += p.limit
	}
	for svc, l := range limits {
		util[svc] = math.Min(1, (end.quota[svc]-start.quota[svc])/(l*dt))
	}
	for name, ss := range r.byService() {
		used := ss.extra * dt
		for _, p := range ss.stations {
			used += end.busy[p] - start.busy[p]
		}
		if alloc := ss.den * dt; alloc > 0 {
			util[name] = math.Min(1, used/alloc)
		}
	}
	return util
}

// partStats are one part's figures in a mixed load.
type partStats struct {
	name              string
	users             int
	total, ttfb       *hdrhistogram.Histogram
	completed, failed int
}

// record counts a finished request that ended inside the measured window,
// in the whole and, in a mixed load, in its user's part.
func (r *run) record(q *request, kind string) {
	if r.e.now < r.t0 || r.e.now > r.t1 {
		return
	}
	var part *partStats
	if r.parts != nil && q.u != nil {
		part = r.parts[q.u.part]
	}
	if kind != "" {
		r.failed++
		r.errs[kind]++
		if part != nil {
			part.failed++
		}
		return
	}
	total, ttfb := int64((r.e.now-q.start)*1e6), int64(q.ttfb*1e6)
	r.completed++
	_ = r.total.RecordValue(total)
	_ = r.ttfb.RecordValue(ttfb)
	if part != nil {
		part.completed++
		_ = part.total.RecordValue(total)
		_ = part.ttfb.RecordValue(ttfb)
	}
}

func (r *run) measurement() results.Measurement {
	m := results.Measurement{
		Metrics:     r.metrics(r.completed, r.failed, r.total, r.ttfb),
		Completed:   r.completed,
		Failed:      r.failed,
		Utilisation: r.util,
	}
	if len(r.errs) > 0 {
		m.Errors = r.errs
	}
	if r.parts != nil {
		m.Scenarios = map[string]results.Part{}
		for _, p := range r.parts {
			m.Scenarios[p.name] = results.Part{Users: p.users, Completed: p.completed, Failed: p.failed,
				Metrics: r.metrics(p.completed, p.failed, p.total, p.ttfb)}
		}
	}
	return m
}

// metrics are the figures of completed and failed requests in the
// measured window, with total and ttfb the completed ones' times.
func (r *run) metrics(completed, failed int, total, ttfb *hdrhistogram.Histogram) results.Metrics {
	ms := func(h *hdrhistogram.Histogram, p float64) float64 {
		return float64(h.ValueAtQuantile(p)) / 1000
	}
	var m results.Metrics
	m.TPS = float64(completed) / (r.t1 - r.t0)
	if completed > 0 {
		m.P50 = ms(total, 50)
		m.P95 = ms(total, 95)
		m.P99 = ms(total, 99)
		m.TTFBP95 = ms(ttfb, 95)
	}
	if n := completed + failed; n > 0 {
		m.ErrorRate = float64(failed) / float64(n)
	}
	return m
}

// seedFor mixes the model's seed with a hash of everything that defines the
// trial, so one configuration always meets the same noise and two
// configurations do not share it.
func seedFor(seed int64, sys spaces.System, w spaces.Workload) (uint64, uint64) {
	h := fnv.New64a()
	names := make([]string, 0, len(sys.Services))
	for n := range sys.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s=%+v;", n, sys.Services[n])
	}
	keys := make([]string, 0, len(sys.Settings))
	for k := range sys.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%v;", k, sys.Settings[k])
	}
	key := noiseKeyOf(w)
	if parts := w.Parts(); len(parts) == 1 {
		key.Scenario = parts[0].Scenario // a mix of one scenario is that scenario
	}
	fmt.Fprintf(h, "%+v|%+v|%+v", sys.Reserved, sys.Budget, key)
	if len(w.Parts()) > 1 {
		fmt.Fprintf(h, "|mix=%s", w.Mix)
	}
	return uint64(seed), h.Sum64()
}

// noiseKey is the part of a Workload the noise is seeded with, printed
// exactly as Workload printed before it had a mix, so a single-scenario
// trial meets the noise it always met (the recorded optima's fingerprints
// depend on it). A field added to Workload that changes the load belongs
// here too.
type noiseKey struct {
	Scenario                     string
	Users                        int
	SpawnRate                    float64
	Duration, ThinkMin, ThinkMax time.Duration
	LLM                          spaces.LLM
	Note                         string
}

func noiseKeyOf(w spaces.Workload) noiseKey {
	return noiseKey{Scenario: w.Scenario, Users: w.Users, SpawnRate: w.SpawnRate, Duration: w.Duration,
		ThinkMin: w.ThinkMin, ThinkMax: w.ThinkMax, LLM: w.LLM, Note: w.Note}
}

func newHist() *hdrhistogram.Histogram {
	// 1 µs to 10 minutes at 3 significant digits.
	return hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
}

func newEngine(seed int64, sys spaces.System, w spaces.Workload) engine {
	a, b := seedFor(seed, sys, w)
	return engine{rng: rand.New(rand.NewPCG(a, b))}
}
