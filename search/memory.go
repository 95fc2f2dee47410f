package search

import (
	"context"
	"sync"

	"github.com/tune-dify/tune/results"
)

// MemoryStore keeps trials in memory: for benchmarks and what-if runs that
// need no durability.
type MemoryStore struct {
	mu     sync.Mutex
	trials []results.Trial
}

// Trials returns a copy of the stored trials.
func (m *MemoryStore) Trials(context.Context) ([]results.Trial, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]results.Trial(nil), m.trials...), nil
}

// Add appends t.
func (m *MemoryStore) Add(_ context.Context, t results.Trial) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trials = append(m.trials, t)
	return nil
}
