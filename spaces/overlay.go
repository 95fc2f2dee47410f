package spaces

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Overlay is the Helm values overlay for config c: only the tuned keys, at
// their Helm paths, so "helm upgrade -f" changes nothing else. CPU is written
// as "2" or "1500m", memory as "2Gi" or "1536Mi", replicas and int
// parameters as integers. Env targets become {name, value} list entries
// (value a string), sorted by name within each list. A choice or bool mapped
// to null leaves its path unset.
//
// Helm replaces lists wholesale, so when base (the user's own values, may be
// nil) holds a list at an env path, the overlay's list is that list with the
// entries of matching name replaced in place and the new ones appended.
// c must be complete and valid, as for Resolve.
//
// The chart's own list entries (target.helm.chartValues) are kept the same
// way, under base: so is a values.yaml exported with no base at all.
//
// The targets of a companion (target.helm.companions: what tune deploys
// beside the chart) are left out: CompanionOverlay has them.
func (s *Space) Overlay(c Config, base map[string]any) (map[string]any, error) {
	if h := s.Target.Helm; h != nil && h.ChartValues != nil {
		chart, _ := deepCopy(h.ChartValues).(map[string]any)
		base = mergeMaps(chart, base)
	}
	return s.overlay(c, base, func(path string) (string, bool) {
		top, _, _ := strings.Cut(path, ".")
		return path, s.Target.Helm.Companion(top) == nil
	})
}

// CompanionOverlay is the values of companion name for config c: its fixed
// values with the tuned ones over them, at the paths below its name
// (pgbouncer.poolMode is poolMode). on says whether c enables it; off, the
// companion is not deployed and the values are what it would run with.
func (s *Space) CompanionOverlay(c Config, name string) (values map[string]any, on bool, err error) {
	cp := s.Target.Helm.Companion(name)
	if cp == nil {
		return nil, false, invalidf("no companion %q in target.helm.companions", name)
	}
	cfg, err := s.normalize(c)
	if err != nil {
		return nil, false, err
	}
	tuned, err := s.overlay(cfg, nil, func(path string) (string, bool) {
		rest, ok := strings.CutPrefix(path, name+".")
		return rest, ok
	})
	if err != nil {
		return nil, false, err
	}
	fixed, _ := deepCopy(cp.Values).(map[string]any)
	return mergeMaps(fixed, tuned), cfg[cp.EnabledBy] == true, nil
}

// Companions lists the companions of the space's Helm target.
func (s *Space) Companions() []Companion {
	if s.Target.Helm == nil {
		return nil
	}
	return s.Target.Helm.Companions
}

// mergeMaps is a with b over it, as Helm merges values: maps key by key,
// anything else replaced. a is changed and returned.
func mergeMaps(a, b map[string]any) map[string]any {
	if a == nil {
		a = map[string]any{}
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := a[k].(map[string]any); ok {
				a[k] = mergeMaps(am, bm)
				continue
			}
		}
		a[k] = v
	}
	return a
}

// overlay writes c's values at the targets where(path) keeps, at the path
// it returns.
func (s *Space) overlay(c Config, base map[string]any, where func(string) (string, bool)) (map[string]any, error) {
	cfg, err := s.normalize(c)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	lists := map[string][]map[string]any{} // env entries by list path
	for _, k := range s.knobs() {
		v := cfg[k.name]
		for _, t := range k.targets() {
			path, ok := where(t.Path)
			if !ok {
				continue
			}
			t.Path = path
			val := helmValue(k, v)
			if t.Map != nil {
				m, ok := t.Map[fmt.Sprint(v)]
				if !ok || m == nil {
					continue // Validate guarantees an entry; null means "leave unset"
				}
				val = deepCopy(m)
			}
			if t.Env != "" {
				lists[t.Path] = append(lists[t.Path], map[string]any{"name": t.Env, "value": envString(val)})
				continue
			}
			if err := setPath(out, t.Path, val); err != nil {
				return nil, err
			}
		}
	}
	for _, path := range slices.Sorted(maps.Keys(lists)) {
		entries := lists[path]
		slices.SortFunc(entries, func(a, b map[string]any) int { return strings.Compare(a["name"].(string), b["name"].(string)) })
		list, err := mergeEnv(base, path, entries)
		if err != nil {
			return nil, err
		}
		if err := setPath(out, path, list); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// helmValue is v as the chart expects it.
func helmValue(k knob, v any) any {
	switch k.res {
	case "cpu":
		return Millicores(math.Round(v.(float64) * 1000)).String()
	case "memory":
		return Mebibytes(v.(int64)).String()
	}
	return v
}

// envString is how a value reads in an environment variable.
func envString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// setPath sets the dotted path in m, creating maps on the way.
func setPath(m map[string]any, path string, v any) error {
	parts := strings.Split(path, ".")
	for i, p := range parts[:len(parts)-1] {
		next, ok := m[p]
		if !ok {
			child := map[string]any{}
			m[p] = child
			m = child
			continue
		}
		child, ok := next.(map[string]any)
		if !ok {
			return invalidf("values path %s: %s is already set to a value", path, strings.Join(parts[:i+1], "."))
		}
		m = child
	}
	last := parts[len(parts)-1]
	if _, ok := m[last]; ok {
		return invalidf("values path %s is written twice", path)
	}
	m[last] = v
	return nil
}

// mergeEnv returns base's list at path with entries merged in by name, or
// entries alone when base has no list there.
func mergeEnv(base map[string]any, path string, entries []map[string]any) ([]any, error) {
	var cur any = base
	for p := range strings.SplitSeq(path, ".") {
		if cur == nil {
			break
		}
		cur = lookup(cur, p)
	}
	var out []any
	switch l := cur.(type) {
	case nil:
	case []any:
		out = deepCopy(l).([]any)
	default:
		return nil, invalidf("base values: %s is a %T, want a list of {name, value} entries", path, cur)
	}
	for _, e := range entries {
		i := slices.IndexFunc(out, func(item any) bool { return lookup(item, "name") == e["name"] })
		if i >= 0 {
			out[i] = e
		} else {
			out = append(out, e)
		}
	}
	return out, nil
}

// lookup is m[key] for the map types YAML and JSON decoders produce.
func lookup(m any, key string) any {
	switch x := m.(type) {
	case map[string]any:
		return x[key]
	case map[any]any:
		return x[key]
	}
	return nil
}

// CopyValues copies a Helm values tree (maps, with YAML's map[any]any keyed
// anew by string, and lists), so the copy shares nothing with v.
func CopyValues(v any) any { return deepCopy(v) }

// deepCopy copies maps and lists, so the overlay shares nothing with the
// space or base the caller may change later.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}
