package sim

import (
	"context"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

const sloP95 = 2500 // ms, the default space's objective

// TestRoomToBeatTheSeed: the seed's hand-tuning is not optimal on the model,
// so a search has something to find. Each case changes a few of the seed's
// final values within the space and budget and must beat it by ≥5% TPS
// within the SLO.
func TestRoomToBeatTheSeed(t *testing.T) {
	for _, c := range []struct {
		name, base, budget string
		change             spaces.Config
	}{
		// More api processes behind pgbouncer with a smaller pool, and
		// PostgreSQL given the cores chatflow does not use on Weaviate and
		// the model servers.
		{"16c32g", "s16-final", "16c32g", spaces.Config{
			"api.replicas": int64(4), "api.cpu": 1.75, "api.workers": int64(2), "api.dbPoolSize": int64(10),
			"pgbouncer.poolSize": int64(40), "postgresql.cpu": 3.0, "weaviate.cpu": 0.5,
			"xinference.cpu": 0.5, "ollama.cpu": 0.5, "weaviate.placement": "shared",
		}},
		// The model servers' two idle cores moved to the api.
		{"8c16g", "s8-final", "8c16g", spaces.Config{
			"api.replicas": int64(2), "api.cpu": 1.75, "api.workers": int64(2), "api.memory": int64(1280),
			"xinference.cpu": 0.5, "ollama.cpu": 0.5, "worker.cpu": 0.5, "xinference.memory": int64(1536),
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			seed := eval(t, preset(t, c.base, c.budget), "chatflow")
			sys := resolve(t, c.base, c.budget, c.change)
			better := eval(t, sys, "chatflow")
			t.Logf("%s %.1f TPS (P95 %.0f ms); changed %.1f TPS (P95 %.0f ms, errors %.2f%%)", c.base,
				seed.Metrics.TPS, seed.Metrics.P95, better.Metrics.TPS, better.Metrics.P95, 100*better.Metrics.ErrorRate)
			if better.Metrics.TPS < 1.05*seed.Metrics.TPS || better.Metrics.P95 > sloP95 || better.Metrics.ErrorRate > 0.01 {
				t.Errorf("no room to beat %s", c.base)
			}
		})
	}
}

// resolve applies change to a preset and resolves it, failing if the result
// is invalid or over budget.
func resolve(t testing.TB, id, budget string, change spaces.Config) spaces.System {
	t.Helper()
	s := defaultSpace(t)
	b, _ := spaces.ParseBudget(budget)
	c, err := spaces.LoadConfig("../../spaces/presets/" + id + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range change {
		c[k] = v
	}
	sys, err := s.Resolve(b, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(sys); err != nil {
		t.Fatal(err)
	}
	return sys
}

// TestExplore is a random search over the default space, run on demand
// (TUNE_EXPLORE=<trials>, TUNE_BUDGET, TUNE_SCENARIO) to see where the
// model's SLO-feasible optimum lies and that it is not a silly corner.
func TestExplore(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TUNE_EXPLORE"))
	if n == 0 {
		t.Skip("set TUNE_EXPLORE=<trials> to run")
	}
	budget, scenario := os.Getenv("TUNE_BUDGET"), os.Getenv("TUNE_SCENARIO")
	if budget == "" {
		budget = "16c32g"
	}
	if scenario == "" {
		scenario = "chatflow"
	}
	s := defaultSpace(t)
	b, _ := spaces.ParseBudget(budget)
	rng := rand.New(rand.NewPCG(1, 2))
	type found struct {
		c spaces.Config
		m results.Measurement
	}
	var all []found
	for len(all) < n {
		c := spaces.Config{}
		for _, sv := range s.Services {
			c[sv.Name+".replicas"] = pick(rng, sv.Replicas.Min, sv.Replicas.Max, max(sv.Replicas.Step, 1))
			c[sv.Name+".cpu"] = float64(pick(rng, int64(sv.CPU.Min), int64(sv.CPU.Max), max(int64(sv.CPU.Step), 250))) / 1000
			c[sv.Name+".memory"] = pick(rng, int64(sv.Memory.Min), int64(sv.Memory.Max), max(int64(sv.Memory.Step), 256))
		}
		for _, p := range s.Params {
			switch p.Type {
			case spaces.TypeInt:
				c[p.Name] = pick(rng, int64(p.Min), int64(p.Max), max(int64(p.Step), 1))
			case spaces.TypeBool:
				c[p.Name] = rng.IntN(2) == 1
			case spaces.TypeChoice:
				c[p.Name] = p.Choices[rng.IntN(len(p.Choices))]
			}
		}
		sys, err := s.Resolve(b, c)
		if err != nil || s.Check(sys) != nil {
			continue
		}
		m, err := New(1).Evaluate(context.Background(), sys, workload(t, scenario))
		if err != nil {
			all = append(all, found{c, results.Measurement{}})
			continue
		}
		all = append(all, found{c, m})
	}
	sort.Slice(all, func(i, j int) bool { return score(all[i].m) > score(all[j].m) })
	for _, f := range all[:min(5, len(all))] {
		t.Logf("%.1f TPS P95 %.0f ms errors %.2f%%: %v", f.m.Metrics.TPS, f.m.Metrics.P95, 100*f.m.Metrics.ErrorRate, f.c)
	}
}

func score(m results.Measurement) float64 {
	if m.Completed == 0 || m.Metrics.P95 > sloP95 || m.Metrics.ErrorRate > 0.01 {
		return -1
	}
	return m.Metrics.TPS
}

func pick(rng *rand.Rand, lo, hi, step int64) int64 {
	return lo + step*rng.Int64N((hi-lo)/step+1)
}

// TestClimb is a greedy hill climb from a preset (TUNE_CLIMB=<preset>,
// TUNE_BUDGET), one grid step of one parameter at a time, to see where the
// SLO-feasible optimum of the model lies.
func TestClimb(t *testing.T) {
	id := os.Getenv("TUNE_CLIMB")
	if id == "" {
		t.Skip("set TUNE_CLIMB=<preset> to run")
	}
	budget, scenario := os.Getenv("TUNE_BUDGET"), os.Getenv("TUNE_SCENARIO")
	if budget == "" {
		budget = "16c32g"
	}
	if scenario == "" {
		scenario = "chatflow"
	}
	s := defaultSpace(t)
	b, _ := spaces.ParseBudget(budget)
	cur, err := spaces.LoadConfig("../../spaces/presets/" + id + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	evalC := func(c spaces.Config) float64 {
		sys, err := s.Resolve(b, c)
		if err != nil || s.Check(sys) != nil {
			return -2
		}
		m, err := New(1).Evaluate(context.Background(), sys, workload(t, scenario))
		if err != nil {
			return -1
		}
		return score(m)
	}
	best := evalC(cur)
	t.Logf("start %s: %.1f", id, best)
	for iter := 0; iter < 40; iter++ {
		var bestC spaces.Config
		bestV := best
		for _, nb := range neighbours(s, cur) {
			if v := evalC(nb); v > bestV {
				bestV, bestC = v, nb
			}
		}
		if bestC == nil {
			break
		}
		var diff []string
		for k, v := range bestC {
			if cur[k] != v {
				diff = append(diff, k+"="+fmtAny(v))
			}
		}
		cur, best = bestC, bestV
		t.Logf("step %d: %.1f TPS (%v)", iter, best, diff)
	}
	t.Logf("optimum %.1f TPS: %v", best, cur)
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return "?"
}

// neighbours are c with one parameter moved one step (and, for cpu and
// memory, the same amount taken from another service, so a full budget can
// still move).
func neighbours(s *spaces.Space, c spaces.Config) []spaces.Config {
	var out []spaces.Config
	set := func(kv ...any) {
		n := spaces.Config{}
		for k, v := range c {
			n[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			n[kv[i].(string)] = kv[i+1]
		}
		out = append(out, n)
	}
	num := func(v any) float64 {
		switch x := v.(type) {
		case float64:
			return x
		case int64:
			return float64(x)
		case int:
			return float64(x)
		}
		return 0
	}
	for _, sv := range s.Services {
		r := sv.Name + ".replicas"
		for _, d := range []int64{-1, 1} {
			set(r, int64(num(c[r]))+d)
		}
		for _, res := range []struct {
			suffix string
			step   float64
			isInt  bool
		}{{".cpu", 0.25, false}, {".memory", 256, true}} {
			k := sv.Name + res.suffix
			for _, d := range []float64{-res.step, res.step} {
				v := any(num(c[k]) + d)
				if res.isInt {
					v = int64(num(c[k]) + d)
				}
				set(k, v)
				for _, o := range s.Services {
					if o.Name == sv.Name {
						continue
					}
					ok := o.Name + res.suffix
					w := any(num(c[ok]) - d)
					if res.isInt {
						w = int64(num(c[ok]) - d)
					}
					set(k, v, ok, w)
				}
			}
		}
	}
	for _, p := range s.Params {
		switch p.Type {
		case spaces.TypeInt:
			step := max(p.Step, 1)
			for _, d := range []float64{-step, step} {
				set(p.Name, int64(num(c[p.Name])+d))
			}
		case spaces.TypeBool:
			b, _ := c[p.Name].(bool)
			set(p.Name, !b)
		case spaces.TypeChoice:
			for _, ch := range p.Choices {
				if ch != c[p.Name] {
					set(p.Name, ch)
				}
			}
		}
	}
	return out
}
