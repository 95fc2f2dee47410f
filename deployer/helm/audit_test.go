package helm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tune-dify/tune/spaces"
)

func container(name, reqCPU, reqMem, limCPU, limMem string) corev1.Container {
	rl := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: rl(reqCPU, reqMem), Limits: rl(limCPU, limMem)}}
}

func TestPodResources(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	sidecar := container("proxy", "100m", "64Mi", "100m", "64Mi")
	sidecar.RestartPolicy = &always
	for _, tc := range []struct {
		name      string
		spec      corev1.PodSpec
		req, lim  spaces.Resources
		unbounded int
	}{
		{"containers add up", corev1.PodSpec{Containers: []corev1.Container{
			container("a", "500m", "256Mi", "1", "512Mi"), container("b", "250m", "128Mi", "250m", "128Mi")}},
			spaces.Resources{CPU: 750, Memory: 384}, spaces.Resources{CPU: 1250, Memory: 640}, 0},
		{"a larger init container wins, with the sidecars started before it", corev1.PodSpec{
			InitContainers: []corev1.Container{sidecar, container("migrate", "2", "1Gi", "2", "1Gi")},
			Containers:     []corev1.Container{container("a", "500m", "256Mi", "500m", "256Mi")}},
			spaces.Resources{CPU: 2100, Memory: 1088}, spaces.Resources{CPU: 2100, Memory: 1088}, 0},
		{"an unset request is the limit, an unset limit the request", corev1.PodSpec{Containers: []corev1.Container{
			container("a", "", "", "1", "1Gi"), container("b", "500m", "512Mi", "", "")}},
			spaces.Resources{CPU: 1500, Memory: 1536}, spaces.Resources{CPU: 1500, Memory: 1536}, 2},
		{"bytes round up to MiB once per pod", corev1.PodSpec{Containers: []corev1.Container{
			container("a", "1m", "1000k", "1m", "1000k"), container("b", "1m", "1000k", "1m", "1000k")}},
			spaces.Resources{CPU: 2, Memory: 2}, spaces.Resources{CPU: 2, Memory: 2}, 0},
		{"overhead", corev1.PodSpec{Containers: []corev1.Container{container("a", "1", "1Gi", "1", "1Gi")},
			Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("160Mi")}},
			spaces.Resources{CPU: 1250, Memory: 1184}, spaces.Resources{CPU: 1250, Memory: 1184}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, lim, unb, initUnb := podResources(&tc.spec)
			unb = append(unb, initUnb...)
			if req != tc.req || lim != tc.lim || len(unb) != tc.unbounded {
				t.Errorf("requests %+v limits %+v unbounded %q; want %+v %+v and %d", req, lim, unb, tc.req, tc.lim, tc.unbounded)
			}
		})
	}
}

func deployment(name string, n int32, labels map[string]string, cs ...corev1.Container) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: appsv1.DeploymentSpec{
		Replicas: &n, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: cs}}}}
}

func TestAuditCountsAndRefuses(t *testing.T) {
	comps, err := newComponents([]string{"api", "postgresql"}, map[string]string{
		"api": "component=api", "postgresql": "app.kubernetes.io/name=postgresql"})
	if err != nil {
		t.Fatal(err)
	}
	objs := []runtime.Object{
		deployment("dify-api", 3, map[string]string{"component": "api"}, container("api", "2", "2Gi", "2", "2Gi")),
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "pg", Labels: map[string]string{"app.kubernetes.io/name": "postgresql"}},
			Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
				container("pg", "4", "8Gi", "4", "8Gi")}}}}}, // replicas unset: 1
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "logs"}, Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("fluent", "100m", "128Mi", "200m", "256Mi")}}}}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "migrate"}},
		&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "backup"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}},
	}
	a := audit(objs, comps, 2)
	if want := (spaces.Resources{CPU: 10200, Memory: 14592}); a.Requests != want {
		t.Errorf("requests %+v, want %+v", a.Requests, want)
	}
	if want := (spaces.Resources{CPU: 10400, Memory: 14848}); a.Limits != want {
		t.Errorf("limits %+v, want %+v", a.Limits, want)
	}
	if strings.Join(a.NotCounted, ",") != "Job/migrate,CronJob/backup" {
		t.Errorf("not counted %v", a.NotCounted)
	}
	if a.Workloads[0].Component != "api" || a.Workloads[1].Component != "postgresql" || a.Workloads[2].Component != "" || a.Workloads[2].Pods != 2 {
		t.Errorf("workloads %+v", a.Workloads)
	}
	if err := a.check(mustBudget(t, "16c32g")); err != nil {
		t.Errorf("16c32g: %v", err)
	}
	err = a.check(mustBudget(t, "8c16g"))
	var be *BudgetError
	if !errors.As(err, &be) || !errors.Is(err, ErrOverBudget) || !errors.Is(err, ErrRejected) {
		t.Fatalf("8c16g: %v, want a *BudgetError", err)
	}
	for _, want := range []string{
		"requests.cpu 10.2 cores, budget 8c16g has 8 (2.2 over)",
		"limits.cpu 10.4 cores, budget 8c16g has 8 (2.4 over)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "memory") {
		t.Errorf("%q: memory fits", err)
	}
	// A node pool: the 4-core database pod fits no 3-core node.
	err = a.check(mustBudget(t, "4x3c8g"))
	if err == nil || !strings.Contains(err.Error(), "a pod of postgresql requests 4 CPU, 8 GiB; a node of 4x3c8g has 3 CPU, 8 GiB") {
		t.Errorf("4x3c8g: %v", err)
	}
}

// The community chart's own defaults bound no container: the audit refuses
// them, naming each; with the space's overlay every long-running container
// is bounded and only Weaviate's sysctl init container (which reserves
// nothing and finishes first) sets no limit.
func TestAuditRefusesUnboundedContainers(t *testing.T) {
	d := offline(t, Options{})
	comps, err := d.components()
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Render(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = audit(r.Objects, comps, 1).bounded()
	var be *BoundsError
	if !errors.As(err, &be) || !errors.Is(err, ErrUnbounded) || !errors.Is(err, ErrRejected) {
		t.Fatalf("chart defaults: got %v, want a *BoundsError", err)
	}
	for _, want := range []string{"Deployment/dify-web: container web sets no cpu limit", "Deployment/dify-beat: container beat sets no memory limit",
		"StatefulSet/dify-redis-replicas: container redis sets no cpu limit", "StatefulSet/dify-postgresql-read: container postgresql sets no memory limit"} {
		if !slices.Contains(be.Unbounded, want) {
			t.Errorf("%v\nlacks %q", be.Unbounded, want)
		}
	}
	ov, err := d.Overlay(d.space.Baseline())
	if err != nil {
		t.Fatal(err)
	}
	r, err = d.Render(context.Background(), ov)
	if err != nil {
		t.Fatal(err)
	}
	a := audit(r.Objects, comps, 1)
	if err := a.bounded(); err != nil {
		t.Error(err)
	}
	want := []string{"StatefulSet/weaviate: init container configure-sysctl sets no cpu limit", "StatefulSet/weaviate: init container configure-sysctl sets no memory limit"}
	if !slices.Equal(a.InitUnbounded, want) {
		t.Errorf("init containers without limits %q, want %q", a.InitUnbounded, want)
	}
	for _, w := range a.Workloads {
		if w.Component == "" {
			t.Errorf("%s/%s belongs to no service of the space", w.Kind, w.Name)
		}
	}
}

// Bounds renders the smallest and largest configurations: the space bounds
// all of the chart; a workload the space does not know is named.
func TestBounds(t *testing.T) {
	d := offline(t, Options{})
	got, err := d.Bounds(context.Background())
	if err != nil || len(got) != 0 {
		t.Fatalf("default space on its chart: %q, %v", got, err)
	}
	// As if a newer chart added the sandbox: the space no longer has it.
	sp := d.space
	i := slices.IndexFunc(sp.Services, func(s spaces.Service) bool { return s.Name == "sandbox" })
	sp.Services = slices.Delete(sp.Services, i, i+1)
	delete(sp.Target.Helm.Workloads, "sandbox")
	d.selectors = map[string]string{}
	for _, key := range componentKeys(sp) {
		d.selectors[key] = sp.Target.Helm.Selector(key)
	}
	got, err = d.Bounds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"at the smallest configuration: Deployment/dify-sandbox: container sandbox sets no cpu limit",
		"at the largest configuration: Deployment/dify-sandbox is no service's workload: target.helm.workloads selects it for none, so the budget does not count its 1 pod(s)",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("%q\nlacks %q", got, want)
		}
	}
}
