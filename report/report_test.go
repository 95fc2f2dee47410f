package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// testdata/study is a real study folder: tune --budget 8c16g --space
// spaces/default.yaml --trials 16 --seed 1 --enqueue s8-final --slo-p95 4s.
const studyDir = "testdata/study"

func loadStudy(t *testing.T) *Study {
	t.Helper()
	s, err := Load(studyDir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The numbers the report shows (front, pick, changes, bottleneck,
// convergence, importance) and its words are pinned.
func TestNumbersGolden(t *testing.T) {
	s := loadStudy(t)
	n := Compute(s)
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "numbers.json", append(b, '\n'))
	golden(t, "story.txt", []byte(strings.Join(Story(s, n), "\n\n")+"\n"))

	// The report agrees with the study's own pareto.json.
	var pf results.ParetoFile
	raw, _ := os.ReadFile(filepath.Join(studyDir, ParetoFile))
	if err := json.Unmarshal(raw, &pf); err != nil {
		t.Fatal(err)
	}
	if n.Recommended == nil || pf.Recommended == nil || *n.Recommended != *pf.Recommended {
		t.Errorf("recommended %v, pareto.json says %v", n.Recommended, pf.Recommended)
	}
	if fmt.Sprint(n.Front) != fmt.Sprint(pf.Front) {
		t.Errorf("front %v, pareto.json says %v", n.Front, pf.Front)
	}
	// Convergence never goes down and ends at the recommendation.
	last := n.Convergence[len(n.Convergence)-1]
	for i := 1; i < len(n.Convergence); i++ {
		if n.Convergence[i].BestTPS < n.Convergence[i-1].BestTPS || n.Convergence[i].ElapsedS < n.Convergence[i-1].ElapsedS {
			t.Errorf("convergence goes back at step %d: %+v", i, n.Convergence[i-1:i+1])
		}
	}
	if last.Best == nil || *last.Best != *n.Recommended {
		t.Errorf("convergence ends at %+v, recommended %d", last, *n.Recommended)
	}
	// A study on the model is timed as a cluster would take it: the
	// estimate study.json records, spread over its trials.
	if w := s.Meta.WallTime; w == nil || last.ElapsedS != w.SpentS {
		t.Errorf("convergence ends after %.0f s, study.json's wall time %+v", last.ElapsedS, w)
	}
}

// A study that is still writing its trials: the cut last line is skipped,
// the page says so, and without pareto.json the pick is made from the
// records.
func TestRunningStudy(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(studyDir, TrialsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	cut := strings.Join(lines[:7], "") + lines[7][:len(lines[7])/2]
	for name, data := range map[string]string{TrialsFile: cut} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{StudyFile, SpaceFile} {
		b, _ := os.ReadFile(filepath.Join(studyDir, f))
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path, err := WriteStudy(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Load(dir)
	if !s.Partial || len(s.Trials) != 7 {
		t.Errorf("partial %v with %d trials, want the 7 whole lines", s.Partial, len(s.Trials))
	}
	page, _ := os.ReadFile(path)
	if !bytes.Contains(page, []byte("covers the 7 trials finished so far")) {
		t.Error("the page does not say the study is still running")
	}

	// A cut line in the middle is corruption, not a study in progress.
	bad := strings.Join(lines[:3], "") + lines[3][:20] + "\n" + strings.Join(lines[4:], "")
	if err := os.WriteFile(filepath.Join(dir, TrialsFile), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "trials.jsonl:4:") {
		t.Errorf("a corrupt line 4: err %v, want one naming trials.jsonl:4", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no trials.jsonl") {
		t.Errorf("an empty folder: %v", err)
	}
}

// No trial meets the SLO: the page names the closest instead, and says so.
func TestNoRecommendation(t *testing.T) {
	s := loadStudy(t)
	s.SLO.P95 = 100 * time.Millisecond
	n := Compute(s)
	if n.Recommended != nil || n.Closest == nil {
		t.Fatalf("recommended %v, closest %v", n.Recommended, n.Closest)
	}
	story := strings.Join(Story(s, n), " ")
	if !strings.Contains(story, fmt.Sprintf("No trial meets the SLO (P95 ≤ 100ms, errors ≤ 1.0%%). The closest is trial #%d", *n.Closest)) {
		t.Errorf("story: %s", story)
	}
	var b bytes.Buffer
	if err := Render(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), fmt.Sprintf("closest: <b>#%d</b>", *n.Closest)) {
		t.Error("the page does not name the closest trial")
	}
}

// bigStudy is the fixture's trials repeated to n trials, numbered anew, a
// few failed and pruned.
func bigStudy(t testing.TB, n int) *Study {
	s, err := Load(studyDir)
	if err != nil {
		t.Fatal(err)
	}
	base := s.Trials
	s.Trials = nil
	for i := range n {
		tr := base[i%len(base)]
		tr.Number = i
		if i > 0 && tr.Origin == results.OriginBaseline {
			tr.Origin = results.OriginSampler
		}
		tr.Metrics.TPS *= 1 + float64(i%7)/100
		switch i % 23 {
		case 5:
			tr.State, tr.Error, tr.Metrics, tr.Utilisation = results.StateFailed, "rollout: api: OOMKilled", results.Metrics{}, nil
		case 9:
			tr.State = results.StatePruned
		}
		s.Trials = append(s.Trials, tr)
	}
	return s
}

// The size budget: a 40-trial report under 2 MB, 1,000 trials under 10 MB.
func TestReportSize(t *testing.T) {
	for _, c := range []struct {
		trials int
		limit  int
	}{{40, 2 << 20}, {1000, 10 << 20}} {
		var b bytes.Buffer
		if err := Render(&b, bigStudy(t, c.trials)); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d trials: %.2f MB", c.trials, float64(b.Len())/(1<<20))
		if b.Len() > c.limit {
			t.Errorf("%d trials: %d bytes, over %d", c.trials, b.Len(), c.limit)
		}
	}
}

// The page stands alone: nothing is loaded from elsewhere.
func TestSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, loadStudy(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{`src="http`, `href="http`, `src="//`, `<link `, `@import`} {
		if strings.Contains(page, bad) {
			t.Errorf("the page loads something from elsewhere: %s", bad)
		}
	}
}

// BenchmarkRender: the time to build a report page and its size (MB/op),
// for the README's 40-trial study and an overnight 1,000-trial one.
func BenchmarkRender(b *testing.B) {
	for _, n := range []int{40, 1000} {
		s := bigStudy(b, n)
		b.Run(fmt.Sprintf("trials=%d", n), func(b *testing.B) {
			var size int
			for b.Loop() {
				var buf bytes.Buffer
				if err := Render(&buf, s); err != nil {
					b.Fatal(err)
				}
				size = buf.Len()
			}
			b.ReportMetric(float64(size)/(1<<20), "MB/page")
		})
	}
}
