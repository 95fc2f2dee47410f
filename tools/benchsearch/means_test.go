package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tune-dify/tune/results"
)

// TestIncumbentJudgedByMean: after each trial the bench scores what the
// study would recommend (its best SLO-feasible trial by its own runs) by
// that configuration's mean over the noise seeds, not by the lucky run that
// made it the incumbent.
func TestIncumbentJudgedByMean(t *testing.T) {
	chdirRoot(t)
	p, err := load(benchCase{Space: "spaces/seed.yaml", Budget: "16c32g", Scenario: "chatflow"})
	if err != nil {
		t.Fatal(err)
	}
	o := options{seeds: 1, maxTrials: 8, jobs: 1}
	opt := optimum{Case: p.Name(), TPS: 1000, NoiseSD: 1}
	r, _, err := measureSampler(p, opt, newMeans(p), "guided", o)
	if err != nil {
		t.Fatal(err)
	}

	// The same study again, its incumbents kept.
	s, _ := benchStudy(p, "guided", 0.25, false, 1, o)
	var last *results.Trial
	s.OnTrial = func(_ results.Trial, best *results.Trial) {
		if best != nil {
			b := *best
			last = &b
		}
	}
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if last == nil {
		t.Fatal("no feasible trial in 8: pick a case where the study finds one")
	}
	sys, err := p.sp.Resolve(p.b, last.Params)
	if err != nil {
		t.Fatal(err)
	}
	m := measureMean(context.Background(), p, sys)
	want := 0.0
	if m.feasible(p) {
		want = m.TPS
	}
	if math.Abs(r.Best40-want) > 1e-9 {
		t.Errorf("best after the last trial %.3f, want the incumbent's mean %.3f", r.Best40, want)
	}
	if math.Abs(r.Best40-last.Metrics.TPS) < 1e-9 {
		t.Errorf("best after the last trial %.3f is the incumbent's own run, not its mean", r.Best40)
	}
}

// TestOptimumRecordedBeforeMeansIsRemeasured: a record whose figures are
// single runs with the search's seed is measured with every noise seed and
// written back with its mean, the seed-1 figures kept beside it.
func TestOptimumRecordedBeforeMeansIsRemeasured(t *testing.T) {
	chdirRoot(t)
	recorded, err := readRecords[optimum]("tools/benchsearch/optima.json")
	if err != nil {
		t.Fatal(err)
	}
	const name = "seed/2x8c16g/retrieval"
	old, ok := recorded[name]
	if !ok {
		t.Fatalf("optima.json has no %s", name)
	}
	old.TPS, old.P95Ms, old.TPSSeed1, old.P95Seed1, old.NoiseSeeds = 111, 800, 0, 0, []int64{2, 3, 4, 5, 6}
	file := filepath.Join(t.TempDir(), "optima.json")
	b, _ := json.Marshal([]optimum{old})
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-cases", name, "-samplers", "random", "-seeds", "1", "-max-trials", "1", "-optima", file}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	now, err := readRecords[optimum](file)
	if err != nil {
		t.Fatal(err)
	}
	got := now[name]
	p, err := load(benchCase{Space: "spaces/seed.yaml", Budget: "2x8c16g", Scenario: "retrieval", SLO: sloFor["retrieval"]})
	if err != nil {
		t.Fatal(err)
	}
	sys, err := p.sp.Resolve(p.b, normalise(p.sp, old.Params))
	if err != nil {
		t.Fatal(err)
	}
	m := measureMean(context.Background(), p, sys)
	if got.TPS != m.TPS || got.P95Ms != m.P95 || got.NoiseSD != m.SD || !slices.Equal(got.NoiseSeeds, noiseSeeds) {
		t.Errorf("re-recorded %.2f TPS, P95 %.0f, sd %.2f over %v; want the mean %.2f, %.0f, %.2f over %v",
			got.TPS, got.P95Ms, got.NoiseSD, got.NoiseSeeds, m.TPS, m.P95, m.SD, noiseSeeds)
	}
	if got.TPSSeed1 != 111 || got.P95Seed1 != 800 {
		t.Errorf("seed-1 figures %.1f, %.0f; want the old record's 111, 800", got.TPSSeed1, got.P95Seed1)
	}
	if !got.byMeans() {
		t.Error("the re-recorded optimum does not count as scored by means")
	}
}
