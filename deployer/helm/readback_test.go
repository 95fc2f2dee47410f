package helm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tune-dify/tune/spaces"
)

// deployed renders cfg with the chart (and the companions cfg turns on)
// and loads the objects, as Helm would have created them, into a fake
// clientset the Deployer then reads.
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
	objs := owned(d, d.release, append(r.Objects, extra...))
	_, plans := d.splitCompanions(ov)
	for _, p := range plans {
		if !p.on {
			continue
		}
		cr, err := renderCompanion(context.Background(), p.cp, d.namespace, p.values)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, owned(d, p.cp.Release, cr.Objects)...)
	}
	d.kube = fake.NewClientset(objs...)
}

// owned marks the workloads of objs as release rel's, as Helm does, and
// keeps them and the ConfigMaps.
func owned(d *Deployer, rel string, objs []runtime.Object) []runtime.Object {
	ann := func() map[string]string {
		return map[string]string{"meta.helm.sh/release-name": rel, "meta.helm.sh/release-namespace": d.namespace}
	}
	var out []runtime.Object
	for _, o := range objs {
		switch w := o.(type) {
		case *appsv1.Deployment:
			w.Namespace, w.Annotations = d.namespace, ann()
		case *appsv1.StatefulSet:
			w.Namespace, w.Annotations = d.namespace, ann()
		case *corev1.ConfigMap:
			w.Namespace = d.namespace
		default:
			continue
		}
		out = append(out, o)
	}
	return out
}

// Values → objects → System: every parameter of the default space comes
// back from the objects the chart renders.
func TestReadSystemFromObjects(t *testing.T) {
	d := offline(t, Options{})
	sp := d.space
	b := mustBudget(t, "16c32g")
	for _, edit := range []spaces.Config{
		{},
		{"api.replicas": 3, "api.cpu": 1.5, "api.memory": 3072, "api.workers": 3, "api.dbPoolSize": 10,
			"api.workerConnections": 50, "api.dbMaxOverflow": 0, "worker.concurrency": 8},
		{"pgbouncer.enabled": true, "pgbouncer.poolMode": "session", "pgbouncer.poolSize": 60, "pgbouncer.cpu": 0.5},
		{"postgresql.storageClass": "local-ssd", "weaviate.placement": "dedicated", "redis.cpu": 0.5,
			"postgresql.maxConnections": 300, "postgresql.memory": 4096, "web.memory": 1024},
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
// set it, and is Dify's own default (the target's unset) when neither does.
func TestReadConfigEnvFrom(t *testing.T) {
	d := offline(t, Options{})
	sp := d.space
	sp.Services = sp.Services[:len(sp.Services)-1] // not pgbouncer: its switch goes with the params
	sp.Params = sp.Params[:0:0]                    // only the services, then one env param
	sp.Params = append(sp.Params, spaces.Param{Name: "api.dbPoolSize", Type: spaces.TypeInt, Min: 5, Max: 30, Current: int64(5),
		Values: []spaces.Target{{Path: "api.extraEnv", Env: "SQLALCHEMY_POOL_SIZE", Unset: 30}}})
	sp.Services[1].Memory.Floor = nil // its parameter is gone
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
	objs := owned(d, d.release, r.Objects)
	d.kube = fake.NewClientset(objs...)
	cfg, err := d.ReadConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg["api.dbPoolSize"] != int64(30) {
		t.Errorf("api.dbPoolSize %v, want Dify's default 30", cfg["api.dbPoolSize"])
	}
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok && cm.Name == "dify-api" {
			cm.Data["SQLALCHEMY_POOL_SIZE"] = "20"
		}
	}
	d.kube = fake.NewClientset(objs...)
	if cfg, err = d.ReadConfig(context.Background()); err != nil || cfg["api.dbPoolSize"] != int64(20) {
		t.Errorf("api.dbPoolSize %v (%v), want 20 from the ConfigMap", cfg["api.dbPoolSize"], err)
	}
}

// What cannot be read is named, every one of it.
func TestReadConfigProblems(t *testing.T) {
	d := offline(t, Options{})
	sp := d.space
	cfg := sp.Baseline()
	// A second workload matching api's selector, and no beat.
	deployed(t, d, cfg)
	kc := d.kube.(*fake.Clientset)
	ctx := context.Background()
	dep, _ := kc.AppsV1().Deployments(d.namespace).Get(ctx, "dify-api", metav1.GetOptions{})
	dup := dep.DeepCopy()
	dup.Name, dup.ResourceVersion = "dify-api-canary", ""
	kc.AppsV1().Deployments(d.namespace).Create(ctx, dup, metav1.CreateOptions{})
	kc.AppsV1().Deployments(d.namespace).Delete(ctx, "dify-beat", metav1.DeleteOptions{})
	_, err := d.ReadConfig(ctx)
	if err == nil {
		t.Fatal("read; want errors")
	}
	for _, want := range []string{
		"api: 2 workloads match the selector of api (Deployment/dify-api, Deployment/dify-api-canary)",
		"beat: no Deployment or StatefulSet of the release matches the selector of beat",
		"api.workers: 2 workloads match",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
}

// The release as a user installs it from the chart's defaults: every
// setting is read from its objects (Dify's own defaults where nothing sets
// them), and only the cpu and memory the chart leaves unbounded are the
// space's, each named.
func TestLiveBaselineOfTheChartDefaults(t *testing.T) {
	d := offline(t, Options{})
	r, err := d.Render(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.kube = fake.NewClientset(owned(d, d.release, r.Objects)...)
	cfg, assumed, err := d.liveConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(assumed) != 2*(len(d.space.Services)-1) {
		t.Errorf("assumed %q, want the cpu and memory of every service but the switched-off pgbouncer", assumed)
	}
	if !slices.Contains(assumed, "postgresql.memory: StatefulSet/dify-postgresql-primary sets no memory limit") {
		t.Errorf("assumed %q lacks PostgreSQL's memory (Bitnami's request alone bounds nothing)", assumed)
	}
	for name, want := range map[string]any{"postgresql.storageClass": "nfs", "pgbouncer.enabled": false, "api.workers": int64(1),
		"api.dbPoolSize": int64(30), "postgresql.maxConnections": int64(100), "redisReplica.replicas": int64(3), "api.cpu": 1.0} {
		if cfg[name] != want {
			t.Errorf("%s = %v, want %v", name, cfg[name], want)
		}
	}
	// A workload the space names but the release lacks is systematic.
	kc := d.kube.(*fake.Clientset)
	kc.AppsV1().Deployments(d.namespace).Delete(context.Background(), "dify-beat", metav1.DeleteOptions{})
	if _, _, err := d.liveConfig(context.Background()); !errors.Is(err, ErrSystematic) {
		t.Errorf("no beat: got %v, want ErrSystematic", err)
	}
	if _, err := d.ReadConfig(context.Background()); !errors.Is(err, ErrSystematic) {
		t.Errorf("no beat, read back: got %v, want ErrSystematic", err)
	}
}
