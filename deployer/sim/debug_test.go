package sim

import (
	"context"
	"testing"
)

func TestDebugConns(t *testing.T) {
	for _, id := range []string{"s16-horizontal", "s16-storm", "s16-pgbouncer"} {
		sys := preset(t, id, "16c32g")
		r, err := newRun(1, sys, workload(t, "chatflow"))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.loop(context.Background()); err != nil {
			t.Fatal(err)
		}
		var opens []int
		for _, p := range r.pods {
			for _, pr := range p.procs {
				opens = append(opens, pr.pool.open)
			}
		}
		m := r.measurement()
		t.Logf("%s tps %.1f backends %d peak %d opens %v stalls %d errs %v", id, m.Metrics.TPS, r.pg.backends, r.pg.peak, opens, r.pods[0].stalls, m.Errors)
	}
}
