package helm

import (
	"context"
	"fmt"
	"maps"
	"strings"

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
	var overlays []map[string]any
	for _, c := range contexts {
		ov, err := d.Overlay(c)
		if err != nil {
			return nil, err
		}
		if _, err := d.render(ctx, d.values(ov), false); err != nil {
			return nil, fmt.Errorf("the baseline does not render: %w", err)
		}
		overlays = append(overlays, ov)
	}
	var out []PathProblem
	for _, k := range extremes(sp) {
		if fmt.Sprint(k.low) == fmt.Sprint(k.high) || len(k.targets) == 0 {
			continue
		}
		for _, t := range k.targets {
			p := PathProblem{Param: k.name, Path: t.Path, Low: k.low, High: k.high}
			if t.Env != "" {
				p.Path += "[" + t.Env + "]"
			}
			live := false
			for i, c := range contexts {
				changes, err := d.changes(ctx, overlays[i], c, k, t)
				if err != nil {
					p.Err = err
					break
				}
				if changes {
					live = true
					break
				}
			}
			if !live {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// changes reports whether k's low and high values, written at target t
// alone over base (the overlay of cfg), render different manifests.
func (d *Deployer) changes(ctx context.Context, base map[string]any, cfg spaces.Config, k extreme, t spaces.Target) (bool, error) {
	lowOv, err := d.Overlay(with(cfg, k.name, k.low))
	if err != nil {
		return false, err
	}
	highOv, err := d.Overlay(with(cfg, k.name, k.high))
	if err != nil {
		return false, err
	}
	lo, err := d.render(ctx, d.values(slot(base, lowOv, t)), false)
	if err != nil {
		return false, fmt.Errorf("%v: %w", k.low, err)
	}
	hi, err := d.render(ctx, d.values(slot(base, highOv, t)), false)
	if err != nil {
		return false, fmt.Errorf("%v: %w", k.high, err)
	}
	return lo.Manifest != hi.Manifest, nil
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
