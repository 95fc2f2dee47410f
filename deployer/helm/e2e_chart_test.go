//go:build e2e

package helm

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tune-dify/tune/deployer/helm/helmtest"
	"github.com/tune-dify/tune/spaces"
)

// installDefaults installs the chart with its own defaults, as a user's
// `helm install dify dify/dify` does (no container bounded), and waits for
// it: the release a study starts from.
func installDefaults(t *testing.T, d *Deployer) {
	t.Helper()
	ch, err := d.loadChart()
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(d.cfg)
	inst.ReleaseName, inst.Namespace, inst.CreateNamespace = d.release, d.namespace, true
	inst.Timeout = time.Minute
	rel, err := inst.RunWithContext(ctxFor(t, 2*time.Minute), ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeManifest(rel.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := d.waitRollout(ctxFor(t, 2*time.Minute), workloadsOf(objs, d.namespace), 90*time.Second)
	if err != nil || len(problems) > 0 {
		t.Fatalf("the chart's defaults did not roll out: %v %v", problems, err)
	}
}

// claims are the release namespace's volume claims by name, with their UIDs.
func claims(t *testing.T, d *Deployer) map[string]string {
	t.Helper()
	kc, err := d.clients()
	if err != nil {
		t.Fatal(err)
	}
	out, err := helmtest.ClaimUIDs(ctxFor(t, time.Minute), kc, d.namespace)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pgbouncerRunning reports whether tune's pgbouncer has a Deployment in the
// namespace.
func pgbouncerRunning(t *testing.T, d *Deployer) bool {
	t.Helper()
	kc, err := d.clients()
	if err != nil {
		t.Fatal(err)
	}
	list, err := kc.AppsV1().Deployments(d.namespace).List(ctxFor(t, time.Minute), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=pgbouncer"})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items) > 0
}

// The study cycle on the community chart as a user runs it: the release
// installed from the chart's defaults (claims with no storage class, random
// passwords Bitnami's templates look up on every upgrade), its baseline
// read from the cluster, trials that turn tune's pgbouncer on and off, each
// read back equal to its configuration, and the restore: the user's
// revision again, no pgbouncer, and not one volume claim deleted.
func TestE2EChartStudyCycle(t *testing.T) {
	b := mustBudget(t, "16c32g")
	d, sp := online(t, "t-chart", Options{Budget: &b})
	installDefaults(t, d)
	before := claims(t, d)
	if len(before) == 0 {
		t.Fatal("the chart's defaults made no volume claims")
	}

	live, assumed, err := d.LiveBaseline(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// The chart bounds nothing: every cpu and memory is the study's to set;
	// the rest is read from the release as it runs.
	if len(assumed) != 2*(len(sp.Services)-1) {
		t.Errorf("assumed %d parameters, want the cpu and memory of every running service:\n%s", len(assumed), strings.Join(assumed, "\n"))
	}
	for name, want := range map[string]any{"postgresql.storageClass": "nfs", "pgbouncer.enabled": false, "api.workers": int64(1),
		"postgresql.maxConnections": int64(100), "redisReplica.replicas": int64(3), "worker.concurrency": int64(1)} {
		if live[name] != want {
			t.Errorf("live %s = %v, want %v", name, live[name], want)
		}
	}
	base, err := d.Baseline(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !base.Exists() || len(base.Companions) != 1 || base.Companions[0].Exists() {
		t.Fatalf("baseline %+v, want the release and no pgbouncer", base)
	}

	trials := []spaces.Config{
		live, // trial 0: the release as it runs, bounded
		with(with(with(with(live, "pgbouncer.enabled", true), "pgbouncer.poolSize", int64(50)), "api.replicas", int64(2)), "worker.concurrency", int64(8)),
		with(with(with(live, "pgbouncer.enabled", true), "pgbouncer.poolMode", "session"), "postgresql.maxConnections", int64(200)),
		with(with(live, "api.workerConnections", int64(50)), "api.dbMaxOverflow", int64(0)),
	}
	for i, cfg := range trials {
		ov, err := d.Overlay(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a, err := d.Apply(ctxFor(t, 3*time.Minute), ov)
		if err != nil {
			t.Fatalf("trial %d: %v", i, err)
		}
		t.Logf("trial %d: revision %d ready in %v; requests %.2f CPU, %d MiB", i, a.Revision, a.Deploy.Round(time.Millisecond),
			a.Audit.Requests.CPU.Cores(), a.Audit.Requests.Memory)
		got, err := d.ReadConfig(ctxFor(t, time.Minute))
		if err != nil {
			t.Fatalf("trial %d: %v", i, err)
		}
		for _, name := range sp.ParamNames() {
			if strings.HasPrefix(name, "pgbouncer.") && cfg["pgbouncer.enabled"] == false {
				continue // not deployed: nothing to read
			}
			if got[name] != cfg[name] {
				t.Errorf("trial %d: %s reads %v, want %v", i, name, got[name], cfg[name])
			}
		}
		if on := pgbouncerRunning(t, d); on != cfg["pgbouncer.enabled"] {
			t.Errorf("trial %d: pgbouncer running %v, want %v", i, on, cfg["pgbouncer.enabled"])
		}
	}

	if err := d.Restore(ctxFor(t, 3*time.Minute), base); err != nil {
		t.Fatal(err)
	}
	now, err := d.Status(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if now.Status != "deployed" || len(now.Values) != 0 {
		t.Errorf("after restore: %v with values %v, want the chart's defaults again", now, now.Values)
	}
	if pgbouncerRunning(t, d) {
		t.Error("tune's pgbouncer is still there after the restore")
	}
	after := claims(t, d)
	for name, uid := range before {
		if after[name] != uid {
			t.Errorf("volume claim %s: uid %s before the study, %q after: deleted", name, uid, after[name])
		}
	}
	t.Logf("volume claims kept: %s", strings.Join(slices.Sorted(maps.Keys(before)), ", "))
}

// A trial that switches pgbouncer on and fails to roll out takes tune's
// pgbouncer away again with the rollback.
func TestE2ECompanionUndoneWithTheRollback(t *testing.T) {
	d, sp := online(t, "t-undo", Options{UnschedulableAfter: 3 * time.Second})
	if _, err := d.Baseline(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	apply(t, d, sp, nil)
	cfg := sp.Complete(spaces.Config{"pgbouncer.enabled": true})
	for k, v := range tooBig {
		cfg[k] = v
	}
	ov, err := d.Overlay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Apply(ctxFor(t, 3*time.Minute), ov); err == nil {
		t.Fatal("a rollout that cannot finish succeeded")
	}
	if pgbouncerRunning(t, d) {
		t.Error("the failed trial's pgbouncer is still there")
	}
}
