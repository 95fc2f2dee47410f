package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tune-dify/tune/deployer/helm"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target/release"
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

// newHelmTarget builds the trial cycle of the release from the space's
// target.helm and the flags. Every problem with them is bad input.
func newHelmTarget(ctx context.Context, o *helmOpts, in *inputs, seed int64, log io.Writer) (*release.Target, release.Keep, error) {
	keep, err := release.ParseKeep(o.keep)
	if err != nil {
		return nil, "", badInput("--keep %w", err)
	}
	if o.emulate == (o.endpoint != "") {
		return nil, "", badInput("--target helm needs one of --endpoint URL (the release's Dify service API) or --emulate")
	}
	ro := release.Options{Endpoint: o.endpoint, Emulate: o.emulate, Seed: seed, Log: log}
	if o.endpoint != "" && in.workload.Mixed() {
		// Every Dify app has its own key; --endpoint's load has one.
		const why = "a mixed load needs each app's own key, and --target helm --endpoint drives one app with one: run it with --emulate or --target local, or load one scenario"
		if in.mixFlag {
			return nil, "", badInput("--scenario %s: %s", in.workload.Name(), why)
		}
		return nil, "", in.space.FieldError("load.mix", "%s", why)
	}
	if o.endpoint != "" {
		if ro.Key, err = o.keys.key(); err != nil {
			return nil, "", err
		}
	}
	opts := helm.Options{Kubeconfig: o.kubeconfig, Context: o.kubeContext, Namespace: o.namespace,
		Release: o.release, ValuesFiles: o.values, HealthURL: release.HealthBase(o.endpoint), Budget: &in.budget,
		RecreateVolumes: o.recreateVolumes, Log: log}
	opts.Timeouts.Rollout = o.rollout
	if o.settleSet() {
		opts.Timeouts.Settle = o.settle
		if o.settle == 0 {
			opts.Timeouts.Settle = -1 // none, not the space's
		}
	}
	if o.rollout < 0 || o.settle < 0 {
		return nil, "", badInput("--rollout-timeout and --settle must not be negative")
	}
	if opts.Chart, err = chartFlag(o.chart); err != nil {
		return nil, "", err
	}
	d, err := helm.New(ctx, in.space, opts)
	if err != nil {
		return nil, "", badInput("--target helm: %w", err)
	}
	t, err := release.New(release.Live(d), in.space, in.budget, ro)
	if err != nil {
		return nil, "", badInput("--target helm: %w", err)
	}
	return t, keep, nil
}

// chartFlag is --chart as the space's chart: a path relative to here (a
// space's own chart path is relative to the space).
func chartFlag(chart string) (*spaces.Chart, error) {
	if chart == "" {
		return nil, nil
	}
	if _, err := os.Stat(chart); err != nil {
		return nil, badInput("--chart %s: %v", chart, errors.Unwrap(err))
	}
	abs, err := filepath.Abs(chart)
	if err != nil {
		return nil, badInput("--chart %s: %v", chart, err)
	}
	return &spaces.Chart{Path: abs}, nil
}
