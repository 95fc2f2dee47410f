package sim

import (
	"testing"

	"github.com/tune-dify/tune/spaces"
)

const sloP95 = 2500 // ms, the default space's objective

// TestRoomToBeatTheSeed: the seed's hand-tuning is not optimal on the model,
// so a search has something to find. Each case changes a few of the seed's
// final values within the space and budget and must beat it by ≥5% TPS
// within the SLO.
func TestRoomToBeatTheSeed(t *testing.T) {
	for _, c := range []struct {
		name, base, budget string
		change             spaces.Config
	}{
		// More api processes behind pgbouncer with a smaller pool, and
		// PostgreSQL given the cores chatflow does not use on Weaviate and
		// the model servers.
		{"16c32g", "s16-final", "16c32g", spaces.Config{
			"api.replicas": int64(4), "api.cpu": 1.75, "api.workers": int64(2), "api.dbPoolSize": int64(10),
			"pgbouncer.poolSize": int64(40), "postgresql.cpu": 3.25, "weaviate.cpu": 0.5, "worker.cpu": 0.75,
			"xinference.cpu": 0.5, "ollama.cpu": 0.5, "weaviate.placement": "shared",
		}},
		// The model servers' two idle cores moved to the api.
		{"8c16g", "s8-final", "8c16g", spaces.Config{
			"api.replicas": int64(2), "api.cpu": 1.75, "api.workers": int64(2), "api.memory": int64(1280),
			"xinference.cpu": 0.5, "ollama.cpu": 0.5, "worker.cpu": 0.5, "xinference.memory": int64(1536),
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			seed := eval(t, preset(t, c.base, c.budget), "chatflow")
			sys := resolve(t, c.base, c.budget, c.change)
			better := eval(t, sys, "chatflow")
			t.Logf("%s %.1f TPS (P95 %.0f ms); changed %.1f TPS (P95 %.0f ms, errors %.2f%%)", c.base,
				seed.Metrics.TPS, seed.Metrics.P95, better.Metrics.TPS, better.Metrics.P95, 100*better.Metrics.ErrorRate)
			if better.Metrics.TPS < 1.05*seed.Metrics.TPS || better.Metrics.P95 > sloP95 || better.Metrics.ErrorRate > 0.01 {
				t.Errorf("no room to beat %s", c.base)
			}
		})
	}
}

// resolve applies change to a preset and resolves it, failing if the result
// is invalid or over budget.
func resolve(t testing.TB, id, budget string, change spaces.Config) spaces.System {
	t.Helper()
	s := defaultSpace(t)
	b, _ := spaces.ParseBudget(budget)
	c, err := spaces.LoadConfig("../../spaces/presets/" + id + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range change {
		c[k] = v
	}
	sys, err := s.Resolve(b, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(sys); err != nil {
		t.Fatal(err)
	}
	return sys
}
