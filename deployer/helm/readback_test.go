package helm

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tune-dify/tune/spaces"
)

// deployed renders cfg with the test chart and loads the objects, as Helm
// would have created them, into a fake clientset the Deployer then reads.
func deployed(t *testing.T, d *Deployer, cfg spaces.Config, extra ...runtime.Object) {
	t.Helper()
	ov, err := d.Overlay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Render(context.Background(), ov)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, o := range append(r.Objects, extra...) {
		switch w := o.(type) {
		case *appsv1.Deployment:
			w.Namespace, w.Annotations = d.namespace, helmAnnotations(d)
		case *appsv1.StatefulSet:
			w.Namespace, w.Annotations = d.namespace, helmAnnotations(d)
		case *corev1.ConfigMap:
			w.Namespace = d.namespace
		default:
			continue
		}
		objs = append(objs, o)
	}
	d.kube = fake.NewClientset(objs...)
}

func helmAnnotations(d *Deployer) map[string]string {
	return map[string]string{"meta.helm.sh/release-name": d.release, "meta.helm.sh/release-namespace": d.namespace}
}

// Values → objects → System: every parameter of the default space comes
// back from the objects the chart renders.
func TestReadSystemFromObjects(t *testing.T) {
	d := offline(t, Options{})
	sp := d.space
	b := mustBudget(t, "16c32g")
	for _, edit := range []spaces.Config{
		{},
		{"api.replicas": 3, "api.cpu": 1.5, "api.memory": 3072, "api.workers": 3, "api.dbPoolSize": 10},
		{"pgbouncer.enabled": true, "pgbouncer.poolMode": "session", "pgbouncer.poolSize": 60},
		{"postgresql.storageClass": "local-ssd", "weaviate.placement": "dedicated", "redis.cpu": 0.5},
	} {
		cfg := sp.Complete(edit)
		deployed(t, d, cfg)
		got, err := d.ReadSystem(context.Background(), b)
		if err != nil {
			t.Fatalf("%v: %v", edit, err)
		}
		want, err := sp.Resolve(b, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for name, a := range want.Services {
			if got.Services[name] != a {
				t.Errorf("%v: %s reads %+v, want %+v", edit, name, got.Services[name], a)
			}
		}
		for name, v := range want.Settings {
			if got.Settings[name] != v {
				t.Errorf("%v: %s reads %v (%T), want %v (%T)", edit, name, got.Settings[name], got.Settings[name], v, v)
			}
		}
	}
}

// SQLALCHEMY_POOL_SIZE comes from the api ConfigMap when extraEnv does not
// set it (Dify's defaults live there).
func TestReadConfigEnvFrom(t *testing.T) {
	d := offline(t, Options{})
	sp := d.space
	sp.Params = sp.Params[:0:0] // only the services, then one env param
	sp.Params = append(sp.Params, spaces.Param{Name: "api.dbPoolSize", Type: spaces.TypeInt, Min: 5, Max: 30, Current: int64(5),
		Values: []spaces.Target{{Path: "api.extraEnv", Env: "SQLALCHEMY_POOL_SIZE"}}})
	ov, err := d.Overlay(sp.Baseline())
	if err != nil {
		t.Fatal(err)
	}
	// Drop the entry from the overlay: the chart's ConfigMap says 30.
	api := ov["api"].(map[string]any)
	api["extraEnv"] = []any{}
	r, err := d.Render(context.Background(), ov)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range r.Objects {
		if w, ok := o.(*appsv1.Deployment); ok {
			w.Namespace, w.Annotations = d.namespace, helmAnnotations(d)
		}
		if w, ok := o.(*appsv1.StatefulSet); ok {
			w.Namespace, w.Annotations = d.namespace, helmAnnotations(d)
		}
		if w, ok := o.(*corev1.ConfigMap); ok {
			w.Namespace = d.namespace
		}
	}
	d.kube = fake.NewClientset(r.Objects...)
	cfg, err := d.ReadConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg["api.dbPoolSize"] != int64(30) {
		t.Errorf("api.dbPoolSize %v, want 30 from the ConfigMap", cfg["api.dbPoolSize"])
	}
}

// What cannot be read is named, every one of it.
func TestReadConfigProblems(t *testing.T) {
	d := offline(t, Options{})
	sp := d.space
	cfg := sp.Baseline()
	// A second workload matching api's selector, and no ollama.
	deployed(t, d, cfg)
	kc := d.kube.(*fake.Clientset)
	ctx := context.Background()
	dep, _ := kc.AppsV1().Deployments(d.namespace).Get(ctx, "dify-api", metav1.GetOptions{})
	dup := dep.DeepCopy()
	dup.Name, dup.ResourceVersion = "dify-api-canary", ""
	kc.AppsV1().Deployments(d.namespace).Create(ctx, dup, metav1.CreateOptions{})
	kc.AppsV1().Deployments(d.namespace).Delete(ctx, "dify-ollama", metav1.DeleteOptions{})
	_, err := d.ReadConfig(ctx)
	if err == nil {
		t.Fatal("read; want errors")
	}
	for _, want := range []string{
		"api: 2 workloads match the selector of api (Deployment/dify-api, Deployment/dify-api-canary)",
		"ollama: no Deployment or StatefulSet of the release matches the selector of ollama",
		"api.workers: 2 workloads match",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
}
