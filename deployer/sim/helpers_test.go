package sim

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// loaded caches the repository's spaces by file name, each loaded once.
var loaded sync.Map // file → func() (*spaces.Space, error)

// repoSpace is spaces/<file> of the repository.
func repoSpace(t testing.TB, file string) *spaces.Space {
	t.Helper()
	load, _ := loaded.LoadOrStore(file, sync.OnceValues(func() (*spaces.Space, error) {
		return spaces.Load(filepath.Join("..", "..", "spaces", file))
	}))
	s, err := load.(func() (*spaces.Space, error))()
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	return s
}

// defaultSpace is the case study's space, the one the s8-* and s16-*
// presets are written for.
func defaultSpace(t testing.TB) *spaces.Space { return repoSpace(t, "seed.yaml") }

// preset resolves spaces/presets/<id>.yaml against the case study's space
// and budget, failing the test if it is not a complete, feasible config.
func preset(t testing.TB, id, budget string) spaces.System {
	t.Helper()
	return presetOn(t, defaultSpace(t), id, budget, false)
}

// presetOn resolves spaces/presets/<id>.yaml on s at budget, failing the
// test if it does not fit; complete fills what the preset leaves out from
// the space's current values, as tune eval does.
func presetOn(t testing.TB, s *spaces.Space, id, budget string, complete bool) spaces.System {
	t.Helper()
	b, err := spaces.ParseBudget(budget)
	if err != nil {
		t.Fatal(err)
	}
	c, err := spaces.LoadConfig(filepath.Join("..", "..", "spaces", "presets", id+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if complete {
		c = s.Complete(c)
	}
	sys, err := s.Resolve(b, c)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if err := s.Check(sys); err != nil {
		t.Fatalf("%s does not fit %s: %v", id, budget, err)
	}
	return sys
}

// with returns a copy of sys with settings and service allocations changed.
func with(sys spaces.System, settings map[string]any, services map[string]spaces.Alloc) spaces.System {
	out := sys
	out.Services = map[string]spaces.Alloc{}
	for k, v := range sys.Services {
		out.Services[k] = v
	}
	out.Settings = map[string]any{}
	for k, v := range sys.Settings {
		out.Settings[k] = v
	}
	for k, v := range settings {
		out.Settings[k] = v
	}
	for k, v := range services {
		out.Services[k] = v
	}
	return out
}

func workload(t testing.TB, scenario string) spaces.Workload {
	w := defaultSpace(t).Load
	w.Scenario = scenario
	return w
}

func eval(t testing.TB, sys spaces.System, scenario string) results.Measurement {
	t.Helper()
	m, err := New(1).Evaluate(context.Background(), sys, workload(t, scenario))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	return m
}
