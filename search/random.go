package search

import (
	"math/rand"
	"sync"

	"github.com/c-bata/goptuna"
)

// seededRandom is goptuna's random sampler with every draw taken from one
// seeded source: goptuna v0.9.0's RandomSampler draws categorical values
// from the global math/rand, so two studies with the same seed differ.
// Everything else is goptuna's.
type seededRandom struct {
	mu    sync.Mutex
	rng   *rand.Rand
	inner *goptuna.RandomSampler
}

func newSeededRandom(seed int64) *seededRandom {
	return &seededRandom{
		rng:   rand.New(rand.NewSource(seed)),
		inner: goptuna.NewRandomSampler(goptuna.RandomSamplerOptionSeed(seed)),
	}
}

// Sample implements goptuna.Sampler.
func (s *seededRandom) Sample(study *goptuna.Study, trial goptuna.FrozenTrial, name string, dist any) (float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch d := dist.(type) {
	case goptuna.CategoricalDistribution:
		return float64(s.rng.Intn(len(d.Choices))), nil
	}
	return s.inner.Sample(study, trial, name, dist)
}

// random draws every dimension of the encoding at random, from the
// mover's seeded source: TPE's startup trials.
func (m *mover) random() map[string]float64 {
	raw := make(map[string]float64, len(m.enc.dims))
	for _, d := range m.enc.dims {
		raw[d.name], _ = m.sampler.Sample(nil, goptuna.FrozenTrial{}, d.name, d.dist)
	}
	return raw
}
