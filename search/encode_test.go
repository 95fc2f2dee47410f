package search

import (
	"math/rand"
	"reflect"
	"testing"

	"github.com/c-bata/goptuna"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

func loadDefault(t testing.TB) *spaces.Space {
	t.Helper()
	sp, err := spaces.Load("../spaces/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func budget(t testing.TB, s string) spaces.Budget {
	t.Helper()
	b, err := spaces.ParseBudget(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randomRaw draws every dimension uniformly, as a sampler might.
func randomRaw(rng *rand.Rand, e *Encoding) map[string]float64 {
	raw := map[string]float64{}
	for _, d := range e.dims {
		switch dist := d.dist.(type) {
		case goptuna.UniformDistribution:
			raw[d.name] = dist.Low + rng.Float64()*(dist.High-dist.Low)
		case goptuna.CategoricalDistribution:
			raw[d.name] = float64(rng.Intn(len(dist.Choices)))
		default:
			t := reflect.TypeOf(dist)
			panic("unexpected distribution " + t.String())
		}
	}
	return raw
}

// Property: whatever the sampler proposes, the projection fits the budget,
// including node packing and dedicated placement.
func TestDecodeAlwaysFeasible(t *testing.T) {
	sp := loadDefault(t)
	for _, b := range []string{"8c16g", "16c32g", "24c48g", "2x8c16g", "4x4c8g", "6.5c13.5g"} {
		for _, unit := range []bool{false, true} {
			bud := budget(t, b)
			if err := sp.Validate(&bud); err != nil {
				t.Logf("%s: space does not fit, skipped: %v", b, err)
				continue
			}
			e := NewEncoding(sp, bud, unit)
			rng := rand.New(rand.NewSource(7))
			for i := 0; i < 400; i++ {
				raw := randomRaw(rng, e)
				cfg, sys, err := e.Decode(raw)
				if err != nil {
					t.Fatalf("%s: decode %v: %v", b, raw, err)
				}
				if err := sp.Check(sys); err != nil {
					t.Fatalf("%s: decoded config does not fit: %v\n%v", b, err, cfg)
				}
				if u := sp.Usage(sys); !u.Fits(bud.Total) {
					t.Fatalf("%s: usage %v over budget", b, u)
				}
			}
		}
	}
}

// The projection spends the budget: a sampler asking for everything gets a
// configuration that uses most of the CPU, not one stuck at the minimum.
func TestDecodeUsesBudget(t *testing.T) {
	sp := loadDefault(t)
	bud := budget(t, "16c32g")
	e := NewEncoding(sp, bud, false)
	raw := map[string]float64{}
	for _, d := range e.dims {
		switch dist := d.dist.(type) {
		case goptuna.UniformDistribution:
			raw[d.name] = dist.High
			if d.levels != nil {
				raw[d.name] = 0 // the fewest replicas, the least of each int
			}
		}
	}
	_, sys, err := e.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	u := sp.Usage(sys)
	if got := u.CPU.Cores(); got < 15 {
		t.Errorf("asking for the maximum of every service used %.2f of 16 CPU", got)
	}
}

// Encode is Decode's inverse on feasible configurations, so the baseline and
// presets teach the sampler the points they really are.
func TestEncodeRoundTrip(t *testing.T) {
	sp := loadDefault(t)
	bud := budget(t, "8c16g")
	e := NewEncoding(sp, bud, false)
	base := sp.Baseline()
	got, _, err := e.Decode(e.Encode(base))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, base) {
		t.Errorf("Decode(Encode(baseline)) =\n%v\nwant\n%v", got, base)
	}
}

// A local move changes one to three dimensions of the incumbent and lands on
// a feasible configuration no trial has tried.
func TestMoverProposesNearbyNewConfigs(t *testing.T) {
	sp := loadDefault(t)
	bud := budget(t, "16c32g")
	e := NewEncoding(sp, bud, false)
	mv := newMover(e, 1)
	inc := results.Trial{Params: sp.Baseline()}
	base := e.Encode(inc.Params)
	tried := []results.Trial{inc}
	for i := 0; i < 50; i++ {
		raw := mv.propose(inc, tried)
		if raw == nil {
			t.Fatal("no move found around the baseline")
		}
		changed := 0
		for k, v := range raw {
			if v != base[k] {
				changed++
			}
		}
		if changed < 1 || changed > 3 {
			t.Errorf("move changed %d dimensions, want 1..3", changed)
		}
		cfg, sys, err := e.Decode(raw)
		if err != nil || sp.Check(sys) != nil {
			t.Fatalf("move decodes to an infeasible config: %v", err)
		}
		if triedBefore(cfg, tried) {
			t.Fatal("move proposed a configuration already tried")
		}
		tried = append(tried, results.Trial{Params: cfg})
	}
}
