// Command bench measures how fast the search finds a good configuration on
// the embedded model: trials until the best SLO-feasible TPS is within 5% of
// the model's reference optimum, median and p90 over seeds, for TPE (tune's
// default) and random search (the anchor), at each budget.
//
// The reference optimum comes from a long search, recorded in
// reference.json with how it was found; -recompute runs it again.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
)

// reference is the best SLO-feasible TPS the long search found for a budget.
type reference struct {
	Budget      string         `json:"budget"`
	TPS         float64        `json:"tps"`
	P95Ms       float64        `json:"p95_ms"`
	Params      map[string]any `json:"params"`
	Evaluations int            `json:"evaluations"`
	Method      string         `json:"method"`
	ModelSeed   int64          `json:"model_seed"`
}

func main() {
	var (
		spaceFile = flag.String("space", "spaces/default.yaml", "search space")
		budgets   = flag.String("budgets", "8c16g,16c32g", "comma-separated budgets")
		samplers  = flag.String("samplers", "tpe,tpe-pure,random", "comma-separated samplers: tpe (tune's default, TPE with local moves), tpe-pure (goptuna's TPE alone), tpe@0.3 (another --local-moves), random (the anchor), cmaes, sobol")
		seeds     = flag.Int("seeds", 20, "studies per sampler and budget")
		maxTrials = flag.Int("max-trials", 100, "trials per study; a study that never gets within 5% counts as more")
		refFile   = flag.String("reference", "search/bench/reference.json", "reference optima (read, or written with -recompute)")
		recompute = flag.Bool("recompute", false, "run the long reference search again")
		longRuns  = flag.Int("reference-runs", 4, "TPE studies in the reference search")
		longLen   = flag.Int("reference-trials", 600, "trials per reference study")
		check     = flag.Int("checkpoint", 40, "also report the median best TPS after this many trials")
	)
	flag.Parse()
	checkpoint = *check
	if err := run(*spaceFile, split(*budgets), split(*samplers), *seeds, *maxTrials, *refFile, *recompute, *longRuns, *longLen); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func split(s string) []string { return strings.Split(s, ",") }

const modelSeed = 1

// checkpoint is the -checkpoint flag.
var checkpoint = 40

// defaultLocalMoves is tune's default --local-moves.
const defaultLocalMoves = 0.25

func run(spaceFile string, budgets, samplers []string, seeds, maxTrials int, refFile string, recompute bool, longRuns, longLen int) error {
	sp, err := spaces.Load(spaceFile)
	if err != nil {
		return err
	}
	refs := map[string]reference{}
	if b, err := os.ReadFile(refFile); err == nil && !recompute {
		var list []reference
		if err := json.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("%s: %w", refFile, err)
		}
		for _, r := range list {
			refs[r.Budget] = r
		}
	}
	changed := false
	for _, b := range budgets {
		if _, ok := refs[b]; ok {
			continue
		}
		fmt.Printf("reference search for %s: %d TPE studies × %d trials, then coordinate refinement...\n", b, longRuns, longLen)
		r, err := referenceSearch(sp, b, longRuns, longLen)
		if err != nil {
			return err
		}
		refs[b] = r
		changed = true
	}
	if changed {
		var list []reference
		for _, r := range refs {
			list = append(list, r)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Budget < list[j].Budget })
		b, _ := json.MarshalIndent(list, "", "  ")
		if err := os.MkdirAll(filepath.Dir(refFile), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(refFile, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}

	fmt.Printf("\ntrials until the best SLO-feasible TPS is within 5%% of the reference optimum (%d seeds, cap %d),\nand the median best TPS after %d and %d trials\n", seeds, maxTrials, checkpoint, maxTrials)
	fmt.Printf("%-8s %-9s %9s %7s %7s %8s %9s %9s %8s\n", "budget", "sampler", "reference", "median", "p90", "reached", fmt.Sprintf("best@%d", checkpoint), fmt.Sprintf("best@%d", maxTrials), "wall")
	for _, b := range budgets {
		ref := refs[b]
		for _, s := range samplers {
			start := time.Now()
			trajs, err := trajectories(sp, b, s, seeds, maxTrials)
			if err != nil {
				return err
			}
			var n []int
			var at, end []float64
			reached := 0
			for _, tr := range trajs {
				x := firstReach(tr, 0.95*ref.TPS)
				if x <= maxTrials {
					reached++
				}
				n = append(n, x)
				at = append(at, tr[min(checkpoint, len(tr))-1])
				end = append(end, tr[len(tr)-1])
			}
			fmt.Printf("%-8s %-9s %9.1f %7s %7s %5d/%-2d %9.1f %9.1f %8s\n", b, s, ref.TPS,
				show(quantile(n, 0.5), maxTrials), show(quantile(n, 0.9), maxTrials), reached, seeds,
				medianF(at), medianF(end), time.Since(start).Round(time.Second))
		}
	}
	return nil
}

func show(x, max int) string {
	if x > max {
		return fmt.Sprintf(">%d", max)
	}
	return fmt.Sprint(x)
}

// quantile of integer samples (nearest rank).
func quantile(xs []int, q float64) int {
	s := append([]int(nil), xs...)
	sort.Ints(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, i)]
}

func study(sp *spaces.Space, budget, sampler string, seed int64, trials int) (*search.Study, error) {
	b, err := spaces.ParseBudget(budget)
	if err != nil {
		return nil, err
	}
	moves := defaultLocalMoves
	if sampler == "tpe-pure" {
		sampler, moves = "tpe", 0
	}
	if name, share, ok := strings.Cut(sampler, "@"); ok { // tpe@0.3: another --local-moves
		if _, err := fmt.Sscan(share, &moves); err != nil {
			return nil, fmt.Errorf("sampler %q: %w", sampler, err)
		}
		sampler = name
	}
	return &search.Study{
		Space: sp, Budget: b, Workload: sp.Load, Objective: sp.Objective,
		Sampler: sampler, Trials: trials, Seed: seed, Baseline: true, LocalMoves: moves,
		Evaluator: sim.New(modelSeed), Store: &search.MemoryStore{},
	}, nil
}

// trajectories runs one study per seed (in parallel, one per core) and
// returns, for each, the best SLO-feasible TPS after each trial (0 before
// the first feasible one).
func trajectories(sp *spaces.Space, budget, sampler string, seeds, maxTrials int) ([][]float64, error) {
	out := make([][]float64, seeds)
	err := parallel(seeds, func(i int) error {
		s, err := study(sp, budget, sampler, int64(i+1), maxTrials)
		if err != nil {
			return err
		}
		s.OnTrial = func(t results.Trial, best *results.Trial) {
			v := 0.0
			if best != nil {
				v = best.Metrics.TPS
			}
			out[i] = append(out[i], v)
		}
		_, err = s.Run(context.Background())
		return err
	})
	return out, err
}

// parallel runs fn(0..n-1), one per core at a time, and joins their errors.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
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

// firstReach is the 1-based trial at which a trajectory reaches target, or
// len+1 when it never does.
func firstReach(traj []float64, target float64) int {
	for i, v := range traj {
		if v >= target {
			return i + 1
		}
	}
	return len(traj) + 1
}

// medianF is the median of xs.
func medianF(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// referenceSearch is the long search: several long TPE studies in parallel,
// then coordinate refinement around the best (each parameter moved one step
// either way while that improves).
func referenceSearch(sp *spaces.Space, budget string, runs, trials int) (reference, error) {
	var mu sync.Mutex
	var best results.Trial
	found := false
	evals := 0
	keep := func(t results.Trial, obj spaces.Objective) {
		mu.Lock()
		defer mu.Unlock()
		evals++
		if t.State == results.StateComplete && search.Feasible(t.Metrics, obj) && (!found || t.Metrics.TPS > best.Metrics.TPS) {
			best, found = t, true
		}
	}
	err := parallel(runs, func(i int) error {
		s, err := study(sp, budget, "tpe", int64(1000+i), trials)
		if err != nil {
			return err
		}
		s.OnTrial = func(t results.Trial, _ *results.Trial) { keep(t, s.Objective) }
		_, err = s.Run(context.Background())
		return err
	})
	if err != nil {
		return reference{}, err
	}
	if !found {
		return reference{}, fmt.Errorf("%s: no SLO-feasible configuration in %d evaluations", budget, evals)
	}
	b, _ := spaces.ParseBudget(budget)
	refined, n, err := refine(sp, b, best)
	if err != nil {
		return reference{}, err
	}
	evals += n
	return reference{
		Budget: budget, TPS: refined.Metrics.TPS, P95Ms: refined.Metrics.P95, Params: refined.Params,
		Evaluations: evals, ModelSeed: modelSeed,
		Method: fmt.Sprintf("%d TPE studies of %d trials (seeds 1000..%d), then coordinate refinement of the best (%d evaluations)", runs, trials, 1000+runs-1, n),
	}, nil
}

// refine moves one parameter at a time by one step around t while that
// improves the SLO-feasible TPS and the configuration still fits.
func refine(sp *spaces.Space, b spaces.Budget, t results.Trial) (results.Trial, int, error) {
	model := sim.New(modelSeed)
	evals := 0
	eval := func(cfg spaces.Config) (results.Trial, bool) {
		sys, err := sp.Resolve(b, cfg)
		if err != nil || sp.Check(sys) != nil {
			return results.Trial{}, false
		}
		evals++
		m, err := model.Evaluate(context.Background(), sys, sp.Load)
		if err != nil || !search.Feasible(m.Metrics, sp.Objective) {
			return results.Trial{}, false
		}
		return results.Trial{State: results.StateComplete, Params: cfg, Metrics: m.Metrics}, true
	}
	for improved := true; improved; {
		improved = false
		for _, move := range moves(sp) {
			for _, dir := range []float64{1, -1} {
				cfg := spaces.Config{}
				for k, v := range t.Params {
					cfg[k] = v
				}
				if !move(cfg, dir) {
					continue
				}
				if n, ok := eval(cfg); ok && n.Metrics.TPS > t.Metrics.TPS {
					t, improved = n, true
				}
			}
		}
	}
	return t, evals, nil
}

// moves are the one-step changes refine tries: each service's replicas, CPU
// and memory, and each other parameter.
func moves(sp *spaces.Space) []func(spaces.Config, float64) bool {
	var ms []func(spaces.Config, float64) bool
	for _, s := range sp.Services {
		s := s
		ms = append(ms,
			func(c spaces.Config, d float64) bool {
				r := c[s.Name+".replicas"].(int64) + int64(d)*max(1, s.Replicas.Step)
				c[s.Name+".replicas"] = r
				return r >= s.Replicas.Min && r <= s.Replicas.Max
			},
			func(c spaces.Config, d float64) bool {
				v := c[s.Name+".cpu"].(float64) + d*s.CPU.Step.Cores()
				c[s.Name+".cpu"] = v
				return v >= s.CPU.Min.Cores()-1e-9 && v <= s.CPU.Max.Cores()+1e-9
			},
			func(c spaces.Config, d float64) bool {
				v := c[s.Name+".memory"].(int64) + int64(d)*int64(s.Memory.Step)
				c[s.Name+".memory"] = v
				return v >= int64(s.Memory.Min) && v <= int64(s.Memory.Max)
			})
	}
	for _, p := range sp.Params {
		p := p
		ms = append(ms, func(c spaces.Config, d float64) bool {
			switch p.Type {
			case spaces.TypeInt:
				v := c[p.Name].(int64) + int64(d*math.Max(1, p.Step))
				c[p.Name] = v
				return float64(v) >= p.Min && float64(v) <= p.Max
			case spaces.TypeBool:
				c[p.Name] = !c[p.Name].(bool)
				return d > 0
			case spaces.TypeChoice:
				i := slices.Index(p.Choices, fmt.Sprint(c[p.Name])) + int(d)
				if i < 0 || i >= len(p.Choices) {
					return false
				}
				c[p.Name] = p.Choices[i]
				return true
			}
			return false
		})
	}
	return ms
}
