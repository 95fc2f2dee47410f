package search

import (
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// TestGuideTrimsADonorOfManyPods is the plateau of seed/8c16g/agent~v2's
// guided studies: the budget spent, the plugin daemon saturated on half a
// core, the api in 5 pods of 0.75 CPU with a worker each at 77%. Among the
// first proposals is the daemon on 0.75 with the api's other 3.5 cores in
// 2 pods of 1.75 holding its 5 workers (3 a pod) and its memory in total.
// An api at 93% has no step to spare (it would be at 99% on what is left),
// and with only the api saturated nothing is fed.
func TestGuideTrimsADonorOfManyPods(t *testing.T) {
	sp := loadSeed(t)
	for _, tc := range []struct {
		name            string
		api, daemon, pg float64
		wantWorkers     int64 // 0: no trim
	}{
		{"processes kept in total", 0.77, 0.96, 0.83, 3},
		{"the api has no step to spare", 0.93, 0.96, 0.83, 0},
		{"nothing but the api saturated", 0.77, 0.6, 0.6, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuide(sp, budget(t, "8c16g"), sp.Objective, 1)
			base := sp.Complete(spaces.Config{
				"api.replicas": int64(5), "api.cpu": 0.75, "api.workers": int64(1), "api.memory": int64(1536),
				"postgresql.cpu": 0.75, "postgresql.storageClass": "local-ssd", "pgbouncer.enabled": true,
				"pluginDaemon.cpu": 0.5, "weaviate.cpu": 0.5, "xinference.cpu": 0.5, "redis.cpu": 0.25,
				"worker.cpu": 0.25, "worker.memory": int64(512), "ollama.cpu": 0.5, "ollama.memory": int64(1280),
			})
			g.fitMemory(base)
			if !g.fits(base) {
				t.Fatalf("the test's plateau does not fit: %v", base)
			}
			inc := results.Trial{State: results.StateComplete, Params: base, Metrics: results.Metrics{TPS: 35.9, P95: 4300},
				Utilisation: map[string]float64{"api": tc.api, "pluginDaemon": tc.daemon, "postgresql": tc.pg, "ollama": 0.69,
					"worker": 0.58, "redis": 0.09, "weaviate": 0, "xinference": 0}}
			ps := proposals(g, inc, []results.Trial{inc}, 12)
			c := proposed(t, g, base, ps, func(c spaces.Config) bool {
				return toInt(c["api.replicas"]) == 2 && toFloat(c["api.cpu"]) == 1.75
			}, tc.wantWorkers > 0, "puts the api's cores but a step in 2 pods of 1.75")
			if c == nil {
				return
			}
			if got := totalCPU(c, "pluginDaemon"); got != 0.75 {
				t.Errorf("the daemon has %.2f cores, want the step it lacked (0.75)", got)
			}
			if got := toInt(c["api.workers"]); got != tc.wantWorkers {
				t.Errorf("%d workers a pod, want %d", got, tc.wantWorkers)
			}
			if got, was := toInt(c["api.memory"])*2, toInt(base["api.memory"])*5; got < was-2*256 {
				t.Errorf("the api's memory fell from %d to %d MiB in total", was, got)
			}
		})
	}
}
