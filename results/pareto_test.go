package results

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func numbers(ts []Trial) []int {
	out := make([]int, len(ts))
	for i, t := range ts {
		out[i] = t.Number
	}
	return out
}

func TestFrontFixture(t *testing.T) {
	if got, want := numbers(Front(fixture())), []int{5, 6, 3, 7}; !reflect.DeepEqual(got, want) {
		t.Errorf("front %v, want %v", got, want)
	}
	if got := Front(nil); got == nil || len(got) != 0 {
		t.Errorf("front of nothing = %#v, want an empty slice", got)
	}
}

func TestFrontTies(t *testing.T) {
	pt := func(n int, tps, p95 float64) Trial {
		return Trial{Number: n, State: StateComplete, Metrics: Metrics{TPS: tps, P95: p95}}
	}
	tests := []struct {
		name   string
		trials []Trial
		want   []int
	}{
		{"identical points keep the lowest number", []Trial{pt(4, 10, 100), pt(2, 10, 100), pt(9, 10, 100)}, []int{2}},
		{"equal TPS keeps the lower P95", []Trial{pt(0, 10, 120), pt(1, 10, 100)}, []int{1}},
		{"equal P95 keeps the higher TPS", []Trial{pt(0, 9, 100), pt(1, 10, 100)}, []int{1}},
		{"a trade-off keeps both", []Trial{pt(0, 9, 90), pt(1, 10, 100)}, []int{1, 0}},
		{"failed and pruned trials are ignored", []Trial{
			pt(0, 5, 100), {Number: 1, State: StateFailed, Metrics: Metrics{TPS: 50, P95: 1}},
			{Number: 2, State: StatePruned, Metrics: Metrics{TPS: 50, P95: 1}},
		}, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := numbers(Front(tc.trials)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("front %v, want %v", got, tc.want)
			}
		})
	}
}

// randomTrials draws trials on a coarse grid so that ties in TPS, in P95 and
// in both are common.
func randomTrials(r *rand.Rand) []Trial {
	n := r.IntN(30)
	states := []State{StateComplete, StateComplete, StateComplete, StateFailed, StatePruned}
	ts := make([]Trial, n)
	for i, num := range r.Perm(n) {
		ts[i] = Trial{
			Number: num, State: states[r.IntN(len(states))],
			Metrics: Metrics{
				TPS: float64(r.IntN(8)) * 10, P95: float64(100 + r.IntN(8)*50), ErrorRate: float64(r.IntN(3)) / 100,
			},
		}
	}
	return ts
}

func TestFrontProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		trials := randomTrials(r)
		front := Front(trials)
		on := map[int]bool{}
		for i, f := range front {
			on[f.Number] = true
			if f.State != StateComplete {
				t.Fatalf("iter %d: %s trial %d on the front", iter, f.State, f.Number)
			}
			if i > 0 && !(f.Metrics.TPS < front[i-1].Metrics.TPS && f.Metrics.P95 < front[i-1].Metrics.P95) {
				t.Fatalf("iter %d: front not strictly descending in TPS and P95: %v", iter, front)
			}
		}
		for _, tr := range trials {
			if tr.State != StateComplete {
				continue
			}
			for _, f := range front {
				if Dominates(tr, f) {
					t.Fatalf("iter %d: front trial %d is dominated by trial %d", iter, f.Number, tr.Number)
				}
			}
			if on[tr.Number] {
				continue
			}
			covered := false
			for _, f := range front {
				same := f.Metrics.TPS == tr.Metrics.TPS && f.Metrics.P95 == tr.Metrics.P95
				if Dominates(f, tr) || (same && f.Number < tr.Number) {
					covered = true
				}
			}
			if !covered {
				t.Fatalf("iter %d: trial %d is neither on the front nor dominated by it", iter, tr.Number)
			}
		}
		shuffled := append([]Trial(nil), trials...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if a, b := numbers(front), numbers(Front(shuffled)); !reflect.DeepEqual(a, b) {
			t.Fatalf("iter %d: shuffling changed the front: %v vs %v", iter, a, b)
		}
	}
}

func TestPickProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := range 2000 {
		trials := randomTrials(r)
		slo := SLO{P95: time.Duration(100+r.IntN(8)*50) * time.Millisecond, MaxErrorRate: 0.01}
		var feasible []Trial
		for _, tr := range trials {
			if slo.Meets(tr) {
				feasible = append(feasible, tr)
			}
		}
		for _, mode := range Modes() {
			got, ok := Pick(trials, mode, slo)
			if ok != (len(feasible) > 0) {
				t.Fatalf("iter %d %s: ok=%v with %d feasible", iter, mode, ok, len(feasible))
			}
			if !ok {
				continue
			}
			if !slo.Meets(got) {
				t.Fatalf("iter %d %s: pick %d does not meet the SLO", iter, mode, got.Number)
			}
			best, _ := Pick(trials, ModeMaxTPS, slo)
			switch mode {
			case ModeMaxTPS:
				for _, f := range feasible {
					if f.Metrics.TPS > got.Metrics.TPS {
						t.Fatalf("iter %d: trial %d beats the max-tps pick", iter, f.Number)
					}
				}
			case ModeKnee:
				ff := Front(feasible)
				if !containsNumber(ff, got.Number) {
					t.Fatalf("iter %d: knee %d is not on the feasible front %v", iter, got.Number, numbers(ff))
				}
				if len(ff) <= 2 && got.Number != best.Number {
					t.Fatalf("iter %d: knee of a %d-point front is %d, want max-tps %d", iter, len(ff), got.Number, best.Number)
				}
			case ModeMinP95:
				if got.Metrics.TPS < MinP95Share*best.Metrics.TPS {
					t.Fatalf("iter %d: min-p95 pick TPS %v below %v of %v", iter, got.Metrics.TPS, MinP95Share, best.Metrics.TPS)
				}
				if got.Metrics.P95 > best.Metrics.P95 {
					t.Fatalf("iter %d: min-p95 pick is slower than max-tps", iter)
				}
			}
		}
	}
}

func containsNumber(ts []Trial, n int) bool {
	for _, t := range ts {
		if t.Number == n {
			return true
		}
	}
	return false
}

func TestPick(t *testing.T) {
	pt := func(n int, tps, p95, errRate float64) Trial {
		return Trial{Number: n, State: StateComplete, Metrics: Metrics{TPS: tps, P95: p95, ErrorRate: errRate}}
	}
	ms := time.Millisecond
	convex := []Trial{pt(0, 100, 1000, 0), pt(1, 95, 400, 0), pt(2, 60, 300, 0), pt(3, 20, 200, 0)}
	tests := []struct {
		name   string
		trials []Trial
		mode   Mode
		slo    SLO
		want   int // -1: none
	}{
		{"max-tps fixture", fixture(), ModeMaxTPS, SLO{1300 * ms, 0.01}, 5},
		{"knee fixture", fixture(), ModeKnee, SLO{1300 * ms, 0.01}, 6},
		{"min-p95 fixture", fixture(), ModeMinP95, SLO{1300 * ms, 0.01}, 3},
		{"tight SLO leaves trial 3 and its twin 8", fixture(), ModeMaxTPS, SLO{1000 * ms, 0.01}, 3},
		{"no latency limit", fixture(), ModeMaxTPS, SLO{0, 0.1}, 5},
		{"error rate excludes trial 6", fixture(), ModeKnee, SLO{1300 * ms, 0}, 3},
		{"nothing meets the SLO", fixture(), ModeMaxTPS, SLO{100 * ms, 0.01}, -1},
		{"failed trials never count", []Trial{{Number: 0, State: StateFailed}}, ModeMaxTPS, SLO{0, 1}, -1},
		{"SLO bound is inclusive", []Trial{pt(0, 10, 500, 0.01)}, ModeMaxTPS, SLO{500 * ms, 0.01}, 0},
		{"max-tps tie goes to lower P95", []Trial{pt(0, 10, 500, 0), pt(1, 10, 400, 0)}, ModeMaxTPS, SLO{0, 1}, 1},
		{"max-tps full tie goes to lower number", []Trial{pt(3, 10, 400, 0), pt(1, 10, 400, 0)}, ModeMaxTPS, SLO{0, 1}, 1},
		{"knee of a convex front", convex, ModeKnee, SLO{0, 1}, 1},
		{"knee with two points is max-tps", convex[:2], ModeKnee, SLO{0, 1}, 0},
		{"knee of a straight front is max-tps", []Trial{pt(0, 30, 300, 0), pt(1, 20, 200, 0), pt(2, 10, 100, 0)}, ModeKnee, SLO{0, 1}, 0},
		{"knee of a concave front is max-tps", []Trial{pt(0, 30, 300, 0), pt(1, 12, 200, 0), pt(2, 10, 100, 0)}, ModeKnee, SLO{0, 1}, 0},
		{"min-p95 keeps 90% of max TPS", convex, ModeMinP95, SLO{0, 1}, 1},
		{"min-p95 at exactly 90%", []Trial{pt(0, 100, 900, 0), pt(1, 90, 500, 0)}, ModeMinP95, SLO{0, 1}, 1},
		{"unknown mode", fixture(), "fastest", SLO{0, 1}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Pick(tc.trials, tc.mode, tc.slo)
			if tc.want < 0 {
				if ok {
					t.Errorf("picked trial %d, want none", got.Number)
				}
				return
			}
			if !ok || got.Number != tc.want {
				t.Errorf("picked %d (ok=%v), want %d", got.Number, ok, tc.want)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes() {
		got, err := ParseMode(string(m))
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	_, err := ParseMode("max_tps")
	if err == nil || !strings.Contains(err.Error(), `"max_tps"`) || !strings.Contains(err.Error(), "max-tps, knee, min-p95") {
		t.Errorf("error %v should name the input and list the modes", err)
	}
	var m Mode
	if err := m.Set("knee"); err != nil || m != ModeKnee {
		t.Errorf("Set: %q, %v", m, err)
	}
}

func TestSLOJSON(t *testing.T) {
	for _, slo := range []SLO{{812 * time.Millisecond, 0.01}, {0, 0}, {1500 * time.Microsecond, 1}} {
		b, err := json.Marshal(slo)
		if err != nil {
			t.Fatal(err)
		}
		var got SLO
		if err := json.Unmarshal(b, &got); err != nil || got != slo {
			t.Errorf("%s read back as %+v, %v; want %+v", b, got, err, slo)
		}
	}
	b, _ := json.Marshal(SLO{})
	if string(b) != `{"p95_ms":null,"max_error_rate":0}` {
		t.Errorf("no latency limit encodes as %s", b)
	}
}

func TestWriteParetoGolden(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		slo  SLO
		mode Mode
	}{
		{"pareto-knee.golden.json", SLO{1300 * time.Millisecond, 0.01}, ModeKnee},
		{"pareto-none.golden.json", SLO{100 * time.Millisecond, 0.01}, ModeMaxTPS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := WritePareto(path, NewParetoFile(fixture(), tc.mode, tc.slo)); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b)
		})
	}
	// No complete trial: an empty front, not null.
	path := filepath.Join(dir, "empty.json")
	if err := WritePareto(path, ParetoFile{Pick: ModeMaxTPS}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"front": []`) || !strings.Contains(string(b), `"recommended": null`) {
		t.Errorf("empty pareto.json:\n%s", b)
	}
}

func ExamplePick() {
	slo := SLO{P95: 1300 * time.Millisecond, MaxErrorRate: 0.01}
	for _, mode := range Modes() {
		t, _ := Pick(fixture(), mode, slo)
		fmt.Printf("%-8s trial %d: TPS %.1f, P95 %.0f ms\n", mode, t.Number, t.Metrics.TPS, t.Metrics.P95)
	}
	// Output:
	// max-tps  trial 5: TPS 131.2, P95 1250 ms
	// knee     trial 6: TPS 128.4, P95 1020 ms
	// min-p95  trial 3: TPS 124.7, P95 980 ms
}
