// Package helmtest prepares the project's test control plane
// (internal/testcluster) for charts that follow spaces/default.yaml: the
// nodes, a default storage class and the classes the space chooses between,
// and a provisioner that binds their claims (nothing provisions volumes on
// kwok). Claims that name no class (the community chart's, by default) get
// the default class, as on any cluster that has one.
//
// Imports of this module: internal/testcluster and spaces.
package helmtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tune-dify/tune/internal/testcluster"
)

// Nodes are a 16-core node for everything and a small node labelled and
// tainted for Weaviate's dedicated placement, as spaces/default.yaml asks.
var Nodes = []testcluster.Node{
	{Name: "kwok-node-0", CPU: "16", Memory: "32Gi"},
	{Name: "kwok-weaviate-0", CPU: "4", Memory: "8Gi",
		Labels: map[string]string{"tune.dify.dev/pool": "weaviate"},
		Taints: []testcluster.Taint{{Key: "tune.dify.dev/pool", Value: "weaviate", Effect: "NoSchedule"}}},
}

// StorageClasses are the classes spaces/default.yaml chooses between.
var StorageClasses = []string{"nfs", "local-ssd"}

// DefaultStorageClass is the cluster's default class: the API server's
// DefaultStorageClass admission gives it to every claim that names none.
const DefaultStorageClass = "standard"

const provisioner = "tune.dify.dev/fake"

// Client is a clientset for the cluster's admin kubeconfig.
func Client(kubeconfig string) (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(rc)
}

// Run is a TestMain's body: it starts the control plane with Nodes, runs
// Setup on it, stores it in *cluster and runs the tests.
func Run(m *testing.M, cluster **testcluster.Cluster) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return testcluster.Run(m, testcluster.Options{Nodes: Nodes}, func(c *testcluster.Cluster) {
		*cluster = c
		if err := Setup(ctx, c); err != nil {
			panic(err)
		}
	})
}

// Setup creates the storage classes and starts the provisioner, which runs
// until ctx ends. Use it as testcluster.Run's setup.
func Setup(ctx context.Context, c *testcluster.Cluster) error {
	kc, err := Client(c.Kubeconfig)
	if err != nil {
		return err
	}
	for _, name := range append([]string{DefaultStorageClass}, StorageClasses...) {
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner}
		if name == DefaultStorageClass {
			sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
		}
		if _, err := kc.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("storage class %s: %w", name, err)
		}
	}
	go provision(ctx, kc)
	return nil
}

// provision plays the volume provisioner: every pending claim of one of the
// classes gets a volume pre-bound to it, which the controller manager's
// binder then binds. A claim that names no class (made before the default
// class existed) gets the default class's volume, as the controller
// manager's retroactive default assignment would give it that class.
func provision(ctx context.Context, kc kubernetes.Interface) {
	for ctx.Err() == nil {
		pvcs, err := kc.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, c := range pvcs.Items {
				if c.Status.Phase != corev1.ClaimPending || c.DeletionTimestamp != nil {
					continue
				}
				class := DefaultStorageClass
				if c.Spec.StorageClassName != nil {
					class = *c.Spec.StorageClassName
				}
				pv := &corev1.PersistentVolume{
					ObjectMeta: metav1.ObjectMeta{Name: "pv-" + string(c.UID)},
					Spec: corev1.PersistentVolumeSpec{
						Capacity:                      corev1.ResourceList{corev1.ResourceStorage: c.Spec.Resources.Requests[corev1.ResourceStorage]},
						AccessModes:                   c.Spec.AccessModes,
						StorageClassName:              class,
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
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// ClaimUIDs are the namespace's volume claims by name, with their UIDs: a
// claim deleted and made again has a new UID, so two calls show whether a
// volume (and its data) survived what happened between them.
func ClaimUIDs(ctx context.Context, kc kubernetes.Interface, ns string) (map[string]string, error) {
	list, err := kc.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list.Items))
	for _, c := range list.Items {
		out[c.Name] = string(c.UID)
	}
	return out, nil
}
