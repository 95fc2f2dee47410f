package search

import (
	"context"
	"errors"
	"math"
	"slices"
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

// TestScreeningDefersTheFullLoad: with a screen, trials that cannot win
// stop at the screen (state pruned), the others are recorded with the
// screen's figures (screen_s), and the full load runs only as a promotion
// of the best screen, never before it stood promoteAfter trials, except on
// the study's last trial. What the study would recommend after each trial
// is never a screen.
func TestScreeningDefersTheFullLoad(t *testing.T) {
	sp := loadSeed(t)
	w := sp.Load
	w.Duration = 40 * time.Second
	var seen []time.Duration
	s := &Study{Space: sp, Budget: budget(t, "8c16g"), Workload: w, Objective: sp.Objective,
		Sampler: "guided", Trials: 16, Seed: 1, Baseline: true, Screen: 10 * time.Second,
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
	pruned, screened, promotions, ranOn := 0, 0, 0, 0
	for i, tr := range ts {
		switch {
		case tr.State == results.StateComplete && !tr.Screened() && tr.Origin != results.OriginPromoted:
			// A screen too slow to say anything (P95 over half its
			// window) runs on to the full load at once.
			ranOn++
			if tr.Metrics.P95 < 0.5*10000*0.8 {
				t.Errorf("trial %d ran the full load after a screen that measured it (P95 %.0f ms at full load)", i, tr.Metrics.P95)
			}
		case tr.State == results.StatePruned:
			pruned++
		case tr.Origin == results.OriginPromoted:
			promotions++
			from := ts[*tr.PromotedFrom]
			if !from.Screened() || !sameParams(from.Params, tr.Params) || tr.Screened() {
				t.Errorf("trial %d promotes trial %d (screened %v), not a screen of its configuration", i, from.Number, from.Screened())
			}
			if stood := i - 1 - from.Number; stood < DefaultPromoteAfter && i != len(ts)-1 {
				t.Errorf("trial %d promoted after it stood %d trials, want %d (or the last trial)", from.Number, stood, DefaultPromoteAfter)
			}
		case tr.Screened():
			screened++
			if tr.ScreenS != 10 {
				t.Errorf("trial %d: screen_s %v, want 10", i, tr.ScreenS)
			}
		}
	}
	for _, b := range bests {
		if b != nil && (b.State != results.StateComplete || b.Screened()) {
			t.Fatalf("best trial %d is %s, screened %v: only a full load may be recommended", b.Number, b.State, b.Screened())
		}
	}
	if pruned == 0 || screened == 0 || promotions == 0 {
		t.Errorf("%d pruned, %d screened, %d promoted of %d trials: want some of each", pruned, screened, promotions, len(ts))
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
	if short != len(ts)-promotions || full != promotions+ranOn {
		t.Errorf("%d screens and %d full loads for %d trials (%d promotions, %d censored screens): a full load must be a promotion", short, full, len(ts), promotions, ranOn)
	}
	if bests[len(bests)-1] == nil {
		t.Error("the study ends with nothing to recommend")
	}
}

// TestScreenedStudyResumesIntoItsPromotion: a study killed right after the
// screen that its rule would promote next resumes with that promotion, and
// then goes on exactly as the study that was never killed.
func TestScreenedStudyResumesIntoItsPromotion(t *testing.T) {
	sp := loadSeed(t)
	w := sp.Load
	w.Duration = 40 * time.Second
	study := func(store Store, trials int) *Study {
		return &Study{Space: sp, Budget: budget(t, "8c16g"), Workload: w, Objective: sp.Objective,
			Sampler: "guided", Trials: trials, Seed: 1, Baseline: true, Screen: 10 * time.Second,
			Evaluator: sim.New(1), Store: store, Now: func() time.Time { return time.Unix(0, 0) }}
	}
	whole, err := study(&MemoryStore{}, 16).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	first := -1
	for i, tr := range whole {
		if tr.Origin == results.OriginPromoted {
			first = i
			break
		}
	}
	if first < 0 {
		t.Fatal("no promotion in 16 trials")
	}
	// Killed after the trial before the first promotion was recorded.
	store := &MemoryStore{}
	ctx, cancel := context.WithCancel(context.Background())
	s := study(store, 16)
	s.OnTrial = func(tr results.Trial, _ *results.Trial) {
		if tr.Number == first-1 {
			cancel()
		}
	}
	if _, err := s.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want the kill", err)
	}
	resumed, err := study(store, 16).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed) != len(whole) {
		t.Fatalf("%d trials after the resume, want %d", len(resumed), len(whole))
	}
	p := resumed[first]
	if p.Origin != results.OriginPromoted || *p.PromotedFrom != *whole[first].PromotedFrom {
		t.Fatalf("resumed trial %d is %s, want the promotion of trial %d", first, p.Origin, *whole[first].PromotedFrom)
	}
	for i := range whole {
		if !sameParams(whole[i].Params, resumed[i].Params) || whole[i].Origin != resumed[i].Origin || whole[i].State != resumed[i].State {
			t.Errorf("trial %d after the resume: %s %s, want %s %s", i, resumed[i].Origin, resumed[i].State, whole[i].Origin, whole[i].State)
		}
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
	_, cs, err := s.Confirm(context.Background(), ts, 2, 2)
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

// TestGuideReadsPrunedScreens: with screening, pruning spares no load, so
// the guide reads a pruned screen as the measurement it is (a pooler's
// repair starts from a screen that broke the error limit), while the
// trials themselves stay pruned and out of promotion.
func TestGuideReadsPrunedScreens(t *testing.T) {
	trials := []results.Trial{
		{Number: 0, State: results.StateComplete, ScreenS: 20},
		{Number: 1, State: results.StatePruned, ScreenS: 20, Metrics: results.Metrics{TPS: 50, ErrorRate: 0.2}},
		{Number: 2, State: results.StatePruned}, // pruned without a screen's figures
	}
	read := measured(trials)
	if read[1].State != results.StateComplete || read[2].State != results.StatePruned {
		t.Errorf("the guide reads states %s, %s: want the screen as complete, the other as pruned", read[1].State, read[2].State)
	}
	if trials[1].State != results.StatePruned {
		t.Error("the study's own record changed")
	}
}

// TestCensoredScreenRescreens: a screen too slow to judge (P95 over half
// its window) is followed by one long enough for its requests before any
// full load: today's topology at 8c16g starts from a baseline whose 20 s
// screen shows a P95 of about 15 s; the rescreen measures it, it breaks the
// SLO beyond the noise and is pruned without the 3-minute load. A rescreen
// censored again runs on to the full load, and the trial's time counts
// every load.
func TestCensoredScreenRescreens(t *testing.T) {
	sp := loadDefault(t)
	var loads []time.Duration
	s := &Study{Space: sp, Budget: budget(t, "8c16g"), Workload: sp.Load, Objective: sp.Objective,
		Sampler: "guided", Trials: 1, Seed: 1, Baseline: true, Screen: 20 * time.Second,
		Evaluator: EvaluatorFunc(func(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
			loads = append(loads, w.Duration)
			return sim.New(1).Evaluate(ctx, sys, w)
		}),
		Store: &MemoryStore{}}
	ts, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(loads) != 2 || loads[0] != 20*time.Second || loads[1] <= 20*time.Second || loads[1] > sp.Load.Duration/2 {
		t.Fatalf("loads %v: want the 20 s screen, then one sized to its P95 (at most half the full load)", loads)
	}
	if b := ts[0]; b.State != results.StatePruned || b.ScreenS != loads[1].Seconds() || censored(b.Metrics, loads[1]) {
		t.Errorf("baseline %s, screen_s %v, P95 %.0f ms: want pruned by the rescreen's figures", b.State, b.ScreenS, b.Metrics.P95)
	}

	// Requests always as slow as the window: censored twice.
	loads = nil
	var clock time.Time
	s = &Study{Space: sp, Budget: budget(t, "8c16g"), Workload: sp.Load, Objective: sp.Objective,
		Sampler: "guided", Trials: 1, Seed: 1, Baseline: true, Screen: 20 * time.Second,
		Evaluator: EvaluatorFunc(func(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
			loads = append(loads, w.Duration)
			clock = clock.Add(w.Duration)
			return results.Measurement{Metrics: results.Metrics{TPS: 1, P95: 0.9 * float64(w.Duration.Milliseconds())}}, nil
		}),
		Store: &MemoryStore{}, Now: func() time.Time { return clock }}
	ts, err = s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{20 * time.Second, 72 * time.Second, sp.Load.Duration}
	if !slices.Equal(loads, want) {
		t.Fatalf("loads %v, want %v: the screen, a rescreen of 4 × its P95, the full load", loads, want)
	}
	if b := ts[0]; b.Screened() || b.DurationS != (20+72+180) {
		t.Errorf("baseline screen_s %v, %v s: want the full load's figures and every load's time", b.ScreenS, b.DurationS)
	}
}

// TestPromotionNeedsAScreenAheadByItsNoise: once a full load measured the
// best configuration so far, a screen is promoted over it only when it is
// ahead by more than one standard error of its own TPS (2040 completions:
// 3.3%); a screen within that noise stays a screen, and the best screen is
// still promoted on the study's last trial.
func TestPromotionNeedsAScreenAheadByItsNoise(t *testing.T) {
	s := &Study{Objective: spaces.Objective{SLOP95: 2 * time.Second, MaxErrorRate: 0.01}, Screen: 20 * time.Second,
		Workload: spaces.Workload{Duration: 3 * time.Minute}}
	zero := 0
	trials := func(screenTPS float64) []results.Trial {
		return []results.Trial{
			{Number: 0, State: results.StateComplete, ScreenS: 20, Metrics: results.Metrics{TPS: 100, P95: 1000}},
			{Number: 1, Origin: results.OriginPromoted, State: results.StateComplete, PromotedFrom: &zero, Metrics: results.Metrics{TPS: 100, P95: 1000}},
			{Number: 2, State: results.StateComplete, ScreenS: 20, Metrics: results.Metrics{TPS: screenTPS, P95: 1000}},
			{Number: 3, State: results.StatePruned, ScreenS: 20, Metrics: results.Metrics{TPS: 50, P95: 1000}},
			{Number: 4, State: results.StatePruned, ScreenS: 20, Metrics: results.Metrics{TPS: 50, P95: 1000}},
		}
	}
	for _, tc := range []struct {
		name      string
		screenTPS float64
		left      int
		want      bool
	}{
		{"within its noise", 102, 10, false},
		{"ahead beyond its noise", 104, 10, true},
		{"within its noise, last trial", 102, 1, true},
	} {
		got := s.promotion(trials(tc.screenTPS), tc.left)
		if (got != nil) != tc.want || got != nil && got.Number != 2 {
			t.Errorf("%s: promotion %v, want the screen promoted: %v", tc.name, got, tc.want)
		}
	}
}

// TestScreenLengthByCompletions: with ScreenCompletions a screen lasts as
// long as the best trial takes to complete that many requests, within
// Screen and half the full load.
func TestScreenLengthByCompletions(t *testing.T) {
	s := &Study{Screen: 20 * time.Second, ScreenCompletions: 1800, Workload: spaces.Workload{Duration: 3 * time.Minute}}
	for _, tc := range []struct {
		tps  float64 // the best trial's; 0: none yet
		want time.Duration
	}{{0, 20 * time.Second}, {45, 40 * time.Second}, {160, 20 * time.Second}, {5, 90 * time.Second}} {
		var best *results.Trial
		if tc.tps > 0 {
			best = &results.Trial{Metrics: results.Metrics{TPS: tc.tps}}
		}
		if got := s.screenLength(best); got != tc.want {
			t.Errorf("best at %v TPS: screen %v, want %v", tc.tps, got, tc.want)
		}
	}
	s.ScreenCompletions = 0
	if got := s.screenLength(&results.Trial{Metrics: results.Metrics{TPS: 45}}); got != s.Screen {
		t.Errorf("without ScreenCompletions: screen %v, want %v", got, s.Screen)
	}
}

// TestIntervalPoolsTheCandidatesNoise: three runs of one candidate within
// 0.1% of each other do not make its next run that predictable; the
// interval takes the noise pooled over the candidates confirmed together
// (a failed run's candidate left out), and a candidate's own wider spread
// is pooled too.
func TestIntervalPoolsTheCandidatesNoise(t *testing.T) {
	cs := []Confirmation{
		{Trial: 1, TPS: []float64{100, 100.1, 100.05}},
		{Trial: 2, TPS: []float64{50, 51, 49}},     // 2% relative sd
		{Trial: 3, TPS: []float64{60, 0, 61}},      // a failed run: not pooled
		{Trial: 4, TPS: []float64{80, 80.8, 79.2}}, // 1%
	}
	alone, _ := cs[0].Interval()
	pool(cs)
	lo, hi := cs[0].Interval()
	if alone < 99.5 || lo > 98 || hi < 102 {
		t.Errorf("interval %.2f..%.2f (alone from %.2f): want its runs' own near ±0.2%%, pooled about ±4%%", lo, hi, alone)
	}
	if want := math.Sqrt((2*0.02*0.02 + 2*0.01*0.01 + 2*0.0005*0.0005) / 6); math.Abs(cs[2].noise.rel-want) > 1e-3 || cs[2].noise.df != 6 {
		t.Errorf("pooled noise %+v, want rel %.4f over 6 degrees of freedom", cs[2].noise, want)
	}
}

// TestFirstPromotionWaitsForTheClimb: the first full load waits until the
// study's screens have cost one (ramp included, 30 load-seconds a screen
// against 190): the best screen that stood two trials is not promoted
// after three screens, it is after seven, and on the study's last trial it
// is whatever the screens cost.
func TestFirstPromotionWaitsForTheClimb(t *testing.T) {
	s := &Study{Objective: spaces.Objective{SLOP95: 2 * time.Second, MaxErrorRate: 0.01}, Screen: 20 * time.Second,
		Workload: spaces.Workload{Users: 100, SpawnRate: 10, Duration: 3 * time.Minute}}
	trials := func(screens int) []results.Trial {
		var ts []results.Trial
		for i := range screens {
			ts = append(ts, results.Trial{Number: i, State: results.StatePruned, ScreenS: 20, Metrics: results.Metrics{TPS: 50, P95: 1000}})
		}
		ts[screens-3].State, ts[screens-3].Metrics.TPS = results.StateComplete, 100
		return ts
	}
	// 3 screens of 30 load-seconds against a full load's 190.
	if got := s.promotion(trials(3), 10); got != nil {
		t.Errorf("after 3 screens: promotion of trial %d, want none before the screens cost a full load", got.Number)
	}
	if got := s.promotion(trials(7), 10); got == nil || got.Number != 4 {
		t.Errorf("after 7 screens: promotion %v, want trial 4", got)
	}
	if got := s.promotion(trials(3), 1); got == nil || got.Number != 0 {
		t.Errorf("last trial: promotion %v, want trial 0", got)
	}
}
