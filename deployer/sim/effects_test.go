package sim

import (
	"context"
	"errors"
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// Each test below changes one thing of a preset and checks the direction and
// rough size of one of the eight effects MODEL.md lists.

func api(replicas int, cores float64, mib int) spaces.Alloc {
	return spaces.Alloc{Replicas: replicas, CPU: spaces.Millicores(cores * 1000), Memory: spaces.Mebibytes(mib)}
}

func tpsOf(t *testing.T, sys spaces.System, scenario string) float64 {
	t.Helper()
	return eval(t, sys, scenario).Metrics.TPS
}

// Effect 1: one gunicorn worker is one Python process. CPU beyond about a
// core buys little; a limit below its demand throttles.
func TestEffect1GILAndThrottling(t *testing.T) {
	base := preset(t, "s8-initial", "8c16g")
	at := func(cores float64) float64 {
		return tpsOf(t, with(base, nil, map[string]spaces.Alloc{"api": api(1, cores, 2048)}), "chatflow")
	}
	half, one, two, four := at(0.5), at(1), at(2), at(4)
	t.Logf("1 worker: 0.5 CPU %.1f, 1 CPU %.1f, 2 CPU %.1f, 4 CPU %.1f TPS", half, one, two, four)
	if two < 1.2*one {
		t.Errorf("2 CPU should relieve 1 CPU's throttling: %.1f vs %.1f", two, one)
	}
	if four > 1.05*two {
		t.Errorf("4 CPU for one process should buy little over 2: %.1f vs %.1f", four, two)
	}
	if half > 0.6*one {
		t.Errorf("0.5 CPU should throttle hard: %.1f vs %.1f at 1 CPU", half, one)
	}
}

// Effect 2: workers scale with cores until the next bottleneck.
func TestEffect2ScaleUntilBottleneck(t *testing.T) {
	base := preset(t, "s16-pgbouncer", "16c32g")
	at := func(workers int, pgCores float64) results.Measurement {
		return eval(t, with(base, map[string]any{"api.workers": int64(workers)}, map[string]spaces.Alloc{
			"api":        api(1, float64(workers), 512+512*workers),
			"postgresql": api(1, pgCores, 4096),
		}), "chatflow")
	}
	w1, w2, w4 := at(1, 4), at(2, 4), at(4, 4)
	t.Logf("PostgreSQL 4 CPU: 1 worker %.1f, 2 workers %.1f, 4 workers %.1f TPS", w1.Metrics.TPS, w2.Metrics.TPS, w4.Metrics.TPS)
	if w2.Metrics.TPS < 1.6*w1.Metrics.TPS || w4.Metrics.TPS < 1.5*w2.Metrics.TPS {
		t.Errorf("workers with their cores should scale")
	}
	s2, s4 := at(2, 0.5), at(4, 0.5)
	t.Logf("PostgreSQL 0.5 CPU: 2 workers %.1f, 4 workers %.1f TPS; utilisation %s", s2.Metrics.TPS, s4.Metrics.TPS, busiest(s4.Utilisation))
	if s4.Metrics.TPS > 1.1*s2.Metrics.TPS {
		t.Errorf("with PostgreSQL the bottleneck, more workers should buy little: %.1f vs %.1f", s4.Metrics.TPS, s2.Metrics.TPS)
	}
	for svc, u := range s4.Utilisation {
		if u > s4.Utilisation["postgresql"] {
			t.Errorf("%s utilisation %.2f above PostgreSQL's %.2f: the bottleneck should show", svc, u, s4.Utilisation["postgresql"])
		}
	}
}

// Effect 3: one big pod stalls more often than several small ones at the
// same total: a full collection in any of its processes stalls the whole
// pod while its memory cgroup reclaims, and the big pod collects as often as
// the small ones together. Squeezed toward its memory limit, its stalls
// lengthen, which shows in throughput and the latency tail.
func TestEffect3BigPodStalls(t *testing.T) {
	// PostgreSQL gets 4 cores so that the api pods are what differs.
	base := with(preset(t, "s16-final", "16c32g"), nil, map[string]spaces.Alloc{"postgresql": api(1, 4, 4096)})
	stalls := func(sys spaces.System) (share float64, m results.Measurement) {
		r, err := newRun(1, sys, workload(t, "chatflow"), DefaultConstants())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.loop(t.Context()); err != nil {
			t.Fatal(err)
		}
		return r.pods[0].stalled / r.t1, r.measurement()
	}
	bigShare, _ := stalls(with(base, map[string]any{"api.workers": int64(4)}, map[string]spaces.Alloc{"api": api(1, 4, 4096)}))
	smallShare, _ := stalls(with(base, map[string]any{"api.workers": int64(2)}, map[string]spaces.Alloc{"api": api(2, 2, 2048)}))
	t.Logf("stalled share: one 4-worker pod %.1f%%, each of two 2-worker pods %.1f%%", 100*bigShare, 100*smallShare)
	if bigShare < 1.6*smallShare {
		t.Errorf("one big pod should stall about twice as much as each small one: %.3f vs %.3f", bigShare, smallShare)
	}
	_, roomy := stalls(with(base, map[string]any{"api.workers": int64(4)}, map[string]spaces.Alloc{"api": api(1, 4, 4096)}))
	_, tight := stalls(with(base, map[string]any{"api.workers": int64(4)}, map[string]spaces.Alloc{"api": api(1, 4, 2048)}))
	t.Logf("4-worker pod with 4 GiB: %.1f TPS, P99 %.0f ms; with 2 GiB: %.1f TPS, P99 %.0f ms",
		roomy.Metrics.TPS, roomy.Metrics.P99, tight.Metrics.TPS, tight.Metrics.P99)
	if tight.Metrics.TPS > 0.97*roomy.Metrics.TPS || tight.Metrics.P99 < 1.1*roomy.Metrics.P99 {
		t.Errorf("memory pressure should lengthen the big pod's stalls")
	}
}

// Effect 4: replicas × workers beyond max_connections give connection
// errors; pgbouncer in transaction mode removes them; too small a pool queues.
func TestEffect4ConnectionStorm(t *testing.T) {
	base := with(preset(t, "s16-horizontal", "16c32g"), map[string]any{"api.workers": int64(8)},
		map[string]spaces.Alloc{"api": api(6, 4, 4096)})
	storm := eval(t, base, "chatflow")
	pooled := eval(t, with(base, map[string]any{"pgbouncer.enabled": true, "pgbouncer.poolSize": int64(50)}, nil), "chatflow")
	tiny := eval(t, with(base, map[string]any{"pgbouncer.enabled": true, "pgbouncer.poolSize": int64(5)}, nil), "chatflow")
	t.Logf("6×8 workers: no pgbouncer %.1f TPS, errors %.1f%% %v; pgbouncer pool 50 %.1f TPS, errors %.1f%%; pool 5 %.1f TPS, P95 %.0f ms",
		storm.Metrics.TPS, 100*storm.Metrics.ErrorRate, storm.Errors, pooled.Metrics.TPS, 100*pooled.Metrics.ErrorRate,
		tiny.Metrics.TPS, tiny.Metrics.P95)
	if storm.Metrics.ErrorRate < 0.05 || storm.Errors["db_too_many_connections"] == 0 {
		t.Errorf("6 replicas × 8 workers without pgbouncer should storm, error rate %.3f", storm.Metrics.ErrorRate)
	}
	if pooled.Metrics.ErrorRate > 0.001 || pooled.Metrics.TPS < 1.15*storm.Metrics.TPS {
		t.Errorf("pgbouncer should remove the storm: %.1f TPS, error rate %.3f", pooled.Metrics.TPS, pooled.Metrics.ErrorRate)
	}
	if tiny.Metrics.TPS > 0.9*pooled.Metrics.TPS {
		t.Errorf("a pool of 5 should queue: %.1f vs %.1f TPS", tiny.Metrics.TPS, pooled.Metrics.TPS)
	}
}

// Effect 5: WAL fsyncs on NFS are slow and jittery; local SSD is not.
func TestEffect5NFS(t *testing.T) {
	ssd := preset(t, "s8-ssd", "8c16g")
	nfs := with(ssd, map[string]any{"postgresql.storageClass": "nfs"}, nil)
	a, b := eval(t, nfs, "chatflow"), eval(t, ssd, "chatflow")
	t.Logf("NFS %.1f TPS P99 %.0f ms; SSD %.1f TPS P99 %.0f ms", a.Metrics.TPS, a.Metrics.P99, b.Metrics.TPS, b.Metrics.P99)
	if b.Metrics.TPS < 1.06*a.Metrics.TPS {
		t.Errorf("SSD should beat NFS by ≥6%%: %.1f vs %.1f", b.Metrics.TPS, a.Metrics.TPS)
	}
}

// Effect 6: Weaviate sharing a node with busy pods slows down; its own node
// fixes that.
func TestEffect6WeaviatePlacement(t *testing.T) {
	shared := preset(t, "s8-final", "8c16g")
	dedicated := with(shared, map[string]any{"weaviate.placement": "dedicated"}, nil)
	a, b := eval(t, shared, "retrieval"), eval(t, dedicated, "retrieval")
	t.Logf("retrieval: shared %.1f TPS P50 %.0f ms; dedicated %.1f TPS P50 %.0f ms", a.Metrics.TPS, a.Metrics.P50, b.Metrics.TPS, b.Metrics.P50)
	if b.Metrics.TPS < 1.1*a.Metrics.TPS || b.Metrics.P50 > 0.9*a.Metrics.P50 {
		t.Errorf("a dedicated Weaviate should be ≥10%% faster")
	}
	s16 := preset(t, "s16-final", "16c32g")
	e, f := eval(t, with(s16, map[string]any{"weaviate.placement": "shared"}, nil), "retrieval"), eval(t, s16, "retrieval")
	t.Logf("s16-final retrieval: shared %.1f TPS P50 %.0f ms; dedicated %.1f TPS P50 %.0f ms", e.Metrics.TPS, e.Metrics.P50, f.Metrics.TPS, f.Metrics.P50)
	c := eval(t, dedicated, "chatflow")
	d := eval(t, shared, "chatflow")
	if r := c.Metrics.TPS / d.Metrics.TPS; r < 0.95 || r > 1.05 {
		t.Errorf("placement should not matter to chatflow, which does not search: ratio %.2f", r)
	}
}

// Effect 7: a pod whose processes need more than its limit is OOM-killed.
func TestEffect7OOM(t *testing.T) {
	sys := with(preset(t, "s8-final", "8c16g"), map[string]any{"api.workers": int64(6)}, nil)
	_, err := New(1).Evaluate(context.Background(), sys, workload(t, "chatflow"))
	var oom *OOMError
	if !errors.As(err, &oom) {
		t.Fatalf("6 workers in 2048 MiB: err %v, want *OOMError", err)
	}
	t.Log(err)
	if oom.Service != "api" || oom.LimitMiB != 2048 || oom.NeedMiB <= 2048 {
		t.Errorf("got %+v", oom)
	}
	// In-flight requests count too: 4 workers fit idle in 2048 MiB but not
	// with 40 requests in flight.
	sys = with(preset(t, "s8-final", "8c16g"), map[string]any{"api.workers": int64(4)},
		map[string]spaces.Alloc{"api": api(1, 2, 1792)})
	if _, err := New(1).Evaluate(context.Background(), sys, workload(t, "chatflow")); !errors.As(err, &oom) {
		t.Errorf("4 workers in 1792 MiB under load: err %v, want *OOMError", err)
	}
	// PostgreSQL's backends need memory too.
	sys = with(preset(t, "s16-storm", "16c32g"), nil, map[string]spaces.Alloc{"postgresql": api(1, 1.5, 1024)})
	if _, err := New(1).Evaluate(context.Background(), sys, workload(t, "chatflow")); !errors.As(err, &oom) || oom.Service != "postgresql" {
		t.Errorf("97 backends in 1024 MiB: err %v, want PostgreSQL OOM", err)
	}
}

// Effect 8: the reserved components (nginx among them) still need CPU.
func TestEffect8Reserved(t *testing.T) {
	sys := preset(t, "s16-final", "16c32g")
	starved := sys
	starved.Reserved.CPU = 400
	a, b := eval(t, sys, "chatflow"), eval(t, starved, "chatflow")
	t.Logf("reserved 1 CPU %.1f TPS; 0.4 CPU %.1f TPS (reserved utilisation %.0f%%)", a.Metrics.TPS, b.Metrics.TPS, 100*b.Utilisation["reserved"])
	if b.Metrics.TPS > 0.8*a.Metrics.TPS {
		t.Errorf("starving nginx should cost ≥20%%: %.1f vs %.1f", b.Metrics.TPS, a.Metrics.TPS)
	}
}
