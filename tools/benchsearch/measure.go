package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"sort"
	"sync"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target/release"
)

// trajectory is one study: after each trial, the configuration the study
// would recommend then (its incumbent: the best SLO-feasible trial by the
// study's own measurements, as tune picks; nil while there is none) and that
// trial's own TPS, the load-seconds spent so far and the wall seconds the
// study would have taken on a cluster so far (release.AssumedTimings per
// trial: the formula of tune's own summary).
type trajectory struct {
	inc             []map[string]any
	incTPS          []float64
	loadS, clusterS []float64
	pruned          int
	sampled         int
	// promoted are the indices of the trials that were promotions.
	promoted []int
	confirm  []search.Confirmation
	confirmS float64
	recheck  float64 // the recommended configuration measured once more
	// recommended and last are the means (0: missing the SLO on average)
	// of the configuration confirmation recommends and of the study's
	// last incumbent, which it would recommend without confirmation.
	recommended, last float64
	// reach is the number of trials until the incumbent's mean first
	// reached 95% of the optimum's within the SLO (0: never); best holds
	// the incumbent's mean TPS (0 when it misses the SLO on average) after
	// the trials bestAt lists.
	reach int
	best  map[int]float64
	// leads counts the trials up to reach (or the cap) that became the
	// incumbent: each ran the full load (with screening, a promotion).
	leads int
}

// metered is the study's evaluator that counts the load-seconds it ran
// (search.LoadSeconds of every load: each screen, rescreen, full load,
// promotion and re-measurement), so the bench charges a study what it
// loaded whatever its screening rules.
type metered struct {
	ev    search.Evaluator
	spent *float64
}

func (m metered) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	*m.spent += search.LoadSeconds(w)
	return m.ev.Evaluate(ctx, sys, w)
}

// Remeasure implements search.Remeasurer: a re-measurement is metered too.
func (m metered) Remeasure(i int) search.Evaluator {
	return metered{ev: m.ev.(search.Remeasurer).Remeasure(i), spent: m.spent}
}

// sameConfig reports whether two trials' parameters are the same.
func sameConfig(a, b map[string]any) bool {
	return maps.EqualFunc(a, b, func(x, y any) bool { return x == y })
}

// bestAt are the trial counts the table reports the incumbent's mean at.
var bestAt = []int{15, 25, 40}

// meanScreen: an incumbent whose own run is below this share of the 95%
// target is not measured with every seed to see whether it reached it. Its
// mean would have to be more than 10% above its run, twenty times the
// largest noise sd of the suite (0.5-1.5% of the TPS); an incumbent's run
// is, if anything, above its mean, being its study's best.
const meanScreen = 0.9

// feasibleMean is the mean TPS of params over the noise seeds, 0 when they
// miss the SLO on average (or are nil: no configuration).
func feasibleMean(p *problem, ms *means, params map[string]any) (float64, error) {
	if params == nil {
		return 0, nil
	}
	m, err := ms.of(params)
	if err != nil || !m.feasible(p) {
		return 0, err
	}
	return m.TPS, nil
}

// judge fills in reach and best from the incumbents' means.
func (tr *trajectory) judge(p *problem, ms *means, target float64) error {
	value := func(j int) (float64, error) { return feasibleMean(p, ms, tr.inc[j]) }
	for j := range tr.inc {
		if tr.inc[j] != nil && (j == 0 || tr.inc[j-1] == nil || !sameConfig(tr.inc[j], tr.inc[j-1])) {
			tr.leads++
		}
		if tr.inc[j] == nil || tr.incTPS[j] < meanScreen*target {
			continue
		}
		v, err := value(j)
		if err != nil {
			return err
		}
		if v >= target {
			tr.reach = j + 1
			break
		}
	}
	tr.best = map[int]float64{}
	for _, n := range bestAt {
		if len(tr.inc) == 0 {
			break
		}
		v, err := value(min(n, len(tr.inc)) - 1) // a shorter study: its last
		if err != nil {
			return err
		}
		tr.best[n] = v
	}
	return nil
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
		metre := 0.0 // every load-second the study's evaluator ran
		s.Evaluator = metered{ev: ev, spent: &metre}
		tr := &trajs[i]
		spent, cluster := 0.0, 0.0
		var failed error // a re-measurement that could not resolve its trial
		s.OnTrial = func(t results.Trial, best *results.Trial) {
			load := metre - spent
			switch {
			case t.State == results.StatePruned:
				tr.pruned++
			case t.Origin == results.OriginPromoted:
				tr.promoted = append(tr.promoted, len(tr.inc))
			}
			spent += load
			cluster += release.AssumedTimings(p.sp, load).Total()
			if t.Origin == results.OriginSampler {
				tr.sampled++
			}
			var inc map[string]any
			incTPS := 0.0
			if best != nil {
				inc, incTPS = best.Params, best.Metrics.TPS
			}
			tr.inc, tr.incTPS = append(tr.inc, inc), append(tr.incTPS, incTPS)
			tr.loadS, tr.clusterS = append(tr.loadS, spent), append(tr.clusterS, cluster)
			if o.trace {
				state := string(t.State)
				if t.Screened() && t.State == results.StateComplete {
					state = "screen"
				}
				if t.Screened() {
					state += fmt.Sprintf(" %gs", t.ScreenS)
				}
				logf("%s %s seed %d #%d %s %s tps %.1f p95 %.0f incumbent's run %.1f util %s | %s", p.Name(), name, seed, t.Number, t.Origin, state,
					t.Metrics.TPS, t.Metrics.P95, incTPS, utilText(t.Utilisation), configText(p, t.Params))
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
		if err := tr.judge(p, ms, 0.95*opt.TPS); err != nil {
			return err
		}
		if o.trace {
			load := math.Inf(1)
			if tr.reach > 0 {
				load = tr.loadS[tr.reach-1]
			}
			logf("%s %s seed %d: 95%% at trial %d (0: not within the cap), %.0f load-s, %d promotions, %d pruned of %d sampled",
				p.Name(), name, seed, tr.reach, load, len(tr.promoted), tr.pruned, tr.sampled)
		}
		if !prune {
			return nil
		}
		before := metre
		trials, cs, err := s.Confirm(context.Background(), trials, o.confirmTop, o.confirmRep)
		if err != nil {
			return err
		}
		// Confirmation's own promotions are full loads too.
		tr.confirm, tr.confirmS = cs, metre-before
		if len(cs) > 0 {
			sys, err := p.sp.Resolve(p.b, trials[cs[0].Trial].Params)
			if err != nil {
				return err
			}
			m, err := ev.Remeasure(1000).Evaluate(context.Background(), sys, p.w)
			if err == nil {
				tr.recheck = m.Metrics.TPS
			}
			if tr.recommended, err = feasibleMean(p, ms, trials[cs[0].Trial].Params); err != nil {
				return err
			}
			if tr.last, err = feasibleMean(p, ms, tr.inc[len(tr.inc)-1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return row{}, nil, err
	}

	r := row{Case: p.Name(), Tuning: p.Tuning, Sampler: name, Optimum: opt.TPS, OptimumSeed1: opt.TPSSeed1, Seeds: o.seeds}
	var ns, leads, promos []int
	var loads, clusters, whole, b15, b25, b40, spreads, recs, lasts []float64
	pruned, sampled := 0, 0
	for _, tr := range trajs {
		n := o.maxTrials + 1
		load, cluster := math.Inf(1), math.Inf(1)
		if tr.reach > 0 {
			n, load, cluster = tr.reach, tr.loadS[tr.reach-1], tr.clusterS[tr.reach-1]
		}
		if n <= o.maxTrials {
			r.Reached++
		}
		ns, loads, clusters, leads = append(ns, n), append(loads, load), append(clusters, cluster), append(leads, tr.leads)
		k := 0
		for _, j := range tr.promoted {
			if j < n {
				k++
			}
		}
		promos = append(promos, k)
		if len(tr.clusterS) > 0 {
			whole = append(whole, tr.clusterS[len(tr.clusterS)-1])
		}
		b15, b25, b40 = append(b15, tr.best[15]), append(b25, tr.best[25]), append(b40, tr.best[40])
		pruned, sampled = pruned+tr.pruned, sampled+tr.sampled
		r.ConfirmLoadS += tr.confirmS / float64(o.seeds)
		if len(tr.confirm) > 0 {
			recs, lasts = append(recs, tr.recommended), append(lasts, tr.last)
			lo, hi := tr.confirm[0].Interval()
			spreads = append(spreads, 100*(hi-lo)/2/tr.confirm[0].Mean())
			if tr.recheck >= lo && tr.recheck <= hi {
				r.WithinSpread++
			}
		}
	}
	r.MedianTrials, r.P90Trials = quantile(ns, 0.5), quantile(ns, 0.9)
	r.MedianLeads, r.MedianPromotions = quantile(leads, 0.5), quantile(promos, 0.5)
	r.MedianLoadS, r.MedianClusterS, r.ClusterCapS = median(loads), median(clusters), median(whole)
	r.Best15, r.Best25, r.Best40 = median(b15), median(b25), median(b40)
	if prune && sampled > 0 {
		r.Pruned = float64(pruned) / float64(sampled)
		if len(spreads) > 0 {
			r.MedianSpreadP = median(spreads)
			r.Recommended, r.LastIncumbent = median(recs), median(lasts)
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
		s.Screen, s.PromoteAfter, s.ScreenCompletions = o.screen, o.promoteAfter, o.screenCompletions
	}
	return s, ev
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
