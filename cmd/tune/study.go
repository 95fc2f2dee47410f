package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tune-dify/tune/internal/progress"
	"github.com/tune-dify/tune/report"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target/release"
)

type studyOpts struct {
	common
	trials   int
	timeout  time.Duration
	study    string
	storage  string
	out      string
	sampler  string
	enqueue  []string
	moves    float64
	helm     helmOpts
	progress progressOpts
	screen   time.Duration
	confirm  int
	repeats  int
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
	o.progress.register(c)
	f := c.Flags()
	f.IntVar(&o.trials, "trials", 50, "trials in the study, counting the baseline, --enqueue presets and trials already stored")
	f.DurationVar(&o.timeout, "timeout", 0, "wall-clock deadline for the whole study, e.g. 8h (0: none); what is done is kept")
	f.StringVar(&o.study, "study", "", "study name; rerunning with the same name resumes it (default <space>-<budget>-<scenario>)")
	f.StringVar(&o.storage, "storage", "", "trial store: a SQLite file or sqlite:PATH (default <out>/trials.db)")
	f.StringVar(&o.out, "out", "", "output folder for trials.jsonl, pareto.json, values.yaml (default tune-out/<study>)")
	f.StringVar(&o.sampler, "sampler", search.Samplers[0], "search algorithm: "+strings.Join(search.Samplers, ", "))
	f.Float64Var(&o.moves, "local-moves", 0.25, "share of TPE's trials (after its 8 startup trials) spent on small moves around the best trial so far; 0 is pure TPE")
	f.DurationVar(&o.screen, "screen", 0, "measure each trial with a load this long (e.g. 15s): prune it when it breaks the SLO or cannot beat the best beyond its noise, else record the screen and run the full load only for the best screen once the screens have cost a full load and it stood "+fmt.Sprint(search.DefaultPromoteAfter)+" trials ahead of the best full load beyond its noise, and on the last trial (a promoted trial); a screen too slow to judge is followed by one sized to its latency; only full loads are recommended. 0: every trial runs the full load")
	f.IntVar(&o.confirm, "confirm", 0, "re-measure the N best trials within the SLO before recommending one (the recommendation is the best mean among those that keep the SLO)")
	f.IntVar(&o.repeats, "confirm-repeats", 2, "with --confirm: re-measurements of each candidate")
	f.StringSliceVar(&o.enqueue, "enqueue", nil, "configurations to evaluate after the baseline: preset ids from <space dir>/presets (e.g. s16-final) or YAML files")
	return c
}

func (o *studyOpts) run(ctx context.Context, stdout, stderr io.Writer, argv []string) error {
	in, presets, err := o.inputs()
	if err != nil {
		return err
	}
	space, err := os.ReadFile(o.space)
	if err != nil {
		return badInput("--space: %w", err)
	}
	dbPath, err := results.StoragePath(o.storage, o.out)
	if err != nil {
		return badInput("--storage %w", err)
	}
	folder, err := results.OpenFolder(ctx, o.out, dbPath, results.StudyFile{Study: o.study, StudyMeta: results.StudyMeta{
		Budget: in.budget.Name, Space: o.space, Target: o.target, Scenario: in.workload.Name(),
		Seed: o.seed, Command: commandLine(argv), Sampler: o.sampler,
		SLOP95Ms: in.objective.SLOP95.Milliseconds(), MaxErrorRate: in.objective.MaxErrorRate,
	}}, space)
	if mismatch := new(results.MismatchError); errors.As(err, &mismatch) {
		return badInput("--study %s: %w", o.study, err)
	} else if err != nil {
		return err
	}
	defer folder.Close()
	done, err := folder.Trials(ctx)
	if err != nil {
		return err
	}
	disp := o.progress.display(stdout, in.space, o.trials, o.timeout)
	disp.Start(o.study, len(done))
	text := disp.Text() // the header and summary; nothing with --json or --quiet
	o.header(text, in, len(done))

	var ht *release.Target
	var keep release.Keep
	if o.target == "helm" {
		if ht, keep, err = newHelmTarget(ctx, &o.helm, in, o.seed, text); err != nil {
			return err
		}
		if _, err = ht.Begin(ctx, folder); err != nil {
			return fmt.Errorf("--target helm: %w", err)
		}
		if len(done) == 0 {
			if in.baseline, err = ht.Running(ctx); err != nil {
				return fmt.Errorf("--target helm: %w", err)
			}
		}
		in.evaluator = ht
	}
	trials, stopped, runErr := o.search(ctx, text, disp, in, presets, folder)
	wall := o.wallTime(in, trials)
	fmt.Fprintln(text, wall)
	if err := folder.SetWallTime(wall); err != nil {
		fmt.Fprintf(stderr, "tune: %v\n", err)
	}
	var base map[string]any
	if ht != nil {
		if base, err = ht.BaseValues(); err != nil {
			fmt.Fprintf(stderr, "tune: the release's values, for the export: %v\n", err)
		}
	}
	best := recommend(trials, in, in.confirmed)
	werr := writeOutcome(context.WithoutCancel(ctx), text, folder, in, base, trials, best) // written after an interrupt too
	if path, err := report.WriteStudy(folder.Dir); err != nil {
		fmt.Fprintf(stderr, "tune: report: %v\n", err)
	} else {
		fmt.Fprintf(text, "wrote %s\n", path)
	}
	disp.Finish(best, stopped)
	if ht != nil {
		if err := ht.End(keep, best); err != nil {
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

// inputs checks the study's flags, names the study and its folder, and
// reads the --enqueue presets.
func (o *studyOpts) inputs() (*inputs, []search.Preset, error) {
	in, err := o.load()
	if err != nil {
		return nil, nil, err
	}
	switch {
	case o.trials < 1:
		return nil, nil, badInput("--trials %d: must be at least 1", o.trials)
	case o.timeout < 0:
		return nil, nil, badInput("--timeout %s: must be positive", o.timeout)
	case o.moves < 0 || o.moves > 1:
		return nil, nil, badInput("--local-moves %g: want a share between 0 and 1", o.moves)
	case o.screen < 0 || o.confirm < 0 || o.repeats < 1:
		return nil, nil, badInput("--screen, --confirm must not be negative and --confirm-repeats at least 1")
	case !slices.Contains(search.Samplers, o.sampler):
		return nil, nil, badInput("--sampler %q: want one of %s", o.sampler, strings.Join(search.Samplers, ", "))
	}
	var presets []search.Preset
	for _, ref := range o.enqueue {
		p, err := loadPreset(o.space, ref)
		if err != nil {
			return nil, nil, err
		}
		if p.Config, _, err = checkConfig(in, p.Config, "--enqueue "+ref); err != nil {
			return nil, nil, err
		}
		presets = append(presets, p)
	}
	if o.study == "" {
		o.study = fmt.Sprintf("%s-%s-%s", spaceName(in.space), in.budget.Name, loadSlug(in.workload))
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
	return in, presets, nil
}

// header says what the study is, what it resumes, and what the target
// does not read of the space.
func (o *studyOpts) header(stdout io.Writer, in *inputs, done int) {
	if done > 0 {
		fmt.Fprintf(stdout, "resuming study %q: %d of %d trials done\n", o.study, done, o.trials)
	}
	fmt.Fprintf(stdout, "study %q: budget %s, target %s, scenario %s, sampler %s, SLO P95 ≤ %s, errors ≤ %.1f%%\n",
		o.study, in.budget.Name, o.target, in.workload.Name(), o.sampler, in.objective.SLOP95, 100*in.objective.MaxErrorRate)
	w := in.workload
	fmt.Fprintf(stdout, "load per trial: %d users, spawn %g/s, think %s..%s, measured %s after the ramp\n",
		w.Users, w.SpawnRate, w.ThinkMin, w.ThinkMax, w.Duration)
	if o.screen > 0 && o.screen < w.Duration {
		fmt.Fprintf(stdout, "screening: each trial measured %s after the ramp; the full load only for the best screen once it stood %d trials ahead of the best full load beyond its noise, and on the last trial\n",
			o.screen, search.DefaultPromoteAfter)
	}
	printUnread(stdout, o.target, o.helm.emulate, in.space)
}

// search runs the study and turns how it ended into what the user reads:
// a --timeout is a normal end; an interrupt or a target that cannot run
// trials is said and exits 1.
func (o *studyOpts) search(ctx context.Context, stdout io.Writer, disp *progress.Display, in *inputs, presets []search.Preset, folder *results.Folder) ([]results.Trial, string, error) {
	runCtx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	s := &search.Study{
		Space: in.space, Budget: in.budget, Workload: in.workload, Objective: in.objective,
		Sampler: o.sampler, Trials: o.trials, Seed: o.seed, Baseline: true, BaselineConfig: in.baseline, Enqueue: presets,
		LocalMoves: o.moves, Screen: o.screen,
		Evaluator: in.evaluator, Store: folder,
		OnTrial: disp.OnTrial,
	}
	trials, err := s.Run(runCtx)
	if err == nil && o.confirm > 0 {
		trials, in.confirmed, err = o.confirmTop(runCtx, stdout, s, trials)
	}
	var stopped string
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		stopped = fmt.Sprintf("stopped at --timeout %s after %d trials", o.timeout, len(trials))
		err = nil
	case ctx.Err() != nil:
		stopped = fmt.Sprintf("interrupted after %d trials; rerun the same command to resume", len(trials))
		err = errSilent // said; exit 1
	case errors.Is(err, search.ErrAbort):
		stopped = fmt.Sprintf("stopped after %d trials: %v\nnothing was recorded for the trial in progress; rerun the same command to resume", len(trials), err)
		err = errSilent
	}
	if stopped != "" {
		fmt.Fprintln(stdout, stopped)
	}
	return trials, stopped, err
}

// confirmTop re-measures the best trials and says what it found; it
// returns the trials (with the promotions it ran for candidates measured
// only by a screen) and the trial to recommend (-1: none kept the SLO).
func (o *studyOpts) confirmTop(ctx context.Context, stdout io.Writer, s *search.Study, trials []results.Trial) ([]results.Trial, int, error) {
	trials, cs, err := s.Confirm(ctx, trials, o.confirm, o.repeats)
	if err != nil || len(cs) == 0 {
		return trials, -1, err
	}
	fmt.Fprintf(stdout, "confirmation: the %d best trials within the SLO, each measured %d more times\n", len(cs), o.repeats)
	for _, c := range cs {
		lo, hi := c.Interval()
		promoted := ""
		if c.PromotedFrom != nil {
			promoted = fmt.Sprintf(" (the full load of screened trial #%d)", *c.PromotedFrom)
		}
		fmt.Fprintf(stdout, "  trial #%d%s: TPS mean %.1f (next run within %.1f..%.1f, 95%%), SLO met in %d of %d runs\n",
			c.Trial, promoted, c.Mean(), lo, hi, c.Feasible, len(c.TPS))
	}
	return trials, cs[0].Trial, nil
}

// wallTime is the study's wall time on a cluster: measured on one, else
// estimated from the loads its trials ran.
func (o *studyOpts) wallTime(in *inputs, trials []results.Trial) results.WallTime {
	if o.target == "helm" {
		return results.MeasuredWallTime(trials, o.trials)
	}
	screenS := 0.0
	if o.screen > 0 && o.screen < in.workload.Duration {
		screen := in.workload
		screen.Duration = o.screen
		screenS = search.LoadSeconds(screen)
	}
	return release.EstimatedWallTime(in.space, trials, o.trials, search.LoadSeconds(in.workload), screenS)
}

// spaceName is the space's metadata name, or its file name without extension.
func spaceName(sp *spaces.Space) string {
	if sp.Metadata.Name != "" {
		return sp.Metadata.Name
	}
	return strings.TrimSuffix(filepath.Base(sp.File), filepath.Ext(sp.File))
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

// loadSlug names the load in a study's name and folder: the scenario, or
// a mix as chatflow60-agent30-retrieval10.
func loadSlug(w spaces.Workload) string {
	return strings.NewReplacer("=", "", ",", "-").Replace(w.Name())
}
