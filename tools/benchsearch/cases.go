package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
)

// benchCase is one problem of the suite: a space (and so a Dify topology),
// a budget and a load scenario.
type benchCase struct {
	Space    string `json:"space"`
	Budget   string `json:"budget"`
	Scenario string `json:"scenario"`
	// SLO is the case's P95 objective; 0 keeps the space's.
	SLO time.Duration `json:"slo"`
	// Tuning cases choose the sampler's defaults; the others are held out
	// and only reported.
	Tuning bool `json:"tuning"`
	// Variant, when set, is a perturbed model of the case (variants.go):
	// its name and the constants that replace the calibrated ones.
	Variant *variant `json:"-"`
}

func (c benchCase) Name() string {
	sp := strings.TrimSuffix(c.Space[strings.LastIndex(c.Space, "/")+1:], ".yaml")
	// A mix's commas would split -cases: chatflow=60,agent=30 is named
	// chatflow60+agent30.
	name := fmt.Sprintf("%s/%s/%s", sp, c.Budget, strings.NewReplacer("=", "", ",", "+").Replace(c.Scenario))
	if c.Variant != nil {
		name += "~" + c.Variant.Name
	}
	return name
}

// suite is every case: the case study's space (the old topology) at two
// budgets and a node pool, under each scenario the model knows, the
// default space (today's topology) under chatflow and llm at the same
// budgets, and a mixed load (60/30/10 chatflow/agent/retrieval users) at
// 16c32g and on a 2x8c16g pool. The guide's thresholds were set on the Tuning cases; the rest
// were not looked at until the figures were reported.
func suite() []benchCase {
	var cs []benchCase
	for _, b := range []string{"8c16g", "16c32g", "2x8c16g"} {
		for _, sc := range []string{"chatflow", "agent", "retrieval"} {
			cs = append(cs, benchCase{
				Space: "spaces/seed.yaml", Budget: b, Scenario: sc, SLO: sloFor[sc],
				Tuning: sc == "chatflow" && b != "2x8c16g",
			})
		}
	}
	// Today's topology (the default space: workflows run in Celery
	// workers, 13 services). The guide's moves for it were worked out on
	// the traces of chatflow at 8c16g and 16c32g and llm at 8c16g; llm at
	// 16c32g and the node pool are held out.
	for _, b := range []string{"8c16g", "16c32g", "2x8c16g"} {
		for _, sc := range []string{"chatflow", "llm"} {
			cs = append(cs, benchCase{
				Space: "spaces/default.yaml", Budget: b, Scenario: sc, SLO: sloFor[sc],
				Tuning: b != "2x8c16g" && (sc == "chatflow" || b == "8c16g"),
			})
		}
	}
	// A deployment serving three apps at once. The one at 16c32g was held
	// out until its traces gave the guide two rules (the fitted pods'
	// threshold, the stale leader), so it tunes now; the node pool's is
	// held out in its place.
	cs = append(cs,
		benchCase{Space: "spaces/seed.yaml", Budget: "16c32g", Scenario: "chatflow=60,agent=30,retrieval=10", Tuning: true},
		benchCase{Space: "spaces/seed.yaml", Budget: "2x8c16g", Scenario: "chatflow=60,agent=30,retrieval=10"})
	return cs
}

// sloFor is the P95 objective per scenario where the space's (set for
// chatflow) cannot be met: an agent run calls a plugin and two HTTP tools, a
// retrieval a hybrid search, and at 8c16g no split brings either under 2.5 s.
// An llm answer streams 300 tokens at 80 a second after 0.6 s (4.35 s before
// Dify adds anything) and costs the worker about a quarter of a core-second
// of events: 100 users need more cores than 8c16g has to keep it under 15 s
// (no split met 8 s in 84 pilots and a guided study), so its SLO, 20 s,
// leaves the throughput to find and still refuses the starved splits.
var sloFor = map[string]time.Duration{"agent": 8 * time.Second, "retrieval": 8 * time.Second, "llm": 20 * time.Second}

// quickSuite is bench-quick's: one case per budget, two of them held out,
// and today's topology at its tightest budget (where the guide has most to
// find), all with a recorded optimum (a missing one costs minutes to
// search).
// byName indexes cases by their names.
func byName(cs []benchCase) map[string]benchCase {
	m := make(map[string]benchCase, len(cs))
	for _, c := range cs {
		m[c.Name()] = c
	}
	return m
}

func quickSuite() []string {
	return []string{"seed/8c16g/agent", "seed/16c32g/chatflow", "seed/2x8c16g/retrieval", "default/8c16g/chatflow"}
}

// problem is a case loaded: its space with the case's scenario, its budget.
type problem struct {
	benchCase
	sp *spaces.Space
	b  spaces.Budget
	w  spaces.Workload
}

func load(c benchCase) (*problem, error) {
	sp, err := spaces.Load(c.Space)
	if err != nil {
		return nil, err
	}
	b, err := spaces.ParseBudget(c.Budget)
	if err != nil {
		return nil, err
	}
	w, err := sp.Load.WithScenario(c.Scenario)
	if err != nil {
		return nil, err
	}
	sp.Load = w
	if c.SLO > 0 {
		sp.Objective.SLOP95 = c.SLO
	}
	return &problem{benchCase: c, sp: sp, b: b, w: w}, nil
}

// noisyModel is the model as a cluster looks to the search: each
// configuration measures with its own noise (a seed from the configuration
// and the study's salt), the same every time it is asked, so a screen is the
// first part of the full run with the same seed, as on a cluster; a
// re-measurement is another run (Remeasure).
type noisyModel struct {
	salt uint64
	p    *problem // the case, for its model's constants
}

func (m noisyModel) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	return m.p.model(m.seed(sys)).Evaluate(ctx, sys, w)
}

// Remeasure implements search.Remeasurer.
func (m noisyModel) Remeasure(i int) search.Evaluator {
	return noisyModel{salt: m.salt*1_000_003 + uint64(i), p: m.p}
}

func (m noisyModel) seed(sys spaces.System) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s", m.salt, sysKey(sys))
	return int64(h.Sum64() >> 1)
}

// sysKey is a canonical text of sys: the same system, the same key.
func sysKey(sys spaces.System) string {
	var b strings.Builder
	names := make([]string, 0, len(sys.Services))
	for n := range sys.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := sys.Services[n]
		fmt.Fprintf(&b, "%s=%dx%d/%d;", n, a.Replicas, a.CPU, a.Memory)
	}
	keys := make([]string, 0, len(sys.Settings))
	for k := range sys.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v;", k, sys.Settings[k])
	}
	return b.String()
}
