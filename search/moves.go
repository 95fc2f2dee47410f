package search

import (
	"math"
	"math/rand"
	"reflect"

	"github.com/c-bata/goptuna"

	"github.com/tune-dify/tune/results"
)

// mover proposes local moves around the incumbent (the best trial so far):
// one to three dimensions changed by a small step. goptuna's TPE models each
// dimension on its own; in a space of two dozen dimensions with a handful of
// that matter it finds the right region quickly but refines slowly, and an
// overnight study is a few dozen trials. Alternating TPE proposals with
// moves around the incumbent keeps TPE's exploration and adds the refinement
// (the same idea as Optuna's hybrid local search, kept deliberately simple).
type mover struct {
	enc     *Encoding
	rng     *rand.Rand
	sampler *seededRandom // for the random startup trials
}

func newMover(enc *Encoding, seed int64) *mover {
	return &mover{enc: enc, rng: rand.New(rand.NewSource(seed ^ 0x5eed)), sampler: newSeededRandom(seed)}
}

// propose returns raw values near the incumbent's that decode to a
// configuration no trial has tried, or nil when it finds none.
func (m *mover) propose(incumbent results.Trial, tried []results.Trial) map[string]float64 {
	base := m.enc.Encode(incumbent.Params)
	for attempt := 0; attempt < 20; attempt++ {
		raw := make(map[string]float64, len(base))
		for k, v := range base {
			raw[k] = v
		}
		for n := 1 + m.rng.Intn(3); n > 0; n-- {
			d := m.enc.dims[m.rng.Intn(len(m.enc.dims))]
			raw[d.name] = m.step(d, raw[d.name])
		}
		cfg, _, err := m.enc.Decode(raw)
		if err != nil || triedBefore(cfg, tried) {
			continue
		}
		return raw
	}
	return nil
}

// step moves one dimension's raw value a little, within its range: a
// discrete one by one or two levels (any other level for a choice), a
// continuous one by a normal step of 15% of its range.
func (m *mover) step(d dim, v float64) float64 {
	if d.levels != nil {
		n, i := len(d.levels), d.index(v)
		if _, isInt := d.levels[0].(int64); isInt {
			i = min(n-1, max(0, i+(1+m.rng.Intn(2))*(1-2*m.rng.Intn(2))))
		} else if n > 1 {
			i = (i + 1 + m.rng.Intn(n-1)) % n
		}
		return d.rawOf(i)
	}
	switch dist := d.dist.(type) {
	case goptuna.UniformDistribution:
		v += m.rng.NormFloat64() * 0.15 * (dist.High - dist.Low)
		return math.Max(dist.Low, math.Min(dist.High, v))
	case goptuna.LogUniformDistribution:
		lv := math.Log(v) + m.rng.NormFloat64()*0.15*(math.Log(dist.High)-math.Log(dist.Low))
		return math.Max(dist.Low, math.Min(dist.High, math.Exp(lv)))
	case goptuna.DiscreteUniformDistribution:
		v += float64(1-2*m.rng.Intn(2)) * dist.Q
		return math.Max(dist.Low, math.Min(dist.High, v))
	}
	return v
}

func triedBefore(cfg map[string]any, tried []results.Trial) bool {
	for _, t := range tried {
		if reflect.DeepEqual(map[string]any(cfg), t.Params) {
			return true
		}
	}
	return false
}
