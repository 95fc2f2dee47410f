package search

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// shortStudy is a study on the model with a short load, for tests.
// It runs on the case study's space, whose presets it enqueues.
func shortStudy(t *testing.T, sampler string, trials int, store Store) *Study {
	sp := loadSeed(t)
	w := sp.Load
	w.Duration = 30 * time.Second
	return &Study{
		Space: sp, Budget: budget(t, "16c32g"), Workload: w, Objective: sp.Objective,
		Sampler: sampler, Trials: trials, Seed: 3, Baseline: true,
		Evaluator: sim.New(3), Store: store,
		Now: func() time.Time { return time.Unix(0, 0) },
	}
}

func params(ts []results.Trial) []map[string]any {
	var out []map[string]any
	for _, t := range ts {
		out = append(out, t.Params)
	}
	return out
}

func TestStudySameSeedSameStudy(t *testing.T) {
	for _, sampler := range Samplers {
		t.Run(sampler, func(t *testing.T) {
			a, err := shortStudy(t, sampler, 12, &MemoryStore{}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			b, err := shortStudy(t, sampler, 12, &MemoryStore{}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != 12 {
				t.Fatalf("got %d trials, want 12", len(a))
			}
			for i := range a {
				if !reflect.DeepEqual(a[i].Params, b[i].Params) {
					t.Fatalf("two runs with seed 3 proposed different configurations at trial %d:\n%v\n%v", i, a[i].Params, b[i].Params)
				}
			}
			if a[0].Origin != results.OriginBaseline {
				t.Errorf("trial 0 origin %s, want baseline", a[0].Origin)
			}
			for _, tr := range a {
				if tr.Resources.CPUCores > 16 || tr.Resources.MemoryMiB > 32768 {
					t.Errorf("trial %d uses %.2f CPU, %d MiB: over 16c32g", tr.Number, tr.Resources.CPUCores, tr.Resources.MemoryMiB)
				}
			}
		})
	}
}

func TestStudyResumes(t *testing.T) {
	store := &MemoryStore{}
	first, err := shortStudy(t, "tpe", 5, store).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all, err := shortStudy(t, "tpe", 9, store).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 9 {
		t.Fatalf("resumed study has %d trials, want 9", len(all))
	}
	if !reflect.DeepEqual(params(all[:5]), params(first)) {
		t.Error("resume changed the trials already done")
	}
	baselines := 0
	for i, tr := range all {
		if tr.Number != i {
			t.Errorf("trial %d numbered %d", i, tr.Number)
		}
		if tr.Origin == results.OriginBaseline {
			baselines++
		}
	}
	if baselines != 1 {
		t.Errorf("%d baseline trials after a resume, want 1", baselines)
	}
}

func TestStudyEnqueuedRunAfterBaseline(t *testing.T) {
	s := shortStudy(t, "tpe", 3, &MemoryStore{})
	preset, err := spaces.LoadConfig("../spaces/presets/s16-final.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue = []Preset{{Name: "s16-final", Config: preset}}
	ts, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ts[1].Origin != results.OriginEnqueued || !reflect.DeepEqual(ts[1].Params, map[string]any(s.Space.Complete(preset))) {
		t.Errorf("trial 1 = %s %v, want the enqueued preset", ts[1].Origin, ts[1].Params)
	}
}

func TestStudyStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := shortStudy(t, "random", 50, &MemoryStore{})
	s.OnTrial = func(tr results.Trial, _ *results.Trial) {
		if tr.Number == 2 {
			cancel()
		}
	}
	ts, err := s.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(ts) != 3 {
		t.Errorf("%d trials recorded, want the 3 finished before the cancel", len(ts))
	}
}

// flaky is a target that goes away after `up` trials, until brought back.
type flaky struct {
	up   int
	down bool
}

func (f *flaky) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	if f.up == 0 || f.down {
		f.down = true
		return results.Measurement{}, fmt.Errorf("kubernetes api server unreachable: %w", ErrAbort)
	}
	f.up--
	return sim.New(3).Evaluate(ctx, sys, w)
}

// TestStudyStopsWhenTheTargetIsGone: a target that cannot run trials stops
// the study without recording a failed trial, in the sampler's phase as in
// the enqueued one, and the study resumes once it is back.
func TestStudyStopsWhenTheTargetIsGone(t *testing.T) {
	for _, up := range []int{1, 10} {
		store := &MemoryStore{}
		s := shortStudy(t, "tpe", 14, store)
		f := &flaky{up: up}
		s.Evaluator = f
		ts, err := s.Run(context.Background())
		if !errors.Is(err, ErrAbort) || len(ts) != up {
			t.Fatalf("up %d: err %v, %d trials, want ErrAbort after %d", up, err, len(ts), up)
		}
		for _, tr := range ts {
			if tr.State != results.StateComplete {
				t.Errorf("up %d: trial %d %s: %s", up, tr.Number, tr.State, tr.Error)
			}
		}
		f.down, f.up = false, 100
		all, err := shortStudy(t, "tpe", 14, store).Run(context.Background())
		if err != nil || len(all) != 14 {
			t.Fatalf("up %d: resume: %d trials, %v", up, len(all), err)
		}
	}
}

func TestScoreRanksInfeasibleBelowFeasible(t *testing.T) {
	s := &Study{Objective: spaces.Objective{SLOP95: 2 * time.Second, MaxErrorRate: 0.01}}
	ok := results.Trial{State: results.StateComplete, Metrics: results.Metrics{TPS: 100, P95: 1900}}
	slow := results.Trial{State: results.StateComplete, Metrics: results.Metrics{TPS: 100, P95: 2100}}
	errs := results.Trial{State: results.StateComplete, Metrics: results.Metrics{TPS: 100, P95: 900, ErrorRate: 0.05}}
	failed := results.Trial{State: results.StateFailed}
	if !(s.score(ok) > s.score(slow) && s.score(ok) > s.score(errs) && s.score(slow) > s.score(failed)) {
		t.Errorf("scores ok %.1f slow %.1f errs %.1f failed %.1f", s.score(ok), s.score(slow), s.score(errs), s.score(failed))
	}
}
