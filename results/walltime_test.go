package results

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestMeasuredWallTime: a cluster study's wall time is the sum of its
// trials' own durations (a failed rollout counts too), the breakdown the
// mean of the trials that record one, and the rest of the study the mean
// duration times the trials left.
func TestMeasuredWallTime(t *testing.T) {
	trials := []Trial{
		{Number: 0, State: StateComplete, DurationS: 280, Timings: &Timings{RolloutS: 70, SettleS: 30, LoadS: 180}},
		{Number: 1, State: StateComplete, DurationS: 320, Timings: &Timings{RolloutS: 110, SettleS: 30, LoadS: 180}},
		{Number: 2, State: StateFailed, DurationS: 600}, // the rollout timed out: no timings, but the time passed
	}
	w := MeasuredWallTime(trials, 10)
	want := WallTime{Measured: true, Trials: 3, Planned: 10, PerTrial: Timings{RolloutS: 90, SettleS: 30, LoadS: 180},
		SpentS: 1200, RemainingS: 7 * 400}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("got %+v\nwant %+v", w, want)
	}
	if got := w.String(); got != "wall time on the cluster: 3 trials in 20m0s (per trial: rollout 1m30s, settle 30s, load 3m0s); 7 more to 10 trials: about 46m40s" {
		t.Errorf("line %q", got)
	}
	if done := MeasuredWallTime(trials, 3); done.RemainingS != 0 || strings.Contains(done.String(), "more to") {
		t.Errorf("a finished study has no ETA: %+v", done)
	}
}

// TestEstimatedWallTime: on the model, each trial costs what cost says
// (a pruned trial only its screen), the rest of the study the mean so far.
func TestEstimatedWallTime(t *testing.T) {
	trials := []Trial{{State: StateComplete}, {State: StatePruned}, {State: StateComplete}, {State: StateFailed}}
	cost := func(t Trial) Timings {
		if t.State == StatePruned {
			return Timings{RolloutS: 60, SettleS: 30, LoadS: 70}
		}
		return Timings{RolloutS: 60, SettleS: 30, LoadS: 190}
	}
	w := EstimatedWallTime(trials, 8, cost, "rollout assumed")
	if w.Measured || w.SpentS != 3*280+160 || w.RemainingS != 4*w.SpentS/4 || w.PerTrial.LoadS != (3*190+70)/4.0 {
		t.Errorf("estimate %+v: want 1000 s spent, the same again for 4 more trials", w)
	}
	want := "on a cluster these 4 trials would take about 16m40s: 4m10s each (load 2m40s, rollout assumed); 4 more to 8 trials: about 16m40s"
	if got := w.String(); got != want {
		t.Errorf("line %q\nwant %q", got, want)
	}
	if empty := EstimatedWallTime(nil, 5, cost, ""); empty.SpentS != 0 || empty.RemainingS != 0 {
		t.Errorf("no trials: %+v", empty)
	}
}

// TestTimingsRecorded: a trial's timings survive trials.jsonl and the
// store; a trial without them stays without.
func TestTimingsRecorded(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "trials.db"))
	id, err := s.Study(ctx, "x", meta)
	if err != nil {
		t.Fatal(err)
	}
	with := fixture()[0]
	with.Timings = &Timings{RolloutS: 71.5, SettleS: 30.2, LoadS: 190}
	without := fixture()[1]
	for _, tr := range []Trial{with, without} {
		if err := s.Add(ctx, id, tr); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Trials(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got[0].Timings, with.Timings) || got[1].Timings != nil {
		t.Errorf("stored timings %+v and %+v", got[0].Timings, got[1].Timings)
	}
	b, err := json.Marshal(with)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"timings":{"rollout_s":71.5,"settle_s":30.2,"load_s":190}`) {
		t.Errorf("trials.jsonl line %s", b)
	}
	var back Trial
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.Timings, with.Timings) {
		t.Errorf("read back %+v: %v", back.Timings, err)
	}
	bad := with
	bad.Timings = &Timings{LoadS: -1}
	if err := s.Add(ctx, id, bad); err == nil || !strings.Contains(err.Error(), "timings.load_s") {
		t.Errorf("negative load time stored: %v", err)
	}
}

// TestStoreFromVersion1: a trials.db written before timings were recorded
// opens, keeps its trials, and records timings from then on.
func TestStoreFromVersion1(t *testing.T) {
	ctx := context.Background()
	s, id := storeOfVersion(t, 1, []string{"\ttimings     TEXT,\n", "\tscreen_s    REAL NOT NULL DEFAULT 0,\n", "\tpromoted_from INTEGER,\n"},
		`'complete', 'baseline', '{}', 8, 16384, 20, 1, 2, 3, 1, 0, '', NULL, NULL, '2026-11-25T01:00:00Z', '2026-11-25T01:05:00Z', 300`)
	next := fixture()[1]
	next.Timings = &Timings{RolloutS: 60, SettleS: 30, LoadS: 190}
	if err := s.Add(ctx, id, next); err != nil {
		t.Fatal(err)
	}
	got, err := s.Trials(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].DurationS != 300 || got[0].Timings != nil || got[1].Timings == nil || got[1].Timings.LoadS != 190 {
		t.Errorf("trials after the upgrade: %+v", got)
	}
}
