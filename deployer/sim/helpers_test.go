package sim

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

var (
	spaceOnce sync.Once
	space     *spaces.Space
	spaceErr  error
)

func defaultSpace(t testing.TB) *spaces.Space {
	t.Helper()
	spaceOnce.Do(func() { space, spaceErr = spaces.Load(filepath.Join("..", "..", "spaces", "seed.yaml")) })
	if spaceErr != nil {
		t.Fatalf("load default space: %v", spaceErr)
	}
	return space
}

// preset resolves spaces/presets/<id>.yaml against the default space and
// budget, failing the test if it is not a complete, feasible config.
func preset(t testing.TB, id, budget string) spaces.System {
	t.Helper()
	s := defaultSpace(t)
	b, err := spaces.ParseBudget(budget)
	if err != nil {
		t.Fatal(err)
	}
	c, err := spaces.LoadConfig(filepath.Join("..", "..", "spaces", "presets", id+".yaml"))
	if err != nil {
		t.Fatal(err)
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
