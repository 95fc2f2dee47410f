//go:build e2e

package helm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tune-dify/tune/spaces"
)

// tooBig asks for 6 api pods of 4 cores: 24 cores on a 16-core node.
var tooBig = spaces.Config{"api.replicas": 6, "api.cpu": 4.0, "api.memory": 4096, "api.workers": 4}

// A rollout that cannot finish fails with the scheduler's reason, the
// release goes back to the last good revision, and the next trial works.
func TestE2ERolloutCannotFinish(t *testing.T) {
	d, sp := online(t, "t-fail", Options{UnschedulableAfter: 3 * time.Second})
	if _, err := d.Baseline(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	good := apply(t, d, sp, nil)

	ov, err := d.Overlay(sp.Complete(tooBig))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = d.Apply(ctxFor(t, 3*time.Minute), ov)
	var re *RolloutError
	if !errors.As(err, &re) || !errors.Is(err, ErrRollout) {
		t.Fatalf("got %v, want a *RolloutError", err)
	}
	t.Logf("failed in %v: %v", time.Since(start).Round(time.Millisecond), err)
	if len(re.Problems) != 1 || re.Problems[0].Workload != "api" || !strings.Contains(re.Problems[0].Reason, "Insufficient cpu") {
		t.Errorf("problems %+v, want api's Insufficient cpu", re.Problems)
	}
	if !strings.HasPrefix(err.Error(), "api: ") || !strings.Contains(err.Error(), "/6 ready: 0/2 nodes are available: ") {
		t.Errorf("message %q", err)
	}
	if re.RolledBackTo != good.Revision || re.RollbackErr != nil {
		t.Errorf("rolled back to %d (%v), want %d", re.RolledBackTo, re.RollbackErr, good.Revision)
	}
	sameSystem(t, d, sp, nil)

	apply(t, d, sp, spaces.Config{"api.replicas": 2})
	sameSystem(t, d, sp, spaces.Config{"api.replicas": 2})

	// The same without giving up on unschedulable pods: the rollout timeout
	// ends it, and says what it was waiting for.
	d2, _ := online(t, "t-fail", Options{UnschedulableAfter: -1, Timeouts: spaces.HelmTimeouts{Rollout: 8 * time.Second}})
	if _, err := d2.Baseline(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err = d2.Apply(ctxFor(t, 3*time.Minute), ov)
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "timeout after 8s (0/2 nodes are available: ") {
		t.Fatalf("got %v, want a timeout naming the scheduler's reason", err)
	}
	t.Log(err)
	sameSystem(t, d2, sp, spaces.Config{"api.replicas": 2})
}

// Values the chart's schema refuses, and a configuration over the budget,
// are refused before the cluster sees them.
func TestE2ERefusedBeforeTheCluster(t *testing.T) {
	b := mustBudget(t, "8c16g")
	d, sp := online(t, "t-refuse", Options{Budget: &b})
	if _, err := d.Baseline(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	good := apply(t, d, sp, nil)

	_, err := d.Apply(ctxFor(t, time.Minute), map[string]any{"api": map[string]any{"replicas": "many"}})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "values.schema.json refuses the values") {
		t.Fatalf("got %v, want the schema's refusal", err)
	}
	t.Log(err)

	ov, err := d.Overlay(sp.Complete(spaces.Config{"api.replicas": 4, "api.cpu": 2.0}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Apply(ctxFor(t, time.Minute), ov)
	var be *BudgetError
	if !errors.As(err, &be) || !errors.Is(err, ErrOverBudget) || !errors.Is(err, ErrRejected) {
		t.Fatalf("got %v, want a *BudgetError", err)
	}
	if !strings.Contains(err.Error(), "requests.cpu 12.25 cores, budget 8c16g has 8 (4.25 over)") {
		t.Errorf("message %q", err)
	}
	t.Log(err)

	now, err := d.Status(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if now.Revision != good.Revision {
		t.Errorf("revision %d after two refusals, want %d: the cluster was touched", now.Revision, good.Revision)
	}
	// Switching the storage class needs the StatefulSet recreated: refused
	// unless allowed.
	_, err = d.Apply(ctxFor(t, time.Minute), mustOverlay(t, d, sp, spaces.Config{"postgresql.storageClass": "local-ssd"}))
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "storageClassName (default) → local-ssd") {
		t.Fatalf("got %v, want the volume claim change refused", err)
	}
	t.Log(err)
}

func mustOverlay(t *testing.T, d *Deployer, sp *spaces.Space, edit spaces.Config) map[string]any {
	t.Helper()
	ov, err := d.Overlay(sp.Complete(edit))
	if err != nil {
		t.Fatal(err)
	}
	return ov
}

// A release the user installed is the baseline: trials run on its values,
// and Restore brings it back, even once Helm has pruned its revision.
func TestE2ERestoreExistingRelease(t *testing.T) {
	user := spaces.Config{"api.replicas": 2, "worker.cpu": 2.0}
	d0, sp := online(t, "t-restore", Options{})
	if _, err := d0.Baseline(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The user's own values, with something the space does not tune.
	ov := mustOverlay(t, d0, sp, user)
	ov["api"].(map[string]any)["logLevel"] = "DEBUG"
	if _, err := d0.Apply(ctxFor(t, 2*time.Minute), ov); err != nil {
		t.Fatal(err)
	}

	// Two revisions of history: the trials prune the baseline's, so Restore
	// upgrades to the chart and values it recorded instead of rolling back.
	d, _ := online(t, "t-restore", Options{MaxHistory: 2})
	base, err := d.Baseline(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !base.Exists() || base.Revision != 1 {
		t.Fatalf("baseline %v, want revision 1", base)
	}
	apply(t, d, sp, spaces.Config{"api.replicas": 4})
	apply(t, d, sp, spaces.Config{"api.cpu": 2.0})
	// The user's api.logLevel survives every trial.
	if v, _ := d.Status(ctxFor(t, time.Minute)); fmt.Sprint(lookupAny(v.Values, "api", "logLevel")) != "DEBUG" {
		t.Errorf("trial values lost the user's api.logLevel: %v", v.Values["api"])
	}
	if err := d.Restore(ctxFor(t, 2*time.Minute), base); err != nil {
		t.Fatal(err)
	}
	sameSystem(t, d, sp, user)
	now, err := d.Status(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if now.Status != "deployed" || lookupInt(now.Values, "api", "replicas") != 2 {
		t.Errorf("after restore %v with values %v", now, now.Values)
	}
}

func lookupAny(m map[string]any, path ...string) any {
	v, _ := lookupPath(m, path)
	return v
}

func lookupInt(m map[string]any, path ...string) int64 {
	v, _ := lookupPath(m, path)
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return -1
}

// The API server stopped: a clear error at once before a trial, and within
// unreachableAfter during a rollout; the next trial works once it is back.
func TestE2EAPIServerDown(t *testing.T) {
	d, sp := online(t, "t-down", Options{UnschedulableAfter: -1})
	if _, err := d.Baseline(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	apply(t, d, sp, nil)
	down := func() {
		t.Helper()
		if err := cluster.StopAPIServer(); err != nil {
			t.Fatal(err)
		}
	}
	up := func() {
		t.Helper()
		if err := cluster.StartAPIServer(ctxFor(t, time.Minute)); err != nil {
			t.Fatal(err)
		}
		nodesReady(t, time.Minute)
	}
	defer func() { _ = cluster.StartAPIServer(context.Background()) }() // whatever happens

	down()
	start := time.Now()
	_, err := d.Apply(ctxFor(t, time.Minute), mustOverlay(t, d, sp, spaces.Config{"api.replicas": 2}))
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	t.Logf("before the trial, after %v: %v", time.Since(start).Round(time.Millisecond), err)
	up()

	// Down in the middle of a rollout that will not finish by itself.
	defer func(was time.Duration) { unreachableAfter = was }(unreachableAfter)
	unreachableAfter = 5 * time.Second
	time.AfterFunc(4*time.Second, func() { _ = cluster.StopAPIServer() })
	start = time.Now()
	_, err = d.Apply(ctxFor(t, 2*time.Minute), mustOverlay(t, d, sp, tooBig))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	t.Logf("during the rollout, after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if time.Since(start) > 30*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	up()
	apply(t, d, sp, spaces.Config{"api.replicas": 2})
	sameSystem(t, d, sp, spaces.Config{"api.replicas": 2})
}

// SIGINT during a rollout: Apply returns at once, and Restore with a fresh
// context brings the baseline back.
func TestE2ECancelDuringRollout(t *testing.T) {
	d, sp := online(t, "t-cancel", Options{UnschedulableAfter: -1})
	if _, err := d.Baseline(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	apply(t, d, sp, nil)
	d2, _ := online(t, "t-cancel", Options{UnschedulableAfter: -1})
	base, err := d2.Baseline(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	start := time.Now()
	_, err = d2.Apply(ctx, mustOverlay(t, d2, sp, tooBig))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("after %v: %v, want context.Canceled soon after the cancel", time.Since(start), err)
	}
	t.Log(err)
	if err := d2.Restore(ctxFor(t, 2*time.Minute), base); err != nil {
		t.Fatal(err)
	}
	sameSystem(t, d2, sp, nil)
}

// The health check waits for the endpoint to answer 2xx, and fails the
// trial when it never does.
func TestE2EHealth(t *testing.T) {
	var healthy atomic.Bool
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.URL.Path != "/health" || !healthy.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	d, sp := online(t, "t-health", Options{HealthURL: srv.URL, Timeouts: spaces.HelmTimeouts{Health: 3 * time.Second}})
	if _, err := d.Baseline(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := d.Apply(ctxFor(t, 2*time.Minute), mustOverlay(t, d, sp, nil))
	if !errors.Is(err, ErrHealth) || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Fatalf("got %v, want a failed health check", err)
	}
	t.Log(err)
	time.AfterFunc(1500*time.Millisecond, func() { healthy.Store(true) })
	apply(t, d, sp, spaces.Config{"api.replicas": 2})
	if asked.Load() < 3 {
		t.Errorf("health asked %d times", asked.Load())
	}
}

// Observation without metrics-server: no utilisation, no error, restarts
// counted (none on kwok).
func TestE2EObserve(t *testing.T) {
	d, sp := online(t, "t-observe", Options{})
	if _, err := d.Baseline(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	apply(t, d, sp, nil)
	o := d.Observe(context.Background(), 200*time.Millisecond)
	time.Sleep(time.Second)
	obs := o.Stop()
	if obs.Metrics || obs.Err != nil || obs.Samples < 3 {
		t.Errorf("observation %+v", obs)
	}
	if obs.Restarts["api"] != 0 || len(obs.Restarts) != len(sp.Services) {
		t.Errorf("restarts %v", obs.Restarts)
	}
}
