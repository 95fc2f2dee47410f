package main

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target"
)

// common are the flags the study and eval share.
type common struct {
	budget   string
	space    string
	target   string
	scenario string
	seed     int64
	sloP95   time.Duration
	users    int
	duration time.Duration
	loadFile string   // --load
	loadSet  []string // --load-set
	model    string   // --model-overrides
}

func (o *common) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.budget, "budget", "", "hardware to spend: <cores>c<GiB>g or a node pool <n>x<cores>c<GiB>g (e.g. 16c32g, 2x8c16g)")
	f.StringVar(&o.space, "space", "", "search space file (e.g. spaces/default.yaml)")
	f.StringVar(&o.target, "target", "sim", "where trials run: sim (the embedded model, virtual time), local (the model served over HTTP and measured by the loader, real time) or helm")
	f.StringVar(&o.scenario, "scenario", "", "load scenario: "+strings.Join(spaces.Scenarios, ", ")+", or a mixed load of several apps with their weights in the users, e.g. chatflow=60,agent=30,retrieval=10 (default: the space's load.scenario or load.mix)")
	f.Int64Var(&o.seed, "seed", 1, "random seed of the sampler and the model's noise (same seed, same study)")
	f.DurationVar(&o.sloP95, "slo-p95", 0, "P95 latency SLO, e.g. 2s (default: the space's objective)")
	f.IntVar(&o.users, "users", 0, "virtual users of each trial's load (default: the space's load.users)")
	f.StringVar(&o.model, "model-overrides", "", "a what-if for the embedded model: a kind: ModelOverrides file replacing calibrated figures (slower disks, slower cores, ...)")
	f.StringVar(&o.loadFile, "load", "", "a YAML file of load: fields replacing the space's for this run, as helm -f overrides values (e.g. spaces/loads/ee-benchmark.yaml)")
	f.StringArrayVar(&o.loadSet, "load-set", nil, "change load: fields for this run as helm --set changes values, e.g. thinkMax=0s,llm.tokensPerSecond=20 (after --load; --scenario, --users and --duration win)")
	f.DurationVar(&o.duration, "duration", 0, "measured window of each trial's load, after the spawn ramp, e.g. 15s (default: the space's load.duration)")
}

// inputs is what the flags resolve to.
type inputs struct {
	space     *spaces.Space
	budget    spaces.Budget
	workload  spaces.Workload
	objective spaces.Objective
	evaluator search.Evaluator
	baseline  spaces.Config // the running release's configuration (--target helm); nil: the space's current
	confirmed int           // the trial --confirm recommends; -1: none
	// mixFlag is true when the load's mix comes from --scenario, not
	// from the space's load.mix: errors about it name the flag.
	mixFlag bool
}

// load reads and validates the space and budget and picks the evaluator.
// Every error is bad input and names the flag or file.
func (o *common) load() (*inputs, error) {
	if o.space == "" {
		return nil, badInput("--space is required (e.g. --space spaces/default.yaml)")
	}
	if o.budget == "" {
		return nil, badInput("--budget is required (e.g. --budget 16c32g)")
	}
	b, err := spaces.ParseBudget(o.budget)
	if err != nil {
		return nil, badInput("--budget: %w", err)
	}
	sp, err := spaces.Load(o.space)
	if err != nil {
		return nil, err
	}
	if err := sp.Validate(&b); err != nil {
		return nil, err
	}
	in := &inputs{space: sp, budget: b, workload: sp.Load, objective: sp.Objective, confirmed: -1}
	if o.loadFile != "" {
		if in.workload, err = spaces.LoadOverlayFile(in.workload, o.loadFile); err != nil {
			return nil, badInput("--load: %w", err)
		}
	}
	if in.workload, err = overlayLoad(in.workload, o.loadSet); err != nil {
		return nil, err
	}
	if o.scenario != "" {
		if in.workload, err = in.workload.WithScenario(o.scenario); err != nil {
			return nil, badInput("--scenario %w", err)
		}
		in.mixFlag = in.workload.Mixed()
	}
	if o.users < 0 {
		return nil, badInput("--users %d: must be positive", o.users)
	}
	if o.users > 0 {
		in.workload.Users = o.users
	}
	if o.duration < 0 {
		return nil, badInput("--duration %s: must be positive", o.duration)
	}
	if o.duration > 0 {
		in.workload.Duration = o.duration
	}
	if o.sloP95 < 0 {
		return nil, badInput("--slo-p95 %s: must be positive", o.sloP95)
	}
	if o.sloP95 > 0 {
		in.objective.SLOP95 = o.sloP95
	}
	if o.model != "" && o.target != "sim" {
		return nil, badInput("--model-overrides changes the embedded model: use it with --target sim")
	}
	switch o.target {
	case "sim":
		var k *sim.Constants
		if o.model != "" {
			c, err := sim.LoadOverrides(o.model)
			if err != nil {
				return nil, badInput("--model-overrides: %w", err)
			}
			k = &c
		}
		// Seeded: a re-measurement (--confirm) is the model with another seed.
		in.evaluator = search.Seeded{Seed: o.seed, New: func(seed int64) search.Evaluator {
			return &sim.Model{Seed: seed, Constants: k}
		}}
	case "local":
		in.evaluator = &target.Local{Seed: o.seed}
	case "helm":
		// The study builds it from its --target helm flags (newHelmTarget).
	default:
		return nil, badInput("--target %q: want sim, local or helm", o.target)
	}
	return in, nil
}

// loadPreset reads a configuration by preset id (looked up in the presets
// folder beside the space file) or by path.
func loadPreset(spaceFile, ref string) (search.Preset, error) {
	path := ref
	if !strings.ContainsAny(ref, `/\`) && !strings.HasSuffix(ref, ".yaml") {
		path = filepath.Join(filepath.Dir(spaceFile), "presets", ref+".yaml")
	}
	if _, err := os.Stat(path); err != nil {
		return search.Preset{}, badInput("--enqueue %s: no preset file %s", ref, path)
	}
	cfg, err := spaces.LoadConfig(path)
	if err != nil {
		return search.Preset{}, err
	}
	return search.Preset{Name: ref, Config: cfg}, nil
}

// checkConfig completes cfg from the space's current values and checks that
// it resolves and fits the budget.
func checkConfig(in *inputs, cfg spaces.Config, what string) (spaces.Config, spaces.System, error) {
	cfg = in.space.Complete(cfg)
	sys, err := in.space.Resolve(in.budget, cfg)
	if err != nil {
		return nil, spaces.System{}, badInput("%s: %w", what, err)
	}
	if err := in.space.Check(sys); err != nil {
		return nil, spaces.System{}, badInput("%s: %w", what, err)
	}
	return cfg, sys, nil
}

// overlayLoad applies --load-set: Helm's strvals turns each assignment into
// a nested map, later ones winning, and spaces reads it as an overlay of
// the load: section.
func overlayLoad(w spaces.Workload, sets []string) (spaces.Workload, error) {
	if len(sets) == 0 {
		return w, nil
	}
	m := map[string]any{}
	for _, s := range sets {
		if err := strvals.ParseInto(s, m); err != nil {
			return w, badInput("--load-set %q: %w", s, err)
		}
	}
	data, err := yaml.Marshal(m)
	if err != nil {
		return w, badInput("--load-set: %w", err)
	}
	return spaces.OverlayLoad(w, "--load-set", data)
}
