package helm

import (
	"context"
	"math"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

func apiPod(name string, restarts int32, lastOOM bool) corev1.Pod {
	cs := corev1.ContainerStatus{Name: "api", RestartCount: restarts}
	if lastOOM {
		cs.LastTerminationState = terminated("OOMKilled", 137)
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), Labels: map[string]string{"component": "api"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{container("api", "2", "2Gi", "2", "2Gi")}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{cs}},
	}
}

func usage(cpu, mem string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
}

// Utilisation is used over limit per service, averaged over samples; memory
// its peak; restarts and OOM kills count from the first sample on.
func TestSamplerAdd(t *testing.T) {
	s := &sampler{svcs: []string{"api", "worker"}, cpuSum: map[string]float64{}, cpuN: map[string]int{},
		memPeak: map[string]float64{}, restarts: map[string]int{}, ooms: map[string]int{}, seen: map[types.UID]map[string]int32{},
		mc: nil}
	sels := map[string][]labels.Selector{"api": {labels.SelectorFromSet(labels.Set{"component": "api"})}}
	// Two api pods of 2 cores: 1 + 3 cores used = 100%; then 1 + 1 = 50%.
	s.add([]corev1.Pod{apiPod("a", 2, false), apiPod("b", 0, false)}, sels,
		map[string]corev1.ResourceList{"a": usage("1", "1Gi"), "b": usage("3", "3Gi")})
	s.add([]corev1.Pod{apiPod("a", 3, true), apiPod("b", 0, false), apiPod("c", 1, false)}, sels,
		map[string]corev1.ResourceList{"a": usage("1", "1Gi"), "b": usage("1", "1Gi"), "c": usage("0", "1Gi")})
	o := s.result()
	if u := o.Utilisation["api"]; math.Abs(u-(1.0+2.0/6)/2) > 1e-9 {
		t.Errorf("api utilisation %v", u)
	}
	if m := o.Memory["api"]; math.Abs(m-1) > 1e-9 {
		t.Errorf("api memory peak %v, want 1 (4Gi of 4Gi)", m)
	}
	if o.Restarts["api"] != 2 || o.OOMKills["api"] != 1 || o.Restarts["worker"] != 0 {
		t.Errorf("restarts %v OOM kills %v: want api 1 (pod a) + 1 (pod c, new), 1 OOM", o.Restarts, o.OOMKills)
	}
	if _, ok := o.Utilisation["worker"]; ok {
		t.Error("worker has no pods, so no utilisation")
	}
	if o.Samples != 2 {
		t.Errorf("samples %d", o.Samples)
	}
}

func TestMetricsServed(t *testing.T) {
	kc := fake.NewClientset()
	if served, err := metricsServed(kc); served || err != nil {
		t.Errorf("no metrics.k8s.io: served %v, %v", served, err)
	}
	kc.Resources = append(kc.Resources, &metav1.APIResourceList{GroupVersion: metricsv1beta1.SchemeGroupVersion.String()})
	if served, err := metricsServed(kc); !served || err != nil {
		t.Errorf("metrics.k8s.io: served %v, %v", served, err)
	}
}

func TestPodUsage(t *testing.T) {
	u := podUsage([]metricsv1beta1.PodMetrics{{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Containers: []metricsv1beta1.ContainerMetrics{
		{Name: "api", Usage: usage("250m", "100Mi")}, {Name: "sidecar", Usage: usage("50m", "28Mi")}}}})
	if cpu := u["a"][corev1.ResourceCPU]; cpu.MilliValue() != 300 {
		t.Errorf("cpu %v", cpu.String())
	}
	if mem := u["a"][corev1.ResourceMemory]; mem.Value() != 128<<20 {
		t.Errorf("memory %v", mem.String())
	}
}

// Observe against a cluster without metrics.k8s.io: no error, no
// utilisation, the restarts.
func TestObserveWithoutMetrics(t *testing.T) {
	d := offline(t, Options{})
	deployed(t, d, d.space.Baseline())
	o := d.Observe(context.Background(), 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	obs := o.Stop()
	_ = o.Stop() // twice is fine
	if obs.Metrics || obs.Err != nil || obs.Samples < 2 || len(obs.Utilisation) != 0 || obs.Restarts["api"] != 0 {
		t.Errorf("%+v", obs)
	}
}
