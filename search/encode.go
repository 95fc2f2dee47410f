package search

import (
	"fmt"
	"math"
	"slices"

	"github.com/c-bata/goptuna"

	"github.com/tune-dify/tune/spaces"
)

// Encoding maps the sampler's search space onto feasible configurations.
//
// Each dimension but CPU is the parameter itself in its own units
// (replicas, MiB, workers, choices), so what TPE learns reads like the
// configuration.
// Feasibility comes from a deterministic projection, not rejection:
//   - replicas are lowered, service by service, until the smallest
//     allocation of every service still fits the budget;
//   - CPU above the minimums is split by stick-breaking in the space's
//     service order: each service's dimension is the share of the CPU still
//     free that it takes; memory asked for above the minimums is scaled by
//     one common factor; with a node pool both shrink until the pods pack.
//
// The minimum configuration fits (Validate checks that), so the projection
// always ends on a feasible point and no trial is spent over budget.
type Encoding struct {
	space  *spaces.Space
	budget spaces.Budget
	// unitChoices encodes choices as a float in [0, 1) for samplers that
	// cannot handle categorical distributions (CMA-ES).
	unitChoices bool
	dims        []dim
}

// dim is one sampler dimension: its goptuna distribution and, for discrete
// parameters, the values its raw value picks from. A categorical dimension's
// raw value is an index into levels; a unit dimension's is u in [0, 1] and
// picks levels[⌊u·n⌋]. Integers are unit dimensions because goptuna v0.9.0's
// stepped-int distribution misbehaves (TPE ignores the step, an enqueued top
// value is not taken as fixed, Sobol never draws it).
type dim struct {
	name   string
	dist   any
	levels []any // nil: the raw value is the config value (floats, CPU shares)
	unit   bool
}

// index is the level raw picks.
func (d dim) index(raw float64) int {
	n := len(d.levels)
	i := int(raw)
	if d.unit {
		i = int(math.Floor(raw * float64(n)))
	}
	return min(n-1, max(0, i))
}

// value is the config value raw stands for.
func (d dim) value(raw float64) any {
	if d.levels == nil {
		return raw
	}
	return d.levels[d.index(raw)]
}

// rawOf is the raw value that stands for level i: the middle of its slice
// of [0, 1] for a unit dimension.
func (d dim) rawOf(i int) float64 {
	if d.unit {
		return (float64(i) + 0.5) / float64(len(d.levels))
	}
	return float64(i)
}

// encode is the raw value for config value v (the nearest level).
func (d dim) encode(v any) float64 {
	if d.levels == nil {
		return toFloat(v)
	}
	best, gap := 0, math.Inf(1)
	for i, l := range d.levels {
		if fmt.Sprint(l) == fmt.Sprint(v) {
			return d.rawOf(i)
		}
		if g := math.Abs(toFloat(l) - toFloat(v)); g < gap {
			best, gap = i, g
		}
	}
	return d.rawOf(best)
}

// intLevels lists lo, lo+step, ..., hi.
func intLevels(lo, hi, step int64) []any {
	var ls []any
	for v := lo; v <= hi; v += max(1, step) {
		ls = append(ls, v)
	}
	return ls
}

// discrete is a dimension over levels: categorical when the sampler handles
// it and the levels are choices, a unit float otherwise.
func discrete(name string, levels []any, categorical bool) dim {
	if categorical {
		names := make([]string, len(levels))
		for i, l := range levels {
			names[i] = fmt.Sprint(l)
		}
		return dim{name: name, dist: goptuna.CategoricalDistribution{Choices: names}, levels: levels}
	}
	return dim{name: name, dist: goptuna.UniformDistribution{Low: 0, High: 1}, levels: levels, unit: true}
}

// NewEncoding builds the encoding of sp under budget b.
func NewEncoding(sp *spaces.Space, b spaces.Budget, unitChoices bool) *Encoding {
	e := &Encoding{space: sp, budget: b, unitChoices: unitChoices}
	for _, s := range sp.Services {
		if r := s.Replicas; r.Max > r.Min {
			e.dims = append(e.dims, discrete(s.Name+".replicas", intLevels(r.Min, r.Max, r.Step), false))
		}
		if s.CPU.Max > s.CPU.Min {
			// A share of the CPU still free when this service's turn
			// comes (stick-breaking), not cores: see apply.
			e.dims = append(e.dims, dim{name: s.Name + ".cpu", dist: goptuna.UniformDistribution{Low: 0, High: 1}})
		}
		if s.Memory.Max > s.Memory.Min {
			e.dims = append(e.dims, dim{name: s.Name + ".memory", dist: goptuna.UniformDistribution{
				Low: float64(s.Memory.Min), High: float64(s.Memory.Max)}})
		}
	}
	for _, p := range sp.Params {
		if d, ok := paramDim(p, unitChoices); ok {
			e.dims = append(e.dims, d)
		}
	}
	return e
}

// paramDim is the dimension of a non-resource parameter; false when it has
// a single value.
func paramDim(p spaces.Param, unitChoices bool) (dim, bool) {
	if r := p.PerCPU; r != nil {
		// A ratio to the service's cores, turned into a count in perCore.
		return dim{name: p.Name, dist: goptuna.UniformDistribution{Low: r.Min, High: r.Max}}, true
	}
	switch p.Type {
	case spaces.TypeInt:
		if p.Max > p.Min {
			return discrete(p.Name, intLevels(int64(p.Min), int64(p.Max), int64(p.Step)), false), true
		}
	case spaces.TypeFloat:
		switch {
		case p.Max <= p.Min:
		case p.Log:
			return dim{name: p.Name, dist: goptuna.LogUniformDistribution{Low: p.Min, High: p.Max}}, true
		case p.Step > 0:
			return dim{name: p.Name, dist: goptuna.DiscreteUniformDistribution{Low: p.Min, High: p.Max, Q: p.Step}}, true
		default:
			return dim{name: p.Name, dist: goptuna.UniformDistribution{Low: p.Min, High: p.Max}}, true
		}
	case spaces.TypeBool:
		return discrete(p.Name, []any{false, true}, !unitChoices), true
	case spaces.TypeChoice:
		if len(p.Choices) > 1 {
			levels := make([]any, len(p.Choices))
			for i, c := range p.Choices {
				levels[i] = c
			}
			return discrete(p.Name, levels, !unitChoices), true
		}
	}
	return dim{}, false
}

// SearchSpace is the goptuna search space, for samplers that need it defined
// up front (CMA-ES, Sobol).
func (e *Encoding) SearchSpace() map[string]any {
	m := make(map[string]any, len(e.dims))
	for _, d := range e.dims {
		m[d.name] = d.dist
	}
	return m
}

// Suggest asks the trial for every dimension and returns the raw values in
// internal representation (what goptuna stores).
func (e *Encoding) Suggest(t goptuna.Trial) (map[string]float64, error) {
	raw := make(map[string]float64, len(e.dims))
	for _, d := range e.dims {
		var v float64
		var err error
		switch dist := d.dist.(type) {
		case goptuna.UniformDistribution:
			v, err = t.SuggestFloat(d.name, dist.Low, dist.High)
		case goptuna.LogUniformDistribution:
			v, err = t.SuggestLogFloat(d.name, dist.Low, dist.High)
		case goptuna.DiscreteUniformDistribution:
			v, err = t.SuggestDiscreteFloat(d.name, dist.Low, dist.High, dist.Q)
		case goptuna.CategoricalDistribution:
			var c string
			c, err = t.SuggestCategorical(d.name, dist.Choices)
			v = float64(max(0, slices.Index(dist.Choices, c)))
		}
		if err != nil {
			return nil, fmt.Errorf("suggest %s: %w", d.name, err)
		}
		raw[d.name] = v
	}
	return raw, nil
}

// Decode projects raw sampler values onto a feasible configuration and
// returns it resolved. Dimensions missing from raw take their current value.
func (e *Encoding) Decode(raw map[string]float64) (spaces.Config, spaces.System, error) {
	sp := e.space
	cfg := sp.Baseline()
	dims := make(map[string]dim, len(e.dims))
	for _, d := range e.dims {
		dims[d.name] = d
	}
	for _, p := range sp.Params {
		if v, ok := raw[p.Name]; ok && p.PerCPU == nil {
			cfg[p.Name] = dims[p.Name].value(v)
		}
	}
	e.perCore(cfg, raw) // at minimum CPU for now; apply redoes it
	// Replicas first, at minimum resources: lower each service's replicas
	// until the minimum configuration fits.
	for _, s := range sp.Services {
		cfg[s.Name+".cpu"] = s.CPU.Min.Cores()
		cfg[s.Name+".replicas"] = s.Replicas.Min
	}
	e.perCore(cfg, raw)
	for _, s := range sp.Services {
		cfg[s.Name+".memory"] = int64(s.MemoryMin(sp, cfg))
	}
	for _, s := range sp.Services {
		want := s.Replicas.Current
		if v, ok := raw[s.Name+".replicas"]; ok {
			want = dims[s.Name+".replicas"].value(v).(int64)
		}
		for r := want; r >= s.Replicas.Min; r -= max(1, s.Replicas.Step) {
			cfg[s.Name+".replicas"] = r
			if e.fits(cfg) {
				break
			}
			cfg[s.Name+".replicas"] = s.Replicas.Min
		}
	}
	// Then the resources above minimum, handed out in the space's service
	// order: each service gets what it asks for while the slack lasts.
	want := make(map[string][2]float64) // service → {cores, MiB} asked for
	for _, s := range sp.Services {
		w := [2]float64{0, float64(s.Memory.Current)}
		if v, ok := raw[s.Name+".cpu"]; ok {
			w[0] = v
		}
		if v, ok := raw[s.Name+".memory"]; ok {
			w[1] = v
		}
		want[s.Name] = w
	}
	slack := e.budget.Total
	if base := e.usage(cfg); base.Fits(slack) {
		slack = spaces.Resources{CPU: slack.CPU - base.CPU, Memory: slack.Memory - base.Memory}
	} else {
		slack = spaces.Resources{}
	}
	e.apply(cfg, raw, want, slack, 1)
	// With nodes or a dedicated placement, packing and stranded capacity
	// may still not fit: shrink what was handed out until it does.
	for f := 0.9; !e.fits(cfg); f *= 0.9 {
		if f < 1e-3 {
			return nil, spaces.System{}, fmt.Errorf("no feasible projection under %s (is the minimum configuration over budget?)", e.budget.Name)
		}
		e.apply(cfg, raw, want, slack, f)
	}
	sys, err := sp.Resolve(e.budget, cfg)
	if err != nil {
		return nil, spaces.System{}, err
	}
	return cfg, sys, nil
}

// apply hands out f × slack. CPU is stick-breaking in service order: each
// service takes its share (the sampler's value in [0, 1]) of the CPU still
// free, spread over its replicas, so every share is learnable on its own and
// the total never exceeds the budget. Memory asked for above the minimums
// is scaled by one factor for all: running out of memory is a cliff (OOM)
// for every service, so none is left at its minimum for being listed last.
func (e *Encoding) apply(cfg spaces.Config, raw map[string]float64, want map[string][2]float64, slack spaces.Resources, f float64) {
	leftCPU := f * float64(slack.CPU)
	for _, s := range e.space.Services {
		r := float64(cfg[s.Name+".replicas"].(int64))
		lo := float64(s.CPU.Min)
		take := math.Min(want[s.Name][0]*leftCPU, r*(float64(s.CPU.Max)-lo))
		cfg[s.Name+".cpu"] = grant(lo, float64(s.CPU.Max), float64(max(1, s.CPU.Step)), lo+take/r, r, &leftCPU) / 1000
	}
	// Per-core counts follow the CPU just given; memory floors follow them,
	// so the memory slack is measured now.
	e.perCore(cfg, raw)
	leftMem := 0.0
	if u := e.usage(cfg); u.Memory < e.budget.Total.Memory {
		leftMem = f * float64(e.budget.Total.Memory-u.Memory)
	}
	askMem := 0.0
	for _, s := range e.space.Services {
		r := float64(cfg[s.Name+".replicas"].(int64))
		askMem += r * math.Max(0, math.Min(want[s.Name][1], float64(s.Memory.Max))-float64(s.MemoryMin(e.space, cfg)))
	}
	memShare := 1.0
	if askMem > leftMem {
		memShare = leftMem / askMem
	}
	for _, s := range e.space.Services {
		r := float64(cfg[s.Name+".replicas"].(int64))
		lo := float64(s.MemoryMin(e.space, cfg))
		memWant := lo + memShare*math.Max(0, math.Min(want[s.Name][1], float64(s.Memory.Max))-lo)
		cfg[s.Name+".memory"] = int64(grant(lo, float64(s.Memory.Max), float64(max(1, s.Memory.Step)), memWant, r, &leftMem))
	}
}

// perCore sets every per-core parameter from its ratio in raw (or, when raw
// has none, keeps the config's count) and the cores of its service's pods.
func (e *Encoding) perCore(cfg spaces.Config, raw map[string]float64) {
	for _, p := range e.space.Params {
		ratio, ok := raw[p.Name]
		if p.PerCPU == nil || !ok {
			continue
		}
		cores := toFloat(cfg[p.PerCPU.Service+".cpu"])
		step := math.Max(1, p.Step)
		n := p.Min + math.Round((ratio*cores-p.Min)/step)*step
		cfg[p.Name] = int64(math.Max(p.Min, math.Min(p.Max, n)))
	}
}

// grant is the per-replica amount in [lo, hi] on lo's step grid closest to
// want from below that r replicas can take out of *left, which it reduces.
func grant(lo, hi, step, want, r float64, left *float64) float64 {
	extra := math.Min(math.Max(0, math.Min(want, hi)-lo), *left/r)
	extra = math.Floor(extra/step+1e-9) * step
	*left -= extra * r
	return lo + extra
}

// usage is what the budget counts for cfg with every service at its minimum
// resources (only replicas and placement taken from cfg).
func (e *Encoding) usage(cfg spaces.Config) spaces.Resources {
	c := make(spaces.Config, len(cfg))
	for k, v := range cfg {
		c[k] = v
	}
	for _, s := range e.space.Services {
		c[s.Name+".cpu"] = s.CPU.Min.Cores()
		c[s.Name+".memory"] = int64(s.MemoryMin(e.space, cfg))
	}
	sys, err := e.space.Resolve(e.budget, c)
	if err != nil {
		return e.budget.Total
	}
	return e.space.Usage(sys)
}

func (e *Encoding) fits(cfg spaces.Config) bool {
	sys, err := e.space.Resolve(e.budget, cfg)
	return err == nil && e.space.Check(sys) == nil
}

// Encode is the inverse of Decode for a feasible configuration: the raw
// values whose projection is cfg itself. It lets the baseline, enqueued
// presets and resumed trials teach the sampler.
func (e *Encoding) Encode(cfg spaces.Config) map[string]float64 {
	raw := make(map[string]float64, len(e.dims))
	shares := e.cpuShares(cfg)
	for _, d := range e.dims {
		if share, ok := shares[d.name]; ok {
			raw[d.name] = share
			continue
		}
		raw[d.name] = d.encode(cfg[d.name])
	}
	for _, p := range e.space.Params {
		if r := p.PerCPU; r != nil {
			cores := toFloat(cfg[r.Service+".cpu"])
			raw[p.Name] = math.Max(r.Min, math.Min(r.Max, toFloat(cfg[p.Name])/math.Max(cores, 1e-3)))
		}
	}
	return raw
}

// cpuShares inverts apply's stick-breaking: for each "<svc>.cpu", the
// share of the CPU still free that cfg gives the service.
func (e *Encoding) cpuShares(cfg spaces.Config) map[string]float64 {
	left := float64(e.budget.Total.CPU - e.usage(cfg).CPU)
	shares := map[string]float64{}
	for _, s := range e.space.Services {
		r, _ := cfg[s.Name+".replicas"].(int64)
		cpu := toFloat(cfg[s.Name+".cpu"]) * 1000
		take := float64(r) * math.Max(0, cpu-float64(s.CPU.Min))
		share := 0.0
		if left > 0 {
			share = math.Min(1, take/left)
		}
		shares[s.Name+".cpu"] = share
		left -= take
	}
	return shares
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}
