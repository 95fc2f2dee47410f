package helm

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tune-dify/tune/spaces"
)

// ReadSystem rebuilds, from the objects in the API server, the System the
// release runs: it proves that a configuration travelled values → objects,
// and lets an emulator serve what the cluster actually holds.
//
// Each values key (a service, or a component such as pgbouncer) is the
// release's one Deployment or StatefulSet matching its selector in
// target.helm.workloads (Helm's meta.helm.sh/release-name annotation says
// which objects are the release's). A service's replicas are spec.replicas,
// its cpu and memory the first container's limits. A
// parameter is read from where its first readable target lands:
//
//   - {path: <key>.extraEnv, env: NAME}: NAME in the first container's env,
//     else in a ConfigMap it takes envFrom (Dify's defaults live there).
//   - <key>.enabled: whether <key>'s workload exists with replicas > 0.
//   - <key>...storageClass: the StatefulSet's first volume claim template.
//   - <key>...nodeSelector: the pod template's nodeSelector, matched
//     against the target's map (a choice mapped to null: none).
//   - <key>...replicas: spec.replicas.
//   - any other leaf (pgbouncer.poolMode): an env var named after it on
//     <key>'s first container, POOL_MODE or <KEY>_POOL_MODE
//     (PGBOUNCER_POOL_MODE), as images such as bitnami/pgbouncer take
//     their settings.
//
// Values are mapped back through a target's map. A parameter of a component
// that is disabled (<key>.enabled reads false) takes its current value. The
// error lists every parameter that could not be read.
func (d *Deployer) ReadSystem(ctx context.Context, b spaces.Budget) (spaces.System, error) {
	cfg, err := d.ReadConfig(ctx)
	if err != nil {
		return spaces.System{}, err
	}
	sp := d.space
	sys := spaces.System{
		Budget:   b,
		Reserved: spaces.Resources{CPU: sp.Reserved.CPU, Memory: sp.Reserved.Memory},
		Services: map[string]spaces.Alloc{},
		Settings: map[string]any{},
		Dify:     sp.Metadata.DifyVersion, // the emulator's topology, as Resolve gives it
	}
	for _, sv := range sp.Services {
		if sv.EnabledBy != "" && cfg[sv.EnabledBy] == false {
			sys.Services[sv.Name] = spaces.Alloc{CPU: sv.CPU.Current, Memory: sv.Memory.Current} // off: no pods
			continue
		}
		sys.Services[sv.Name] = spaces.Alloc{
			Replicas: int(cfg[sv.Name+".replicas"].(int64)),
			CPU:      spaces.Millicores(math.Round(cfg[sv.Name+".cpu"].(float64) * 1000)),
			Memory:   spaces.Mebibytes(cfg[sv.Name+".memory"].(int64)),
		}
	}
	for _, p := range sp.Params {
		sys.Settings[p.Name] = cfg[p.Name]
	}
	return sys, nil
}

// ReadConfig is ReadSystem's reading as a Config: every parameter by name,
// in the types Resolve produces (int64 replicas, MiB and ints; float64
// cores; string choices; bool).
func (d *Deployer) ReadConfig(ctx context.Context) (spaces.Config, error) {
	kc, err := d.clients()
	if err != nil {
		return nil, err
	}
	wl, err := d.releaseWorkloads(ctx, kc)
	if err != nil {
		return nil, err
	}
	r := &reader{ctx: ctx, kc: kc, ns: d.namespace, wl: wl, cms: map[string]*corev1.ConfigMap{}}
	cfg, missing, unset := r.config(d.space)
	if len(missing) > 0 {
		// The space and the release do not match (a workload its selector
		// does not find): every trial would fail to read back the same way.
		err := fmt.Errorf("read the release back: %s", strings.Join(append(missing, unset...), "; "))
		return cfg, &SystematicError{Err: err}
	}
	if len(unset) > 0 {
		return cfg, fmt.Errorf("read the release back: %s", strings.Join(unset, "; "))
	}
	return cfg, nil
}

// LiveBaseline is the configuration the release runs now, read from the
// API server, as a complete Config: a study's trial 0 and what it restores
// are the release as it is, not the space's current values. Where the
// release says nothing (a container without resources, as the chart's
// defaults leave every one), the space's current value stands in, and
// Assumed names each such parameter with the reason: the study sets it.
// A release the space does not describe (a workload its selector does not
// find) is a *SystematicError. With no release at all, it is the space's
// baseline, every parameter assumed.
func (d *Deployer) LiveBaseline(ctx context.Context) (cfg spaces.Config, assumed []string, err error) {
	if err := d.reachable(); err != nil {
		return nil, nil, err
	}
	rel, err := d.last(ctx)
	if err != nil {
		return nil, nil, err
	}
	if rel == nil {
		return d.space.Baseline(), []string{"every parameter: there is no release yet"}, nil
	}
	return d.liveConfig(ctx)
}

func (d *Deployer) liveConfig(ctx context.Context) (spaces.Config, []string, error) {
	kc, err := d.clients()
	if err != nil {
		return nil, nil, err
	}
	wl, err := d.releaseWorkloads(ctx, kc)
	if err != nil {
		return nil, nil, err
	}
	r := &reader{ctx: ctx, kc: kc, ns: d.namespace, wl: wl, cms: map[string]*corev1.ConfigMap{}}
	cfg, missing, unset := r.config(d.space)
	if len(missing) > 0 {
		return nil, nil, &SystematicError{Err: fmt.Errorf("read the release %s: %s", d.release, strings.Join(missing, "; "))}
	}
	return d.space.Complete(cfg), unset, nil
}

// workload is a Deployment's or StatefulSet's parts ReadSystem reads.
type workload struct {
	ref      workloadRef
	replicas int
	pod      corev1.PodTemplateSpec
	claims   []corev1.PersistentVolumeClaim
	labels   map[string]string
}

// releaseWorkloads are the release's Deployments and StatefulSets by values
// key.
func (d *Deployer) releaseWorkloads(ctx context.Context, kc kubernetes.Interface) (map[string][]workload, error) {
	comps, err := d.components()
	if err != nil {
		return nil, err
	}
	// The release's objects, and its companions' (tune's pgbouncer is a
	// release of its own).
	companions := d.companionRelease()
	mine := func(m metav1.ObjectMeta) bool {
		rel := m.Annotations["meta.helm.sh/release-name"]
		_, companion := companions[rel]
		return (rel == d.release || companion) &&
			first(m.Annotations["meta.helm.sh/release-namespace"], d.namespace) == d.namespace
	}
	out := map[string][]workload{}
	deps, err := kc.AppsV1().Deployments(d.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, d.apiError("list the Deployments of", err)
	}
	for _, o := range deps.Items {
		if key := comps.of(o.Labels); key != "" && mine(o.ObjectMeta) {
			out[key] = append(out[key], workload{ref: workloadRef{"Deployment", o.Namespace, o.Name},
				replicas: replicas(o.Spec.Replicas), pod: o.Spec.Template, labels: o.Labels})
		}
	}
	sts, err := kc.AppsV1().StatefulSets(d.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, d.apiError("list the StatefulSets of", err)
	}
	for _, o := range sts.Items {
		if key := comps.of(o.Labels); key != "" && mine(o.ObjectMeta) {
			out[key] = append(out[key], workload{ref: workloadRef{"StatefulSet", o.Namespace, o.Name},
				replicas: replicas(o.Spec.Replicas), pod: o.Spec.Template, claims: o.Spec.VolumeClaimTemplates, labels: o.Labels})
		}
	}
	return out, nil
}

type reader struct {
	ctx context.Context
	kc  kubernetes.Interface
	ns  string
	wl  map[string][]workload
	cms map[string]*corev1.ConfigMap
}

// one is key's single workload, or why there is none.
func (r *reader) one(key string) (*workload, string) {
	ws := r.wl[key]
	switch len(ws) {
	case 0:
		return nil, fmt.Sprintf("no Deployment or StatefulSet of the release matches the selector of %s", key)
	case 1:
		return &ws[0], ""
	}
	var names []string
	for _, w := range ws {
		names = append(names, w.ref.Kind+"/"+w.ref.Name)
	}
	return nil, fmt.Sprintf("%d workloads match the selector of %s (%s): make it select one", len(ws), key, strings.Join(names, ", "))
}

// config reads every parameter. missing are what could not be read (no
// workload, a value no choice maps to); unset are the resources a
// workload's container leaves unset (a release tune has not bounded yet).
func (r *reader) config(sp *spaces.Space) (cfg spaces.Config, missing, unset []string) {
	cfg = spaces.Config{}
	// Components whose <key>.enabled parameter reads false.
	disabled := map[string]bool{}
	var rest []spaces.Param
	for _, p := range sp.Params {
		if key, ok := enabledParam(p); ok {
			v, why := r.param(p)
			if why != "" {
				missing = append(missing, p.Name+": "+why)
				continue
			}
			cfg[p.Name] = v
			disabled[key] = v == false
			continue
		}
		rest = append(rest, p)
	}
	for _, sv := range sp.Services {
		if sv.EnabledBy != "" && cfg[sv.EnabledBy] == false {
			// Switched off: no workload to read; any value resolves to no pods.
			cfg[sv.Name+".replicas"] = sv.Replicas.Current
			cfg[sv.Name+".cpu"] = sv.CPU.Current.Cores()
			cfg[sv.Name+".memory"] = int64(sv.Memory.Current)
			continue
		}
		w, why := r.one(sv.Name)
		if w == nil {
			missing = append(missing, sv.Name+": "+why)
			continue
		}
		c, why := mainContainer(w)
		if c == nil {
			missing = append(missing, sv.Name+": "+why)
			continue
		}
		cfg[sv.Name+".replicas"] = int64(w.replicas)
		// The limit is what a pod may use (tune sets requests equal to it); a
		// request alone (Bitnami's 250m) bounds nothing.
		if cpu, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			cfg[sv.Name+".cpu"] = float64(cpu.MilliValue()) / 1000
		} else {
			unset = append(unset, fmt.Sprintf("%s.cpu: %s/%s sets no cpu limit", sv.Name, w.ref.Kind, w.ref.Name))
		}
		if mem, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			cfg[sv.Name+".memory"] = (mem.Value() + 1<<20 - 1) >> 20
		} else {
			unset = append(unset, fmt.Sprintf("%s.memory: %s/%s sets no memory limit", sv.Name, w.ref.Kind, w.ref.Name))
		}
	}
	for _, p := range rest {
		v, why := r.param(p)
		if why != "" {
			if key := topKey(p); disabled[key] {
				cfg[p.Name] = sp.Baseline()[p.Name] // a setting of a component that is off
				continue
			}
			missing = append(missing, p.Name+": "+why)
			continue
		}
		cfg[p.Name] = v
	}
	return cfg, missing, unset
}

// enabledParam reports whether p is a <key>.enabled switch, and its key.
func enabledParam(p spaces.Param) (string, bool) {
	for _, t := range p.Values {
		if key, leaf := splitPath(t.Path); leaf == "enabled" && t.Env == "" && strings.Count(t.Path, ".") == 1 {
			return key, true
		}
	}
	return "", false
}

func topKey(p spaces.Param) string {
	if len(p.Values) == 0 {
		return ""
	}
	key, _ := splitPath(p.Values[0].Path)
	return key
}

// splitPath is a values path's top-level key and last segment.
func splitPath(path string) (top, leaf string) {
	top, _, _ = strings.Cut(path, ".")
	return top, path[strings.LastIndexByte(path, '.')+1:]
}

// param reads p from the first of its targets that yields a value.
func (r *reader) param(p spaces.Param) (any, string) {
	var whys []string
	for _, t := range p.Values {
		v, why := r.target(p, t)
		if why == "" {
			return v, ""
		}
		whys = append(whys, why)
	}
	if len(whys) == 0 {
		return nil, "no values target"
	}
	return nil, strings.Join(whys, "; ")
}

func (r *reader) target(p spaces.Param, t spaces.Target) (any, string) {
	key, leaf := splitPath(t.Path)
	if leaf == "enabled" && t.Env == "" {
		ws := r.wl[key]
		on := slices.ContainsFunc(ws, func(w workload) bool { return w.replicas > 0 })
		return fromValue(p, t, on)
	}
	w, why := r.one(key)
	if w == nil {
		return nil, why
	}
	where := w.ref.Kind + "/" + w.ref.Name
	switch {
	case t.Env != "":
		s, ok, why := r.env(w, t.Env)
		if why != "" {
			return nil, why
		}
		if !ok {
			if t.Unset != nil {
				return typed(p, t.Unset) // not set: the application's own default
			}
			return nil, fmt.Sprintf("%s sets no %s", where, t.Env)
		}
		return fromValue(p, t, s)
	case leaf == "replicas":
		return fromValue(p, t, int64(w.replicas))
	case leaf == "storageClass" || leaf == "storageClassName":
		if len(w.claims) == 0 {
			return nil, where + " has no volume claim template"
		}
		sc := w.claims[0].Spec.StorageClassName
		if sc == nil {
			return fromValue(p, t, nil)
		}
		return fromValue(p, t, *sc)
	case leaf == "nodeSelector":
		ns := map[string]any{}
		for k, v := range w.pod.Spec.NodeSelector {
			ns[k] = v
		}
		if len(ns) == 0 {
			return fromValue(p, t, nil)
		}
		return fromValue(p, t, ns)
	}
	env := upperSnake(leaf)
	for _, name := range []string{upperSnake(key) + "_" + env, env} {
		s, ok, why := r.env(w, name)
		if why != "" {
			return nil, why
		}
		if ok {
			return fromValue(p, t, s)
		}
	}
	return nil, fmt.Sprintf("%s sets neither %s_%s nor %s", where, upperSnake(key), env, env)
}

// env is the value of variable name in the workload's first container: its
// env list, else the ConfigMaps it takes envFrom.
func (r *reader) env(w *workload, name string) (string, bool, string) {
	c, why := mainContainer(w)
	if c == nil {
		return "", false, why
	}
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true, ""
		}
	}
	for i := len(c.EnvFrom) - 1; i >= 0; i-- { // later sources win
		src := c.EnvFrom[i]
		if src.ConfigMapRef == nil {
			continue
		}
		cm, err := r.configMap(src.ConfigMapRef.Name)
		if err != nil {
			return "", false, err.Error()
		}
		if cm == nil {
			continue
		}
		if v, ok := cm.Data[strings.TrimPrefix(name, src.Prefix)]; ok && strings.HasPrefix(name, src.Prefix) {
			return v, true, ""
		}
	}
	return "", false, ""
}

func (r *reader) configMap(name string) (*corev1.ConfigMap, error) {
	if cm, ok := r.cms[name]; ok {
		return cm, nil
	}
	cm, err := r.kc.CoreV1().ConfigMaps(r.ns).Get(r.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ConfigMap %s: %w", name, err)
	}
	r.cms[name] = cm
	return cm, nil
}

func mainContainer(w *workload) (*corev1.Container, string) {
	if len(w.pod.Spec.Containers) == 0 {
		return nil, w.ref.Kind + "/" + w.ref.Name + " has no container"
	}
	return &w.pod.Spec.Containers[0], ""
}

// fromValue turns what the cluster holds into p's value: through the
// target's map when it has one (the choice whose mapped value it is),
// else parsed as p's type.
func fromValue(p spaces.Param, t spaces.Target, v any) (any, string) {
	if t.Map != nil {
		for _, choice := range choicesOf(p) {
			if sameValue(t.Map[choice], v) {
				return typed(p, choice)
			}
		}
		return nil, fmt.Sprintf("%s holds %v, which no choice of %s maps to", t.Path, show(v), p.Name)
	}
	if v == nil {
		return nil, t.Path + " is not set"
	}
	return typed(p, v)
}

func choicesOf(p spaces.Param) []string {
	if p.Type == spaces.TypeBool {
		return []string{"true", "false"}
	}
	return p.Choices
}

// typed converts v (a string from an env var, an int64, a bool) to p's type.
func typed(p spaces.Param, v any) (any, string) {
	s := fmt.Sprint(v)
	switch p.Type {
	case spaces.TypeInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Sprintf("%q is not an integer", s)
		}
		return n, ""
	case spaces.TypeFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Sprintf("%q is not a number", s)
		}
		return f, ""
	case spaces.TypeBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Sprintf("%q is not true or false", s)
		}
		return b, ""
	case spaces.TypeChoice:
		if !slices.Contains(p.Choices, s) {
			return nil, fmt.Sprintf("%q is not one of %s", s, strings.Join(p.Choices, ", "))
		}
		return s, ""
	}
	return nil, fmt.Sprintf("unknown type %q", p.Type)
}

// sameValue compares a map target's value (from YAML) with what the
// cluster holds: scalars by their text, maps and lists element by element.
func sameValue(want, got any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, v := range w {
			if !sameValue(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		return reflect.DeepEqual(want, got)
	}
	return got != nil && fmt.Sprint(want) == fmt.Sprint(got)
}

func show(v any) string {
	if v == nil {
		return "nothing"
	}
	return fmt.Sprint(v)
}

// upperSnake writes a camelCase key as an environment variable name:
// defaultPoolSize → DEFAULT_POOL_SIZE, pluginDaemon → PLUGIN_DAEMON.
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		if r == '-' || r == '.' {
			r = '_'
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
