package sim

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// todaySpace is spaces/default.yaml: Dify 1.14.2 on the community chart.
func todaySpace(t testing.TB) *spaces.Space { return repoSpace(t, "default.yaml") }

// eePreset resolves spaces/presets/<id>.yaml on today's space, completed
// from the space's current values as tune eval completes it.
func eePreset(t testing.TB, id string) spaces.System {
	t.Helper()
	return presetOn(t, todaySpace(t), id, eeBudget, true)
}

const eeBudget = "16c32g"

// eeRows is the report's table. users is the load chosen for each row
// (MODEL.md says how).
var eeRows = []struct {
	id                 string
	events, ttfeP50    float64 // SSE events/s, TTFE p50 ms
	active             float64
	users              int
	emptyQPS, emptyDur float64
	emptyUsers         int
	emptyBound         bool // the 2- and 3-pod rows stop at the client's ~40 QPS
}{
	{"ee-a1w1", 9.5, 1414.5, 1.1, 9, 23.96, 176.5, 4, false},
	{"ee-a1w2", 22.26, 513, 7.7, 8, 21.95, 154.2, 3, false},
	{"ee-a2w2", 28.41, 315, 16.3, 17, 39.93, 127.1, 5, true},
	{"ee-a2w3", 46.06, 289, 15.3, 16, 39.96, 119.6, 5, true},
	{"ee-a3w3", 45.44, 306, 17.3, 18, 39.97, 100.8, 4, true},
}

// eeLoad is the report's load with users users: default.yaml's load with
// spaces/loads/ee-benchmark.yaml over it, as
// "tune eval --load spaces/loads/ee-benchmark.yaml --users N" runs it.
func eeLoad(t testing.TB, scenario string, users int) spaces.Workload {
	t.Helper()
	w, err := spaces.LoadOverlayFile(todaySpace(t).Load, filepath.Join("..", "..", "spaces", "loads", "ee-benchmark.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w.Scenario, w.Users = scenario, users
	return w
}

// eeRun runs w on sys and returns the measurement and the TTFB p50 (ms).
func eeRun(t testing.TB, sys spaces.System, w spaces.Workload) (results.Measurement, float64) {
	t.Helper()
	r, err := newRun(1, sys, w, DefaultConstants())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.loop(t.Context()); err != nil {
		t.Fatal(err)
	}
	return r.measurement(), float64(r.ttfb.ValueAtQuantile(50)) / 1000
}

// TestCalibrationTableEE runs the Enterprise benchmark's five rows on
// today's topology and prints the model beside the benchmark; with -update
// (make calibrate) it rewrites the table in MODEL.md. It holds the model to
// what a work-conserving model can reproduce of the report (MODEL.md shows
// why the first two ratios are out of reach): the worker 2→3 and api 2→3
// ratios within ±15%, the 1-pod empty-workflow QPS of ee-a1w1 within ±15%
// and TTFE p50 within ±30% where the worker pool is not queueing.
func TestCalibrationTableEE(t *testing.T) {
	var tab bytes.Buffer
	fmt.Fprintln(&tab, "| id | users | SSE events/s bench | model | ratio to previous row: bench | model | TTFE p50 ms: bench | model | empty-workflow QPS: bench | model | busiest (llm) |")
	fmt.Fprintln(&tab, "|---|---|---|---|---|---|---|---|---|---|---|")
	events := float64(eventsPerStream(workerScenarios["llm"], eeLoad(t, "llm", 1).LLM))
	var prevB, prevM float64
	for _, row := range eeRows {
		sys := eePreset(t, row.id)
		m, ttfe := eeRun(t, sys, eeLoad(t, "llm", row.users))
		empty, _ := eeRun(t, sys, eeLoad(t, "chatflow", row.emptyUsers))
		ev := m.Metrics.TPS * events
		ratio := "—"
		if prevB > 0 {
			rb, rm := row.events/prevB, ev/prevM
			ratio = fmt.Sprintf("×%.2f | ×%.2f", rb, rm)
			checked := row.id == "ee-a2w3" || row.id == "ee-a3w3"
			if d := rm/rb - 1; checked && math.Abs(d) > 0.15 {
				t.Errorf("%s: events/s ratio ×%.2f, benchmark ×%.2f (%+.0f%%)", row.id, rm, rb, 100*d)
			}
		} else {
			ratio = "— | —"
		}
		prevB, prevM = row.events, ev
		if d := ttfe/row.ttfeP50 - 1; (row.id == "ee-a2w3" || row.id == "ee-a3w3") && math.Abs(d) > 0.30 {
			t.Errorf("%s: TTFE p50 %.0f ms, benchmark %.0f (%+.0f%%)", row.id, ttfe, row.ttfeP50, 100*d)
		}
		emptyB := fmt.Sprintf("%.1f", row.emptyQPS)
		if row.emptyBound {
			emptyB = "≥ " + emptyB
		} else if d := empty.Metrics.TPS/row.emptyQPS - 1; math.Abs(d) > 0.15 {
			t.Errorf("%s: empty-workflow %.1f QPS, benchmark %.1f (%+.0f%%)", row.id, empty.Metrics.TPS, row.emptyQPS, 100*d)
		}
		fmt.Fprintf(&tab, "| %s | %d | %.2f | %.2f | %s | %.0f | %.0f | %s | %.1f | %s |\n", row.id, row.users,
			row.events, ev, ratio, row.ttfeP50, ttfe, emptyB, empty.Metrics.TPS, busiest(m.Utilisation))
	}
	t.Log("\n" + tab.String())
	if *update {
		if err := rewriteBetween("MODEL.md", "<!-- ee:begin -->", "<!-- ee:end -->", tab.String()); err != nil {
			t.Fatal(err)
		}
	}
}

// eventsPerStream counts the events a scenario's run publishes with llm's
// answer length: what the benchmark's client counts per stream.
func eventsPerStream(sc scenario, llm spaces.LLM) int {
	n := 0
	for _, s := range sc.steps {
		switch s.kind {
		case stPublish:
			n += s.n
		case stLLM:
			n += llm.AnswerTokens
		}
	}
	return n
}

// BenchmarkTrialToday is one trial of today's topology: the llm scenario,
// 18 users streaming the benchmark's mock answer for 3 minutes at ee-a3w3.
func BenchmarkTrialToday(b *testing.B) {
	sys := eePreset(b, "ee-a3w3")
	w := eeLoad(b, "llm", 18)
	m := New(1)
	var completed int
	for b.Loop() {
		r, err := m.Evaluate(b.Context(), sys, w)
		if err != nil {
			b.Fatal(err)
		}
		completed = r.Completed
	}
	b.ReportMetric(float64(completed), "requests/trial")
}
