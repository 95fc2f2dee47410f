package spaces

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// default.yaml is a contract: its service names are what the chart
// deploys (and what the model reads), and its baseline fits every budget.
func TestDefaultSpace(t *testing.T) {
	s := loadDefault(t)
	var names []string
	for _, sv := range s.Services {
		names = append(names, sv.Name)
	}
	want := []string{"api", "postgresql", "worker", "pluginDaemon", "redis", "weaviate", "web", "proxy", "sandbox", "beat",
		"postgresqlRead", "redisReplica", "pgbouncer"}
	if !slices.Equal(names, want) {
		t.Errorf("services %v, want %v", names, want)
	}
	if s.Load.ThinkMin != 200*time.Millisecond || s.Load.ThinkMax != 800*time.Millisecond ||
		s.Load.Duration != 3*time.Minute || s.Objective.SLOP95 != 2500*time.Millisecond {
		t.Errorf("load %+v objective %+v", s.Load, s.Objective)
	}
	if s.Reserved.CPU != 0 || s.Reserved.Memory != 0 {
		t.Errorf("reserved %+v: every container of the chart is a service, nothing is reserved", s.Reserved)
	}
	for _, budget := range []string{"8c16g", "16c32g", "24c48g", "2x8c16g"} {
		t.Run(budget, func(t *testing.T) {
			b := mustBudget(t, budget)
			if err := s.Validate(&b); err != nil {
				t.Fatal(err)
			}
			sys, err := s.Resolve(b, s.Baseline())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Check(sys); err != nil {
				t.Errorf("baseline does not fit: %v", err)
			}
		})
	}
}

// The seed's 8c16g rounds change the baseline a step at a time; each must
// stay feasible or the search could never reproduce them.
func TestSeedSteps(t *testing.T) {
	s := loadSeed(t)
	b := mustBudget(t, "8c16g")
	for name, edit := range map[string]Config{
		"s8-initial":  {},
		"s8-cpu12":    {"api.cpu": 1.2},
		"s8-workers2": {"api.cpu": 2.0, "api.workers": 2},
		"s8-ssd":      {"api.cpu": 2.0, "api.workers": 2, "postgresql.storageClass": "local-ssd"},
	} {
		sys, err := s.Resolve(b, s.Complete(edit))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := s.Check(sys); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The presets (spaces/presets) are written against a space their name
// gives: the seed's configurations (s8-*, s16-*) against seed.yaml at the
// budget in their name, the Dify Enterprise benchmark's (ee-*) against
// default.yaml at 16c32g. Each must resolve and fit; a preset of no known
// family, or no presets at all, is a failure (a moved folder must not pass).
func TestPresetsFitTheirSpace(t *testing.T) {
	files, err := filepath.Glob("presets/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no presets in spaces/presets (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			name := filepath.Base(f)
			var space, budget string
			switch {
			case strings.HasPrefix(name, "s8-"):
				space, budget = "seed.yaml", "8c16g"
			case strings.HasPrefix(name, "s16-"):
				space, budget = "seed.yaml", "16c32g"
			case strings.HasPrefix(name, "ee-"):
				space, budget = "default.yaml", "16c32g"
			default:
				t.Fatalf("%s: no space for this preset family (s8-, s16-, ee-)", name)
			}
			s, err := Load(space)
			if err != nil {
				t.Fatal(err)
			}
			c, err := LoadConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			b := mustBudget(t, budget)
			sys, err := s.Resolve(b, s.Complete(c))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Check(sys); err != nil {
				t.Errorf("%s: %v", budget, err)
			}
		})
	}
}
