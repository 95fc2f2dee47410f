package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tune-dify/tune/deployer/helm"
	"github.com/tune-dify/tune/deployer/local"
	"github.com/tune-dify/tune/loader"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
)

// helmOpts are the study's flags for --target helm.
type helmOpts struct {
	kubeconfig, kubeContext, namespace, release, chart string
	values                                             []string
	endpoint                                           string
	keys                                               keySource
	emulate                                            bool
	keep                                               string
	recreateVolumes                                    bool
	rollout, settle                                    time.Duration
	settleSet                                          func() bool
}

var keepChoices = []string{"baseline", "best", "last"}

func (h *helmOpts) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&h.kubeconfig, "kubeconfig", "", "--target helm: kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&h.kubeContext, "context", "", "--target helm: kubeconfig context (default the current one)")
	f.StringVar(&h.namespace, "namespace", "", "--target helm: the release's namespace (default the space's target.helm.namespace)")
	f.StringVar(&h.release, "release", "", "--target helm: the release (default the space's target.helm.release)")
	f.StringVar(&h.chart, "chart", "", "--target helm: a local chart folder or .tgz instead of the space's target.helm.chart")
	f.StringSliceVar(&h.values, "values", nil, "--target helm: more values files, merged after the space's valuesFiles")
	f.StringVar(&h.endpoint, "endpoint", "", "--target helm: Dify's service API base URL the load drives, e.g. http://dify.example/v1 (key from --api-key-env)")
	h.keys.register(c, "--target helm: environment variable holding the app key the load uses")
	f.BoolVar(&h.emulate, "emulate", false, "--target helm: serve each trial's load with tune emulate configured from the release's objects as the API server holds them (clusters whose pods run nothing, such as kwok)")
	f.StringVar(&h.keep, "keep", "baseline", "--target helm: what stays deployed at the end: baseline (restore it), best (the recommendation) or last")
	f.DurationVar(&h.rollout, "rollout-timeout", 0, "--target helm: how long a trial's rollout may take before it fails and is rolled back (default the space's target.helm.timeouts.rollout)")
	f.DurationVar(&h.settle, "settle", 0, "--target helm: wait after a rollout before the health check and the load (default the space's target.helm.timeouts.settle; 0s: none)")
	h.settleSet = func() bool { return f.Changed("settle") }
	f.BoolVar(&h.recreateVolumes, "recreate-volumes", false, "--target helm: let a trial change a StatefulSet's storage class by deleting it and its volume claims (their data is lost)")
}

// helmTarget is the study's evaluator for --target helm: each trial
// upgrades the release, waits for the rollout and the health check, then
// drives the load and samples the pods.
type helmTarget struct {
	d        *helm.Deployer
	space    *spaces.Space
	budget   spaces.Budget
	endpoint string
	key      loader.Secret
	emulate  bool
	seed     int64
	log      io.Writer
	applied  int // trials deployed, for the summary
}

// newHelmTarget builds the deployer from the space's target.helm and the
// flags. Every problem with them is bad input.
func newHelmTarget(ctx context.Context, o *helmOpts, in *inputs, seed int64, log io.Writer) (*helmTarget, error) {
	if !slices.Contains(keepChoices, o.keep) {
		return nil, badInput("--keep %q: want %s", o.keep, strings.Join(keepChoices, ", "))
	}
	if o.emulate == (o.endpoint != "") {
		return nil, badInput("--target helm needs one of --endpoint URL (the release's Dify service API) or --emulate")
	}
	t := &helmTarget{space: in.space, budget: in.budget, endpoint: strings.TrimRight(o.endpoint, "/"),
		emulate: o.emulate, seed: seed, log: log}
	if o.endpoint != "" {
		key, err := o.keys.key()
		if err != nil {
			return nil, err
		}
		t.key = key
	} else {
		t.key = local.NewKey()
	}
	opts := helm.Options{Kubeconfig: o.kubeconfig, Context: o.kubeContext, Namespace: o.namespace,
		Release: o.release, ValuesFiles: o.values, HealthURL: healthBase(o.endpoint), Budget: &in.budget,
		RecreateVolumes: o.recreateVolumes, Log: log}
	opts.Timeouts.Rollout = o.rollout
	if o.settleSet() {
		opts.Timeouts.Settle = o.settle
		if o.settle == 0 {
			opts.Timeouts.Settle = -1 // none, not the space's
		}
	}
	if o.rollout < 0 || o.settle < 0 {
		return nil, badInput("--rollout-timeout and --settle must not be negative")
	}
	if o.chart != "" {
		if _, err := os.Stat(o.chart); err != nil {
			return nil, badInput("--chart %s: %v", o.chart, errors.Unwrap(err))
		}
		abs, err := filepath.Abs(o.chart) // a space's chart path is relative to the space; the flag's to here
		if err != nil {
			return nil, badInput("--chart %s: %v", o.chart, err)
		}
		opts.Chart = &spaces.Chart{Path: abs}
	}
	d, err := helm.New(ctx, in.space, opts)
	if err != nil {
		return nil, badInput("--target helm: %w", err)
	}
	t.d = d
	return t, nil
}

// healthBase is the URL Dify's /health hangs off: the service API's base
// without its /v1.
func healthBase(endpoint string) string {
	return strings.TrimSuffix(strings.TrimRight(endpoint, "/"), "/v1")
}

// Evaluate deploys the trial's configuration and measures it. A rollout
// that fails, values the chart refuses and an OOM kill under load are
// failed trials; an API server that does not answer stops the study
// (search.ErrAbort) so that a rerun resumes once it is back.
func (t *helmTarget) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	// A step that failed because the cluster went away says nothing about
	// the configuration: the study stops instead of recording a failure.
	abort := func(err error) error {
		if errors.Is(err, helm.ErrUnreachable) {
			return fmt.Errorf("%w (%w)", err, search.ErrAbort)
		}
		if _, serr := t.d.Status(context.WithoutCancel(ctx)); serr != nil && ctx.Err() == nil {
			return fmt.Errorf("%w; the cluster does not answer either: %w (%w)", err, serr, search.ErrAbort)
		}
		return err
	}
	cfg := t.space.ConfigOf(sys)
	overlay, err := t.d.Overlay(cfg)
	if err != nil {
		return results.Measurement{}, err
	}
	applied, err := t.d.Apply(ctx, overlay)
	if err != nil {
		return results.Measurement{}, abort(err)
	}
	t.applied++
	fmt.Fprintf(t.log, "  deployed revision %d: ready in %.1fs (%.1fs with settle and health check)\n",
		applied.Revision, applied.Deploy.Seconds(), applied.Total.Seconds())

	base := t.endpoint
	var emu *local.Server
	if t.emulate {
		live, err := t.d.ReadSystem(ctx, t.budget)
		if err != nil {
			return results.Measurement{}, abort(fmt.Errorf("read the release back: %w", err))
		}
		if diff := configDiff(t.space, cfg, t.space.ConfigOf(live)); diff != "" {
			return results.Measurement{}, fmt.Errorf("the cluster does not hold the trial's configuration: %s", diff)
		}
		app := "chatflow"
		if w.Scenario == "agent" {
			app = "agent"
		}
		emu, err = local.Start("127.0.0.1:0", local.Options{System: live, App: app, Seed: t.seed, Keys: []string{string(t.key)}})
		if err != nil {
			return results.Measurement{}, err
		}
		defer emu.Close()
		base = emu.URL()
	}
	lc, err := local.LoadConfig(base, t.key, w, t.seed)
	if err != nil {
		return results.Measurement{}, err
	}
	obs := t.d.Observe(ctx, 0)
	sum, err := loader.Run(ctx, lc)
	seen := obs.Stop()
	if err != nil {
		return results.Measurement{}, err
	}
	if seen.Err != nil && errors.Is(abort(seen.Err), search.ErrAbort) {
		return results.Measurement{}, abort(seen.Err) // the cluster went away during the load
	}
	if emu != nil && emu.Err() != nil {
		return results.Measurement{}, emu.Err()
	}
	if oom := kills(seen.OOMKills); oom != "" {
		return results.Measurement{}, fmt.Errorf("OOMKilled during the load: %s", oom)
	}
	m := sum.Measurement()
	switch {
	case seen.Metrics && len(seen.Utilisation) > 0:
		m.Utilisation = seen.Utilisation
	case emu != nil:
		m.Utilisation = emu.Utilisation()
	}
	if r := kills(seen.Restarts); r != "" {
		fmt.Fprintf(t.log, "  restarts during the load: %s\n", r)
	}
	return m, nil
}

// configDiff lists the parameters where got, read back from the cluster,
// differs from want. The settings of a component that is off (pgbouncer
// with pgbouncer.enabled false) are not in the cluster to read: skipped.
func configDiff(sp *spaces.Space, want, got spaces.Config) string {
	var out []string
	for _, name := range sp.ParamNames() {
		key, _, _ := strings.Cut(name, ".")
		if off, ok := got[key+".enabled"].(bool); ok && !off && name != key+".enabled" {
			continue
		}
		if fmt.Sprint(want[name]) != fmt.Sprint(got[name]) {
			out = append(out, fmt.Sprintf("%s %v (trial %v)", name, got[name], want[name]))
		}
	}
	return strings.Join(out, ", ")
}

// kills formats per-service counts: "api 2, worker 1".
func kills(m map[string]int) string {
	var names []string
	for k, v := range m {
		if v > 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for i, k := range names {
		names[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(names, ", ")
}

// baselineFile keeps the release's baseline in the output folder, so that
// a study killed outright restores the right revision (and, when Helm has
// pruned it from the history, its values) when it is resumed. It is
// removed once the baseline is restored or --keep is honoured.
const baselineFile = "helm-baseline.json"

// begin records (or, on resume, reloads) the baseline.
func (t *helmTarget) begin(ctx context.Context, out string, stdout io.Writer) (helm.Baseline, error) {
	path := filepath.Join(out, baselineFile)
	if b, err := os.ReadFile(path); err == nil {
		var base helm.Baseline
		if err := json.Unmarshal(b, &base); err != nil {
			return helm.Baseline{}, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := t.d.Baseline(ctx); err != nil { // the deployer's state for rollbacks
			return helm.Baseline{}, err
		}
		fmt.Fprintf(stdout, "helm: baseline %s (recorded by the interrupted run)\n", base)
		return base, nil
	}
	base, err := t.d.Baseline(ctx)
	if err != nil {
		return helm.Baseline{}, err
	}
	b, err := json.MarshalIndent(base, "", "  ")
	if err != nil {
		return helm.Baseline{}, err
	}
	// The baseline's values may hold the user's secrets (Helm keeps them in
	// a Secret): owner-only, like a kubeconfig, and never printed.
	if err := writeFileAtomicMode(path, append(b, '\n'), 0o600); err != nil {
		return helm.Baseline{}, err
	}
	return base, nil // the deployer's log says what it is
}

// end leaves the cluster as --keep says and says what is deployed now. It
// runs on a fresh context: the study's may be cancelled by an interrupt.
func (t *helmTarget) end(keep string, base helm.Baseline, best *results.Trial, out string, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), t.d.Timeouts().Rollout+time.Minute)
	defer cancel()
	fmt.Fprintf(stdout, "helm: %d trial deployments of release %s in namespace %s\n", t.applied, t.d.Release(), t.d.Namespace())
	var err error
	switch {
	case keep == "last":
		fmt.Fprintln(stdout, "helm: --keep last: the last trial's configuration stays deployed")
		return os.Remove(filepath.Join(out, baselineFile))
	case keep == "best" && best != nil:
		var overlay map[string]any
		if overlay, err = t.d.Overlay(spaces.Config(best.Params)); err == nil {
			_, err = t.d.Apply(ctx, overlay)
		}
		if err == nil {
			fmt.Fprintf(stdout, "helm: --keep best: trial %d (the recommendation) is deployed now\n", best.Number)
			return os.Remove(filepath.Join(out, baselineFile))
		}
		fmt.Fprintf(stdout, "helm: deploying the recommendation failed (%v); restoring the baseline\n", err)
	case keep == "best":
		fmt.Fprintln(stdout, "helm: no trial to recommend; restoring the baseline")
	}
	if err := t.d.Restore(ctx, base); err != nil {
		return fmt.Errorf("restore the baseline (%s): %w; rerun the same command to try again", base, err)
	}
	fmt.Fprintf(stdout, "helm: restored the baseline: %s\n", base)
	return os.Remove(filepath.Join(out, baselineFile))
}
