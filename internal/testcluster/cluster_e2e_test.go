//go:build e2e

package testcluster

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// cluster is the one TestMain starts: the default-sized node, and a small
// tainted one that pods without a toleration must avoid.
var cluster *Cluster

var nodes = []Node{
	{Name: "kwok-node-0", CPU: "16", Memory: "32Gi"},
	{Name: "kwok-db-0", CPU: "4", Memory: "8Gi", Labels: map[string]string{"pool": "db"},
		Taints: []Taint{{Key: "dedicated", Value: "db", Effect: "NoSchedule"}}},
}

func TestMain(m *testing.M) {
	os.Exit(Run(m, Options{Nodes: nodes}, func(c *Cluster) { cluster = c }))
}

// eventually polls cond every 200 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last error: %v)", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deployment is a Deployment of a container kwok pretends to run.
func deployment(name string, replicas int, cpu string) map[string]any {
	labels := map[string]string{"app": name}
	return map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{
					"containers": []any{map[string]any{
						"name":  "app",
						"image": "example.invalid/app:1",
						"resources": map[string]any{
							"requests": map[string]string{"cpu": cpu, "memory": "256Mi"},
							"limits":   map[string]string{"cpu": cpu, "memory": "256Mi"},
						},
					}},
				},
			},
		},
	}
}

type pod struct {
	Spec struct {
		NodeName string
	}
	Status struct {
		Phase      string
		Conditions []struct{ Type, Status, Reason, Message string }
	}
}

func (p pod) condition(typ string) (status, message string) {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status, c.Message
		}
	}
	return "", ""
}

func pods(ctx context.Context, c *Cluster, app string) ([]pod, error) {
	var list struct{ Items []pod }
	err := c.client.do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods?labelSelector=app%3D"+app, nil, &list)
	return list.Items, err
}

// runningAndReady is whether want pods of app are Running and Ready.
func runningAndReady(ctx context.Context, c *Cluster, app string, want int) (bool, error) {
	ps, err := pods(ctx, c, app)
	n := 0
	for _, p := range ps {
		if ready, _ := p.condition("Ready"); p.Status.Phase == "Running" && ready == "True" {
			n++
		}
	}
	return n == want, err
}

func TestNodes(t *testing.T) {
	ctx := t.Context()
	for _, n := range nodes {
		ok, err := cluster.nodeReady(ctx, n.Name)
		if !ok {
			t.Errorf("node %s not Ready: %v", n.Name, err)
		}
	}
	var node struct {
		Metadata struct{ Labels, Annotations map[string]string }
		Spec     struct{ Taints []Taint }
		Status   struct{ Allocatable map[string]string }
	}
	if err := cluster.client.do(ctx, http.MethodGet, "/api/v1/nodes/kwok-db-0", nil, &node); err != nil {
		t.Fatal(err)
	}
	if node.Metadata.Labels["pool"] != "db" || node.Metadata.Labels["kubernetes.io/hostname"] != "kwok-db-0" {
		t.Errorf("labels %v", node.Metadata.Labels)
	}
	if len(node.Spec.Taints) != 1 || node.Spec.Taints[0] != nodes[1].Taints[0] {
		t.Errorf("taints %+v, want %+v", node.Spec.Taints, nodes[1].Taints)
	}
	if a := node.Status.Allocatable; a["cpu"] != "4" || a["memory"] != "8Gi" || a["pods"] != "110" {
		t.Errorf("allocatable %v", a)
	}
}

func TestKubeconfigEnv(t *testing.T) {
	if got := os.Getenv("KUBECONFIG"); got != cluster.Kubeconfig {
		t.Errorf("KUBECONFIG=%q, want %q", got, cluster.Kubeconfig)
	}
}

// TestDeployment needs the controller-manager (Deployment → ReplicaSet →
// pods), the scheduler (binding) and kwok (Running, Ready).
func TestDeployment(t *testing.T) {
	ctx := t.Context()
	if err := cluster.client.do(ctx, http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", deployment("web", 2, "500m"), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "2 pods Running and Ready", func() (bool, error) {
		return runningAndReady(ctx, cluster, "web", 2)
	})
	ps, err := pods(ctx, cluster, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Spec.NodeName != "kwok-node-0" {
			t.Errorf("pod on %q, want kwok-node-0 (kwok-db-0 is tainted)", p.Spec.NodeName)
		}
	}
}

func TestUnschedulable(t *testing.T) {
	ctx := t.Context()
	if err := cluster.client.do(ctx, http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", deployment("huge", 1, "64"), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "PodScheduled=False with Insufficient cpu", func() (bool, error) {
		ps, err := pods(ctx, cluster, "huge")
		for _, p := range ps {
			if status, msg := p.condition("PodScheduled"); status == "False" && strings.Contains(msg, "Insufficient cpu") {
				return true, nil
			}
		}
		return false, err
	})
}

func TestAPIServerRestart(t *testing.T) {
	ctx := t.Context()
	const path = "/apis/apps/v1/namespaces/default/deployments/survivor"
	if err := cluster.client.do(ctx, http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", deployment("survivor", 1, "100m"), nil); err != nil {
		t.Fatal(err)
	}
	if err := cluster.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	err := cluster.client.do(ctx, http.MethodGet, path, nil, nil)
	var status *StatusError
	if err == nil || errors.As(err, &status) {
		t.Fatalf("with the API server stopped: got %v, want a connection error", err)
	}
	if err := cluster.StopAPIServer(); err != nil {
		t.Errorf("second StopAPIServer: %v", err)
	}

	start := time.Now()
	if err := cluster.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver ready again in %s", time.Since(start).Round(time.Millisecond))
	if err := cluster.StartAPIServer(ctx); err == nil {
		t.Error("StartAPIServer with the API server running: no error")
	}
	if err := cluster.client.do(ctx, http.MethodGet, path, nil, nil); err != nil {
		t.Fatalf("the Deployment after the restart: %v", err)
	}
	// The other components reconnect: a new Deployment still gets running pods.
	if err := cluster.client.do(ctx, http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", deployment("after", 1, "100m"), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "a pod Running and Ready after the restart", func() (bool, error) {
		return runningAndReady(ctx, cluster, "after", 1)
	})
}

// TestSecondCluster runs a second cluster beside TestMain's, as two test
// packages do under `go test ./...`, and stops it twice.
func TestSecondCluster(t *testing.T) {
	start := time.Now()
	c, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second cluster started in %s", time.Since(start).Round(time.Millisecond))
	if c.Host == cluster.Host {
		t.Errorf("both clusters on %s", c.Host)
	}
	if ok, err := c.nodeReady(t.Context(), "kwok-node-0"); !ok {
		t.Errorf("default node not Ready: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Dir %s after Stop: %v", c.Dir, err)
	}
}
