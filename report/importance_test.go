package report

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tune-dify/tune/results"
)

// knownStudy is a study with a known answer: "drives" sets TPS (10 per
// step, plus noise), "nothing" and "choice" do nothing.
func knownStudy(n int, seed uint64) []results.Trial {
	rng := rand.New(rand.NewPCG(seed, 7))
	var trials []results.Trial
	for i := range n {
		drives := int64(1 + rng.IntN(8))
		trials = append(trials, results.Trial{
			Number: i, State: results.StateComplete,
			Params:  map[string]any{"drives": drives, "nothing": rng.Float64(), "choice": []string{"a", "b", "c"}[rng.IntN(3)], "fixed": int64(1)},
			Metrics: results.Metrics{TPS: 10*float64(drives) + rng.NormFloat64()*2},
		})
	}
	// Failed trials carry no TPS and must not count.
	trials = append(trials, results.Trial{Number: n, State: results.StateFailed, Params: map[string]any{"drives": int64(8)}})
	return trials
}

func TestImportanceKnownAnswer(t *testing.T) {
	params := []string{"nothing", "choice", "drives", "fixed"}
	got := Importances(knownStudy(60, 1), params)
	b, _ := json.MarshalIndent(got, "", "  ")
	golden(t, "importance-known.json", append(b, '\n'))
	if got[0].Param != "drives" || got[0].Share < 0.9 || !got[0].Significant() {
		t.Errorf("drives should explain most of TPS: %+v", got[0])
	}
	for _, im := range got[1:] {
		if im.Share > 0.1 || im.Significant() {
			t.Errorf("%s does nothing but scores %+v", im.Param, im)
		}
		if im.Param == "fixed" && (im.Groups != 1 || im.Share != 0) {
			t.Errorf("a parameter that never varies: %+v", im)
		}
	}
	// Across seeds the answer holds: the driver first and clearly so; with
	// 40 trials a parameter that does nothing can reach ε² 0.15 by chance
	// (p ≈ 0.07), never the driver's share.
	for seed := uint64(2); seed < 12; seed++ {
		got := Importances(knownStudy(40, seed), params)
		if got[0].Param != "drives" || got[0].Share < 0.9 || got[0].P > 0.01 || got[1].Share > 0.25 {
			t.Errorf("seed %d: %+v", seed, got)
		}
	}
	if Importances(knownStudy(3, 1), params) != nil {
		t.Error("three trials give an importance")
	}
}

// Equal values never straddle two bins, and bins are of about equal count.
func TestGroupsOf(t *testing.T) {
	var trials []results.Trial
	for i, v := range []float64{1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10} {
		trials = append(trials, results.Trial{Number: i, Params: map[string]any{"x": v}})
	}
	g := groupsOf(trials, "x", 3)
	if g[0] != g[1] || g[1] != g[2] {
		t.Errorf("equal values in different bins: %v", g)
	}
	if countGroups(g) != 3 {
		t.Errorf("%d groups, want 3: %v", countGroups(g), g)
	}
}

// The Benjamini–Hochberg q-values on a textbook case: p ascending
// 0.01, 0.02, 0.03, 0.04, 0.5 over five tests give q 0.05, 0.05, 0.05,
// 0.05, 0.5; a parameter that never varied is not a test.
func TestAdjust(t *testing.T) {
	ims := []Importance{{Param: "e", P: 0.5, Groups: 2}, {Param: "a", P: 0.01, Groups: 3}, {Param: "c", P: 0.03, Groups: 2},
		{Param: "b", P: 0.02, Groups: 2}, {Param: "d", P: 0.04, Groups: 2}, {Param: "fixed", P: 1, Groups: 1}}
	adjust(ims)
	want := map[string]float64{"a": 0.05, "b": 0.05, "c": 0.05, "d": 0.05, "e": 0.5, "fixed": 1}
	for _, im := range ims {
		if math.Abs(im.Q-want[im.Param]) > 1e-12 {
			t.Errorf("%s: q %v, want %v", im.Param, im.Q, want[im.Param])
		}
	}
}
