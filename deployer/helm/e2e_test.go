//go:build e2e

package helm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tune-dify/tune/internal/testcluster"
	"github.com/tune-dify/tune/spaces"
)

// cluster is the control plane TestMain starts: a 16-core node for
// everything, and a small node labelled and tainted for Weaviate's dedicated
// placement, as spaces/default.yaml asks.
var cluster *testcluster.Cluster

var nodes = []testcluster.Node{
	{Name: "kwok-node-0", CPU: "16", Memory: "32Gi"},
	{Name: "kwok-weaviate-0", CPU: "4", Memory: "8Gi",
		Labels: map[string]string{"tune.dify.dev/pool": "weaviate"},
		Taints: []testcluster.Taint{{Key: "tune.dify.dev/pool", Value: "weaviate", Effect: "NoSchedule"}}},
}

// The storage classes the default space chooses between. Nothing
// provisions volumes on kwok, so fakeProvisioner binds each claim to a
// hostPath volume made for it.
var storageClasses = []string{"nfs", "local-ssd"}

const provisioner = "tune.dify.dev/fake"

func TestMain(m *testing.M) {
	os.Exit(testcluster.Run(m, testcluster.Options{Nodes: nodes}, func(c *testcluster.Cluster) {
		cluster = c
		kc, err := kubeClient(c.Kubeconfig)
		if err != nil {
			panic(err)
		}
		ctx := context.Background()
		for _, name := range storageClasses {
			sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner}
			if _, err := kc.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
				panic(err)
			}
		}
		go fakeProvisioner(ctx, kc)
		go leaseKeeper(ctx, kc)
	}))
}

// leaseKeeper renews a node Lease for every node each 10 s. kwok, started
// without --node-lease-duration-seconds, heartbeats only through the node's
// status, about every 50 s: as long as the controller manager's
// node-monitor-grace-period, so a busy machine or an API server restart
// lets the node go NotReady and its pods with it. With a Lease the
// controller manager sees the node alive.
func leaseKeeper(ctx context.Context, kc kubernetes.Interface) {
	const ns = "kube-node-lease"
	for {
		list, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, n := range list.Items {
				now := metav1.NewMicroTime(time.Now())
				l, err := kc.CoordinationV1().Leases(ns).Get(ctx, n.Name, metav1.GetOptions{})
				switch {
				case apierrors.IsNotFound(err):
					dur := int32(40)
					l = &coordinationv1.Lease{
						ObjectMeta: metav1.ObjectMeta{Name: n.Name, OwnerReferences: []metav1.OwnerReference{
							{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}},
						Spec: coordinationv1.LeaseSpec{HolderIdentity: &n.Name, LeaseDurationSeconds: &dur, RenewTime: &now},
					}
					_, err = kc.CoordinationV1().Leases(ns).Create(ctx, l, metav1.CreateOptions{})
				case err == nil:
					l.Spec.RenewTime = &now
					_, err = kc.CoordinationV1().Leases(ns).Update(ctx, l, metav1.UpdateOptions{})
				}
				if err != nil && !apierrors.IsConflict(err) && !isNetworkError(err) {
					fmt.Fprintf(os.Stderr, "lease keeper: %v\n", err)
				}
			}
		}
		time.Sleep(10 * time.Second)
	}
}

func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(rc)
}

// fakeProvisioner plays the volume provisioner: every pending claim of one
// of our classes gets a volume pre-bound to it, which the controller
// manager's binder then binds.
func fakeProvisioner(ctx context.Context, kc kubernetes.Interface) {
	for {
		pvcs, err := kc.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, c := range pvcs.Items {
				if c.Status.Phase != corev1.ClaimPending || c.Spec.StorageClassName == nil || c.DeletionTimestamp != nil {
					continue
				}
				pv := &corev1.PersistentVolume{
					ObjectMeta: metav1.ObjectMeta{Name: "pv-" + string(c.UID)},
					Spec: corev1.PersistentVolumeSpec{
						Capacity:                      corev1.ResourceList{corev1.ResourceStorage: c.Spec.Resources.Requests[corev1.ResourceStorage]},
						AccessModes:                   c.Spec.AccessModes,
						StorageClassName:              *c.Spec.StorageClassName,
						PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
						PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + string(c.UID)}},
						ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: c.Namespace, Name: c.Name, UID: c.UID},
					},
				}
				if _, err := kc.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					fmt.Fprintf(os.Stderr, "fake provisioner: %v\n", err)
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
}

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
