package search

import (
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// chatflow8Leader is where guided studies of today's topology at 8c16g
// settled before the merge: the api in 2 pods of 0.75 CPU (one gunicorn
// worker each), the Celery worker in 4 pods of 0.75 at concurrency 8,
// PostgreSQL 1.25 CPU, the idle services at their minimum: the whole
// budget spent.
func chatflow8Leader(t *testing.T, sp *spaces.Space, g *guide) spaces.Config {
	t.Helper()
	c := sp.Complete(spaces.Config{
		"api.replicas": int64(2), "api.cpu": 0.75, "api.memory": int64(1536), "api.workers": int64(1),
		"api.workerConnections": int64(80), "api.dbMaxOverflow": int64(20),
		"worker.replicas": int64(4), "worker.cpu": 0.75, "worker.memory": int64(768), "worker.concurrency": int64(8),
		"postgresql.cpu": 1.25, "postgresql.memory": int64(5376), "postgresql.maxConnections": int64(500),
		"pluginDaemon.cpu": 0.25, "redis.cpu": 0.25, "redis.memory": int64(256), "weaviate.cpu": 0.5,
	})
	if !g.fits(c) {
		t.Fatalf("the test's leader does not fit: %v", c)
	}
	return c
}

// firstWith is the index of the first of cs that ok accepts, -1 for none.
func firstWith(cs []spaces.Config, ok func(spaces.Config) bool) int {
	for i, c := range cs {
		if ok(c) {
			return i
		}
	}
	return -1
}

// proposed is the first of the proposals ps (around base) that the move
// ok accepts; the test fails when want says there should be one and there
// is none, or the other way round (then nil). what names the move.
func proposed(t *testing.T, g *guide, base spaces.Config, ps []spaces.Config, ok func(spaces.Config) bool, want bool, what string) spaces.Config {
	t.Helper()
	i := firstWith(ps, ok)
	switch {
	case want && i < 0:
		t.Fatalf("no proposal among the first %d %s", len(ps), what)
	case !want && i >= 0:
		t.Errorf("proposal %d %s: %v", i, what, g.move(base, ps[i]))
	case want:
		return ps[i]
	}
	return nil
}

// TestGuideMergesOneSaturatedServiceToFeedTheOther: the api (96%) and the
// Celery worker (87%) are both saturated, so no rebalance moves a core
// between them. Among the first proposals is the worker in half as many
// pods holding the 2.5 of its 3 cores it used, its task slots and memory
// kept in total (16 a pod, 1536 MiB), and the freed half core on the api's
// pods (2 × 1 CPU). With only the worker saturated there is no such move:
// nothing saturated would receive the cores.
func TestGuideMergesOneSaturatedServiceToFeedTheOther(t *testing.T) {
	sp := loadDefault(t)
	merged := func(c spaces.Config) bool {
		return toInt(c["worker.replicas"]) == 2 && totalCPU(c, "worker") < 3-1e-9
	}
	for _, tc := range []struct {
		name string
		api  float64
		want bool
	}{
		{"both saturated", 0.96, true},
		{"the api has headroom", 0.6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuide(sp, budget(t, "8c16g"), sp.Objective, 1)
			base := chatflow8Leader(t, sp, g)
			inc := results.Trial{State: results.StateComplete, Params: base, Metrics: results.Metrics{TPS: 62, P95: 1900},
				Utilisation: map[string]float64{"api": tc.api, "worker": 0.87, "postgresql": 0.73, "redis": 0.13,
					"pluginDaemon": 0, "weaviate": 0}}
			ps := proposals(g, inc, []results.Trial{inc}, 8)
			c := proposed(t, g, base, ps, merged, tc.want, "merges the worker's pods onto fewer cores")
			if c == nil {
				return
			}
			if got := totalCPU(c, "worker"); got != 2.5 {
				t.Errorf("merged worker has %.2f cores, want the 2.5 it used (0.87 of 3, on the grid)", got)
			}
			if got := toInt(c["worker.concurrency"]) * toInt(c["worker.replicas"]); got != 32 {
				t.Errorf("merged worker runs %d task slots in total, want the 32 it ran", got)
			}
			if got := toInt(c["worker.memory"]) * toInt(c["worker.replicas"]); got != 4*768 {
				t.Errorf("merged worker has %d MiB in total, want the %d it had", got, 4*768)
			}
			if toInt(c["api.replicas"]) != 2 || toFloat(c["api.cpu"]) != 1 {
				t.Errorf("api runs %v × %v CPU, want the freed cores on its 2 pods (2 × 1)", c["api.replicas"], c["api.cpu"])
			}
			if toFloat(c["postgresql.cpu"]) != 1.25 {
				t.Errorf("PostgreSQL (not saturated) has %v CPU, want its 1.25", c["postgresql.cpu"])
			}
			if !g.fits(c) {
				t.Error("the merge does not fit the budget")
			}
		})
	}
}

// TestGuideMergeFeedsSmallPodsAsFewerBigger: the api in 3 pods of 0.5 CPU
// cannot take the worker's freed half core as a step on each pod (0.75
// more); it takes it as one pod fewer, each bigger (2 × 1 CPU, the same
// memory in total), not as a fourth half-core pod.
func TestGuideMergeFeedsSmallPodsAsFewerBigger(t *testing.T) {
	sp := loadDefault(t)
	g := newGuide(sp, budget(t, "8c16g"), sp.Objective, 1)
	base := chatflow8Leader(t, sp, g)
	base["api.replicas"], base["api.cpu"], base["api.memory"] = int64(3), 0.5, int64(1024)
	if !g.fits(base) {
		t.Fatalf("the test's leader does not fit: %v", base)
	}
	util := map[string]float64{"api": 0.96, "worker": 0.84, "postgresql": 0.77, "redis": 0.13}
	ms := g.merges(base, util)
	i := firstWith(ms, func(c spaces.Config) bool { return toInt(c["worker.replicas"]) == 2 })
	if i < 0 {
		t.Fatal("no merge of the worker into 2 pods")
	}
	c := ms[i]
	if toInt(c["api.replicas"]) != 2 || toFloat(c["api.cpu"]) != 1 {
		t.Errorf("api runs %v × %v CPU, want 2 × 1", c["api.replicas"], c["api.cpu"])
	}
	if got := toInt(c["api.memory"]) * toInt(c["api.replicas"]); got < 3*1024 {
		t.Errorf("api has %d MiB in total, want at least the %d it had", got, 3*1024)
	}
}

// TestGuideMergeLeavesDeclaredProcesses: in the case study's space at
// 8c16g, PostgreSQL saturated (97%) and the api in 5 pods of 0.75 CPU at
// 85%, the api is not merged to feed PostgreSQL: its processes are
// declared per core, and its pods are reshaped at the same cores
// (consolidate, fitProcesses), a core per CPU-bound process.
func TestGuideMergeLeavesDeclaredProcesses(t *testing.T) {
	sp := loadSeed(t)
	g := newGuide(sp, budget(t, "8c16g"), sp.Objective, 1)
	base := seed8Leader(t, sp)
	util := map[string]float64{"api": 0.85, "postgresql": 0.97, "redis": 0.14, "worker": 0.3}
	if ms := g.merges(base, util); len(ms) > 0 {
		t.Errorf("%d merges, the first %v", len(ms), g.move(base, ms[0]))
	}
}

// TestGuideMergeHoldsTheConcurrency: at concurrency 20 a pod, 2 worker
// pods would need 40 task slots each, more than the space allows (32):
// the merge goes to 3 pods of 27, never to 2 pods that drop a third of
// the slots.
func TestGuideMergeHoldsTheConcurrency(t *testing.T) {
	sp := loadDefault(t)
	g := newGuide(sp, budget(t, "8c16g"), sp.Objective, 1)
	base := chatflow8Leader(t, sp, g)
	base["worker.concurrency"] = int64(20)
	g.fitMemory(base)
	util := map[string]float64{"api": 0.96, "worker": 0.87, "postgresql": 0.73, "redis": 0.13}
	ms := g.merges(base, util)
	if len(ms) == 0 {
		t.Fatal("no merge")
	}
	for _, c := range ms {
		if got := toInt(c["worker.replicas"]); got != 3 {
			t.Errorf("merge into %d pods at concurrency %v", got, c["worker.concurrency"])
		}
		if got := toInt(c["worker.concurrency"]) * toInt(c["worker.replicas"]); got < 80 {
			t.Errorf("merged worker runs %d task slots in total, want the 80 it ran", got)
		}
	}
}
