package search

import (
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// seed8Plateau is the plateau guided studies of seed/8c16g/agent reach
// before the pooler: the api saturated in pods of pod cores with workers
// processes each, PostgreSQL on local SSD with pg CPU.
func seed8Plateau(t *testing.T, sp *spaces.Space, pods int64, pod float64, workers int64, pg float64) spaces.Config {
	t.Helper()
	c := sp.Complete(spaces.Config{
		"api.replicas": pods, "api.cpu": pod, "api.workers": workers,
		"postgresql.cpu": pg, "postgresql.storageClass": "local-ssd", "pgbouncer.enabled": false,
		"pluginDaemon.cpu": 0.75, "weaviate.cpu": 0.5, "xinference.cpu": 0.5, "redis.cpu": 0.25,
		"worker.cpu": 0.25, "worker.memory": int64(512), "ollama.cpu": 0.5,
	})
	g := newGuide(sp, budget(t, "8c16g"), sp.Objective, 1)
	g.fitMemory(c)
	if !g.fits(c) {
		t.Fatalf("the test's configuration does not fit 8c16g: %v", c)
	}
	return c
}

// measuredAt is a complete trial of c serving tps with PostgreSQL at pg of
// its cores and the api at api; the other services as busy as the load
// makes them (as at 46 TPS in the traces, in proportion).
func measuredAt(c spaces.Config, tps, api, pg float64) results.Trial {
	k := tps / 46
	return results.Trial{State: results.StateComplete, Params: c, Metrics: results.Metrics{TPS: tps, P95: 2000},
		Utilisation: map[string]float64{"api": api, "postgresql": pg, "pluginDaemon": 0.68 * k, "ollama": 0.72 * k, "worker": 0.62 * k,
			"redis": 0.09 * k, "weaviate": 0, "xinference": 0}}
}

// TestGuideTakesARegimesSecondStep is the traced seed/8c16g/agent study:
// the pooler switched on lost within the noise against the trial it was
// a move from (44.7 TPS against 45.6) and is not the leader, but
// PostgreSQL spent 11% less CPU per request behind it. The next proposal
// works from the pooler's trial, not the leader: PostgreSQL cut to what
// it uses there and its cores to the api, a step on each pod (2 × 1.75
// with the same 3 workers, the optimum's shape). With the pods' step more
// than the freed cores, they go to one pod fewer (3 × 1 CPU and half a
// core are 2 × 1.75), with at most two processes per core.
func TestGuideTakesARegimesSecondStep(t *testing.T) {
	sp := loadSeed(t)
	for _, tc := range []struct {
		name                string
		pods                int64
		pod                 float64
		workers             int64
		wantPods            int64
		wantPod             float64
		wantWorkers, wantPG float64
	}{
		{"a step on each pod", 2, 1.5, 3, 2, 1.75, 3, 0.75},
		{"one pod fewer", 3, 1, 2, 2, 1.75, 3, 0.75},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuide(sp, budget(t, "8c16g"), sp.Objective, 1)
			lead := measuredAt(seed8Plateau(t, sp, 4, 0.75, 2, 1.25), 46.0, 0.96, 0.56)
			base := measuredAt(seed8Plateau(t, sp, tc.pods, tc.pod, tc.workers, 1.25), 45.6, 0.94, 0.56)
			pooled := clone(base.Params)
			pooled["pgbouncer.enabled"] = true
			regime := measuredAt(pooled, 44.7, 0.93, 0.49)
			c := g.propose(lead, []results.Trial{lead, base, regime})
			if c == nil {
				t.Fatal("no proposal")
			}
			if c["pgbouncer.enabled"] != true || toFloat(c["postgresql.cpu"]) != tc.wantPG ||
				replicas(c, spaces.Service{Name: "api"}) != tc.wantPods || toFloat(c["api.cpu"]) != tc.wantPod ||
				toFloat(c["api.workers"]) != tc.wantWorkers {
				t.Errorf("first proposal moves %v from the pooler's trial; want PostgreSQL at %v, the api %d × %v with %v workers",
					g.move(pooled, c), tc.wantPG, tc.wantPods, tc.wantPod, tc.wantWorkers)
			}
		})
	}
}

// TestGuideTakesNoSecondStepWithoutACut: a regime that did not lower any
// service's CPU per request (PostgreSQL as busy per request behind the
// pooler as without it), lost or gained clearly against the trial it is
// compared with, or cut a service that was half idle before, frees
// nothing a rebalance would not: no two-step move.
func TestGuideTakesNoSecondStepWithoutACut(t *testing.T) {
	sp := loadSeed(t)
	g := newGuide(sp, budget(t, "8c16g"), sp.Objective, 1)
	base := measuredAt(seed8Plateau(t, sp, 2, 1.5, 3, 1.25), 45.6, 0.94, 0.56)
	pooled := clone(base.Params)
	pooled["pgbouncer.enabled"] = true
	for _, tc := range []struct {
		name   string
		base   results.Trial
		regime results.Trial
	}{
		{"no cut", base, measuredAt(pooled, 45.6, 0.94, 0.55)},
		{"a clear loss", base, measuredAt(pooled, 40.0, 0.85, 0.40)},
		// Per request a service's background work falls wherever TPS rose.
		{"a clear gain", base, measuredAt(pooled, 60, 0.94, 0.6)},
		// Half idle before the regime: the rebalance takes its cores anyway.
		{"idle before", measuredAt(base.Params, 45.6, 0.94, 0.45), measuredAt(pooled, 44.7, 0.93, 0.38)},
	} {
		if cuts := g.regimeCuts([]results.Trial{tc.base, tc.regime}); len(cuts) > 0 {
			t.Errorf("%s: read as a cut of %s", tc.name, cuts[0].cut.Name)
		}
	}
	// A change of cores beside the regime is not a regime's effect.
	moved := clone(pooled)
	moved["postgresql.cpu"] = 1.0
	if cuts := g.regimeCuts([]results.Trial{base, measuredAt(moved, 45.6, 0.94, 0.5)}); len(cuts) > 0 {
		t.Errorf("a trial that also moved cores read as a regime's cut of %s", cuts[0].cut.Name)
	}
}

// TestGuideGivesSaturatedProcessPodsMemoryHeadroom: the api saturated in 2
// pods of 1.75 CPU with 3 workers each sits at its memory floor (1792
// MiB) while the budget leaves memory unspent; among the first proposals
// is the same configuration with the api's pods given what the budget
// leaves them towards twice their floor (2816 MiB here).
// PostgreSQL, saturated too but running no processes the space counts,
// keeps its memory.
func TestGuideGivesSaturatedProcessPodsMemoryHeadroom(t *testing.T) {
	sp := loadSeed(t)
	g := newGuide(sp, budget(t, "8c16g"), sp.Objective, 1)
	c := seed8Plateau(t, sp, 2, 1.75, 3, 0.75)
	c["pgbouncer.enabled"], c["api.memory"] = true, int64(1792)
	if got := toInt(c["api.memory"]); got != 1792 {
		t.Fatalf("the test's api pods have %d MiB, want their floor 1792", got)
	}
	lead := measuredAt(c, 48.6, 0.84, 0.91)
	for i, p := range proposals(g, lead, []results.Trial{lead}, 4) {
		d := g.move(c, p)
		if _, ok := d["api.memory"]; ok && len(d) == 1 && toInt(p["api.memory"]) >= 1.5*1792 {
			return
		}
		if _, ok := d["postgresql.memory"]; ok && len(d) == 1 {
			t.Errorf("proposal %d gives PostgreSQL memory: %v", i, d)
		}
	}
	t.Error("no proposal among the first 4 gives the api's pods half their floor more")
}
