package search

import (
	"context"
	"testing"
	"time"

	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

func TestPrunable(t *testing.T) {
	o := spaces.Objective{SLOP95: 2 * time.Second, MaxErrorRate: 0.01}
	best := &results.Trial{Metrics: results.Metrics{TPS: 100, P95: 1000}}
	for _, tc := range []struct {
		name   string
		m      results.Metrics
		screen time.Duration
		best   *results.Trial
		want   bool
	}{
		{"better than the best", results.Metrics{TPS: 105, P95: 900}, time.Minute, best, false},
		{"within the screen's noise of the best", results.Metrics{TPS: 97, P95: 900}, time.Minute, best, false},
		{"clearly below the best", results.Metrics{TPS: 90, P95: 900}, time.Minute, best, true},
		// 93 TPS for 10 s is 930 completions: ±10% at two standard
		// errors of a bursty count, so it may yet beat 100; for a
		// minute, 5580 completions and ±4%, it cannot.
		{"below the best, within a short screen's noise", results.Metrics{TPS: 93, P95: 900}, 10 * time.Second, best, false},
		{"as far below the best for a minute", results.Metrics{TPS: 93, P95: 900}, time.Minute, best, true},
		{"breaks the SLO", results.Metrics{TPS: 120, P95: 2600}, time.Minute, best, true},
		{"near the SLO: the full load decides", results.Metrics{TPS: 120, P95: 2400}, time.Minute, best, false},
		{"errors", results.Metrics{TPS: 120, P95: 900, ErrorRate: 0.05}, time.Minute, best, true},
		{"no best yet, feasible", results.Metrics{TPS: 10, P95: 900}, time.Minute, nil, false},
		{"no best yet, breaks the SLO", results.Metrics{TPS: 10, P95: 9000}, time.Minute, nil, true},
		{"nothing completed", results.Metrics{}, time.Minute, best, false},
		// Requests as slow as half the window rarely complete in it: the
		// screen's figures are censored, the full load decides.
		{"as slow as the screen", results.Metrics{TPS: 10, P95: 11000}, 20 * time.Second, best, false},
		{"as slow, over a longer screen", results.Metrics{TPS: 10, P95: 11000}, time.Minute, best, true},
	} {
		if got := Prunable(tc.m, tc.screen, o, tc.best); got != tc.want {
			t.Errorf("%s: Prunable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// reseeded is the model as a cluster: each re-measurement another run.
type reseeded struct{ seed int64 }

func (r reseeded) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	return sim.New(r.seed).Evaluate(ctx, sys, w)
}

func (r reseeded) Remeasure(i int) Evaluator { return reseeded{r.seed*1000 + int64(i)} }

// TestScreeningPrunes: with a screen, trials that cannot win stop at the
// screen (state pruned, the screen's short metrics), never become the
// best, and the others run the whole load.
func TestScreeningPrunes(t *testing.T) {
	sp := loadSeed(t)
	w := sp.Load
	w.Duration = 40 * time.Second
	var seen []time.Duration
	s := &Study{Space: sp, Budget: budget(t, "8c16g"), Workload: w, Objective: sp.Objective,
		Sampler: "guided", Trials: 14, Seed: 1, Baseline: true, Screen: 10 * time.Second,
		Evaluator: EvaluatorFunc(func(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
			seen = append(seen, w.Duration)
			return sim.New(1).Evaluate(ctx, sys, w)
		}),
		Store: &MemoryStore{}}
	var bests []*results.Trial
	s.OnTrial = func(_ results.Trial, b *results.Trial) { bests = append(bests, b) }
	ts, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pruned := 0
	for _, tr := range ts {
		if tr.State == results.StatePruned {
			pruned++
		}
	}
	for _, b := range bests {
		if b != nil && b.State != results.StateComplete {
			t.Fatalf("best trial %d is %s", b.Number, b.State)
		}
	}
	if pruned == 0 || pruned == len(ts) {
		t.Errorf("%d of %d trials pruned: want some, not all", pruned, len(ts))
	}
	full, short := 0, 0
	for _, d := range seen {
		switch d {
		case w.Duration:
			full++
		case 10 * time.Second:
			short++
		default:
			t.Errorf("a load of %v, want the screen or the full load", d)
		}
	}
	if short != len(ts) || full != len(ts)-pruned {
		t.Errorf("%d screens and %d full loads for %d trials (%d pruned)", short, full, len(ts), pruned)
	}
}

// TestConfirmRemeasures: the top candidates are measured again by the
// evaluator's re-measurements and the recommendation leads.
func TestConfirmRemeasures(t *testing.T) {
	sp := loadSeed(t)
	w := sp.Load
	w.Duration = 20 * time.Second
	s := &Study{Space: sp, Budget: budget(t, "8c16g"), Workload: w, Objective: sp.Objective,
		Sampler: "guided", Trials: 8, Seed: 1, Baseline: true, Evaluator: reseeded{1}, Store: &MemoryStore{}}
	ts, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.Confirm(context.Background(), ts, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		t.Fatal("no candidate confirmed")
	}
	for _, c := range cs {
		if len(c.TPS) != 3 {
			t.Errorf("trial %d: %d measurements, want its own and 2 more", c.Trial, len(c.TPS))
		}
		if lo, hi := c.Spread(); lo == hi {
			t.Errorf("trial %d: re-measurements equal to the first (%.2f): not independent runs", c.Trial, lo)
		}
	}
	if len(cs) > 1 && cs[0].Feasible == cs[1].Feasible && cs[0].Mean() < cs[1].Mean() {
		t.Errorf("recommended trial %d (mean %.1f) ahead of trial %d (mean %.1f)", cs[0].Trial, cs[0].Mean(), cs[1].Trial, cs[1].Mean())
	}
}

func TestSeededRemeasuresWithOtherSeeds(t *testing.T) {
	var seeds []int64
	s := Seeded{Seed: 3, New: func(seed int64) Evaluator {
		seeds = append(seeds, seed)
		return EvaluatorFunc(func(context.Context, spaces.System, spaces.Workload) (results.Measurement, error) {
			return results.Measurement{}, nil
		})
	}}
	if _, err := s.Evaluate(context.Background(), spaces.System{}, spaces.Workload{}); err != nil {
		t.Fatal(err)
	}
	s.Remeasure(1)
	s.Remeasure(2)
	if len(seeds) != 3 || seeds[0] != 3 || seeds[1] == seeds[0] || seeds[2] == seeds[1] {
		t.Errorf("seeds %v: want the study's seed, then a new one per re-measurement", seeds)
	}
}

// TestPrunedScreensStillGuide: a screen measures what the guide reads
// (throughput, latency, utilisation), so a trial pruned there steers the
// next proposal as a full load would. On today's topology at 16c32g the
// baseline's screen breaks the SLO with nothing saturated: pruned, and the
// guide still raises every limit next, as in the same study unscreened.
func TestPrunedScreensStillGuide(t *testing.T) {
	sp := loadDefault(t)
	study := func(screen time.Duration) []results.Trial {
		s := &Study{Space: sp, Budget: budget(t, "16c32g"), Workload: sp.Load, Objective: sp.Objective,
			Sampler: "guided", Trials: 3, Seed: 1, Baseline: true, Screen: screen,
			Evaluator: EvaluatorFunc(func(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
				w.Duration = min(w.Duration, 40*time.Second) // the model's cost; the study decides on its figures alone
				return sim.New(1).Evaluate(ctx, sys, w)
			}),
			Store: &MemoryStore{}}
		ts, err := s.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	full, screened := study(0), study(40*time.Second)
	if screened[0].State != results.StatePruned {
		t.Fatalf("the baseline's screen (P95 %.0f ms) was not pruned", screened[0].Metrics.P95)
	}
	for i := 1; i < 3; i++ {
		if !sameParams(full[i].Params, screened[i].Params) {
			t.Errorf("trial %d differs with a screen:\n%v\nwithout one:\n%v", i, screened[i].Params, full[i].Params)
		}
	}
}
