//go:build e2e

package helm

import (
	"testing"
	"time"

	"github.com/tune-dify/tune/spaces"
)

// Install, one upgrade per trial, each checked against the objects in the
// API server, and the baseline (no release) restored at the end.
func TestE2EInstallUpgradeRestore(t *testing.T) {
	b := mustBudget(t, "16c32g")
	d, sp := online(t, "t-install", Options{Budget: &b, RecreateVolumes: true})
	base, err := d.Baseline(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if base.Exists() {
		t.Fatalf("baseline %v, want no release", base)
	}
	trials := []spaces.Config{
		{}, // the space's baseline: installs
		{"api.replicas": 3, "api.cpu": 2.0, "api.memory": 3072, "api.workers": 3, "api.dbPoolSize": 10},
		{"pgbouncer.enabled": true, "pgbouncer.poolMode": "session", "pgbouncer.poolSize": 50, "worker.replicas": 2},
		{"postgresql.storageClass": "local-ssd", "postgresql.cpu": 2.0, "postgresql.memory": 4096},
		{"weaviate.placement": "dedicated", "weaviate.cpu": 2.0, "weaviate.memory": 4096, "pluginDaemon.replicas": 2},
	}
	var total time.Duration
	for i, edit := range trials {
		a := apply(t, d, sp, edit)
		if a.Installed != (i == 0) {
			t.Errorf("trial %d: installed %v", i, a.Installed)
		}
		total += a.Deploy
		sameSystem(t, d, sp, edit)
	}
	t.Logf("deploy and ready: %v a trial on average over %d", (total / time.Duration(len(trials))).Round(time.Millisecond), len(trials))

	if err := d.Restore(ctxFor(t, 2*time.Minute), base); err != nil {
		t.Fatal(err)
	}
	now, err := d.Status(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if now.Exists() {
		t.Errorf("after restore: %v, want no release", now)
	}
}
