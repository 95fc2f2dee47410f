package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/c-bata/goptuna"

	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
)

// optimum is a case's recorded true optimum and how it was found. Its TPS
// and P95 are the configuration's means over NoiseSeeds (see noiseSeeds);
// the search chose it by single runs with ModelSeed, whose figures stay as
// TPSSeed1 and P95Seed1.
type optimum struct {
	Case        string             `json:"case"`
	TPS         float64            `json:"tps"`
	P95Ms       float64            `json:"p95_ms"`
	NoiseSD     float64            `json:"noise_sd"` // TPS standard deviation of one run over NoiseSeeds
	NoiseSeeds  []int64            `json:"noise_seeds"`
	TPSSeed1    float64            `json:"tps_seed1"`
	P95Seed1    float64            `json:"p95_ms_seed1"`
	Params      map[string]any     `json:"params"`
	Utilisation map[string]float64 `json:"utilisation"`
	Evaluations int                `json:"evaluations"`
	Method      string             `json:"method"`
	ModelSeed   int64              `json:"model_seed"`
	// Fingerprint is the case's baseline TPS on the model with ModelSeed
	// when the optimum was found: a model that gives another figure has
	// changed, and the optimum is searched again.
	Fingerprint float64 `json:"model_fingerprint"`
}

// byMeans reports whether o's figures are means over today's noiseSeeds
// (records from before carry single runs with ModelSeed).
func (o optimum) byMeans() bool {
	return o.TPSSeed1 > 0 && slices.Equal(o.NoiseSeeds, noiseSeeds)
}

// remeasure sets o's figures to its configuration's means over noiseSeeds,
// keeping what it was chosen by as the seed-1 figures. It fails when the
// configuration no longer resolves or no longer meets the SLO on average:
// the optimum must then be searched again.
func (o *optimum) remeasure(p *problem) error {
	sys, err := p.sp.Resolve(p.b, normalise(p.sp, o.Params))
	if err != nil {
		return fmt.Errorf("%s: recorded optimum: %w", p.Name(), err)
	}
	if o.TPSSeed1 == 0 { // a record from before means: its figures are seed 1's
		o.TPSSeed1, o.P95Seed1 = o.TPS, o.P95Ms
		o.Method += fmt.Sprintf("; then measured with seeds %v, the mean recorded", noiseSeeds)
	}
	m := measureMean(context.Background(), p, sys)
	if !m.feasible(p) {
		return fmt.Errorf("%s: recorded optimum misses the SLO on average over seeds %v (P95 %.0f ms)", p.Name(), noiseSeeds, m.P95)
	}
	o.TPS, o.P95Ms, o.NoiseSD, o.NoiseSeeds = m.TPS, m.P95, m.SD, slices.Clone(noiseSeeds)
	return nil
}

// fingerprint is the case's baseline TPS on today's model (0 when the
// baseline fails).
func fingerprint(p *problem) float64 {
	sys, err := p.sp.Resolve(p.b, p.sp.Baseline())
	if err != nil {
		return 0
	}
	m, err := p.model(optimumSeed).Evaluate(context.Background(), sys, p.w)
	if err != nil {
		return 0
	}
	return m.Metrics.TPS
}

// bound is the TPS no trial may beat: the optimum plus its noise (three
// standard deviations, at least 2%).
func (o optimum) bound() float64 {
	return o.TPS + math.Max(3*o.NoiseSD, 0.02*o.TPS)
}

// optimumSeed is the model seed the optima are measured with.
const optimumSeed = 1

// oracle evaluates configurations of one problem on the model with a fixed
// seed, in parallel, remembering every result.
type oracle struct {
	p     *problem
	jobs  int
	mu    sync.Mutex
	cache map[string]point
	evals int
}

// point is an evaluated configuration; score is its TPS when it meets the
// SLO, else -1 (failed or infeasible configurations never win).
type point struct {
	cfg   spaces.Config
	tps   float64
	p95   float64
	util  map[string]float64
	score float64
}

func newOracle(p *problem, jobs int) *oracle {
	return &oracle{p: p, jobs: jobs, cache: map[string]point{}}
}

// eval evaluates every feasible configuration of cfgs (those over budget
// or invalid are dropped) and returns the points in order.
func (o *oracle) eval(cfgs []spaces.Config) []point {
	out := make([]point, len(cfgs))
	ok := make([]bool, len(cfgs))
	sem := make(chan struct{}, o.jobs)
	var wg sync.WaitGroup
	for i, c := range cfgs {
		if c == nil {
			continue
		}
		sys, err := o.p.sp.Resolve(o.p.b, c)
		if err != nil || o.p.sp.Check(sys) != nil {
			continue
		}
		key := sysKey(sys)
		o.mu.Lock()
		pt, hit := o.cache[key]
		o.mu.Unlock()
		if hit {
			out[i], ok[i] = pt, true
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, c spaces.Config, sys spaces.System, key string) {
			defer wg.Done()
			defer func() { <-sem }()
			pt := point{cfg: c, score: -1}
			m, err := o.p.model(optimumSeed).Evaluate(context.Background(), sys, o.p.w)
			if err == nil {
				pt.tps, pt.p95, pt.util = m.Metrics.TPS, m.Metrics.P95, m.Utilisation
				if search.Feasible(m.Metrics, o.p.sp.Objective) {
					pt.score = m.Metrics.TPS
				}
			}
			o.mu.Lock()
			o.cache[key] = pt
			o.evals++
			o.mu.Unlock()
			out[i], ok[i] = pt, true
		}(i, c, sys, key)
	}
	wg.Wait()
	var pts []point
	for i := range out {
		if ok[i] {
			pts = append(pts, out[i])
		}
	}
	return pts
}

func best(pts []point) point {
	b := point{score: -2}
	for _, p := range pts {
		if p.score > b.score {
			b = p
		}
	}
	return b
}

// findOptimum searches one case exhaustively where it matters and locally
// everywhere else:
//  1. pilot: the baseline, every preset that fits, and random
//     configurations, to see which services ever get busy;
//  2. grid: every replica count and pod size of the busiest service, the
//     rest of the CPU to the second busiest (every replica count of it),
//     the services busy at the pilot's best as they were there, every other
//     service at its minimum CPU, memory spread evenly;
//  3. every setting's every value, cyclically, at the best grid points;
//  4. best-improvement hill climbing from the best distinct points over
//     all one-step moves (replicas, CPU and memory of each service, a CPU
//     step or memory from any service to any other, a service's cores in
//     another pod count, each setting's neighbours) until no move improves,
//     then from kicks of the best (iterated local search).
func findOptimum(p *problem, jobs, pilots, climbs, kicks int, beaten []map[string]any, log func(string, ...any)) (optimum, error) {
	o := newOracle(p, jobs)
	enc := search.NewEncoding(p.sp, p.b, false)
	rng := rand.New(rand.NewSource(7))

	// 1. Pilot.
	cfgs := []spaces.Config{p.sp.Baseline()}
	cfgs = append(cfgs, presets(p)...)
	for range pilots {
		raw := map[string]float64{}
		for name, d := range enc.SearchSpace() {
			switch d := d.(type) {
			case goptuna.UniformDistribution:
				raw[name] = d.Low + rng.Float64()*(d.High-d.Low)
			case goptuna.LogUniformDistribution:
				raw[name] = math.Exp(math.Log(d.Low) + rng.Float64()*(math.Log(d.High)-math.Log(d.Low)))
			case goptuna.DiscreteUniformDistribution:
				raw[name] = d.Low + math.Round(rng.Float64()*(d.High-d.Low)/d.Q)*d.Q
			case goptuna.CategoricalDistribution:
				raw[name] = float64(rng.Intn(len(d.Choices)))
			}
		}
		if c, _, err := enc.Decode(raw); err == nil {
			cfgs = append(cfgs, c)
		}
	}
	pilot := o.eval(cfgs)
	peak := map[string]float64{}
	for _, pt := range pilot {
		for s, u := range pt.util {
			peak[s] = math.Max(peak[s], u)
		}
	}
	var busy []spaces.Service
	for _, s := range p.sp.Services {
		if s.CPU.Max > s.CPU.Min || s.Replicas.Max > s.Replicas.Min {
			busy = append(busy, s)
		}
	}
	sort.SliceStable(busy, func(i, j int) bool { return peak[busy[i].Name] > peak[busy[j].Name] })
	pb := best(pilot)
	if pb.score < 0 {
		// Nothing in the pilot meets the SLO (a tight budget, or limits
		// such as one task slot that no split of cores lifts): the grid
		// starts from the pilot's most TPS instead, which is nearest to it.
		for _, pt := range pilot {
			if pt.util != nil && pt.tps > pb.tps {
				pb = pt
			}
		}
	}
	log("%s: pilot %d points, best %.1f; busiest %s %.2f, %s %.2f", p.Name(), len(pilot), pb.score,
		busy[0].Name, peak[busy[0].Name], busy[1].Name, peak[busy[1].Name])

	// 2. Grid over the two busiest services, settings from the pilot's best.
	settings := pb.cfg
	if settings == nil {
		settings = p.sp.Baseline()
	}
	grid := gridConfigs(p, busy[0], busy[1], settings, pb.util)
	gpts := o.eval(grid)
	log("%s: grid %d points, best %.1f", p.Name(), len(gpts), best(gpts).score)

	// 3. Settings, cyclically, at the best grid points.
	starts := top(append(gpts, pilot...), 4)
	for i := range starts {
		starts[i] = settingSweep(o, p, starts[i])
	}
	log("%s: settings sweep best %.1f", p.Name(), best(starts).score)

	// 4. Hill climbing from the best distinct starts, then from kicks of
	// the best local optimum (three random moves each): iterated local
	// search, for optima a single climb cannot reach.
	var finals []point
	for _, s := range top(append(starts, pilot...), climbs) {
		finals = append(finals, climb(o, p, s))
	}
	// Configurations that beat an earlier optimum (-starts) climb too.
	var extra []spaces.Config
	for _, b := range beaten {
		extra = append(extra, p.sp.Complete(normalise(p.sp, b)))
	}
	for _, s := range top(o.eval(extra), climbs) {
		finals = append(finals, climb(o, p, s))
	}
	opt := best(finals)
	for k := 0; k < kicks; k++ {
		c := opt.cfg
		for range 3 {
			ns := neighbours(p, c)
			c = ns[rng.Intn(len(ns))]
		}
		if pts := o.eval([]spaces.Config{c}); len(pts) == 1 {
			if q := climb(o, p, pts[0]); q.score > opt.score {
				opt = q
			}
		}
	}
	if opt.score < 0 {
		return optimum{}, fmt.Errorf("%s: no SLO-feasible configuration in %d evaluations", p.Name(), o.evals)
	}
	log("%s: climbed to %.1f (%d evaluations)", p.Name(), opt.score, o.evals)

	// The choice was made on single runs with optimumSeed, which favours
	// the luckiest of near-equal configurations: the best few distinct
	// configurations seen are measured with every noise seed, and the best
	// mean that meets the SLO on average is the optimum.
	var seen []point
	for _, pt := range o.cache {
		seen = append(seen, pt)
	}
	var chosen point
	var chosenMean mean
	for _, pt := range top(append(finals, append(seen, opt)...), meanCandidates) {
		if pt.score < 0 {
			break
		}
		sys, _ := p.sp.Resolve(p.b, pt.cfg)
		m := measureMean(context.Background(), p, sys)
		if m.feasible(p) && m.TPS > chosenMean.TPS {
			chosen, chosenMean = pt, m
		}
	}
	if chosen.cfg == nil {
		return optimum{}, fmt.Errorf("%s: none of the %d best configurations meets the SLO on average over seeds %v", p.Name(), meanCandidates, noiseSeeds)
	}
	log("%s: best mean %.1f TPS (seed %d: %.1f) among the %d best by seed %d", p.Name(), chosenMean.TPS, optimumSeed, chosen.tps, meanCandidates, optimumSeed)
	var quiet []string
	for _, s := range busy[2:] {
		quiet = append(quiet, fmt.Sprintf("%s %.2f", s.Name, chosen.util[s.Name]))
	}
	return optimum{
		Case: p.Name(), TPS: chosenMean.TPS, P95Ms: chosenMean.P95, NoiseSD: chosenMean.SD, NoiseSeeds: slices.Clone(noiseSeeds),
		TPSSeed1: chosen.tps, P95Seed1: chosen.p95,
		Params: chosen.cfg, Utilisation: chosen.util, Evaluations: o.evals, ModelSeed: optimumSeed, Fingerprint: fingerprint(p),
		Method: fmt.Sprintf("pilot (baseline, presets, %d random); grid over %s and %s (every replica count and pod size, "+
			"the rest of the CPU to the second, services busy at the pilot's best as there, the others at minimum CPU); every value of every setting, cyclically, at the 4 best; "+
			"best-improvement hill climbing over all one-step moves (CPU and memory transfers between any two services, replicas, CPU, memory, settings, "+
			"a service's cores in another pod count with its processes and memory kept in total) "+
			"from the %d best and from the best of %d configurations that beat an earlier optimum, then from %d kicks of 3 random moves, all by single runs with seed %d; "+
			"the %d best distinct configurations then measured with seeds %v, the best mean within the SLO recorded. Utilisation of the services outside the grid at the optimum: %s",
			pilots, busy[0].Name, busy[1].Name, climbs, len(extra), kicks, optimumSeed, meanCandidates, noiseSeeds, strings.Join(quiet, ", ")),
	}, nil
}

// meanCandidates is how many of the optimum search's best configurations
// (by single runs) are measured with every noise seed.
const meanCandidates = 8

// presets are the space's preset files that resolve and fit the budget.
func presets(p *problem) []spaces.Config {
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(p.Space), "presets", "*.yaml"))
	var out []spaces.Config
	for _, f := range files {
		c, err := spaces.LoadConfig(f)
		if err != nil {
			continue
		}
		out = append(out, p.sp.Complete(c))
	}
	return out
}

// top returns the n best distinct points by score.
func top(pts []point, n int) []point {
	s := slices.Clone(pts)
	sort.SliceStable(s, func(i, j int) bool { return s[i].score > s[j].score })
	var out []point
	for _, p := range s {
		if len(out) == n {
			break
		}
		dup := false
		for _, q := range out {
			dup = dup || maps.EqualFunc(p.cfg, q.cfg, func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) })
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// gridConfigs lists every split of the CPU above the minimums between a
// (every replica count, every pod size) and b (the rest, every replica
// count), the other services at their minimum CPU and one replica.
func gridConfigs(p *problem, a, b spaces.Service, settings spaces.Config, util map[string]float64) []spaces.Config {
	base := p.sp.Complete(nil)
	maps.Copy(base, settings)
	for _, s := range p.sp.Services {
		if util[s.Name] >= 0.5 && s.Name != a.Name && s.Name != b.Name {
			continue // busy at the pilot's best: keeps what it had there
		}
		base[s.Name+".replicas"] = s.Replicas.Min
		base[s.Name+".cpu"] = s.CPU.Min.Cores()
	}
	free := func(c spaces.Config) float64 {
		sys, err := p.sp.Resolve(p.b, c)
		if err != nil {
			return 0
		}
		return p.b.Total.CPU.Cores() - p.sp.Usage(sys).CPU.Cores()
	}
	var out []spaces.Config
	for ra := a.Replicas.Min; ra <= a.Replicas.Max; ra += max(1, a.Replicas.Step) {
		for ca := a.CPU.Min; ca <= a.CPU.Max; ca += max(1, a.CPU.Step) {
			for rb := b.Replicas.Min; rb <= b.Replicas.Max; rb += max(1, b.Replicas.Step) {
				c := maps.Clone(base)
				setPods(p, c, a, ra, ca.Cores())
				c[b.Name+".replicas"] = rb
				left := free(c)
				if left < 0 {
					continue
				}
				cb := b.CPU.Min.Cores() + math.Floor(left/float64(rb)/stepOf(b)+1e-9)*stepOf(b)
				setPods(p, c, b, rb, math.Min(cb, b.CPU.Max.Cores()))
				spreadMemory(p, c)
				out = append(out, c)
			}
		}
	}
	return out
}

func stepOf(s spaces.Service) float64 { return float64(max(1, s.CPU.Step)) / 1000 }

// setPods sets s's replicas and CPU, and a per-core setting of s to one per
// core (the grid's choice; the sweep and the climb move it).
func setPods(p *problem, c spaces.Config, s spaces.Service, r int64, cpu float64) {
	c[s.Name+".replicas"] = r
	c[s.Name+".cpu"] = cpu
	for _, q := range p.sp.Params {
		if q.PerCPU != nil && q.PerCPU.Service == s.Name {
			c[q.Name] = int64(math.Max(q.Min, math.Min(q.Max, math.Round(cpu))))
		}
	}
}

// spreadMemory sets every service to its memory floor, then gives what is
// left of the memory budget to every pod evenly, in steps, up to maxima.
func spreadMemory(p *problem, c spaces.Config) {
	for _, s := range p.sp.Services {
		c[s.Name+".memory"] = int64(s.MemoryMin(p.sp, c))
	}
	for grew := true; grew; {
		grew = false
		for _, s := range p.sp.Services {
			old := c[s.Name+".memory"].(int64)
			if old+int64(s.Memory.Step) > int64(s.Memory.Max) {
				continue
			}
			c[s.Name+".memory"] = old + int64(s.Memory.Step)
			if sys, err := p.sp.Resolve(p.b, c); err != nil || p.sp.Check(sys) != nil {
				c[s.Name+".memory"] = old
				continue
			}
			grew = true
		}
	}
}

// settingSweep tries every value of every setting at pt, keeping each
// improvement, until a full cycle improves nothing.
func settingSweep(o *oracle, p *problem, pt point) point {
	for improved := true; improved; {
		improved = false
		for _, q := range p.sp.Params {
			var cfgs []spaces.Config
			for _, v := range values(q) {
				c := maps.Clone(pt.cfg)
				c[q.Name] = v
				if q.PerCPU != nil {
					spreadMemory(p, c)
				}
				cfgs = append(cfgs, c)
			}
			if b := best(o.eval(cfgs)); b.score > pt.score {
				pt, improved = b, true
			}
		}
	}
	return pt
}

// values lists every value of a setting (ints on their step grid).
func values(q spaces.Param) []any {
	switch q.Type {
	case spaces.TypeBool:
		return []any{false, true}
	case spaces.TypeChoice:
		out := make([]any, len(q.Choices))
		for i, c := range q.Choices {
			out[i] = c
		}
		return out
	case spaces.TypeInt:
		var out []any
		for v := q.Min; v <= q.Max; v += math.Max(1, q.Step) {
			out = append(out, int64(v))
		}
		return out
	case spaces.TypeFloat:
		var out []any
		st := q.Step
		if st <= 0 {
			st = (q.Max - q.Min) / 8
		}
		for v := q.Min; v <= q.Max+1e-9; v += st {
			out = append(out, v)
		}
		return out
	}
	return nil
}

// climb is best-improvement hill climbing over every one-step move.
func climb(o *oracle, p *problem, pt point) point {
	for {
		b := best(o.eval(neighbours(p, pt.cfg)))
		if b.score <= pt.score {
			return pt
		}
		pt = b
	}
}

// neighbours are the configurations one move from c.
func neighbours(p *problem, c spaces.Config) []spaces.Config {
	var out []spaces.Config
	with := func(f func(spaces.Config) bool) {
		n := maps.Clone(c)
		if f(n) {
			out = append(out, n)
		}
	}
	for _, s := range p.sp.Services {
		for _, d := range []int64{-1, 1} {
			for _, respread := range []bool{false, true} {
				with(func(n spaces.Config) bool { // replicas, memory as it is or spread again
					r := n[s.Name+".replicas"].(int64) + d*max(1, s.Replicas.Step)
					n[s.Name+".replicas"] = r
					if respread {
						spreadMemory(p, n)
					}
					return r >= s.Replicas.Min && r <= s.Replicas.Max
				})
			}
			with(func(n spaces.Config) bool { // cpu
				v := toF(n[s.Name+".cpu"]) + float64(d)*stepOf(s)
				n[s.Name+".cpu"] = v
				return v >= s.CPU.Min.Cores()-1e-9 && v <= s.CPU.Max.Cores()+1e-9
			})
			with(func(n spaces.Config) bool { // memory
				v := n[s.Name+".memory"].(int64) + d*int64(s.Memory.Step)
				n[s.Name+".memory"] = v
				return v >= int64(s.Memory.Min) && v <= int64(s.Memory.Max)
			})
		}
		for _, t := range p.sp.Services { // a CPU step, and memory, from s to t
			if t.Name == s.Name {
				continue
			}
			with(func(n spaces.Config) bool {
				vs := toF(n[s.Name+".cpu"]) - stepOf(s)
				vt := toF(n[t.Name+".cpu"]) + stepOf(t)
				n[s.Name+".cpu"], n[t.Name+".cpu"] = vs, vt
				return vs >= s.CPU.Min.Cores()-1e-9 && vt <= t.CPU.Max.Cores()+1e-9
			})
			with(func(n spaces.Config) bool { return moveMemory(n, s, t) })
		}
		// The same cores in another pod count: fewer, larger pods (or more,
		// smaller ones) with the service's processes and memory kept in
		// total. One-step moves cannot get there when the budget is spent
		// (seed/8c16g/agent~v3's optimum is the api in one pod of 3.25 CPU
		// with 7 workers and 7.4 GiB, which this search missed by 22%).
		for r := s.Replicas.Min; r <= s.Replicas.Max; r += max(1, s.Replicas.Step) {
			with(func(n spaces.Config) bool { return reshape(p, n, s, r) })
		}
	}
	for _, q := range p.sp.Params {
		vs := values(q)
		i := slices.IndexFunc(vs, func(v any) bool { return fmt.Sprint(v) == fmt.Sprint(c[q.Name]) })
		for _, j := range []int{i - 1, i + 1} {
			if q.Type == spaces.TypeChoice || q.Type == spaces.TypeBool {
				j = (i + 1 + len(vs)) % len(vs)
			}
			if i < 0 || j < 0 || j >= len(vs) || j == i {
				continue
			}
			with(func(n spaces.Config) bool { n[q.Name] = vs[j]; return true })
			if q.PerCPU != nil { // more processes need their memory floor
				with(func(n spaces.Config) bool { n[q.Name] = vs[j]; spreadMemory(p, n); return true })
			}
		}
	}
	return out
}

// moveMemory takes one memory step off each pod of s and gives t's pods
// as many steps as that frees (taking more from s when one step of t's
// pods needs more); false when either leaves its range.
func moveMemory(c spaces.Config, s, t spaces.Service) bool {
	rs, rt := c[s.Name+".replicas"].(int64), c[t.Name+".replicas"].(int64)
	ss, st := max(1, int64(s.Memory.Step)), max(1, int64(t.Memory.Step))
	take, give := int64(1), rs*ss/(rt*st)
	if give == 0 {
		take, give = (rt*st+rs*ss-1)/(rs*ss), 1
	}
	ms := c[s.Name+".memory"].(int64) - take*ss
	mt := c[t.Name+".memory"].(int64) + give*st
	c[s.Name+".memory"], c[t.Name+".memory"] = ms, mt
	return ms >= int64(s.Memory.Min) && mt <= int64(t.Memory.Max)
}

// reshape puts s's cores into r pods (each on s's CPU grid, rounded down),
// keeping its per-core processes and its memory in total (rounded up to
// whole processes, down to memory steps); false when nothing changes or a
// pod leaves s's ranges.
func reshape(p *problem, c spaces.Config, s spaces.Service, r int64) bool {
	was := c[s.Name+".replicas"].(int64)
	if r == was {
		return false
	}
	f := float64(was) / float64(r)
	st := stepOf(s)
	cpu := math.Floor(toF(c[s.Name+".cpu"])*f/st+1e-9) * st
	mstep := max(1, int64(s.Memory.Step))
	mem := int64(float64(c[s.Name+".memory"].(int64))*f) / mstep * mstep
	c[s.Name+".replicas"], c[s.Name+".cpu"] = r, cpu
	c[s.Name+".memory"] = min(mem, int64(s.Memory.Max))
	for _, q := range p.sp.Params {
		if q.PerCPU != nil && q.PerCPU.Service == s.Name {
			c[q.Name] = int64(math.Max(q.Min, math.Min(q.Max, math.Ceil(toF(c[q.Name])*f-1e-9))))
		}
	}
	return cpu >= s.CPU.Min.Cores()-1e-9 && cpu <= s.CPU.Max.Cores()+1e-9 && mem >= int64(s.Memory.Min)
}

func toF(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	return 0
}

var logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
