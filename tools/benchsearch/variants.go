package main

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tune-dify/tune/deployer/sim"
)

// Perturbed models: a sampler whose defaults were tuned on the calibrated
// model may only have learnt that model. The suite therefore also runs
// each base case on variants of the model, every what-if constant
// (sim.Constants, the same figures a user's --model-overrides file
// replaces) drawn from a declared range with a seed, each variant with its
// own searched optimum. The first variants of each base case choose the
// sampler's defaults (tuning); the others are only reported (held out).

// variantsAPIVersion and variantsKind head variants.yaml.
const (
	variantsAPIVersion = "tune.dify.dev/v1alpha1"
	variantsKind       = "VariantRanges"
)

// variantRanges is variants.yaml: which base cases get variants, how many,
// and the range of every model constant.
type variantRanges struct {
	File    string
	PerCase int      // variants per base case
	Tuning  int      // the first Tuning variants of each base case are tuning cases
	Bases   []string // base case names
	// Ranges, in sim.Constants' field order: every constant has one (min
	// = max holds it), so a constant added to the model needs a decision
	// here before the suite runs.
	Ranges []constantRange
}

// constantRange is one constant's declared range; values are drawn
// log-uniformly between Min and Max (the constants are multiplicative: a
// disk twice as slow as the calibrated one is as plausible as one twice as
// fast).
type constantRange struct {
	Name     string // sim.Constants' yaml name
	Min, Max float64
	Duration bool   // a time.Duration (Min and Max in seconds)
	Why      string // where the range comes from
}

// variant is one drawn model: its name ("v1"), its number, the overrides
// file it amounts to (what a user passes to --model-overrides to run the
// same what-if) and the constants that file gives.
type variant struct {
	Name      string
	Overrides string
	Constants sim.Constants
}

// constantFields are sim.Constants' yaml names and whether each is a
// duration, in field order.
func constantFields() (names []string, duration map[string]bool) {
	duration = map[string]bool{}
	t := reflect.TypeFor[sim.Constants]()
	for i := range t.NumField() {
		f := t.Field(i)
		n := f.Tag.Get("yaml")
		names = append(names, n)
		duration[n] = f.Type == reflect.TypeFor[time.Duration]()
	}
	return names, duration
}

// variantsFileError is one problem of variants.yaml, with its line.
type variantsFileError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *variantsFileError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

func (e *variantsFileError) Unwrap() error { return errBadInput }

// readVariants reads and checks variants.yaml.
func readVariants(file string) (*variantRanges, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: -variants: %w", errBadInput, err)
	}
	return parseVariants(file, data)
}

// parseVariants decodes variants.yaml strictly: unknown fields, wrong types,
// a constant left out or a range the model refuses are errors naming the
// line, every one at once.
//
//	apiVersion: tune.dify.dev/v1alpha1
//	kind: VariantRanges
//	perCase: 2
//	tuningPerCase: 1
//	bases: [seed/8c16g/chatflow]
//	ranges:
//	  cpuSpeed: {min: 0.7, max: 1.4, why: "..."}
//	  fsyncNFS: {min: 4ms, max: 30ms, why: "..."}
func parseVariants(file string, data []byte) (*variantRanges, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: not YAML: %w", errBadInput, file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &variantsFileError{File: file, Line: max(1, doc.Line), Msg: "want a mapping"}
	}
	root := doc.Content[0]
	v := &variantRanges{File: file}
	var errs []error
	bad := func(n *yaml.Node, field, format string, a ...any) {
		errs = append(errs, &variantsFileError{File: file, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	names, isDuration := constantFields()
	seen := map[string]bool{}
	var version, kind string
	var ranges *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		if seen[key.Value] {
			bad(key, key.Value, "set twice")
			continue
		}
		seen[key.Value] = true
		switch key.Value {
		case "apiVersion":
			version = val.Value
		case "kind":
			kind = val.Value
		case "perCase", "tuningPerCase":
			n, err := strconv.Atoi(val.Value)
			if val.Kind != yaml.ScalarNode || err != nil || n < 0 || n > 100 {
				bad(val, key.Value, "want a whole number from 0 to 100, got %q", val.Value)
				continue
			}
			if key.Value == "perCase" {
				v.PerCase = n
			} else {
				v.Tuning = n
			}
		case "bases":
			if val.Kind != yaml.SequenceNode {
				bad(val, "bases", "want a list of case names")
				continue
			}
			for _, b := range val.Content {
				if b.Kind != yaml.ScalarNode || b.Value == "" {
					bad(b, "bases", "want a case name such as seed/8c16g/chatflow")
					continue
				}
				v.Bases = append(v.Bases, b.Value)
			}
		case "ranges":
			ranges = val
		default:
			bad(key, key.Value, "unknown field (known: apiVersion, kind, perCase, tuningPerCase, bases, ranges)")
		}
	}
	if version != variantsAPIVersion || kind != variantsKind {
		bad(root, "", "want apiVersion %s and kind %s, got %q and %q", variantsAPIVersion, variantsKind, version, kind)
	}
	if v.Tuning > v.PerCase {
		bad(root, "tuningPerCase", "%d is more than perCase %d: no variant would be held out", v.Tuning, v.PerCase)
	}
	if ranges == nil || ranges.Kind != yaml.MappingNode {
		line := root
		if ranges != nil {
			line = ranges
		}
		bad(line, "ranges", "want a mapping of constant name to {min, max, why}")
		return nil, errors.Join(errs...)
	}
	byName := map[string]constantRange{}
	for i := 0; i+1 < len(ranges.Content); i += 2 {
		key, val := ranges.Content[i], ranges.Content[i+1]
		field := "ranges." + key.Value
		if !slices.Contains(names, key.Value) {
			bad(key, field, "unknown constant (known: %s)", strings.Join(names, ", "))
			continue
		}
		if _, dup := byName[key.Value]; dup {
			bad(key, field, "set twice")
			continue
		}
		r, err := parseRange(file, field, key.Value, isDuration[key.Value], val)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		byName[key.Value] = r
	}
	for _, n := range names {
		r, ok := byName[n]
		if !ok {
			if len(errs) == 0 || !hasField(errs, "ranges."+n) {
				bad(ranges, "ranges."+n, "missing: every model constant needs a range (min = max holds it at that value)")
			}
			continue
		}
		v.Ranges = append(v.Ranges, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return v, nil
}

func hasField(errs []error, field string) bool {
	for _, e := range errs {
		var fe *variantsFileError
		if errors.As(e, &fe) && fe.Field == field {
			return true
		}
	}
	return false
}

// parseRange reads {min, max, why} of one constant. Both ends must be
// values the model takes (sim.ParseOverrides judges them, the one owner of
// that rule) and min ≤ max.
func parseRange(file, field, name string, duration bool, n *yaml.Node) (constantRange, error) {
	r := constantRange{Name: name, Duration: duration}
	bad := func(at *yaml.Node, f, format string, a ...any) error {
		return &variantsFileError{File: file, Line: at.Line, Field: f, Msg: fmt.Sprintf(format, a...)}
	}
	if n.Kind != yaml.MappingNode {
		return r, bad(n, field, "want {min, max, why}")
	}
	var errs []error
	got := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		f := field + "." + key.Value
		if got[key.Value] {
			errs = append(errs, bad(key, f, "set twice"))
			continue
		}
		got[key.Value] = true
		switch key.Value {
		case "why":
			if val.Kind != yaml.ScalarNode || strings.TrimSpace(val.Value) == "" {
				errs = append(errs, bad(val, f, "want a sentence saying where the range comes from"))
			}
			r.Why = strings.TrimSpace(val.Value)
		case "min", "max":
			x, err := constantValue(name, duration, val)
			if err != nil {
				errs = append(errs, bad(val, f, "%v", err))
				continue
			}
			if key.Value == "min" {
				r.Min = x
			} else {
				r.Max = x
			}
		default:
			errs = append(errs, bad(key, f, "unknown field (known: min, max, why)"))
		}
	}
	for _, k := range []string{"min", "max", "why"} {
		if !got[k] {
			errs = append(errs, bad(n, field+"."+k, "missing"))
		}
	}
	if len(errs) == 0 && r.Min > r.Max {
		errs = append(errs, bad(n, field, "min %s is above max %s", formatConstant(r.Min, duration), formatConstant(r.Max, duration)))
	}
	return r, errors.Join(errs...)
}

// constantValue reads one end of a range as the overrides file would,
// through sim.ParseOverrides: the model's own rule for what it takes.
func constantValue(name string, duration bool, val *yaml.Node) (float64, error) {
	if val.Kind != yaml.ScalarNode {
		return 0, errors.New("want a scalar")
	}
	text := strconv.Quote(val.Value)
	if !duration {
		x, err := strconv.ParseFloat(val.Value, 64)
		if err != nil {
			return 0, fmt.Errorf("want a number, got %q", val.Value)
		}
		text = strconv.FormatFloat(x, 'g', -1, 64)
	}
	doc := fmt.Sprintf("apiVersion: %s\nkind: %s\n%s: %s\n", sim.OverridesAPIVersion, sim.OverridesKind, name, text)
	k, err := sim.ParseOverrides("range", []byte(doc))
	if err != nil {
		var oe *sim.OverridesError
		if errors.As(err, &oe) {
			return 0, errors.New(oe.Msg)
		}
		return 0, err
	}
	return constantOf(k, name), nil
}

// constantOf is k's value of the named constant (seconds for durations).
func constantOf(k sim.Constants, name string) float64 {
	v := reflect.ValueOf(k)
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("yaml") != name {
			continue
		}
		if d, ok := v.Field(i).Interface().(time.Duration); ok {
			return d.Seconds()
		}
		return v.Field(i).Float()
	}
	return math.NaN()
}

// formatConstant writes a value as an overrides file does: a duration
// rounded to the microsecond (the nanosecond below one), a number with
// four significant digits.
func formatConstant(x float64, duration bool) string {
	if duration {
		d := time.Duration(math.Round(x * float64(time.Second)))
		if r := d.Round(time.Microsecond); r > 0 {
			d = r
		}
		return d.String()
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// draw returns the variants of base for a seed: variant i's constants come
// from a generator seeded by the seed, the base case's name and i, so
// adding a base case or a variant changes no other variant.
func (v *variantRanges) draw(base string, seed uint64) ([]variant, error) {
	var out []variant
	for i := 1; i <= v.PerCase; i++ {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s#%d", base, i)
		rng := rand.New(rand.NewPCG(seed, h.Sum64()))
		var b bytes.Buffer
		fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\n", sim.OverridesAPIVersion, sim.OverridesKind)
		for _, r := range v.Ranges {
			x := r.Min
			if r.Max > r.Min {
				x = math.Exp(math.Log(r.Min) + rng.Float64()*(math.Log(r.Max)-math.Log(r.Min)))
			}
			fmt.Fprintf(&b, "%s: %s\n", r.Name, formatConstant(x, r.Duration))
		}
		k, err := sim.ParseOverrides(fmt.Sprintf("%s variant %d", base, i), b.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s: a drawn variant the model refuses: %w", v.File, err)
		}
		out = append(out, variant{Name: fmt.Sprintf("v%d", i), Overrides: b.String(), Constants: k})
	}
	return out, nil
}

// variantCases are the suite's perturbed cases: for each base case named
// in v, its variants drawn with seed; the first v.Tuning of each are tuning
// cases, the rest held out.
func variantCases(v *variantRanges, bases []benchCase, seed uint64) ([]benchCase, error) {
	named := byName(bases)
	var out []benchCase
	for _, name := range v.Bases {
		base, ok := named[name]
		if !ok {
			return nil, fmt.Errorf("%w: %s: bases: no case %q", errBadInput, v.File, name)
		}
		vs, err := v.draw(name, seed)
		if err != nil {
			return nil, err
		}
		for i := range vs {
			c := base
			c.Variant = &vs[i]
			c.Tuning = i < v.Tuning
			out = append(out, c)
		}
	}
	return out, nil
}

// model is the case's model with a noise seed: the calibrated constants,
// or the variant's.
func (p *problem) model(seed int64) *sim.Model {
	m := &sim.Model{Seed: seed}
	if p.Variant != nil {
		k := p.Variant.Constants
		m.Constants = &k
	}
	return m
}

// ratios describes a variant's constants against the calibrated ones,
// those that differ by more than 1%: "cpuSpeed ×0.83, fsyncNFS ×1.42".
func (v *variant) ratios() string {
	def := sim.DefaultConstants()
	names, _ := constantFields()
	var out []string
	for _, n := range names {
		r := constantOf(v.Constants, n) / constantOf(def, n)
		if math.Abs(r-1) > 0.01 {
			out = append(out, fmt.Sprintf("%s ×%.2f", n, r))
		}
	}
	return strings.Join(out, ", ")
}

// variantOptimum is a variant's optimum as optima-variants.json records
// it: the optimum, and the overrides it was found on; a variant drawn
// differently since (other ranges, seed or model) is searched again.
type variantOptimum struct {
	optimum
	Overrides string `json:"overrides"`
}

// variantRow is one perturbed case in the report: what was drawn, and how
// far its optimum moved from the base case's.
type variantRow struct {
	Case        string  `json:"case"`
	Base        string  `json:"base"`
	Tuning      bool    `json:"tuning"`
	Constants   string  `json:"constants"` // ratios to the calibrated figures
	Overrides   string  `json:"overrides"` // the --model-overrides file of the same what-if
	Optimum     float64 `json:"optimum_tps"`
	BaseOptimum float64 `json:"base_optimum_tps,omitempty"` // 0: the base case was not run
	// Moved lists the optimum's parameters that differ from the base
	// case's optimum.
	Moved string `json:"moved,omitempty"`
}

// variantRows are the chosen variant cases with their optima and their
// base cases' (when recorded).
func variantRows(probs []*problem, optima map[string]optimum) []variantRow {
	var out []variantRow
	for _, p := range probs {
		if p.Variant == nil {
			continue
		}
		base := p.benchCase
		base.Variant = nil
		opt := optima[p.Name()]
		r := variantRow{Case: p.Name(), Base: base.Name(), Tuning: p.Tuning, Constants: p.Variant.ratios(),
			Overrides: p.Variant.Overrides, Optimum: opt.TPS}
		if bo, ok := optima[base.Name()]; ok {
			r.BaseOptimum = bo.TPS
			r.Moved = moved(p, bo.Params, opt.Params)
		}
		out = append(out, r)
	}
	return out
}

// moved lists the parameters where b differs from a: "api.replicas 3→4".
func moved(p *problem, a, b map[string]any) string {
	var out []string
	for _, n := range p.sp.ParamNames() {
		if fmt.Sprint(a[n]) != fmt.Sprint(b[n]) {
			out = append(out, fmt.Sprintf("%s %v→%v", n, a[n], b[n]))
		}
	}
	return strings.Join(out, ", ")
}

func printVariants(w io.Writer, rows []variantRow, seed uint64) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nperturbed models (-variant-seed %d; * tuning, the others held out): the constants drawn against the calibrated model,\n"+
		"the variant's optimum against its base case's, and what moved in the optimal configuration\n", seed)
	for _, r := range rows {
		name := r.Case
		if r.Tuning {
			name += "*"
		}
		base := "-"
		if r.BaseOptimum > 0 {
			base = fmt.Sprintf("%.1f (%+.0f%%)", r.BaseOptimum, 100*(r.Optimum/r.BaseOptimum-1))
		}
		fmt.Fprintf(w, "%-28s optimum %6.1f TPS, base %s\n    constants: %s\n", name, r.Optimum, base, r.Constants)
		if r.Moved != "" {
			fmt.Fprintf(w, "    moved: %s\n", r.Moved)
		}
	}
}
