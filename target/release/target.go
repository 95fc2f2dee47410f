// Package release is the study's trial cycle on a real release: record the
// baseline, then per trial apply the configuration through deployer/helm,
// read it back, drive the load (at the user's endpoint, or on the emulator
// configured from what the API server holds), observe the pods, and at the
// end restore the baseline or keep what the user asked for. Each trial
// records how long its rollout, settle and load took (results.Timings);
// for a study on the model, walltime.go says what it would cost here.
//
// The deployer is behind the small interface this package declares, so the
// cycle is unit-tested without a cluster.
//
// It must not import search or cmd: search declares what it needs.
// Imports of this module: spaces, results, loader, deployer/helm and target.
package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tune-dify/tune/deployer/helm"
	"github.com/tune-dify/tune/loader"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target"
)

// Deployer is what the trial cycle needs of a release; *helm.Deployer
// provides it through Live.
type Deployer interface {
	Release() string
	Namespace() string
	Timeouts() spaces.HelmTimeouts
	Overlay(cfg spaces.Config) (map[string]any, error)
	Apply(ctx context.Context, overlay map[string]any) (*helm.Applied, error)
	// Status is the release as it is; an error means the cluster did not
	// answer.
	Status(ctx context.Context) (helm.Baseline, error)
	Baseline(ctx context.Context) (helm.Baseline, error)
	Restore(ctx context.Context, b helm.Baseline) error
	ReadSystem(ctx context.Context, b spaces.Budget) (spaces.System, error)
	// LiveBaseline is the configuration the release runs now, and the
	// parameters the release does not say that the space's current values
	// stand in for.
	LiveBaseline(ctx context.Context) (cfg spaces.Config, assumed []string, err error)
	Observe(ctx context.Context, every time.Duration) Observer
	// BaseValues are the values every trial starts from: the chart's own
	// and the user's files.
	BaseValues() (map[string]any, error)
}

// Observer samples the release's pods while a load runs.
type Observer interface{ Stop() helm.Observation }

// Live is the Deployer of a real release.
func Live(d *helm.Deployer) Deployer { return live{d} }

type live struct{ *helm.Deployer }

func (l live) Observe(ctx context.Context, every time.Duration) Observer {
	return l.Deployer.Observe(ctx, every)
}

// BaselineStore keeps the baseline on disk between a crash and the resume
// (results.Folder).
type BaselineStore interface {
	SaveBaseline(v any) error
	LoadBaseline(v any) (bool, error)
	RemoveBaseline() error
}

// Keep is what stays deployed at the end of a study.
type Keep string

const (
	KeepBaseline Keep = "baseline" // restore the baseline
	KeepBest     Keep = "best"     // deploy the recommendation
	KeepLast     Keep = "last"     // leave the last trial
)

// Keeps lists the choices, the default first.
var Keeps = []Keep{KeepBaseline, KeepBest, KeepLast}

// ParseKeep checks a --keep value.
func ParseKeep(s string) (Keep, error) {
	if k := Keep(s); slices.Contains(Keeps, k) {
		return k, nil
	}
	return "", fmt.Errorf("%q: want baseline, best or last", s)
}

// Options are the cycle's settings besides the deployer.
type Options struct {
	// Endpoint is Dify's service API base URL the load drives; empty with
	// Emulate.
	Endpoint string
	Key      loader.Secret // the app key for Endpoint
	// Emulate serves each trial's load with the emulator configured from
	// the release's objects as the API server holds them (clusters whose
	// pods run nothing, such as kwok).
	Emulate bool
	Seed    int64
	Log     io.Writer // progress lines; nil discards them
	// Now is the clock the load is timed with; nil is time.Now.
	Now func() time.Time
}

// Target is the study's evaluator for a Helm release.
type Target struct {
	d       Deployer
	space   *spaces.Space
	budget  spaces.Budget
	opts    Options
	base    helm.Baseline
	store   BaselineStore
	applied int // trials deployed, for the summary
	// live is the configuration the release runs, warm from a load that
	// ended well ("" when unknown): a trial of the same configuration (the
	// full load of a screen too slow to judge, a promotion of the trial just
	// screened, a re-measurement) runs on it without a redeploy, a settle
	// and a health check.
	live string
}

// New is the trial cycle of d's release for a space and budget.
func New(d Deployer, sp *spaces.Space, b spaces.Budget, o Options) (*Target, error) {
	if o.Emulate == (o.Endpoint != "") {
		return nil, errors.New("want one of an endpoint (the release's Dify service API) or the emulator")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	return &Target{d: d, space: sp, budget: b, opts: o}, nil
}

// BaseValues are the release's values under every trial's overlay (the
// chart's own and the user's files): an export merges into them, so that
// helm upgrade -f values.yaml changes only what the study tuned.
func (t *Target) BaseValues() (map[string]any, error) { return t.d.BaseValues() }

// HealthBase is the URL Dify's /health hangs off: the service API's base
// without its /v1.
func HealthBase(endpoint string) string {
	return strings.TrimSuffix(strings.TrimRight(endpoint, "/"), "/v1")
}

// Begin records the release's baseline in store, or, when a run that was
// killed outright recorded one, takes that one: the baseline is what was
// deployed before the study first touched the release.
func (t *Target) Begin(ctx context.Context, store BaselineStore) (helm.Baseline, error) {
	t.store = store
	var saved helm.Baseline
	ok, err := store.LoadBaseline(&saved)
	if err != nil {
		return helm.Baseline{}, err
	}
	base, err := t.d.Baseline(ctx) // the deployer's state for rollbacks
	if err != nil {
		return helm.Baseline{}, err
	}
	if ok {
		fmt.Fprintf(t.opts.Log, "helm: baseline %s (recorded by the interrupted run)\n", saved)
		t.base = saved
		return saved, nil
	}
	// The baseline's values may hold the user's secrets: the store keeps
	// them owner-only and nothing prints them.
	if err := store.SaveBaseline(base); err != nil {
		return helm.Baseline{}, err
	}
	t.base = base
	return base, nil
}

// Running is the configuration the release runs now, read from the API
// server: the study's baseline, so that trial 0 changes nothing the study
// did not choose. It says which parameters the release leaves unset (the
// study sets them from the space's current values).
func (t *Target) Running(ctx context.Context) (spaces.Config, error) {
	cfg, assumed, err := t.d.LiveBaseline(ctx)
	if err != nil {
		return nil, t.abort(ctx, fmt.Errorf("read the running release: %w", err))
	}
	if len(assumed) > 0 {
		fmt.Fprintf(t.opts.Log, "helm: the baseline is the release as it runs; not set there, so the space's current values: %s\n",
			strings.Join(assumed, "; "))
	}
	return cfg, nil
}

// stop is an error that stops the study: nothing about the configuration
// was learnt (search stops on StopsStudy).
type stop struct{ err error }

func (u stop) Error() string    { return u.err.Error() }
func (u stop) Unwrap() error    { return u.err }
func (u stop) StopsStudy() bool { return true }

// abort turns a step's failure into a study stop when it is not the
// configuration's doing: the cluster went away, or every trial would fail
// the same way (the chart does not render, a workload is missing). A
// failed trial would blame the configuration.
func (t *Target) abort(ctx context.Context, err error) error {
	if errors.Is(err, helm.ErrUnreachable) || errors.Is(err, helm.ErrSystematic) {
		return stop{err}
	}
	if _, serr := t.d.Status(context.WithoutCancel(ctx)); serr != nil && ctx.Err() == nil {
		return stop{fmt.Errorf("%w; the cluster does not answer either: %w", err, serr)}
	}
	return err
}

// Evaluate deploys the trial's configuration and measures it. A rollout
// that fails, values the chart refuses and an OOM kill under load are
// failed trials; an API server that does not answer stops the study so
// that a rerun resumes once it is back.
func (t *Target) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	cfg := t.space.ConfigOf(sys)
	key := fmt.Sprint(cfg) // fmt prints a map's keys sorted
	warm := key == t.live
	t.live = ""
	applied := &helm.Applied{}
	if warm {
		fmt.Fprintln(t.opts.Log, "  the release already runs this configuration, warm from the last load: no redeploy")
	} else {
		overlay, err := t.d.Overlay(cfg)
		if err != nil {
			return results.Measurement{}, t.abort(ctx, err)
		}
		if applied, err = t.d.Apply(ctx, overlay); err != nil {
			return results.Measurement{}, t.abort(ctx, err)
		}
		t.applied++
		fmt.Fprintf(t.opts.Log, "  deployed revision %d: ready in %.1fs (%.1fs with settle and health check)\n",
			applied.Revision, applied.Deploy.Seconds(), applied.Total.Seconds())
	}

	obs := t.d.Observe(ctx, 0)
	loadStart := t.opts.Now()
	m, err := t.load(ctx, cfg, w)
	loadS := t.opts.Now().Sub(loadStart).Seconds()
	seen := obs.Stop()
	if err != nil {
		return results.Measurement{}, err
	}
	m.Timings = &results.Timings{
		RolloutS: applied.Deploy.Seconds(),
		SettleS:  (applied.Total - applied.Deploy).Seconds(),
		LoadS:    loadS,
	}
	if seen.Err != nil {
		if err := t.abort(ctx, seen.Err); errors.As(err, new(stop)) {
			return results.Measurement{}, err // the cluster went away during the load
		}
	}
	if oom := kills(seen.OOMKills); oom != "" {
		return results.Measurement{}, fmt.Errorf("OOMKilled during the load: %s", oom)
	}
	if seen.Metrics && len(seen.Utilisation) > 0 {
		m.Utilisation = seen.Utilisation // the cluster's own figures beat the model's
	}
	if r := kills(seen.Restarts); r != "" {
		fmt.Fprintf(t.opts.Log, "  restarts during the load: %s\n", r)
	}
	t.live = key
	return m, nil
}

// load drives the trial's load: at the user's endpoint, or on the emulator
// configured from what the API server holds, once it holds cfg.
func (t *Target) load(ctx context.Context, cfg spaces.Config, w spaces.Workload) (results.Measurement, error) {
	if !t.opts.Emulate {
		lc, err := target.LoadConfig(t.opts.Endpoint, t.opts.Key, w, t.opts.Seed)
		if err != nil {
			return results.Measurement{}, err
		}
		sum, err := loader.Run(ctx, lc)
		if err != nil {
			return results.Measurement{}, err
		}
		return sum.Measurement(), nil
	}
	live, err := t.d.ReadSystem(ctx, t.budget)
	if err != nil {
		return results.Measurement{}, t.abort(ctx, fmt.Errorf("read the release back: %w", err))
	}
	if diff := ConfigDiff(t.space, cfg, t.space.ConfigOf(live)); diff != "" {
		return results.Measurement{}, fmt.Errorf("the cluster does not hold the trial's configuration: %s", diff)
	}
	return target.Emulate(ctx, live, w, t.opts.Seed, nil)
}

// ConfigDiff lists the parameters where got, read back from the cluster,
// differs from want. The settings of a component that is off (pgbouncer
// with pgbouncer.enabled false) are not in the cluster to read: skipped.
func ConfigDiff(sp *spaces.Space, want, got spaces.Config) string {
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

// End leaves the cluster as keep says and says what is deployed now; best
// is the recommendation (nil when there is none). It runs on a fresh
// context: the study's may be cancelled by an interrupt.
func (t *Target) End(keep Keep, best *results.Trial) error {
	ctx, cancel := context.WithTimeout(context.Background(), t.d.Timeouts().Rollout+time.Minute)
	defer cancel()
	t.live = "" // whatever End leaves deployed is not a trial's warm release
	log := t.opts.Log
	fmt.Fprintf(log, "helm: %d trial deployments of release %s in namespace %s\n", t.applied, t.d.Release(), t.d.Namespace())
	var err error
	switch {
	case keep == KeepLast:
		fmt.Fprintln(log, "helm: --keep last: the last trial's configuration stays deployed")
		return t.store.RemoveBaseline()
	case keep == KeepBest && best != nil:
		var overlay map[string]any
		if overlay, err = t.d.Overlay(spaces.Config(best.Params)); err == nil {
			_, err = t.d.Apply(ctx, overlay)
		}
		if err == nil {
			fmt.Fprintf(log, "helm: --keep best: trial %d (the recommendation) is deployed now\n", best.Number)
			return t.store.RemoveBaseline()
		}
		fmt.Fprintf(log, "helm: deploying the recommendation failed (%v); restoring the baseline\n", err)
	case keep == KeepBest:
		fmt.Fprintln(log, "helm: no trial to recommend; restoring the baseline")
	}
	if err := t.d.Restore(ctx, t.base); err != nil {
		return fmt.Errorf("restore the baseline (%s): %w; rerun the same command to try again", t.base, err)
	}
	fmt.Fprintf(log, "helm: restored the baseline: %s\n", t.base)
	return t.store.RemoveBaseline()
}
