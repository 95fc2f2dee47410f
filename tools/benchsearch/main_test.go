package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target/release"
)

func TestBadFlags(t *testing.T) {
	chdirRoot(t)
	for _, args := range [][]string{
		{"-cases", "seed/1c1g/chatflow"},
		{"-samplers", "annealing"},
		{"-seeds", "0"},
		{"-nope"},
		{"-variants", "tools/benchsearch/missing.yaml"},
	} {
		var out, errb bytes.Buffer
		if err := run(args, &out, &errb); !errors.Is(err, errBadInput) || !strings.Contains(err.Error()+errb.String(), args[0]) {
			t.Errorf("%v: err %v, want bad input naming %s", args, err, args[0])
		}
	}
}

// TestBeatenOptimumFails: a recorded optimum below what a study finds is
// reported and fails the run; the table and JSON are still written.
func TestBeatenOptimumFails(t *testing.T) {
	if err := os.Chdir("../.."); err != nil { // the suite names spaces from the repository root
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chdir("tools/benchsearch") })
	dir := t.TempDir()
	optima := filepath.Join(dir, "optima.json")
	c, err := load(benchCase{Space: "spaces/seed.yaml", Budget: "16c32g", Scenario: "chatflow"})
	if err != nil {
		t.Fatal(err)
	}
	low := []optimum{{Case: "seed/16c32g/chatflow", TPS: 30, TPSSeed1: 30, NoiseSD: 0.1, NoiseSeeds: noiseSeeds, Fingerprint: fingerprint(c)}}
	b, _ := json.Marshal(low)
	if err := os.WriteFile(optima, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bench.json")
	var stdout, stderr bytes.Buffer
	err = run([]string{"-cases", "seed/16c32g/chatflow", "-samplers", "guided", "-seeds", "1", "-max-trials", "8",
		"-optima", optima, "-json", out}, &stdout, &stderr)
	if !errors.Is(err, errBeaten) {
		t.Fatalf("err %v, want the optimum beaten\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "OPTIMUM BEATEN: seed/16c32g/chatflow guided seed 1") {
		t.Errorf("stderr does not name the trial:\n%s", stderr.String())
	}
	// The loud failure is about means: each beaten trial's configuration
	// averaged over the noise seeds is above the bound, and that is the
	// figure it reports.
	var rep report
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil || len(rep.Rows) != 1 || len(rep.Beaten) == 0 {
		t.Fatalf("JSON report %s: %v", data, err)
	}
	for _, b := range rep.Beaten {
		sys, err := c.sp.Resolve(c.b, normalise(c.sp, b.Params))
		if err != nil {
			t.Fatal(err)
		}
		m := measureMean(context.Background(), c, sys)
		if math.Abs(b.MeanTPS-m.TPS) > 1e-9 || m.TPS <= b.Bound || !m.feasible(c) {
			t.Errorf("beaten trial %d: mean %.2f reported, %.2f measured (feasible %v), bound %.2f", b.Trial, b.MeanTPS, m.TPS, m.feasible(c), b.Bound)
		}
	}
	if r := rep.Rows[0]; r.MedianTrials > 8 || r.Reached != 1 {
		t.Errorf("row %+v: a 30 TPS optimum is reached within 8 trials", r)
	}
	// On a cluster each trial to 95% adds the assumed rollout and the
	// space's settle to its load, as tune's own summary counts it.
	if r := rep.Rows[0]; r.MedianLoadSJSON == nil || r.MedianClusterSJSON == nil ||
		*r.MedianClusterSJSON != *r.MedianLoadSJSON+float64(r.MedianTrials)*(release.AssumedRollout.Seconds()+30) {
		t.Errorf("row %+v: cluster seconds to 95%% are not trials × (rollout + settle) + load-seconds", r)
	}
	if !strings.Contains(stdout.String(), "cluster is the median wall time to 95% on a cluster") {
		t.Errorf("the table does not say what its cluster column is:\n%s", stdout.String())
	}
}

// TestReportJSONWhenNeverReached: a sampler that never reaches 95% still
// gets its row in the JSON report, its load-seconds null.
func TestReportJSONWhenNeverReached(t *testing.T) {
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chdir("tools/benchsearch") })
	dir := t.TempDir()
	c, err := load(benchCase{Space: "spaces/seed.yaml", Budget: "8c16g", Scenario: "chatflow"})
	if err != nil {
		t.Fatal(err)
	}
	optima := filepath.Join(dir, "optima.json")
	b, _ := json.Marshal([]optimum{{Case: "seed/8c16g/chatflow", TPS: 1000, TPSSeed1: 1000, NoiseSD: 1, NoiseSeeds: noiseSeeds, Fingerprint: fingerprint(c)}})
	if err := os.WriteFile(optima, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bench.json")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-cases", "seed/8c16g/chatflow", "-samplers", "random", "-seeds", "1", "-max-trials", "2",
		"-optima", optima, "-json", out}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(data, &rep); err != nil || len(rep.Rows) != 1 {
		t.Fatalf("report %q: %v", data, err)
	}
	if v, ok := rep.Rows[0]["median_load_seconds_to_95"]; !ok || v != nil {
		t.Errorf("median_load_seconds_to_95 = %v, want null", v)
	}
	if !strings.Contains(stdout.String(), ">2") {
		t.Errorf("table does not show the cap:\n%s", stdout.String())
	}
	// Two whole trials on a cluster, 60 s rollout + 30 s settle + 190 s
	// load each, are the least the cluster column can say: ">9m".
	if !strings.Contains(stdout.String(), " >9m ") {
		t.Errorf("the cluster column does not show what the capped study cost:\n%s", stdout.String())
	}
}

// TestTrialLoadSeconds: the bench charges every load a trial ran: a screen
// (pruned or kept) its screen, a promotion the full load, a trial whose
// censored screen ran on both, and without screening the full load.
// TestMeteredLoadSeconds: the bench charges a study every load its
// evaluator ran, the ramp included: a screen, a re-measurement of the full
// load (a promotion or a confirmation).
func TestMeteredLoadSeconds(t *testing.T) {
	chdirRoot(t)
	p, err := load(benchCase{Space: "spaces/seed.yaml", Budget: "8c16g", Scenario: "chatflow"})
	if err != nil {
		t.Fatal(err)
	}
	sys, err := p.sp.Resolve(p.b, p.sp.Baseline())
	if err != nil {
		t.Fatal(err)
	}
	spent := 0.0
	m := metered{ev: noisyModel{salt: 1, p: p}, spent: &spent}
	screen := p.w
	screen.Duration = 20 * time.Second
	for _, step := range []struct {
		ev   search.Evaluator
		w    spaces.Workload
		want float64
	}{{m, screen, 30}, {m.Remeasure(1), p.w, 30 + 190}} {
		if _, err := step.ev.Evaluate(context.Background(), sys, step.w); err != nil {
			t.Fatal(err)
		}
		if spent != step.want {
			t.Errorf("%v load-seconds after a %v load, want %v", spent, step.w.Duration, step.want)
		}
	}
}
