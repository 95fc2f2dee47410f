package helm

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tune-dify/tune/spaces"
)

// Audit is what a rendered release asks of the cluster: every workload's
// pods × per-pod requests and limits, and the totals the budget counts.
//
// What counts: Deployments, StatefulSets and ReplicaSets (replicas, 1 when
// unset) and bare Pods; a DaemonSet once per node of the budget's node pool
// (once without node structure). A pod's amount is what the scheduler
// reserves for it: its containers and sidecars, or its largest init
// container when that is more, plus the pod overhead. A request left unset
// defaults to the limit, as Kubernetes does; a limit left unset counts as
// the request and the container is listed in Unbounded (a long-running
// one: containers and sidecars) or InitUnbounded (a regular init container,
// which runs to completion before the pod starts). Jobs and CronJobs
// (migrations, hooks, backups) run to completion and are not counted: the
// budget is what the running system holds under load. They are listed in
// NotCounted.
type Audit struct {
	Workloads  []WorkloadUsage
	Requests   spaces.Resources // Σ pods × per-pod requests
	Limits     spaces.Resources
	NotCounted []string // "Job/dify-migrate"
	Unbounded  []string // "Deployment/dify-web: container web sets no cpu limit"
	// InitUnbounded are init containers without a limit ("StatefulSet/weaviate:
	// init container configure-sysctl sets no cpu limit"): they count as the
	// scheduler counts them (their requests, none when unset) and finish
	// before the pod's containers start.
	InitUnbounded []string
}

// bounded refuses a release with a long-running container the budget does
// not bound (no CPU or memory limit): it could take a node's spare capacity.
func (a *Audit) bounded() error {
	if len(a.Unbounded) == 0 {
		return nil
	}
	return &BoundsError{Unbounded: a.Unbounded}
}

// WorkloadUsage is one workload's share of an Audit.
type WorkloadUsage struct {
	Kind      string
	Name      string
	Component string // the values key it maps to ("api"), or ""
	Pods      int
	Requests  spaces.Resources // per pod
	Limits    spaces.Resources
}

// audit sums what objs ask for. nodes is how many pods a DaemonSet runs.
func audit(objs []runtime.Object, comps *components, nodes int) *Audit {
	a := &Audit{}
	nodes = max(nodes, 1)
	for _, obj := range objs {
		var (
			kind, name string
			pods       int
			spec       *corev1.PodSpec
			lbls       map[string]string
		)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			kind, name, pods, spec, lbls = "Deployment", o.Name, replicas(o.Spec.Replicas), &o.Spec.Template.Spec, o.Labels
		case *appsv1.StatefulSet:
			kind, name, pods, spec, lbls = "StatefulSet", o.Name, replicas(o.Spec.Replicas), &o.Spec.Template.Spec, o.Labels
		case *appsv1.ReplicaSet:
			kind, name, pods, spec, lbls = "ReplicaSet", o.Name, replicas(o.Spec.Replicas), &o.Spec.Template.Spec, o.Labels
		case *appsv1.DaemonSet:
			kind, name, pods, spec, lbls = "DaemonSet", o.Name, nodes, &o.Spec.Template.Spec, o.Labels
		case *corev1.Pod:
			kind, name, pods, spec, lbls = "Pod", o.Name, 1, &o.Spec, o.Labels
		case *batchv1.Job:
			a.NotCounted = append(a.NotCounted, "Job/"+o.Name)
			continue
		case *batchv1.CronJob:
			a.NotCounted = append(a.NotCounted, "CronJob/"+o.Name)
			continue
		default:
			continue
		}
		req, lim, unbounded, initUnbounded := podResources(spec)
		for _, u := range unbounded {
			a.Unbounded = append(a.Unbounded, fmt.Sprintf("%s/%s: %s", kind, name, u))
		}
		for _, u := range initUnbounded {
			a.InitUnbounded = append(a.InitUnbounded, fmt.Sprintf("%s/%s: init %s", kind, name, u))
		}
		w := WorkloadUsage{Kind: kind, Name: name, Pods: pods, Requests: req, Limits: lim}
		if comps != nil {
			w.Component = comps.of(lbls)
		}
		a.Workloads = append(a.Workloads, w)
		a.Requests = a.Requests.Add(req.Times(pods))
		a.Limits = a.Limits.Add(lim.Times(pods))
	}
	return a
}

func replicas(r *int32) int {
	if r == nil {
		return 1
	}
	return int(*r)
}

// amount is CPU in millicores and memory in bytes, summed exactly and
// rounded up to whole millicores and MiB at the end.
type amount struct{ cpu, mem resource.Quantity }

func (x *amount) add(o amount) { x.cpu.Add(o.cpu); x.mem.Add(o.mem) }

func maxAmount(x, o amount) amount {
	r := amount{cpu: x.cpu.DeepCopy(), mem: x.mem.DeepCopy()}
	if o.cpu.Cmp(r.cpu) > 0 {
		r.cpu = o.cpu.DeepCopy()
	}
	if o.mem.Cmp(r.mem) > 0 {
		r.mem = o.mem.DeepCopy()
	}
	return r
}

func (x amount) resources() spaces.Resources {
	const mib = 1 << 20
	b := x.mem.Value()
	return spaces.Resources{
		CPU:    spaces.Millicores(x.cpu.MilliValue()),
		Memory: spaces.Mebibytes((b + mib - 1) / mib),
	}
}

// containerAmounts is a container's request and limit; an unset request is
// its limit, an unset limit its request (reported in unbounded).
func containerAmounts(c corev1.Container) (req, lim amount, unbounded []string) {
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		rq, hasReq := c.Resources.Requests[r]
		lm, hasLim := c.Resources.Limits[r]
		if !hasReq && hasLim {
			rq = lm
		}
		if !hasLim {
			lm = rq
			unbounded = append(unbounded, fmt.Sprintf("container %s sets no %s limit", c.Name, r))
		}
		if r == corev1.ResourceCPU {
			req.cpu, lim.cpu = rq.DeepCopy(), lm.DeepCopy()
		} else {
			req.mem, lim.mem = rq.DeepCopy(), lm.DeepCopy()
		}
	}
	return req, lim, unbounded
}

// podResources is what the scheduler reserves for a pod (requests) and what
// the pod may use at most (limits): the containers plus sidecar init
// containers (restartPolicy Always), or a regular init container with the
// sidecars started before it when that is larger, plus the overhead.
func podResources(spec *corev1.PodSpec) (req, lim spaces.Resources, unbounded, initUnbounded []string) {
	var sumReq, sumLim, sideReq, sideLim, initReq, initLim amount
	for _, c := range spec.InitContainers {
		r, l, u := containerAmounts(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			unbounded = append(unbounded, u...)
			sideReq.add(r)
			sideLim.add(l)
			continue
		}
		initUnbounded = append(initUnbounded, u...)
		r.add(sideReq)
		l.add(sideLim)
		initReq, initLim = maxAmount(initReq, r), maxAmount(initLim, l)
	}
	for _, c := range spec.Containers {
		r, l, u := containerAmounts(c)
		unbounded = append(unbounded, u...)
		sumReq.add(r)
		sumLim.add(l)
	}
	sumReq.add(sideReq)
	sumLim.add(sideLim)
	effReq, effLim := maxAmount(sumReq, initReq), maxAmount(sumLim, initLim)
	if o := spec.Overhead; o != nil {
		effReq.add(amount{cpu: o.Cpu().DeepCopy(), mem: o.Memory().DeepCopy()})
		effLim.add(amount{cpu: o.Cpu().DeepCopy(), mem: o.Memory().DeepCopy()})
	}
	return effReq.resources(), effLim.resources(), unbounded, initUnbounded
}

// check compares an audit with the budget: totals, and with a node pool
// that every pod fits one node.
func (a *Audit) check(b spaces.Budget) error {
	var problems []string
	over := func(what string, need, have spaces.Resources) {
		if need.CPU > have.CPU {
			problems = append(problems, fmt.Sprintf("%s.cpu %s cores, budget %s has %s (%s over)",
				what, cores(need.CPU), b, cores(have.CPU), cores(need.CPU-have.CPU)))
		}
		if need.Memory > have.Memory {
			problems = append(problems, fmt.Sprintf("%s.memory %s, budget %s has %s (%s over)",
				what, mem(need.Memory), b, mem(have.Memory), mem(need.Memory-have.Memory)))
		}
	}
	over("requests", a.Requests, b.Total)
	over("limits", a.Limits, b.Total)
	if b.Nodes > 0 {
		for _, w := range a.Workloads {
			if w.Pods > 0 && !w.Requests.Fits(b.Node) {
				problems = append(problems, fmt.Sprintf("a pod of %s requests %s CPU, %s; a node of %s has %s CPU, %s",
					w.label(), cores(w.Requests.CPU), mem(w.Requests.Memory), b, cores(b.Node.CPU), mem(b.Node.Memory)))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &BudgetError{Budget: b.String(), Problems: problems, Audit: a}
}

func (w WorkloadUsage) label() string {
	if w.Component != "" {
		return w.Component
	}
	return w.Kind + "/" + w.Name
}

func cores(m spaces.Millicores) string {
	return strconv.FormatFloat(float64(m)/1000, 'f', -1, 64)
}

// mem writes MiB as "34 GiB", "1.5 GiB" or "1000 MiB".
func mem(m spaces.Mebibytes) string {
	if (m*100)%1024 == 0 {
		return strconv.FormatFloat(float64(m)/1024, 'f', -1, 64) + " GiB"
	}
	return strconv.FormatInt(int64(m), 10) + " MiB"
}

// Bounds renders the chart (and the companions) at the space's smallest
// and largest configurations, client side, and names what the budget would
// not bound there: a long-running container without a CPU or memory limit,
// and a workload that belongs to no service of the space (its pods would
// run outside the accounting). A chart version that adds a container the
// space does not know is named here, before a study meets it on the
// cluster. The error is for a configuration that does not render.
func (d *Deployer) Bounds(ctx context.Context) ([]string, error) {
	comps, err := d.components()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, at := range []struct {
		name string
		cfg  spaces.Config
	}{{"smallest", extremeConfig(d.space, false)}, {"largest", extremeConfig(d.space, true)}} {
		ov, err := d.Overlay(at.cfg)
		if err != nil {
			return nil, fmt.Errorf("the %s configuration: %w", at.name, err)
		}
		chartOv, plans := d.splitCompanions(ov)
		r, err := d.render(ctx, d.values(chartOv), false)
		if err != nil {
			return nil, fmt.Errorf("the %s configuration: %w", at.name, err)
		}
		objs := r.Objects
		for _, p := range plans {
			if p.on {
				cr, err := renderCompanion(ctx, p.cp, d.namespace, p.values)
				if err != nil {
					return nil, fmt.Errorf("the %s configuration: %w", at.name, err)
				}
				objs = append(objs, cr.Objects...)
			}
		}
		a := audit(objs, comps, 1)
		for _, u := range a.Unbounded {
			out = append(out, fmt.Sprintf("at the %s configuration: %s", at.name, u))
		}
		for _, w := range a.Workloads {
			if w.Component == "" && w.Pods > 0 {
				out = append(out, fmt.Sprintf("at the %s configuration: %s/%s is no service's workload: target.helm.workloads selects it for none, so the budget does not count its %d pod(s)",
					at.name, w.Kind, w.Name, w.Pods))
			}
		}
	}
	return out, nil
}

// extremeConfig is every service and number at its minimum (or maximum),
// every switch off (on) and every choice at the space's current value.
func extremeConfig(sp *spaces.Space, largest bool) spaces.Config {
	cfg := sp.Baseline()
	for _, s := range sp.Services {
		r, c, m := s.Replicas.Min, s.CPU.Min, s.Memory.Min
		if largest {
			r, c, m = s.Replicas.Max, s.CPU.Max, s.Memory.Max
		}
		cfg[s.Name+".replicas"], cfg[s.Name+".cpu"], cfg[s.Name+".memory"] = r, c.Cores(), int64(m)
	}
	for _, p := range sp.Params {
		switch p.Type {
		case spaces.TypeInt:
			cfg[p.Name] = int64(p.Min)
			if largest {
				cfg[p.Name] = int64(p.Max)
			}
		case spaces.TypeFloat:
			cfg[p.Name] = p.Min
			if largest {
				cfg[p.Name] = p.Max
			}
		case spaces.TypeBool:
			cfg[p.Name] = largest
		}
	}
	return cfg
}
