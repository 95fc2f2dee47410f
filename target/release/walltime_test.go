package release_test

import (
	"context"
	"testing"
	"time"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/target/release"
)

// TestTrialTimingsRecorded: every trial on a release records how long its
// rollout, settle and load took (the load on the target's clock), and the
// study's measured wall time averages them.
func TestTrialTimingsRecorded(t *testing.T) {
	f, _, folder, w := setup(t)
	f.deploy, f.total = 95*time.Second, 127*time.Second
	now := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(190 * time.Second); return now } // each load "takes" 190 s
	tg, err := release.New(f, f.sp, f.budget, release.Options{Emulate: true, Seed: 1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Begin(context.Background(), folder); err != nil {
		t.Fatal(err)
	}
	s := &search.Study{Space: f.sp, Budget: f.budget, Workload: w, Objective: f.sp.Objective,
		Sampler: "random", Trials: 2, Seed: 1, Baseline: true, Evaluator: tg, Store: folder}
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored, err := folder.Trials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := results.Timings{RolloutS: 95, SettleS: 32, LoadS: 190}
	for _, tr := range stored {
		if tr.Timings == nil || *tr.Timings != want {
			t.Errorf("trial %d timings %+v, want %+v", tr.Number, tr.Timings, want)
		}
	}
	if got := results.MeasuredWallTime(stored, 10); got.PerTrial != want || got.Trials != 2 {
		t.Errorf("measured wall time %+v, want per trial %+v", got, want)
	}
}

// TestEstimatedWallTimeOfAModelStudy: a study that ran on the model is
// costed at the assumed rollout, the space's settle and each trial's own
// loads: with screening a pruned or screened trial its screen, a promotion
// the full load after its own rollout, a complete one whose screen ran on
// its screen and then the full load.
func TestEstimatedWallTimeOfAModelStudy(t *testing.T) {
	f, _, _, _ := setup(t)
	f.sp.Target.Helm.Timeouts.Settle = 45 * time.Second
	from := 3
	trials := []results.Trial{{State: results.StateComplete}, {State: results.StatePruned}, {State: results.StateFailed},
		{State: results.StateComplete, ScreenS: 60}, {State: results.StateComplete, Origin: results.OriginPromoted, PromotedFrom: &from}}
	w := release.EstimatedWallTime(f.sp, trials, 5, 190, 70)
	perTrial := release.AssumedRollout.Seconds() + 45
	if want := 5*perTrial + (70 + 190) + 70 + 190 + 70 + 190; w.SpentS != want || w.Measured || w.RemainingS != 0 {
		t.Errorf("estimate %+v, want %.0f s spent", w, want)
	}
	if w := release.EstimatedWallTime(f.sp, trials[:3], 3, 190, 0); w.SpentS != 3*perTrial+3*190 {
		t.Errorf("without screening %+v, want every trial at the full load", w)
	}
	if w.Assumption == "" || w.PerTrial.SettleS != 45 {
		t.Errorf("estimate %+v: want the assumption stated and the space's settle", w)
	}
}
