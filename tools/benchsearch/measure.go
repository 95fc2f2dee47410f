package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target/release"
)

// trajectory is one study: after each trial, the mean TPS over the noise
// seeds of the configuration the study would recommend then (its incumbent:
// the best SLO-feasible trial by the study's own measurements, as tune
// picks; 0 while there is none or when the incumbent misses the SLO on
// average), the load-seconds spent so far and the wall seconds the study
// would have taken on a cluster so far (release.AssumedTimings per trial:
// the formula of tune's own summary).
type trajectory struct {
	best, loadS, clusterS []float64
	pruned                int
	sampled               int
	confirm               []search.Confirmation
	confirmS              float64
	recheck               float64 // the recommended configuration measured once more
}

// measureSampler runs o.seeds studies of one sampler on p and sums them up,
// judging incumbents by their means (cached in ms across the case's
// samplers). It returns every trial whose mean beat the optimum's bound.
func measureSampler(p *problem, opt optimum, ms *means, name string, o options) (row, []beatenTrial, error) {
	sampler, moves, prune, err := samplerOf(name)
	if err != nil {
		return row{}, nil, err
	}
	trajs := make([]trajectory, o.seeds)
	var mu sync.Mutex
	var beaten []beatenTrial
	err = parallel(o.seeds, o.jobs, func(i int) error {
		seed := int64(i + 1)
		s, ev := benchStudy(p, sampler, moves, prune, seed, o)
		screenW := p.w
		screenW.Duration = s.Screen
		tr := &trajs[i]
		spent, cluster := 0.0, 0.0
		var failed error // a re-measurement that could not resolve its trial
		s.OnTrial = func(t results.Trial, best *results.Trial) {
			load := search.LoadSeconds(p.w)
			if t.State == results.StatePruned {
				load = search.LoadSeconds(screenW)
				tr.pruned++
			}
			spent += load
			cluster += release.AssumedTimings(p.sp, load).Total()
			if t.Origin == results.OriginSampler {
				tr.sampled++
			}
			v := 0.0
			if best != nil {
				m, err := ms.of(best.Params)
				if err != nil {
					failed = err
				} else if m.feasible(p) {
					v = m.TPS
				}
			}
			tr.best, tr.loadS, tr.clusterS = append(tr.best, v), append(tr.loadS, spent), append(tr.clusterS, cluster)
			if o.trace {
				logf("%s %s seed %d #%d %s %s tps %.1f p95 %.0f incumbent mean %.1f util %s | %s", p.Name(), name, seed, t.Number, t.Origin, t.State,
					t.Metrics.TPS, t.Metrics.P95, v, utilText(t.Utilisation), configText(p, t.Params))
			}
			// Only a trial measured above the optimum's mean can plausibly
			// average above its bound (a run more than three noise sd
			// below its own mean is not expected in a bench's lifetime):
			// those are measured with every noise seed.
			if t.State != results.StateComplete || t.Metrics.TPS <= opt.TPS {
				return
			}
			m, err := ms.of(t.Params)
			if err != nil {
				failed = err
				return
			}
			if m.feasible(p) && m.TPS > opt.bound() {
				mu.Lock()
				beaten = append(beaten, beatenTrial{Case: p.Name(), Sampler: name, Seed: seed, Trial: t.Number,
					TPS: t.Metrics.TPS, MeanTPS: m.TPS, Optimum: opt.TPS, Bound: opt.bound(), Params: t.Params})
				mu.Unlock()
			}
		}
		trials, err := s.Run(context.Background())
		if err == nil {
			err = failed
		}
		if err != nil {
			return err
		}
		if !prune {
			return nil
		}
		cs, err := s.Confirm(context.Background(), trials, o.confirmTop, o.confirmRep)
		if err != nil {
			return err
		}
		tr.confirm = cs
		for _, c := range cs {
			tr.confirmS += float64(len(c.TPS)-1) * search.LoadSeconds(p.w)
		}
		if len(cs) > 0 {
			sys, err := p.sp.Resolve(p.b, trials[cs[0].Trial].Params)
			if err != nil {
				return err
			}
			m, err := ev.Remeasure(1000).Evaluate(context.Background(), sys, p.w)
			if err == nil {
				tr.recheck = m.Metrics.TPS
			}
		}
		return nil
	})
	if err != nil {
		return row{}, nil, err
	}

	target := 0.95 * opt.TPS
	r := row{Case: p.Name(), Tuning: p.Tuning, Sampler: name, Optimum: opt.TPS, OptimumSeed1: opt.TPSSeed1, Seeds: o.seeds}
	var ns []int
	var loads, clusters, whole, b15, b25, b40, spreads []float64
	pruned, sampled := 0, 0
	for _, tr := range trajs {
		n := len(tr.best) + 1
		load, cluster := math.Inf(1), math.Inf(1)
		for j, v := range tr.best {
			if v >= target {
				n, load, cluster = j+1, tr.loadS[j], tr.clusterS[j]
				break
			}
		}
		if n <= o.maxTrials {
			r.Reached++
		}
		ns, loads, clusters = append(ns, n), append(loads, load), append(clusters, cluster)
		if len(tr.clusterS) > 0 {
			whole = append(whole, tr.clusterS[len(tr.clusterS)-1])
		}
		b15, b25, b40 = append(b15, at(tr.best, 15)), append(b25, at(tr.best, 25)), append(b40, at(tr.best, 40))
		pruned, sampled = pruned+tr.pruned, sampled+tr.sampled
		r.ConfirmLoadS += tr.confirmS / float64(o.seeds)
		if len(tr.confirm) > 0 {
			lo, hi := tr.confirm[0].Interval()
			spreads = append(spreads, 100*(hi-lo)/2/tr.confirm[0].Mean())
			if tr.recheck >= lo && tr.recheck <= hi {
				r.WithinSpread++
			}
		}
	}
	r.MedianTrials, r.P90Trials = quantile(ns, 0.5), quantile(ns, 0.9)
	r.MedianLoadS, r.MedianClusterS, r.ClusterCapS = median(loads), median(clusters), median(whole)
	r.Best15, r.Best25, r.Best40 = median(b15), median(b25), median(b40)
	if prune && sampled > 0 {
		r.Pruned = float64(pruned) / float64(sampled)
		if len(spreads) > 0 {
			r.MedianSpreadP = median(spreads)
		}
	}
	return r, beaten, nil
}

// benchStudy is the study of one sampler and seed on p, on the model noised
// by the seed (see noisyModel).
func benchStudy(p *problem, sampler string, moves float64, prune bool, seed int64, o options) (*search.Study, noisyModel) {
	ev := noisyModel{salt: uint64(seed), p: p}
	s := &search.Study{
		Space: p.sp, Budget: p.b, Workload: p.w, Objective: p.sp.Objective,
		Sampler: sampler, Trials: o.maxTrials, Seed: seed, Baseline: true, LocalMoves: moves,
		Evaluator: ev, Store: &search.MemoryStore{},
	}
	if prune {
		s.Screen = o.screen
	}
	return s, ev
}

// at is the best after n trials (the last one when the study is shorter).
func at(best []float64, n int) float64 {
	if len(best) == 0 {
		return 0
	}
	return best[min(n, len(best))-1]
}

// quantile of integer samples (nearest rank).
func quantile(xs []int, q float64) int {
	s := append([]int(nil), xs...)
	sort.Ints(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, i)]
}

// median of xs (+Inf counts as the largest).
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// parallel runs fn(0..n-1), jobs at a time, and joins their errors.
func parallel(n, jobs int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(i)
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// recorded is a record of optima.json or optima-variants.json: a case's.
type recorded interface{ caseName() string }

func (o optimum) caseName() string { return o.Case }

// readRecords reads a JSON list of records by case (missing file: none).
func readRecords[T recorded](file string) (map[string]T, error) {
	out := map[string]T{}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var list []T
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errBadInput, file, err)
	}
	for _, o := range list {
		out[o.caseName()] = o
	}
	return out, nil
}

// writeRecords writes the records as a JSON list sorted by case, so a
// re-recorded optimum shows as a small diff.
func writeRecords[T recorded](file string, records map[string]T) error {
	list := make([]T, 0, len(records))
	for _, o := range records {
		list = append(list, o)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].caseName() < list[j].caseName() })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

func utilText(u map[string]float64) string {
	keys := make([]string, 0, len(u))
	for k := range u {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for _, k := range keys {
		out += fmt.Sprintf("%s:%.2f ", k, u[k])
	}
	return out
}

// configText is a configuration in short: replicas×cpu/memory per service,
// then the settings.
func configText(p *problem, c map[string]any) string {
	out := ""
	for _, s := range p.sp.Services {
		out += fmt.Sprintf("%s %v×%v/%v ", s.Name, c[s.Name+".replicas"], c[s.Name+".cpu"], c[s.Name+".memory"])
	}
	for _, q := range p.sp.Params {
		out += fmt.Sprintf("%s=%v ", q.Name, c[q.Name])
	}
	return out
}

// beatenTrial is a trial whose configuration beat a recorded optimum by
// more than the noise, both as means over the noise seeds: the optimum is
// wrong, and -starts hands the configuration to the next optimum search as
// a start.
type beatenTrial struct {
	Case    string         `json:"case"`
	Sampler string         `json:"sampler"`
	Seed    int64          `json:"seed"`
	Trial   int            `json:"trial"`
	TPS     float64        `json:"tps"`      // the study's own measurement
	MeanTPS float64        `json:"mean_tps"` // over noiseSeeds, as the optimum's
	Optimum float64        `json:"optimum_tps"`
	Bound   float64        `json:"bound_tps"`
	Params  map[string]any `json:"params"`
}

func (b beatenTrial) String() string {
	return fmt.Sprintf("%s %s seed %d trial %d: %.1f TPS on average (%.1f in the study) > optimum %.1f + noise (bound %.1f)",
		b.Case, b.Sampler, b.Seed, b.Trial, b.MeanTPS, b.TPS, b.Optimum, b.Bound)
}

// readStarts reads the beaten trials of earlier reports, by case (their
// params as JSON decoded them: see normalise).
func readStarts(files []string) (map[string][]map[string]any, error) {
	out := map[string][]map[string]any{}
	for _, f := range files {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w: -starts: %w", errBadInput, err)
		}
		var rep report
		if err := json.Unmarshal(b, &rep); err != nil {
			return nil, fmt.Errorf("%w: -starts %s: %w", errBadInput, f, err)
		}
		for _, bt := range rep.Beaten {
			out[bt.Case] = append(out[bt.Case], bt.Params)
		}
	}
	return out, nil
}

// normalise turns JSON numbers back into the config's types: replicas,
// memory and int settings as int64, CPU and float settings as float64.
func normalise(sp *spaces.Space, params map[string]any) spaces.Config {
	ints := map[string]bool{}
	for _, s := range sp.Services {
		ints[s.Name+".replicas"], ints[s.Name+".memory"] = true, true
	}
	for _, q := range sp.Params {
		ints[q.Name] = q.Type == spaces.TypeInt
	}
	c := spaces.Config{}
	for k, v := range params {
		if f, ok := v.(float64); ok && ints[k] {
			c[k] = int64(math.Round(f))
			continue
		}
		c[k] = v
	}
	return c
}
