package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tune-dify/tune/deployer/helm"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
)

type studyOpts struct {
	common
	trials  int
	timeout time.Duration
	study   string
	storage string
	out     string
	sampler string
	enqueue []string
	moves   float64
	helm    helmOpts
}

func newStudyCmd(argv []string) *cobra.Command {
	o := &studyOpts{}
	c := &cobra.Command{
		Use:   "tune --budget 16c32g --space spaces/default.yaml",
		Short: "Search resource splits for a Dify deployment under a hardware budget",
		Long: `tune proposes resource splits (API replicas, SERVER_WORKER_AMOUNT, CPU and memory
per service, PostgreSQL storage, Weaviate placement, pgbouncer pool) that fit the
budget, measures each under streaming load, keeps the Pareto front of TPS against
P95 latency and recommends the highest TPS within the SLO as a Helm values overlay.

With --target sim (the default) trials run on the embedded, calibrated model of the
Dify stack: no cluster needed. Every flag can also come from TUNE_<FLAG> (e.g.
TUNE_BUDGET=16c32g) or from --config-file.`,
		Example: `  # an overnight study on the embedded model
  tune --budget 16c32g --space spaces/default.yaml --trials 200 --timeout 8h

  # 40 trials, the seed's hand-tuned answer queued first, a 1.5 s SLO
  tune --budget 16c32g --space spaces/default.yaml --trials 40 --seed 1 \
       --enqueue s16-final --slo-p95 1.5s

  # rerun the same command to resume a study that was interrupted
  tune --budget 8c16g --space spaces/default.yaml --study nightly`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.run(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), argv)
		},
	}
	o.register(c)
	o.helm.register(c)
	f := c.Flags()
	f.IntVar(&o.trials, "trials", 50, "trials in the study, counting the baseline, --enqueue presets and trials already stored")
	f.DurationVar(&o.timeout, "timeout", 0, "wall-clock deadline for the whole study, e.g. 8h (0: none); what is done is kept")
	f.StringVar(&o.study, "study", "", "study name; rerunning with the same name resumes it (default <space>-<budget>-<scenario>)")
	f.StringVar(&o.storage, "storage", "", "trial store: a SQLite file or sqlite:PATH (default <out>/trials.db)")
	f.StringVar(&o.out, "out", "", "output folder for trials.jsonl, pareto.json, values.yaml (default tune-out/<study>)")
	f.StringVar(&o.sampler, "sampler", "tpe", "search algorithm: "+strings.Join(search.Samplers, ", "))
	f.Float64Var(&o.moves, "local-moves", 0.25, "share of TPE's trials (after its 8 startup trials) spent on small moves around the best trial so far; 0 is pure TPE")
	f.StringSliceVar(&o.enqueue, "enqueue", nil, "configurations to evaluate after the baseline: preset ids from <space dir>/presets (e.g. s16-final) or YAML files")
	return c
}

func (o *studyOpts) run(ctx context.Context, stdout, stderr io.Writer, argv []string) error {
	in, err := o.load()
	if err != nil {
		return err
	}
	if o.trials < 1 {
		return badInput("--trials %d: must be at least 1", o.trials)
	}
	if o.timeout < 0 {
		return badInput("--timeout %s: must be positive", o.timeout)
	}
	if o.moves < 0 || o.moves > 1 {
		return badInput("--local-moves %g: want a share between 0 and 1", o.moves)
	}
	if !slices.Contains(search.Samplers, o.sampler) {
		return badInput("--sampler %q: want one of %s", o.sampler, strings.Join(search.Samplers, ", "))
	}
	var presets []search.Preset
	for _, ref := range o.enqueue {
		p, err := loadPreset(o.space, ref)
		if err != nil {
			return err
		}
		if p.Config, _, err = checkConfig(in, p.Config, "--enqueue "+ref); err != nil {
			return err
		}
		presets = append(presets, p)
	}
	if o.study == "" {
		o.study = fmt.Sprintf("%s-%s-%s", spaceName(in.space), in.budget.Name, in.workload.Scenario)
		// A shortened load measures other figures: its own study, so a
		// rerun with the space's load does not resume into it.
		if o.users > 0 {
			o.study += fmt.Sprintf("-u%d", o.users)
		}
		if o.duration > 0 {
			o.study += "-" + o.duration.String()
		}
	}
	if o.out == "" {
		o.out = filepath.Join("tune-out", o.study)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	dbPath, err := storagePath(o.storage, o.out)
	if err != nil {
		return err
	}
	meta := studyMeta{
		Study: o.study, Budget: in.budget.Name, Space: o.space, Target: o.target,
		Scenario: in.workload.Scenario, Seed: o.seed, Sampler: o.sampler,
		SLOP95Ms: in.objective.SLOP95.Milliseconds(), MaxErrorRate: in.objective.MaxErrorRate,
		Command: commandLine(argv),
	}
	spaceBytes, err := os.ReadFile(o.space)
	if err != nil {
		return badInput("--space: %w", err)
	}
	digest := fmt.Sprintf("%x", sha256.Sum256(spaceBytes))
	st, err := results.Open(ctx, dbPath)
	if err != nil {
		return fmt.Errorf("open trial store %s: %w", dbPath, err)
	}
	defer st.Close()
	id, err := st.Study(ctx, o.study, results.StudyMeta{
		Budget: meta.Budget, Space: meta.Space, Target: meta.Target, Scenario: meta.Scenario,
		Seed: meta.Seed, Command: meta.Command, SpaceDigest: digest,
	})
	var mismatch *results.MismatchError
	if errors.As(err, &mismatch) {
		return badInput("--study %s: %w", o.study, err)
	} else if err != nil {
		return fmt.Errorf("study %s in %s: %w", o.study, dbPath, err)
	}
	if err := writeStudyFiles(o.out, o.space, meta); err != nil {
		return err
	}
	jsonl := filepath.Join(o.out, "trials.jsonl")
	store := &studyStore{st: st, id: id, jsonl: jsonl}
	done, err := store.Trials(ctx)
	if err != nil {
		return err
	}
	// The store is the truth; make trials.jsonl match it before appending.
	if err := results.WriteJSONL(jsonl, done); err != nil {
		return err
	}
	if len(done) > 0 {
		fmt.Fprintf(stdout, "resuming study %q: %d of %d trials done\n", o.study, len(done), o.trials)
	}
	fmt.Fprintf(stdout, "study %q: budget %s, target %s, scenario %s, sampler %s, SLO P95 ≤ %s, errors ≤ %.1f%%\n",
		o.study, in.budget.Name, o.target, in.workload.Scenario, o.sampler, in.objective.SLOP95, 100*in.objective.MaxErrorRate)
	w := in.workload
	fmt.Fprintf(stdout, "load per trial: %d users, spawn %g/s, think %s..%s, measured %s after the ramp\n",
		w.Users, w.SpawnRate, w.ThinkMin, w.ThinkMax, w.Duration)

	var ht *helmTarget
	var baseline helm.Baseline
	if o.target == "helm" {
		if ht, err = newHelmTarget(ctx, &o.helm, in, o.seed, stdout); err != nil {
			return err
		}
		if baseline, err = ht.begin(ctx, o.out, stdout); err != nil {
			return fmt.Errorf("--target helm: %w", err)
		}
		in.evaluator = ht
	}

	runCtx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	s := &search.Study{
		Space: in.space, Budget: in.budget, Workload: in.workload, Objective: in.objective,
		Sampler: o.sampler, Trials: o.trials, Seed: o.seed, Baseline: true, Enqueue: presets,
		LocalMoves: o.moves,
		Evaluator:  in.evaluator, Store: store,
		OnTrial: func(t results.Trial, best *results.Trial) {
			fmt.Fprintln(stdout, progressLine(in.space, t, best, o.trials))
		},
	}
	trials, runErr := s.Run(runCtx)
	var stopped string
	switch {
	case runErr == nil:
	case errors.Is(runErr, context.DeadlineExceeded) && ctx.Err() == nil:
		stopped = fmt.Sprintf("stopped at --timeout %s after %d trials", o.timeout, len(trials))
		runErr = nil
	case ctx.Err() != nil:
		stopped = fmt.Sprintf("interrupted after %d trials; rerun the same command to resume", len(trials))
		runErr = errSilent // said; exit 1
	case errors.Is(runErr, search.ErrAbort):
		stopped = fmt.Sprintf("stopped after %d trials: %v\nnothing was recorded for the trial in progress; rerun the same command to resume", len(trials), runErr)
		runErr = errSilent
	}
	if stopped != "" {
		fmt.Fprintln(stdout, stopped)
	}
	werr := writeOutcome(stdout, o.out, in, meta, trials)
	if ht != nil {
		var best *results.Trial
		if rec, ok := results.Pick(trials, results.ModeMaxTPS, slo(in.objective)); ok {
			best = &rec
		}
		if err := ht.end(o.helm.keep, baseline, best, o.out, stdout); err != nil {
			fmt.Fprintf(stderr, "tune: %v\n", err)
			if runErr == nil {
				runErr = errSilent
			}
		}
	}
	if runErr != nil {
		return runErr
	}
	return werr
}

// spaceName is the space's metadata name, or its file name without extension.
func spaceName(sp *spaces.Space) string {
	if sp.Metadata.Name != "" {
		return sp.Metadata.Name
	}
	return strings.TrimSuffix(filepath.Base(sp.File), filepath.Ext(sp.File))
}

// storagePath turns --storage into a SQLite file path.
func storagePath(flag, out string) (string, error) {
	switch {
	case flag == "":
		return filepath.Join(out, "trials.db"), nil
	case strings.HasPrefix(flag, "sqlite://"):
		return strings.TrimPrefix(flag, "sqlite://"), nil
	case strings.HasPrefix(flag, "sqlite:"):
		return strings.TrimPrefix(flag, "sqlite:"), nil
	case strings.Contains(flag, "://"):
		return "", badInput("--storage %s: only SQLite stores are available in this version (a file path or sqlite:PATH)", redactURL(flag))
	}
	return flag, nil
}

// redactURL drops credentials from a storage URL before it is shown.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "***@" + rest[at+1:]
	}
	return scheme + "://" + rest
}

// commandLine is the command as the user typed it, for the values.yaml
// header; nothing secret is ever passed as a flag.
func commandLine(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if strings.ContainsAny(a, " \t'\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// studyMeta is study.json: what export needs to rebuild the recommendation
// without the original flags.
type studyMeta struct {
	Study        string  `json:"study"`
	Budget       string  `json:"budget"`
	Space        string  `json:"space"`
	Target       string  `json:"target"`
	Scenario     string  `json:"scenario"`
	Seed         int64   `json:"seed"`
	Sampler      string  `json:"sampler"`
	SLOP95Ms     int64   `json:"slo_p95_ms"`
	MaxErrorRate float64 `json:"max_error_rate"`
	Command      string  `json:"command"`
}

// writeStudyFiles keeps a copy of the space (space.yaml) and study.json in
// the output folder so the folder alone is enough for `tune export`.
func writeStudyFiles(out, spaceFile string, meta studyMeta) error {
	src, err := os.ReadFile(spaceFile)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(out, "space.yaml"), src); err != nil {
		return err
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(out, "study.json"), append(b, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	return writeFileAtomicMode(path, data, 0o644)
}

// writeFileAtomicMode is writeFileAtomic with the file's permissions.
func writeFileAtomicMode(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // WriteFile keeps an existing file's mode
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// studyStore is the search's Store: the SQLite study, mirrored line by line
// into trials.jsonl.
type studyStore struct {
	st    *results.Store
	id    results.StudyID
	jsonl string
}

func (s *studyStore) Trials(ctx context.Context) ([]results.Trial, error) {
	return s.st.Trials(ctx, s.id)
}

func (s *studyStore) Add(ctx context.Context, t results.Trial) error {
	if err := s.st.Add(ctx, s.id, t); err != nil {
		return err
	}
	return results.AppendJSONL(s.jsonl, t)
}
