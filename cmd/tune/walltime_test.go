package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tune-dify/tune/results"
)

// TestWallTimeOnAClusterStated: a study on the model says what it would
// have cost on a cluster, and study.json records it: every trial an
// assumed 60 s rollout and the space's 30 s settle, plus its loads (the
// space's 10 s ramp and a 1-minute screen; a promotion, the full load of a
// screened configuration, its own rollout and the ramp and 3 minutes).
func TestWallTimeOnAClusterStated(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "--budget", "16c32g", "--space", seedSpace, "--trials", "12", "--seed", "1",
		"--sampler", "guided", "--screen", "1m", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want, pruned, promoted := 0.0, 0, 0
	for _, tr := range trials {
		switch want += 60 + 30; {
		case tr.State == results.StatePruned, tr.Screened():
			want += 70
			pruned++
		case tr.Origin == results.OriginPromoted:
			want += 190
			promoted++
		case tr.State == results.StateComplete:
			want += 70 + 190 // a censored screen, then the full load from zero
		default:
			want += 190
		}
	}
	if pruned == 0 || promoted == 0 {
		t.Fatalf("%d trials screened or pruned, %d promoted: the test needs both to check their costs\n%s", pruned, promoted, stdout)
	}
	var study results.StudyFile
	b, err := os.ReadFile(filepath.Join(out, results.StudyJSON))
	if err == nil {
		err = json.Unmarshal(b, &study)
	}
	if err != nil || study.WallTime == nil {
		t.Fatalf("study.json without the wall time: %v\n%s", err, b)
	}
	if w := study.WallTime; w.Measured || w.SpentS != want || w.Trials != len(trials) || w.PerTrial.RolloutS != 60 || w.PerTrial.SettleS != 30 {
		t.Errorf("wall time %+v, want %.0f s for %d trials (%d pruned)", w, want, len(trials), pruned)
	}
	if line := study.WallTime.String(); !strings.Contains(stdout, line+"\n") || !strings.HasPrefix(line, "on a cluster these 12 trials would take about ") {
		t.Errorf("the summary does not state %q:\n%s", line, stdout)
	}
}
