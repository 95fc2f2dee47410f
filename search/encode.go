package search

import (
	"fmt"
	"math"

	"github.com/c-bata/goptuna"

	"github.com/tune-dify/tune/spaces"
)

// Encoding maps the sampler's search space onto feasible configurations.
//
// Each dimension is the parameter itself in its own units (replicas, cores,
// MiB, workers, choices), so what TPE learns reads like the configuration.
// Feasibility comes from a deterministic projection, not rejection:
//   - replicas are lowered, service by service, until the smallest
//     allocation of every service still fits the budget;
//   - the CPU (and, separately, memory) each service asks for above its
//     minimum is scaled down by one common factor until the total fits;
//     with a node pool the factor shrinks further until the pods pack.
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

// dim is one sampler dimension: its goptuna distribution and how its value
// becomes a config value.
type dim struct {
	name string
	dist any
}

// NewEncoding builds the encoding of sp under budget b.
func NewEncoding(sp *spaces.Space, b spaces.Budget, unitChoices bool) *Encoding {
	e := &Encoding{space: sp, budget: b, unitChoices: unitChoices}
	for _, s := range sp.Services {
		if s.Replicas.Max > s.Replicas.Min {
			e.dims = append(e.dims, dim{s.Name + ".replicas", goptuna.StepIntUniformDistribution{
				Low: int(s.Replicas.Min), High: int(s.Replicas.Max), Step: int(max(1, s.Replicas.Step))}})
		}
		if s.CPU.Max > s.CPU.Min {
			e.dims = append(e.dims, dim{s.Name + ".cpu", goptuna.UniformDistribution{
				Low: s.CPU.Min.Cores(), High: s.CPU.Max.Cores()}})
		}
		if s.Memory.Max > s.Memory.Min {
			e.dims = append(e.dims, dim{s.Name + ".memory", goptuna.UniformDistribution{
				Low: float64(s.Memory.Min), High: float64(s.Memory.Max)}})
		}
	}
	for _, p := range sp.Params {
		if d := paramDist(p, unitChoices); d != nil {
			e.dims = append(e.dims, dim{p.Name, d})
		}
	}
	return e
}

// paramDist is the distribution of a non-resource parameter, or nil when it
// has a single value.
func paramDist(p spaces.Param, unitChoices bool) any {
	switch p.Type {
	case spaces.TypeInt:
		if p.Max <= p.Min {
			return nil
		}
		return goptuna.StepIntUniformDistribution{Low: int(p.Min), High: int(p.Max), Step: int(max(1, p.Step))}
	case spaces.TypeFloat:
		switch {
		case p.Max <= p.Min:
			return nil
		case p.Log:
			return goptuna.LogUniformDistribution{Low: p.Min, High: p.Max}
		case p.Step > 0:
			return goptuna.DiscreteUniformDistribution{Low: p.Min, High: p.Max, Q: p.Step}
		}
		return goptuna.UniformDistribution{Low: p.Min, High: p.Max}
	case spaces.TypeBool:
		return choiceDist([]string{"false", "true"}, unitChoices)
	case spaces.TypeChoice:
		if len(p.Choices) < 2 {
			return nil
		}
		return choiceDist(p.Choices, unitChoices)
	}
	return nil
}

func choiceDist(choices []string, unit bool) any {
	if unit {
		return goptuna.UniformDistribution{Low: 0, High: 1}
	}
	return goptuna.CategoricalDistribution{Choices: choices}
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
		case goptuna.StepIntUniformDistribution:
			var i int
			i, err = t.SuggestStepInt(d.name, dist.Low, dist.High, dist.Step)
			v = float64(i)
		case goptuna.UniformDistribution:
			v, err = t.SuggestFloat(d.name, dist.Low, dist.High)
		case goptuna.LogUniformDistribution:
			v, err = t.SuggestLogFloat(d.name, dist.Low, dist.High)
		case goptuna.DiscreteUniformDistribution:
			v, err = t.SuggestDiscreteFloat(d.name, dist.Low, dist.High, dist.Q)
		case goptuna.CategoricalDistribution:
			var c string
			c, err = t.SuggestCategorical(d.name, dist.Choices)
			v = float64(indexOf(dist.Choices, c))
		}
		if err != nil {
			return nil, fmt.Errorf("suggest %s: %w", d.name, err)
		}
		raw[d.name] = v
	}
	return raw, nil
}

func indexOf(xs []string, x string) int {
	for i, s := range xs {
		if s == x {
			return i
		}
	}
	return 0
}

// Decode projects raw sampler values onto a feasible configuration and
// returns it resolved. Dimensions missing from raw take their current value.
func (e *Encoding) Decode(raw map[string]float64) (spaces.Config, spaces.System, error) {
	sp := e.space
	cfg := sp.Baseline()
	for _, p := range sp.Params {
		if v, ok := raw[p.Name]; ok {
			cfg[p.Name] = e.paramValue(p, v)
		}
	}
	// Replicas first, at minimum resources: lower each service's replicas
	// until the minimum configuration fits.
	for _, s := range sp.Services {
		cfg[s.Name+".cpu"] = s.CPU.Min.Cores()
		cfg[s.Name+".memory"] = int64(s.Memory.Min)
		cfg[s.Name+".replicas"] = s.Replicas.Min
	}
	for _, s := range sp.Services {
		want := s.Replicas.Current
		if v, ok := raw[s.Name+".replicas"]; ok {
			want = int64(math.Round(v))
		}
		for r := want; r >= s.Replicas.Min; r -= max(1, s.Replicas.Step) {
			cfg[s.Name+".replicas"] = r
			if e.fits(cfg) {
				break
			}
			cfg[s.Name+".replicas"] = s.Replicas.Min
		}
	}
	// Then the resources above minimum, scaled by one factor per resource.
	wantCPU := make(map[string]float64)
	wantMem := make(map[string]float64)
	for _, s := range sp.Services {
		wantCPU[s.Name] = s.CPU.Current.Cores()
		wantMem[s.Name] = float64(s.Memory.Current)
		if v, ok := raw[s.Name+".cpu"]; ok {
			wantCPU[s.Name] = v
		}
		if v, ok := raw[s.Name+".memory"]; ok {
			wantMem[s.Name] = v
		}
	}
	fCPU := e.scale(cfg, wantCPU, true)
	fMem := e.scale(cfg, wantMem, false)
	e.apply(cfg, wantCPU, wantMem, fCPU, fMem)
	// With nodes, packing may still fail: shrink both until it fits.
	for k := 0; !e.fits(cfg); k++ {
		if k > 60 {
			return nil, spaces.System{}, fmt.Errorf("no feasible projection under %s (is the minimum configuration over budget?)", e.budget.Name)
		}
		fCPU *= 0.9
		fMem *= 0.9
		e.apply(cfg, wantCPU, wantMem, fCPU, fMem)
	}
	sys, err := sp.Resolve(e.budget, cfg)
	if err != nil {
		return nil, spaces.System{}, err
	}
	return cfg, sys, nil
}

// scale returns the largest factor f in [0, 1] such that giving every service
// min + f × (want − min) keeps the budget total within capacity.
func (e *Encoding) scale(cfg spaces.Config, want map[string]float64, cpu bool) float64 {
	extra := 0.0
	for _, s := range e.space.Services {
		r := cfg[s.Name+".replicas"].(int64)
		lo := s.CPU.Min.Cores()
		if !cpu {
			lo = float64(s.Memory.Min)
		}
		extra += float64(r) * math.Max(0, want[s.Name]-lo)
	}
	if extra == 0 {
		return 1
	}
	// Usage of the minimum configuration includes reserved and stranded
	// capacity; what is left is the slack.
	base := e.usage(cfg)
	slack := float64(e.budget.Total.Memory - base.Memory)
	if cpu {
		slack = float64(e.budget.Total.CPU-base.CPU) / 1000
	}
	return math.Max(0, math.Min(1, slack/extra))
}

// apply writes min + f × (want − min) for each service, rounded down to the
// service's step.
func (e *Encoding) apply(cfg spaces.Config, wantCPU, wantMem map[string]float64, fCPU, fMem float64) {
	for _, s := range e.space.Services {
		lo, hi, step := float64(s.CPU.Min), float64(s.CPU.Max), float64(max(1, s.CPU.Step))
		m := lo + fCPU*math.Max(0, wantCPU[s.Name]*1000-lo)
		m = math.Min(hi, lo+math.Floor((m-lo)/step+1e-9)*step)
		cfg[s.Name+".cpu"] = m / 1000

		lo, hi, step = float64(s.Memory.Min), float64(s.Memory.Max), float64(max(1, s.Memory.Step))
		m = lo + fMem*math.Max(0, wantMem[s.Name]-lo)
		m = math.Min(hi, lo+math.Floor((m-lo)/step+1e-9)*step)
		cfg[s.Name+".memory"] = int64(m)
	}
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
		c[s.Name+".memory"] = int64(s.Memory.Min)
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

// paramValue turns a raw sampler value into the parameter's config value.
func (e *Encoding) paramValue(p spaces.Param, v float64) any {
	switch p.Type {
	case spaces.TypeInt:
		return int64(math.Round(v))
	case spaces.TypeFloat:
		return v
	case spaces.TypeBool:
		return e.choiceIndex(v, 2) == 1
	case spaces.TypeChoice:
		return p.Choices[e.choiceIndex(v, len(p.Choices))]
	}
	return v
}

func (e *Encoding) choiceIndex(v float64, n int) int {
	if e.unitChoices {
		v = math.Floor(v * float64(n))
	}
	return min(n-1, max(0, int(v)))
}

// Encode is the inverse of Decode for a feasible configuration: the raw
// values whose projection is cfg itself. It lets the baseline, enqueued
// presets and resumed trials teach the sampler.
func (e *Encoding) Encode(cfg spaces.Config) map[string]float64 {
	raw := make(map[string]float64, len(e.dims))
	for _, d := range e.dims {
		v := cfg[d.name]
		switch dist := d.dist.(type) {
		case goptuna.CategoricalDistribution:
			raw[d.name] = float64(indexOf(dist.Choices, fmt.Sprint(v)))
		case goptuna.UniformDistribution:
			if c, ok := choicesOf(e.space, d.name); ok && e.unitChoices {
				raw[d.name] = (float64(indexOf(c, fmt.Sprint(v))) + 0.5) / float64(len(c))
				continue
			}
			raw[d.name] = toFloat(v)
		default:
			raw[d.name] = toFloat(v)
		}
	}
	return raw
}

func choicesOf(sp *spaces.Space, name string) ([]string, bool) {
	for _, p := range sp.Params {
		if p.Name != name {
			continue
		}
		switch p.Type {
		case spaces.TypeBool:
			return []string{"false", "true"}, true
		case spaces.TypeChoice:
			return p.Choices, true
		}
	}
	return nil, false
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
