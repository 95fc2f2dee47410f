package search

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

func loadSeed(t testing.TB) *spaces.Space {
	t.Helper()
	sp, err := spaces.Load("../spaces/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// totalCPU is replicas × cores of svc in c.
func totalCPU(c spaces.Config, svc string) float64 {
	return toFloat(c[svc+".replicas"]) * toFloat(c[svc+".cpu"])
}

// TestGuideMovesIdleCoresToTheBottleneck is the seed engineer's first step:
// the api is saturated and the model servers idle, so the first proposal
// takes the idle services to their minimum and gives the api their cores;
// PostgreSQL, which will serve the api's extra requests, keeps cores in
// proportion to what it used.
func TestGuideMovesIdleCoresToTheBottleneck(t *testing.T) {
	sp := loadSeed(t)
	b := budget(t, "8c16g")
	g := newGuide(sp, b, sp.Objective, 1)
	base := sp.Baseline()
	inc := results.Trial{
		State: results.StateComplete, Params: base,
		Utilisation: map[string]float64{"api": 0.97, "postgresql": 0.3, "redis": 0.05, "worker": 0.04,
			"xinference": 0, "ollama": 0, "weaviate": 0, "pluginDaemon": 0},
	}
	c := g.propose(inc, []results.Trial{inc})
	if c == nil {
		t.Fatal("no proposal")
	}
	if !g.fits(c) {
		t.Fatalf("proposal over budget: %v", c)
	}
	for _, s := range sp.Services {
		if inc.Utilisation[s.Name] == 0 && toFloat(c[s.Name+".cpu"]) != s.CPU.Min.Cores() {
			t.Errorf("%s is idle but keeps %.2f cores, want its minimum %.2f", s.Name, toFloat(c[s.Name+".cpu"]), s.CPU.Min.Cores())
		}
	}
	if got, was := totalCPU(c, "api"), totalCPU(base, "api"); got < was+2 {
		t.Errorf("api has %.2f cores, want at least 2 more than its %.2f", got, was)
	}
	// Used: api 0.97 core (saturated: counted at saturatedDemand times),
	// postgresql 0.3; the proposal's cores in that ratio, within a step of
	// PostgreSQL's CPU grid (250m).
	want := totalCPU(c, "api") * 0.3 / (0.97 * saturatedDemand)
	if pg := totalCPU(c, "postgresql"); math.Abs(pg-want) > 0.25+1e-9 {
		t.Errorf("postgresql has %.2f cores for the api's %.2f, want %.2f±0.25: its share of the use", pg, totalCPU(c, "api"), want)
	}
}

// TestGuideNeverRepeats: every proposal around one leader is new and fits.
func TestGuideNeverRepeats(t *testing.T) {
	sp := loadSeed(t)
	b := budget(t, "16c32g")
	g := newGuide(sp, b, sp.Objective, 2)
	inc := results.Trial{State: results.StateComplete, Params: sp.Baseline(),
		Utilisation: map[string]float64{"api": 0.9, "postgresql": 0.8, "weaviate": 0.1}}
	tried := []results.Trial{inc}
	for i := 0; i < 30; i++ {
		c := g.propose(inc, tried)
		if c == nil {
			break
		}
		if triedBefore(c, tried) {
			t.Fatalf("proposal %d repeats a tried configuration", i)
		}
		if !g.fits(c) {
			t.Fatalf("proposal %d over budget", i)
		}
		tried = append(tried, results.Trial{Params: c})
	}
	if len(tried) < 10 {
		t.Errorf("only %d proposals around one leader, want at least 10", len(tried)-1)
	}
}

// TestGuidedStudyClimbs: on the case study's space at 8c16g the guided
// sampler finds, within 12 trials, a feasible split with twice the
// baseline's TPS (the seed's engineer needed six rounds for 2.6×).
func TestGuidedStudyClimbs(t *testing.T) {
	sp := loadSeed(t)
	w := sp.Load
	w.Duration = 30 * time.Second
	s := &Study{Space: sp, Budget: budget(t, "8c16g"), Workload: w, Objective: sp.Objective,
		Sampler: "guided", Trials: 12, Seed: 1, Baseline: true, Evaluator: sim.New(1), Store: &MemoryStore{}}
	var best *results.Trial
	s.OnTrial = func(_ results.Trial, b *results.Trial) { best = b }
	ts, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if best == nil || best.Metrics.TPS < 2*ts[0].Metrics.TPS {
		t.Fatalf("best %v after 12 trials, want feasible and twice the baseline's %.1f TPS", best, ts[0].Metrics.TPS)
	}
}
