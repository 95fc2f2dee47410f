package release_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tune-dify/tune/deployer/helm"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target/release"
)

// fake is a release in memory: what was applied is what the API server
// holds, unless drift changes it; down makes every call fail as an
// unreachable API server does.
type fake struct {
	mu       sync.Mutex
	sp       *spaces.Space
	budget   spaces.Budget
	held     spaces.Config
	applies  int
	failAt   int // the applies-th Apply fails its rollout (0: never)
	downAt   int // from the downAt-th Apply on, the API server is gone (0: never)
	drift    func(spaces.Config)
	restored []helm.Baseline
	oom      map[string]int
	// systematic makes the release one the space does not describe.
	systematic bool
	// renderFails makes every Apply fail in the chart's render.
	renderFails bool
	// deploy and total are what each Apply reports it took.
	deploy, total time.Duration
}

var errRollout = errors.New("rollout of api: 0 of 1 ready: ImagePullBackOff")

func (f *fake) Release() string               { return "dify" }
func (f *fake) Namespace() string             { return "dify" }
func (f *fake) Timeouts() spaces.HelmTimeouts { return spaces.HelmTimeouts{Rollout: time.Second} }
func (f *fake) Overlay(cfg spaces.Config) (map[string]any, error) {
	return map[string]any{"cfg": cfg}, nil
}

func (f *fake) down() bool { return f.downAt > 0 && f.applies >= f.downAt }

func (f *fake) Apply(ctx context.Context, overlay map[string]any) (*helm.Applied, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies++
	if f.down() {
		return nil, fmt.Errorf("upgrade: %w", helm.ErrUnreachable)
	}
	if f.renderFails {
		return nil, &helm.SystematicError{Err: errors.New(`render: PASSWORDS ERROR: 'auth.replicationPassword' must not be empty`)}
	}
	if f.applies == f.failAt {
		return nil, errRollout // the deployer rolled back; the release is as before
	}
	f.held = spaces.Config{}
	for k, v := range overlay["cfg"].(spaces.Config) {
		f.held[k] = v
	}
	if f.drift != nil {
		f.drift(f.held)
	}
	return &helm.Applied{Revision: f.applies + 1, Deploy: f.deploy, Total: f.total}, nil
}

func (f *fake) Status(ctx context.Context) (helm.Baseline, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down() {
		return helm.Baseline{}, helm.ErrUnreachable
	}
	return helm.Baseline{Release: "dify", Namespace: "dify", Revision: f.applies + 1}, nil
}

func (f *fake) Baseline(ctx context.Context) (helm.Baseline, error) {
	return helm.Baseline{Release: "dify", Namespace: "dify", Revision: 1, Values: map[string]any{"secret": "s3cr3t"}}, nil
}

func (f *fake) Restore(ctx context.Context, b helm.Baseline) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restored = append(f.restored, b)
	return nil
}

func (f *fake) ReadSystem(ctx context.Context, b spaces.Budget) (spaces.System, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sp.Resolve(b, f.held)
}

func (f *fake) LiveBaseline(ctx context.Context) (spaces.Config, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.systematic {
		return nil, nil, &helm.SystematicError{Err: errors.New("no workload for service pluginDaemon in the release")}
	}
	return f.held, nil, nil
}

func (f *fake) BaseValues() (map[string]any, error) { return nil, nil }

func (f *fake) Observe(ctx context.Context, every time.Duration) release.Observer {
	return observer{helm.Observation{OOMKills: f.oom}}
}

type observer struct{ o helm.Observation }

func (o observer) Stop() helm.Observation { return o.o }

// setup is a fake release of the seed's space at 8c16g, a study folder and
// a short emulated load.
func setup(t *testing.T) (*fake, *release.Target, *results.Folder, spaces.Workload) {
	t.Helper()
	sp, err := spaces.Load(filepath.Join("..", "..", "spaces", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := spaces.ParseBudget("8c16g")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{sp: sp, budget: b, held: sp.Baseline()}
	tg, err := release.New(f, sp, b, release.Options{Emulate: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	folder, err := results.OpenFolder(context.Background(), dir, filepath.Join(dir, results.TrialsDB),
		results.StudyFile{Study: "s", StudyMeta: results.StudyMeta{Budget: "8c16g", Space: "seed.yaml", Target: "helm", Scenario: "chatflow"}},
		[]byte("space"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { folder.Close() })
	w := sp.Load
	w.Users, w.SpawnRate, w.Duration = 4, 100, 500*time.Millisecond
	return f, tg, folder, w
}

func baselineSystem(t *testing.T, f *fake) spaces.System {
	t.Helper()
	sys, err := f.sp.Resolve(f.budget, f.sp.Baseline())
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

func TestApplyThenReadBackMeasures(t *testing.T) {
	f, tg, folder, w := setup(t)
	if _, err := tg.Begin(context.Background(), folder); err != nil {
		t.Fatal(err)
	}
	m, err := tg.Evaluate(context.Background(), baselineSystem(t, f), w)
	if err != nil {
		t.Fatal(err)
	}
	if m.Completed == 0 || m.Metrics.TPS <= 0 || m.Utilisation["api"] <= 0 {
		t.Errorf("measurement %+v: want completed requests, TPS and the emulator's utilisation", m)
	}
}

func TestReadBackDiffersFailsNamingTheParameter(t *testing.T) {
	f, tg, folder, w := setup(t)
	f.drift = func(c spaces.Config) { c["api.workers"] = int64(3) } // the chart ignored the trial's value
	if _, err := tg.Begin(context.Background(), folder); err != nil {
		t.Fatal(err)
	}
	_, err := tg.Evaluate(context.Background(), baselineSystem(t, f), w)
	if err == nil || !strings.Contains(err.Error(), "api.workers 3 (trial 1)") {
		t.Errorf("err %v, want the read-back difference named: api.workers 3 (trial 1)", err)
	}
}

// TestStudyOnRelease runs studies through the search with the cycle: a
// rollout failure is a failed trial and the study goes on; an API server
// that goes away stops the study with nothing recorded for that trial; an
// OOM kill during the load fails the trial; the end restores the baseline
// and removes the recorded one.
func TestStudyOnRelease(t *testing.T) {
	for _, tc := range []struct {
		name       string
		set        func(*fake)
		trials     int
		wantStored int
		wantAbort  bool
		wantFailed string // the failed trial's error contains it
	}{
		{name: "rollout fails", set: func(f *fake) { f.failAt = 2 }, trials: 3, wantStored: 3, wantFailed: "ImagePullBackOff"},
		{name: "api server gone", set: func(f *fake) { f.downAt = 2 }, trials: 3, wantStored: 1, wantAbort: true},
		{name: "chart does not render", set: func(f *fake) { f.renderFails = true }, trials: 3, wantStored: 0, wantAbort: true},
		{name: "oom kill", set: func(f *fake) { f.oom = map[string]int{"api": 1} }, trials: 1, wantStored: 1, wantFailed: "OOMKilled during the load: api 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, tg, folder, w := setup(t)
			tc.set(f)
			if _, err := tg.Begin(context.Background(), folder); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(folder.File(results.BaselineJSON)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("baseline file: %v, want it recorded owner-only", err)
			}
			s := &search.Study{Space: f.sp, Budget: f.budget, Workload: w, Objective: f.sp.Objective,
				Sampler: "random", Trials: tc.trials, Seed: 1, Baseline: true, Evaluator: tg, Store: folder}
			trials, err := s.Run(context.Background())
			if tc.wantAbort != errors.Is(err, search.ErrAbort) {
				t.Fatalf("err %v, want abort %v", err, tc.wantAbort)
			}
			if !tc.wantAbort && err != nil {
				t.Fatal(err)
			}
			stored, err := folder.Trials(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != tc.wantStored || len(trials) != tc.wantStored {
				t.Errorf("%d trials stored, %d returned, want %d", len(stored), len(trials), tc.wantStored)
			}
			if tc.wantFailed != "" {
				var found bool
				for _, tr := range stored {
					found = found || (tr.State == results.StateFailed && strings.Contains(tr.Error, tc.wantFailed))
				}
				if !found {
					t.Errorf("no failed trial with %q in %+v", tc.wantFailed, stored)
				}
			}
			f.downAt = 0 // the restore runs once the cluster is back
			if err := tg.End(release.KeepBaseline, nil); err != nil {
				t.Fatal(err)
			}
			if len(f.restored) != 1 || f.restored[0].Revision != 1 {
				t.Errorf("restored %+v, want the baseline (revision 1) once", f.restored)
			}
			if _, err := os.Stat(folder.File(results.BaselineJSON)); !os.IsNotExist(err) {
				t.Errorf("baseline file left after the restore: %v", err)
			}
		})
	}
}

// TestInterruptThenRestore: an interrupt during a trial's load ends the
// study without recording that trial, and End (on its own context)
// restores the baseline; a resumed run takes the baseline recorded by the
// interrupted one, not the release as the interrupt left it.
func TestInterruptThenRestore(t *testing.T) {
	f, tg, folder, w := setup(t)
	w.Duration = time.Minute
	if _, err := tg.Begin(context.Background(), folder); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s := &search.Study{Space: f.sp, Budget: f.budget, Workload: w, Objective: f.sp.Objective,
		Sampler: "random", Trials: 2, Seed: 1, Baseline: true, Evaluator: tg, Store: folder}
	if _, err := s.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the interrupt", err)
	}
	if stored, _ := folder.Trials(context.Background()); len(stored) != 0 {
		t.Errorf("%d trials stored, want none for the interrupted trial", len(stored))
	}

	// A resumed run (a new Target) takes the recorded baseline.
	again, err := release.New(f, f.sp, f.budget, release.Options{Emulate: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	base, err := again.Begin(context.Background(), folder)
	if err != nil || base.Revision != 1 || base.Values["secret"] != "s3cr3t" {
		t.Fatalf("resumed baseline %+v, %v: want the recorded revision 1 with its values", base, err)
	}
	if err := again.End(release.KeepBaseline, nil); err != nil {
		t.Fatal(err)
	}
	if len(f.restored) != 1 || f.restored[0].Revision != 1 {
		t.Errorf("restored %+v, want the baseline once", f.restored)
	}
}

// TestBaselineIsTheRunningRelease: the baseline trial is what the release
// runs, not the space's current values.
func TestBaselineIsTheRunningRelease(t *testing.T) {
	f, tg, folder, w := setup(t)
	f.held["api.workers"] = int64(2) // the user's release runs 2 workers; the space says 1
	if _, err := tg.Begin(context.Background(), folder); err != nil {
		t.Fatal(err)
	}
	running, err := tg.Running(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := &search.Study{Space: f.sp, Budget: f.budget, Workload: w, Objective: f.sp.Objective,
		Sampler: "random", Trials: 1, Seed: 1, Baseline: true, BaselineConfig: running, Evaluator: tg, Store: folder}
	trials, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := trials[0].Params["api.workers"]; trials[0].Origin != results.OriginBaseline || got != int64(2) {
		t.Errorf("trial 0 %s with api.workers %v, want the baseline as the release runs it (2)", trials[0].Origin, got)
	}
}

func TestKeepBestDeploysTheRecommendation(t *testing.T) {
	f, tg, folder, _ := setup(t)
	if _, err := tg.Begin(context.Background(), folder); err != nil {
		t.Fatal(err)
	}
	best := &results.Trial{Number: 4, Params: map[string]any(f.sp.Baseline())}
	best.Params["api.workers"] = int64(2)
	if err := tg.End(release.KeepBest, best); err != nil {
		t.Fatal(err)
	}
	if len(f.restored) != 0 || f.held["api.workers"] != int64(2) {
		t.Errorf("restored %v, held api.workers %v: want the recommendation deployed, nothing restored", f.restored, f.held["api.workers"])
	}
}

func TestNewWantsOneLoadSource(t *testing.T) {
	f := &fake{}
	for _, o := range []release.Options{{}, {Emulate: true, Endpoint: "http://dify/v1"}} {
		if _, err := release.New(f, nil, spaces.Budget{}, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := release.ParseKeep("all"); err == nil {
		t.Error("--keep all accepted")
	}
}

// TestReleaseTheSpaceDoesNotDescribe: a release whose workloads the space
// does not find stops the study before trial 0, as a study error.
func TestReleaseTheSpaceDoesNotDescribe(t *testing.T) {
	f, tg, folder, _ := setup(t)
	f.systematic = true
	if _, err := tg.Begin(context.Background(), folder); err != nil {
		t.Fatal(err)
	}
	_, err := tg.Running(context.Background())
	var stop interface{ StopsStudy() bool }
	if !errors.As(err, &stop) || !errors.Is(err, helm.ErrSystematic) || !strings.Contains(err.Error(), "pluginDaemon") {
		t.Errorf("err %v: want a study stop naming the missing workload", err)
	}
}

// A trial of the configuration the release already runs, warm from a load
// that ended well (the full load after a passed screen, a re-measurement),
// is not redeployed; one that follows a failed load, another configuration
// or the end of the study is.
func TestSameConfigurationRunsWarm(t *testing.T) {
	f, tg, folder, w := setup(t)
	if _, err := tg.Begin(context.Background(), folder); err != nil {
		t.Fatal(err)
	}
	base := baselineSystem(t, f)
	other := base
	other.Settings = maps.Clone(base.Settings)
	other.Settings["api.workers"] = int64(2)
	evaluate := func(sys spaces.System) results.Measurement {
		t.Helper()
		m, err := tg.Evaluate(context.Background(), sys, w)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	evaluate(base)
	m := evaluate(base)
	if f.applies != 1 || m.Timings == nil || m.Timings.RolloutS != 0 || m.Timings.SettleS != 0 || m.Completed == 0 {
		t.Errorf("%d applies, timings %+v, %d completed: want the second load on the warm release, no rollout", f.applies, m.Timings, m.Completed)
	}
	evaluate(other)
	if f.applies != 2 {
		t.Errorf("%d applies after another configuration, want 2", f.applies)
	}
	f.oom = map[string]int{"api": 1}
	if _, err := tg.Evaluate(context.Background(), base, w); err == nil {
		t.Fatal("an OOM kill during the load did not fail the trial")
	}
	f.oom = nil
	evaluate(base)
	if f.applies != 4 {
		t.Errorf("%d applies: a trial after a failed load of the same configuration must redeploy (want 4)", f.applies)
	}
	if err := tg.End(release.KeepBaseline, nil); err != nil {
		t.Fatal(err)
	}
}
