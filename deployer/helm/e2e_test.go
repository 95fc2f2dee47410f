//go:build e2e

package helm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tune-dify/tune/deployer/helm/helmtest"
	"github.com/tune-dify/tune/internal/testcluster"
	"github.com/tune-dify/tune/spaces"
)

// cluster is the control plane TestMain starts, with helmtest's nodes (a
// 16-core node for everything and a small one labelled and tainted for
// Weaviate's dedicated placement), storage classes and provisioner.
var cluster *testcluster.Cluster

func TestMain(m *testing.M) { os.Exit(helmtest.Run(m, &cluster)) }

func kubeClient(kubeconfig string) (kubernetes.Interface, error) { return helmtest.Client(kubeconfig) }

// online is a Deployer of spaces/default.yaml on the test chart, for
// release "dify" in namespace ns of the test cluster, with no settle time.
func online(t *testing.T, ns string, opts Options) (*Deployer, *spaces.Space) {
	t.Helper()
	t.Setenv("HELM_CACHE_HOME", t.TempDir())
	t.Setenv("HELM_CONFIG_HOME", t.TempDir())
	sp := loadDefault(t)
	chart, err := filepath.Abs(testChart)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Kubeconfig == "" {
		opts.Kubeconfig = cluster.Kubeconfig
	}
	opts.Namespace = ns
	opts.Chart = &spaces.Chart{Path: chart}
	if opts.Timeouts.Rollout == 0 {
		opts.Timeouts.Rollout = 90 * time.Second
	}
	if opts.Timeouts.Settle == 0 {
		opts.Timeouts.Settle = -1
	}
	if testing.Verbose() {
		opts.Log = testWriter{t}
	}
	d, err := New(context.Background(), sp, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Tests share the node: each leaves it as it found it.
	t.Cleanup(func() {
		if err := d.Restore(context.Background(), Baseline{Release: d.release, Namespace: ns}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return d, sp
}

// nodesReady waits until every node is Ready and free of the node
// lifecycle controller's taints (after the API server was away).
func nodesReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	kc, err := kubeClient(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for {
		ready := 0
		list, err := kc.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err == nil {
			for _, n := range list.Items {
				ok := false
				for _, c := range n.Status.Conditions {
					ok = ok || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
				}
				for _, taint := range n.Spec.Taints {
					ok = ok && !strings.HasPrefix(taint.Key, "node.kubernetes.io/")
				}
				if ok {
					ready++
				}
			}
		}
		if err == nil && ready == len(list.Items) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes not ready within %v (%d ready, %v)", timeout, ready, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// apply applies cfg (completed from the baseline) and fails the test on an
// error.
func apply(t *testing.T, d *Deployer, sp *spaces.Space, edit spaces.Config) *Applied {
	t.Helper()
	ov, err := d.Overlay(sp.Complete(edit))
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Apply(ctxFor(t, 3*time.Minute), ov)
	if err != nil {
		t.Fatalf("apply %v: %v", edit, err)
	}
	t.Logf("revision %d ready in %v (installed %v)", a.Revision, a.Deploy.Round(time.Millisecond), a.Installed)
	return a
}

// sameSystem checks that what the cluster holds is cfg.
func sameSystem(t *testing.T, d *Deployer, sp *spaces.Space, edit spaces.Config) {
	t.Helper()
	b := mustBudget(t, "16c32g")
	want, err := sp.Resolve(b, sp.Complete(edit))
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.ReadSystem(ctxFor(t, time.Minute), b)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range want.Services {
		if got.Services[name] != a {
			t.Errorf("%s: cluster holds %+v, want %+v", name, got.Services[name], a)
		}
	}
	for name, v := range want.Settings {
		if got.Settings[name] != v {
			t.Errorf("%s: cluster holds %v (%T), want %v (%T)", name, got.Settings[name], got.Settings[name], v, v)
		}
	}
}
