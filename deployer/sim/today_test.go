package sim

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// TestReadsForIsExact: every setting and service build reads is declared by
// ReadsFor, and everything ReadsFor declares is read, for both topologies
// and every scenario.
func TestReadsForIsExact(t *testing.T) {
	for _, c := range []struct {
		name string
		sp   *spaces.Space
		sys  spaces.System
	}{
		{"seed (1.12)", defaultSpace(t), preset(t, "s8-final", "8c16g")},
		{"today (1.14.2)", todaySpace(t), eePreset(t, "ee-a2w3")},
		{"default.yaml (chart 0.37.0)", chartSpace(t), chartSystem(t, map[string]any{"pgbouncer.enabled": true})},
		{"default.yaml, pgbouncer off", chartSpace(t), chartSystem(t, nil)},
	} {
		want := ReadsFor(c.sp)
		declared := map[string]bool{}
		for _, n := range append(slices.Clone(want.Services), want.Settings...) {
			declared[n] = true
		}
		for _, sc := range spaces.Scenarios {
			rd := &reader{sys: c.sys, read: map[string]bool{}}
			if _, _, _, err := build(1, c.sys, spaces.Workload{Scenario: sc}, DefaultConstants(), rd); err != nil {
				t.Fatalf("%s %s: %v", c.name, sc, err)
			}
			for n := range rd.read {
				if !declared[n] {
					t.Errorf("%s %s: build reads %q, ReadsFor does not declare it", c.name, sc, n)
				}
			}
			for n := range declared {
				if !rd.read[n] {
					t.Errorf("%s %s: ReadsFor declares %q, build never reads it", c.name, sc, n)
				}
			}
		}
		t.Logf("%s: services %v; settings %v", c.name, want.Services, want.Settings)
	}
	// A space without the model servers has none in the model.
	if r := ReadsFor(todaySpace(t)); slices.Contains(r.Services, "xinference") || slices.Contains(r.Services, "ollama") {
		t.Errorf("today's space has no model servers, ReadsFor lists %v", r.Services)
	}
}

// chartSpace is spaces/default.yaml, the community chart as it deploys.
func chartSpace(t testing.TB) *spaces.Space {
	t.Helper()
	s, err := spaces.Load(filepath.Join("..", "..", "spaces", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// chartSystem is default.yaml's baseline with some values changed.
func chartSystem(t testing.TB, change spaces.Config) spaces.System {
	t.Helper()
	s := chartSpace(t)
	b, _ := spaces.ParseBudget("16c32g")
	c := spaces.Config{}
	maps.Copy(c, change)
	sys, err := s.Resolve(b, s.Complete(c))
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

// todayLLM is 100 users of the llm scenario on the hosted default model.
func todayLLM() spaces.Workload {
	return spaces.Workload{Scenario: "llm", Users: 100, SpawnRate: 20, Duration: time.Minute,
		ThinkMin: 200 * time.Millisecond, ThinkMax: 800 * time.Millisecond}
}

func todayAt(t *testing.T, apiPods, workers, concurrency int, settings map[string]any) spaces.System {
	t.Helper()
	s := map[string]any{"worker.concurrency": int64(concurrency)}
	maps.Copy(s, settings)
	return with(eePreset(t, "ee-a1w1"), s, map[string]spaces.Alloc{
		"api": api(apiPods, 1, 2048), "worker": api(workers, 1, 2048)})
}

// On today's topology the Celery workers run the graph: more of them raise
// streaming throughput until another station (here one api pod's greenlets
// and CPU) saturates; then more workers add nothing.
func TestWorkersRaiseStreamingUntilAnotherStationSaturates(t *testing.T) {
	var tps []float64
	var last string
	for _, w := range []int{1, 2, 4, 16, 24} {
		m := evalToday(t, todayAt(t, 1, w, 2, map[string]any{"api.workerConnections": int64(40)}), "llm")
		tps = append(tps, m.Metrics.TPS)
		last = busiest(m.Utilisation)
		t.Logf("%2d workers: %.1f TPS, P95 %.0f ms, %s", w, m.Metrics.TPS, m.Metrics.P95, last)
	}
	if tps[1] < 1.8*tps[0] || tps[2] < 1.8*tps[1] {
		t.Errorf("1 → 2 → 4 slot-bound workers should nearly double each: %.1f", tps)
	}
	if tps[4] > 1.1*tps[3] {
		t.Errorf("16 → 24 workers past the api's saturation still gained: %.1f", tps)
	}
}

// evalToday runs scenario with todayLLM's load.
func evalToday(t testing.TB, sys spaces.System, scenario string) results.Measurement {
	t.Helper()
	w := todayLLM()
	w.Scenario = scenario
	m, err := New(1).Evaluate(t.Context(), sys, w)
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	return m
}

// Adding api pods does nothing when the workers are the bottleneck.
func TestAPIPodsDoNotHelpWhenWorkersAreTheBottleneck(t *testing.T) {
	one := evalToday(t, todayAt(t, 1, 1, 4, nil), "llm")
	three := evalToday(t, todayAt(t, 3, 1, 4, nil), "llm")
	t.Logf("1 worker × 4 slots: 1 api pod %.1f TPS (%s), 3 api pods %.1f TPS", one.Metrics.TPS, busiest(one.Utilisation), three.Metrics.TPS)
	if d := three.Metrics.TPS/one.Metrics.TPS - 1; d > 0.05 || d < -0.05 {
		t.Errorf("3 api pods changed worker-bound throughput by %+.0f%%", 100*d)
	}
}

// Each new knob has a mechanism: changing only it moves what it should.
func TestKnobMechanisms(t *testing.T) {
	base := todayAt(t, 2, 4, 8, map[string]any{"api.workerConnections": int64(40)})
	b := evalToday(t, base, "llm")
	for _, c := range []struct {
		name  string
		sys   spaces.System
		check func(m results.Measurement) error
	}{
		// Streams hold their api greenlet for the whole generation:
		// SERVER_WORKER_CONNECTIONS caps the streams one process relays.
		{"api.workerConnections 40 → 5", with(base, map[string]any{"api.workerConnections": int64(5)}, nil),
			func(m results.Measurement) error { return rises(m, b, 1.5) }},
		// Each Celery pool slot holds one run for the whole generation.
		{"worker.concurrency 8 → 2", with(base, map[string]any{"worker.concurrency": int64(2)}, nil),
			func(m results.Measurement) error { return rises(m, b, 1.3) }},
		// Past pool_size, overflow connections are opened per checkout and
		// closed on return; with none, callers queue for the pool.
		{"api.dbPoolSize 1, api.dbMaxOverflow 10 → 0", with(base, map[string]any{"api.dbPoolSize": int64(1), "api.dbMaxOverflow": int64(0), "api.workerConnections": int64(40)}, nil),
			func(m results.Measurement) error {
				o := evalToday(t, with(base, map[string]any{"api.dbPoolSize": int64(1), "api.workerConnections": int64(40)}, nil), "llm")
				if m.Metrics.P50 <= o.Metrics.P50 && m.Metrics.TPS >= o.Metrics.TPS {
					return fmt.Errorf("no overflow: P50 %.0f ms, %.1f TPS; overflow 10: P50 %.0f ms, %.1f TPS", m.Metrics.P50, m.Metrics.TPS, o.Metrics.P50, o.Metrics.TPS)
				}
				return nil
			}},
		// max_connections refuses backends beyond it.
		{"postgresql.maxConnections 100 → 12", with(base, map[string]any{"postgresql.maxConnections": int64(12), "api.workerConnections": int64(40)}, nil),
			func(m results.Measurement) error {
				if m.Errors["db_too_many_connections"] == 0 {
					return fmt.Errorf("no connection refused: %v", m.Errors)
				}
				return nil
			}},
		// Redis is the broker and carries every event: a starved Redis
		// slows the streams.
		{"redis 1 → 0.05 CPU", with(base, nil, map[string]spaces.Alloc{"redis": api(1, 0.05, 1024)}),
			func(m results.Measurement) error { return rises(m, b, 1.2) }},
	} {
		m := evalToday(t, c.sys, "llm")
		t.Logf("%s: %.1f TPS (base %.1f), P50 %.0f ms, errors %v, %s", c.name, m.Metrics.TPS, b.Metrics.TPS, m.Metrics.P50, m.Errors, busiest(m.Utilisation))
		if err := c.check(m); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// rises checks that hi's TPS is at least factor × lo's.
func rises(lo, hi results.Measurement, factor float64) error {
	if hi.Metrics.TPS < factor*lo.Metrics.TPS {
		return fmt.Errorf("%.1f TPS, want ≥ %.1f × %.1f", hi.Metrics.TPS, factor, lo.Metrics.TPS)
	}
	return nil
}

// TestNoCliff: 1–8 gunicorn workers in a 1–4 CPU pod give a smooth curve:
// more workers than cores cost throttling, context switches and memory,
// never a collapse (no step loses more than 15%, nothing falls below 80% of
// the best so far; before, a 4-CPU pod went 91 → 37.5 TPS from 4 to 8
// workers).
func TestNoCliff(t *testing.T) {
	base := preset(t, "s16-pgbouncer", "16c32g")
	for _, cores := range []float64{1, 2, 3, 4} {
		var row []float64
		best := 0.0
		for w := 1; w <= 8; w++ {
			sys := with(base, map[string]any{"api.workers": int64(w)}, map[string]spaces.Alloc{
				"api": api(1, cores, 1024+512*w), "postgresql": api(1, 4, 4096)})
			tps := eval(t, sys, "chatflow").Metrics.TPS
			if n := len(row); n > 0 && tps < 0.85*row[n-1] {
				t.Errorf("%g CPU: %d → %d workers fell from %.1f to %.1f TPS", cores, w-1, w, row[n-1], tps)
			}
			if tps < 0.8*best {
				t.Errorf("%g CPU, %d workers: %.1f TPS, below 80%% of the best %.1f", cores, w, tps, best)
			}
			best = max(best, tps)
			row = append(row, tps)
		}
		t.Logf("%g CPU, 1..8 workers: %.1f", cores, row)
	}
}
