package helm

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/tune-dify/tune/spaces"
)

// PathProblem is a values target of the space that does not reach the
// chart: rendering the parameter's smallest and largest value there gives
// the same manifests (a typo'd path, a key the chart ignores), or the chart
// refuses one of them (Err).
type PathProblem struct {
	Param string // "api.cpu"
	Path  string // "api.resources.limits.cpu", "api.extraEnv[SERVER_WORKER_AMOUNT]"
	Low   any
	High  any
	Err   error // the render of Low or High failed (the schema refused it)
}

func (p PathProblem) String() string {
	if p.Err != nil {
		return fmt.Sprintf("%s: %s: %v", p.Param, p.Path, p.Err)
	}
	return fmt.Sprintf("%s: %s changes nothing in the rendered manifests (%v and %v render the same)", p.Param, p.Path, p.Low, p.High)
}

// CheckPaths renders, for every values target of every parameter, the
// parameter's smallest and largest value at that target alone (everything
// else at the baseline), and reports each target whose two renders are the
// same. It needs no cluster. The error is for a chart that does not render
// at the baseline at all.
//
// Charts that randomise every render (Bitnami's generated passwords,
// Weaviate's cluster credentials, checksums of them) would make every path
// look alive: the baseline is rendered twice first, and the lines that
// differ between those two renders are the render's own noise, left out of
// every comparison. A companion's targets (target.helm.companions) are
// rendered with the companion's chart.
func (d *Deployer) CheckPaths(ctx context.Context) ([]PathProblem, error) {
	sp := d.space
	// A setting may matter only when a switch is on (pgbouncer's pool with
	// pgbouncer.enabled): a target dead at the baseline is tried again with
	// every bool parameter true before it is reported.
	baseCfg := sp.Baseline()
	contexts := []spaces.Config{baseCfg}
	if on := allBoolsTrue(sp, baseCfg); !maps.Equal(on, baseCfg) {
		contexts = append(contexts, on)
	}
	var bases []*pathBase
	for _, c := range contexts {
		b, err := d.pathBase(ctx, c)
		if err != nil {
			return nil, err
		}
		bases = append(bases, b)
	}
	type job struct {
		k extreme
		t spaces.Target
	}
	var jobs []job
	for _, k := range extremes(sp) {
		if fmt.Sprint(k.low) == fmt.Sprint(k.high) || len(k.targets) == 0 {
			continue
		}
		for _, t := range k.targets {
			jobs = append(jobs, job{k, t})
		}
	}
	// Renders take a tenth of a second or more on a real chart and a space
	// has about a hundred targets: they run on every core.
	results := make([]*PathProblem, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			p := PathProblem{Param: j.k.name, Path: j.t.Path, Low: j.k.low, High: j.k.high}
			if j.t.Env != "" {
				p.Path += "[" + j.t.Env + "]"
			}
			for _, b := range bases {
				changes, err := d.changes(ctx, b, j.k, j.t)
				if err != nil {
					p.Err = err
					break
				}
				if changes {
					return
				}
			}
			results[i] = &p
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := d.checkChartValues()
	if err != nil {
		return nil, err
	}
	for _, p := range results {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

// pathBase is one configuration CheckPaths varies targets around: its
// chart overlay and companions' values, and the noise of its render.
type pathBase struct {
	cfg       spaces.Config
	chart     map[string]any
	companion map[string]map[string]any
	noise     noise
	rendered  string // the chart's manifest at cfg
}

func (d *Deployer) pathBase(ctx context.Context, cfg spaces.Config) (*pathBase, error) {
	ov, err := d.Overlay(cfg)
	if err != nil {
		return nil, err
	}
	chartOv, plans := d.splitCompanions(ov)
	b := &pathBase{cfg: cfg, chart: chartOv, companion: map[string]map[string]any{}}
	for _, p := range plans {
		b.companion[p.cp.Name] = p.values
	}
	one, err := d.render(ctx, d.values(chartOv), false)
	if err != nil {
		return nil, fmt.Errorf("the baseline does not render: %w", err)
	}
	two, err := d.render(ctx, d.values(chartOv), false)
	if err != nil {
		return nil, fmt.Errorf("the baseline does not render: %w", err)
	}
	b.noise = learnNoise(one.Manifest, two.Manifest)
	b.rendered = one.Manifest
	return b, nil
}

// changes reports whether k's low and high values, written at target t
// alone over base, render different manifests (beyond the render's noise).
func (d *Deployer) changes(ctx context.Context, base *pathBase, k extreme, t spaces.Target) (bool, error) {
	lowOv, err := d.Overlay(with(base.cfg, k.name, k.low))
	if err != nil {
		return false, err
	}
	highOv, err := d.Overlay(with(base.cfg, k.name, k.high))
	if err != nil {
		return false, err
	}
	top, rest, _ := strings.Cut(t.Path, ".")
	if cp := d.space.Target.Helm.Companion(top); cp != nil {
		ct := t
		ct.Path = rest
		from := func(ov map[string]any) map[string]any { v, _ := ov[top].(map[string]any); return v }
		lo, err := renderCompanion(ctx, *cp, d.namespace, slot(base.companion[top], from(lowOv), ct))
		if err != nil {
			return false, fmt.Errorf("%v: %w", k.low, err)
		}
		hi, err := renderCompanion(ctx, *cp, d.namespace, slot(base.companion[top], from(highOv), ct))
		if err != nil {
			return false, fmt.Errorf("%v: %w", k.high, err)
		}
		return lo.Manifest != hi.Manifest, nil
	}
	// The extreme that differs from cfg's own value is rendered first and
	// compared with cfg's render: one render for a live path, and the
	// other extreme only when that one changed nothing.
	first, second := highOv, lowOv
	firstV, secondV := k.high, k.low
	if fmt.Sprint(base.cfg[k.name]) == fmt.Sprint(k.high) {
		first, second, firstV, secondV = lowOv, highOv, k.low, k.high
	}
	one, err := d.render(ctx, d.values(slot(base.chart, first, t)), false)
	if err != nil {
		return false, fmt.Errorf("%v: %w", firstV, err)
	}
	if base.noise.differ(base.rendered, one.Manifest) {
		return true, nil
	}
	two, err := d.render(ctx, d.values(slot(base.chart, second, t)), false)
	if err != nil {
		return false, fmt.Errorf("%v: %w", secondV, err)
	}
	return base.noise.differ(one.Manifest, two.Manifest), nil
}

// noise is, per document of a manifest, the lines that differ between two
// renders of the same values.
type noise map[string]map[int]bool

// docs splits a manifest into its documents by a key that does not depend
// on their content: the template they come from and their place among
// that template's documents.
func docs(manifest string) map[string][]string {
	out := map[string][]string{}
	seen := map[string]int{}
	for _, doc := range strings.Split(manifest, "\n---") {
		doc = strings.TrimSpace(doc)
		if doc == "" {
			continue
		}
		lines := strings.Split(doc, "\n")
		src := lines[0]
		key := fmt.Sprintf("%s#%d", src, seen[src])
		seen[src]++
		out[key] = lines
	}
	return out
}

func learnNoise(one, two string) noise {
	n := noise{}
	a, b := docs(one), docs(two)
	for key, la := range a {
		lb := b[key]
		if len(la) != len(lb) {
			n[key] = nil // the whole document: compared by its line count only
			continue
		}
		for i := range la {
			if la[i] != lb[i] {
				if n[key] == nil {
					n[key] = map[int]bool{}
				}
				n[key][i] = true
			}
		}
	}
	return n
}

// differ reports whether two manifests differ other than in n's lines.
func (n noise) differ(one, two string) bool {
	a, b := docs(one), docs(two)
	if len(a) != len(b) {
		return true
	}
	for key, la := range a {
		lb, ok := b[key]
		if !ok || len(la) != len(lb) {
			return true
		}
		lines, noisy := n[key]
		if noisy && lines == nil {
			continue
		}
		for i := range la {
			if la[i] != lb[i] && !lines[i] {
				return true
			}
		}
	}
	return false
}

func allBoolsTrue(sp *spaces.Space, c spaces.Config) spaces.Config {
	out := maps.Clone(c)
	for _, p := range sp.Params {
		if p.Type == spaces.TypeBool {
			out[p.Name] = true
		}
	}
	return out
}

// extreme is a parameter's smallest and largest value and its targets.
type extreme struct {
	name      string
	low, high any
	targets   []spaces.Target
}

func extremes(sp *spaces.Space) []extreme {
	var out []extreme
	for _, sv := range sp.Services {
		out = append(out,
			extreme{sv.Name + ".replicas", sv.Replicas.Min, sv.Replicas.Max, sv.Replicas.Values},
			extreme{sv.Name + ".cpu", sv.CPU.Min.Cores(), sv.CPU.Max.Cores(), sv.CPU.Values},
			extreme{sv.Name + ".memory", int64(sv.Memory.Min), int64(sv.Memory.Max), sv.Memory.Values})
	}
	for _, p := range sp.Params {
		e := extreme{name: p.Name, targets: p.Values}
		switch p.Type {
		case spaces.TypeInt:
			e.low, e.high = int64(p.Min), int64(p.Max)
		case spaces.TypeFloat:
			e.low, e.high = p.Min, p.Max
		case spaces.TypeBool:
			e.low, e.high = false, true
		case spaces.TypeChoice:
			if len(p.Choices) == 0 {
				continue
			}
			e.low, e.high = p.Choices[0], p.Choices[len(p.Choices)-1]
		}
		out = append(out, e)
	}
	return out
}

func with(c spaces.Config, name string, v any) spaces.Config {
	out := maps.Clone(c)
	out[name] = v
	return out
}

// slot is base with target t's slot taken from from: a plain path's value
// (or its absence), or an env list's entry of that name.
func slot(base, from map[string]any, t spaces.Target) map[string]any {
	out := spaces.CopyValues(base).(map[string]any)
	parts := strings.Split(t.Path, ".")
	src, ok := lookupPath(from, parts)
	if t.Env == "" {
		if ok {
			setValue(out, parts, spaces.CopyValues(src))
		} else {
			deleteValue(out, parts)
		}
		return out
	}
	entry := envEntry(src, t.Env)
	list, _ := lookupPath(out, parts)
	items, _ := list.([]any)
	items = append([]any(nil), items...)
	found := false
	for i, it := range items {
		if m, ok := it.(map[string]any); ok && m["name"] == t.Env {
			found = true
			if entry == nil {
				items = append(items[:i], items[i+1:]...)
			} else {
				items[i] = entry
			}
			break
		}
	}
	if !found && entry != nil {
		items = append(items, entry)
	}
	setValue(out, parts, items)
	return out
}

func envEntry(list any, name string) map[string]any {
	items, _ := list.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

func lookupPath(m map[string]any, parts []string) (any, bool) {
	var cur any = m
	for _, p := range parts {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func setValue(m map[string]any, parts []string, v any) {
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func deleteValue(m map[string]any, parts []string) {
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
}

// checkChartValues compares the space's copy of the chart's own list
// entries (target.helm.chartValues) with the chart's values: a chart
// version that changed them would otherwise lose entries in every export.
func (d *Deployer) checkChartValues() ([]PathProblem, error) {
	h := d.space.Target.Helm
	if h == nil || h.ChartValues == nil {
		return nil, nil
	}
	ch, err := d.loadChart()
	if err != nil {
		return nil, err
	}
	var out []PathProblem
	var walk func(prefix []string, want map[string]any)
	walk = func(prefix []string, want map[string]any) {
		for _, k := range slices.Sorted(maps.Keys(want)) {
			path := append(slices.Clone(prefix), k)
			if m, ok := want[k].(map[string]any); ok {
				walk(path, m)
				continue
			}
			got, _ := lookupPath(ch.Values, path)
			if !reflect.DeepEqual(spaces.CopyValues(got), spaces.CopyValues(want[k])) {
				out = append(out, PathProblem{Param: "target.helm.chartValues", Path: strings.Join(path, "."),
					Err: fmt.Errorf("the space says the chart holds %v, the chart holds %v", want[k], got)})
			}
		}
	}
	walk(nil, h.ChartValues)
	return out, nil
}
