package helm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

// DefaultObserveEvery is how often Observe samples: metrics-server itself
// refreshes every 15 s by default.
const DefaultObserveEvery = 10 * time.Second

// Observation is what the cluster showed while a trial's load ran, per
// service of the space.
type Observation struct {
	// Metrics says whether metrics.k8s.io answered (metrics-server, what
	// `kubectl top` shows); without it Utilisation and Memory are empty.
	Metrics bool
	Samples int
	// Utilisation is each service's CPU use as a fraction of its CPU
	// limit (Σ over its pods, requests when no limit), averaged over the
	// samples.
	Utilisation map[string]float64
	// Memory is each service's peak memory use as a fraction of its limit.
	Memory map[string]float64
	// Restarts are container restarts during the window, OOMKills those of
	// them whose last termination was OOMKilled.
	Restarts map[string]int
	OOMKills map[string]int
	// Err is the last sampling error, if any: a sample that failed is
	// skipped, not fatal.
	Err error
}

// Observer samples until Stop.
type Observer struct {
	stop chan struct{}
	done chan struct{}
	obs  Observation
}

// Observe starts sampling the release's pods every interval (0: the
// default) until Stop: CPU and memory from metrics.k8s.io when the cluster
// serves it, restarts and OOM kills from the pods' statuses. Start it when
// the load starts and stop it when the load ends.
func (d *Deployer) Observe(ctx context.Context, every time.Duration) *Observer {
	if every <= 0 {
		every = DefaultObserveEvery
	}
	o := &Observer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		s, err := d.newSampler(ctx)
		if err != nil {
			o.obs.Err = err
			return
		}
		s.sample(ctx)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				o.obs = s.result()
				return
			case <-o.stop:
				s.sample(context.WithoutCancel(ctx)) // the restarts up to the end
				o.obs = s.result()
				return
			case <-t.C:
				s.sample(ctx)
			}
		}
	}()
	return o
}

// Stop ends the sampling and returns what was seen. It is safe to call
// more than once.
func (o *Observer) Stop() Observation {
	select {
	case <-o.stop:
	default:
		close(o.stop)
	}
	<-o.done
	return o.obs
}

// sampler keeps the running sums of an Observation.
type sampler struct {
	kc      kubernetes.Interface
	mc      metricsclient.Interface // nil: no metrics.k8s.io
	ns      string
	svcs    []string
	sels    func(ctx context.Context) (map[string][]labels.Selector, error)
	timeout time.Duration

	mu       sync.Mutex
	samples  int
	cpuSum   map[string]float64
	cpuN     map[string]int
	memPeak  map[string]float64
	restarts map[string]int
	ooms     map[string]int
	seen     map[types.UID]map[string]int32 // pod → container → restart count
	err      error
}

func (d *Deployer) newSampler(ctx context.Context) (*sampler, error) {
	kc, err := d.clients()
	if err != nil {
		return nil, err
	}
	s := &sampler{kc: kc, ns: d.namespace, timeout: d.opts.RequestTimeout,
		cpuSum: map[string]float64{}, cpuN: map[string]int{}, memPeak: map[string]float64{},
		restarts: map[string]int{}, ooms: map[string]int{}, seen: map[types.UID]map[string]int32{}}
	for _, sv := range d.space.Services {
		s.svcs = append(s.svcs, sv.Name)
	}
	s.sels = func(ctx context.Context) (map[string][]labels.Selector, error) { return d.podSelectors(ctx, kc) }
	if served, err := metricsServed(kc); err != nil {
		s.err = err
	} else if served {
		if s.mc, err = d.metricsClient(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// metricsServed asks discovery whether metrics.k8s.io/v1beta1 is served.
func metricsServed(kc kubernetes.Interface) (bool, error) {
	_, err := kc.Discovery().ServerResourcesForGroupVersion(metricsv1beta1.SchemeGroupVersion.String())
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("discover metrics.k8s.io: %w", err)
}

// podSelectors are the pod selectors of each service's workloads.
func (d *Deployer) podSelectors(ctx context.Context, kc kubernetes.Interface) (map[string][]labels.Selector, error) {
	wl, err := d.releaseWorkloads(ctx, kc)
	if err != nil {
		return nil, err
	}
	out := map[string][]labels.Selector{}
	for key, ws := range wl {
		for _, w := range ws {
			out[key] = append(out[key], labels.SelectorFromSet(w.pod.Labels))
		}
	}
	return out, nil
}

func (s *sampler) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sels, err := s.sels(ctx)
	if err != nil {
		s.fail(err)
		return
	}
	pods, err := s.kc.CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		s.fail(err)
		return
	}
	var usage map[string]corev1.ResourceList // pod name → Σ containers
	if s.mc != nil {
		pm, err := s.mc.MetricsV1beta1().PodMetricses(s.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			s.fail(err)
		} else {
			usage = podUsage(pm.Items)
		}
	}
	s.add(pods.Items, sels, usage)
}

func (s *sampler) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// add folds one sample in: pods are the namespace's, sels each service's
// pod selectors, usage the metrics (nil without metrics.k8s.io).
func (s *sampler) add(pods []corev1.Pod, sels map[string][]labels.Selector, usage map[string]corev1.ResourceList) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	for _, svc := range s.svcs {
		var used, limit, memUsed, memLimit float64
		for i := range pods {
			p := &pods[i]
			if !matchesAny(sels[svc], p.Labels) {
				continue
			}
			s.restartsOf(svc, p)
			if usage == nil || p.Status.Phase != corev1.PodRunning {
				continue
			}
			u, ok := usage[p.Name]
			if !ok {
				continue
			}
			cpuLim, memLim := podLimits(p)
			if cpuLim > 0 {
				used += float64(u.Cpu().MilliValue())
				limit += cpuLim
			}
			if memLim > 0 {
				memUsed += float64(u.Memory().Value())
				memLimit += memLim
			}
		}
		if limit > 0 {
			s.cpuSum[svc] += used / limit
			s.cpuN[svc]++
		}
		if memLimit > 0 {
			s.memPeak[svc] = max(s.memPeak[svc], memUsed/memLimit)
		}
	}
}

// restartsOf counts p's restarts since it was last seen: none at the first
// sample (the baseline), all of them for a pod born after it. A restart
// whose last termination was OOMKilled counts as an OOM kill (when several
// happen between samples, all are taken to be).
func (s *sampler) restartsOf(svc string, p *corev1.Pod) {
	prev, known := s.seen[p.UID]
	if !known {
		prev = map[string]int32{}
		s.seen[p.UID] = prev
	}
	baseline := s.samples == 1
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		before := prev[cs.Name]
		prev[cs.Name] = cs.RestartCount
		if baseline {
			continue
		}
		if n := int(cs.RestartCount - before); n > 0 {
			s.restarts[svc] += n
			if t := cs.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
				s.ooms[svc] += n
			}
		}
	}
}

func (s *sampler) result() Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := Observation{Metrics: s.mc != nil, Samples: s.samples, Err: s.err,
		Utilisation: map[string]float64{}, Memory: map[string]float64{},
		Restarts: map[string]int{}, OOMKills: map[string]int{}}
	for svc, n := range s.cpuN {
		o.Utilisation[svc] = s.cpuSum[svc] / float64(n)
	}
	for svc, m := range s.memPeak {
		o.Memory[svc] = m
	}
	for _, svc := range s.svcs {
		o.Restarts[svc] = s.restarts[svc]
		o.OOMKills[svc] = s.ooms[svc]
	}
	return o
}

func matchesAny(sels []labels.Selector, l map[string]string) bool {
	for _, s := range sels {
		if !s.Empty() && s.Matches(labels.Set(l)) {
			return true
		}
	}
	return false
}

// podLimits is a pod's CPU (millicores) and memory (bytes) limits, each
// container's request standing in for a limit it does not set.
func podLimits(p *corev1.Pod) (cpu, mem float64) {
	for _, c := range p.Spec.Containers {
		if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			cpu += float64(q.MilliValue())
		} else if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			cpu += float64(q.MilliValue())
		}
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			mem += float64(q.Value())
		} else if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
			mem += float64(q.Value())
		}
	}
	return cpu, mem
}

// podUsage sums each pod's containers' usage.
func podUsage(items []metricsv1beta1.PodMetrics) map[string]corev1.ResourceList {
	out := map[string]corev1.ResourceList{}
	for _, pm := range items {
		cpu, mem := resourceZero(), resourceZero()
		for _, c := range pm.Containers {
			cpu.Add(*c.Usage.Cpu())
			mem.Add(*c.Usage.Memory())
		}
		out[pm.Name] = corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem}
	}
	return out
}

func resourceZero() resource.Quantity { return resource.Quantity{} }
