package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/c-bata/goptuna"
	"github.com/c-bata/goptuna/cmaes"
	"github.com/c-bata/goptuna/sobol"
	"github.com/tune-dify/tune/search/internal/tpe"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// Evaluator runs one configuration under the workload and measures it. The
// embedded model, the local emulator and the Helm deployer implement it.
type Evaluator interface {
	Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error)
}

// ErrAbort, wrapped in an evaluator's error, means the target could not run
// the trial at all (the cluster's API server is unreachable, say): nothing
// about the configuration was learnt, so no trial is recorded and the study
// stops with that error; rerunning it resumes. A target that does not import
// search says the same with an error that has a method StopsStudy() bool
// returning true; Run then returns it wrapped in ErrAbort.
var ErrAbort = errors.New("the target cannot run trials")

// Store keeps a study's trials durably; Add must not return before the trial
// is safe on disk.
type Store interface {
	Trials(ctx context.Context) ([]results.Trial, error)
	Add(ctx context.Context, t results.Trial) error
}

// Samplers lists the sampler names Study accepts; the first is the command
// line's default (an empty Study.Sampler is TPE). "guided" reads each
// trial's per-service utilisation (see guide) and falls back to TPE when it
// has nothing left to try; tpe and random stay as the anchors it is
// measured against (tools/benchsearch).
var Samplers = []string{"guided", "tpe", "random", "cmaes", "sobol"}

// Preset is a named configuration to evaluate before the sampler starts.
type Preset struct {
	Name   string
	Config spaces.Config
}

// Study is one search: what to search, how, and where the trials go.
type Study struct {
	Space     *spaces.Space
	Budget    spaces.Budget
	Workload  spaces.Workload
	Objective spaces.Objective
	Sampler   string // one of Samplers
	Trials    int    // total, counting the baseline, presets and resumed trials
	Seed      int64
	Baseline  bool // evaluate the baseline first
	// BaselineConfig is the baseline: the configuration a real release runs
	// now, read from the cluster. Nil means the space's current values.
	BaselineConfig spaces.Config
	// LocalMoves is the share of sampler trials, once TPE has its startup
	// trials, that are small moves around the best trial instead of TPE
	// proposals (see mover). 0 is pure goptuna; only TPE uses it.
	LocalMoves float64
	Enqueue    []Preset // evaluated after the baseline, in order
	// Screen, when positive and shorter than the workload's duration, makes
	// every trial a screening load of that length: a trial whose screen
	// already breaks the SLO or cannot beat the best trial is pruned (state
	// pruned, the screen's metrics); the others are recorded with the
	// screen's metrics (Trial.ScreenS) and run the full load only when
	// promoted, as a trial of their own. See Prunable and promotion.
	Screen time.Duration
	// ScreenCompletions, when positive, lengthens each screen to the time
	// the best trial so far takes to complete that many requests (at
	// least Screen, at most half the workload's duration): see
	// screenLength.
	ScreenCompletions int
	// PromoteAfter is how many trials the best trial, when it is a screen,
	// must stand before its full load runs (0: DefaultPromoteAfter; negative: only
	// with the study's last trial).
	PromoteAfter int
	Evaluator    Evaluator
	Store        Store
	// OnTrial, if set, is called after each trial is stored, with the best
	// SLO-feasible trial so far that ran the full load (nil when there is
	// none): what the study would recommend then.
	OnTrial func(t results.Trial, best *results.Trial)
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// Run runs the study until it has Trials trials or ctx ends. Trials already in
// the store count: a rerun resumes. It returns every trial of the study; a
// cancelled or expired ctx ends it early with ctx's error, and a trial cut
// short by it is not recorded.
func (s *Study) Run(ctx context.Context) ([]results.Trial, error) {
	if s.Now == nil {
		s.Now = time.Now
	}
	enc := NewEncoding(s.Space, s.Budget, s.Sampler == "cmaes")
	pruner := &screenPruner{study: s}
	study, err := s.newGoptuna(enc, pruner)
	if err != nil {
		return nil, err
	}
	trials, err := s.Store.Trials(ctx)
	if err != nil {
		return nil, fmt.Errorf("read stored trials: %w", err)
	}
	for _, t := range trials {
		if err := s.teach(study, enc, t); err != nil {
			return trials, err
		}
	}
	// best is what the search works from (screens count: their TPS is
	// unbiased), within the trials it reads (current: a promotion
	// supersedes its screen).
	view := current(trials)
	best := s.bestOf(view, false)
	record := func(t results.Trial) error {
		if err := s.Store.Add(ctx, t); err != nil {
			return fmt.Errorf("store trial %d: %w", t.Number, err)
		}
		trials = append(trials, t)
		view = current(trials)
		best = s.bestOf(view, false)
		if s.OnTrial != nil {
			s.OnTrial(t, s.bestOf(trials, true))
		}
		return nil
	}
	// keep records a trial goptuna did not run itself and teaches it.
	keep := func(t results.Trial) error {
		if err := record(t); err != nil {
			return err
		}
		return s.teach(study, enc, t)
	}

	// The baseline and presets run as given, then teach the sampler.
	queue := s.queue(trials)
	for _, q := range queue {
		if len(trials) >= s.Trials {
			return trials, nil
		}
		if err := ctx.Err(); err != nil {
			return trials, err
		}
		sys, err := s.Space.Resolve(s.Budget, q.cfg)
		if err == nil {
			err = s.Space.Check(sys)
		}
		if err != nil {
			// Checked up front by the CLI; a preset that does not fit is
			// skipped rather than spending a trial over budget.
			continue
		}
		t, err := s.measure(ctx, nil, pruner, best, len(trials), q.origin, q.cfg, sys)
		if err != nil {
			return trials, err
		}
		if err := keep(t); err != nil {
			return trials, err
		}
	}

	mv := newMover(enc, s.Seed)
	g := newGuide(s.Space, s.Budget, s.Objective, s.Seed)
	var lead *results.Trial // what the guide works from
	for len(trials) < s.Trials {
		if err := ctx.Err(); err != nil {
			return trials, err
		}
		if due := s.promotion(trials, s.Trials-len(trials)); due != nil {
			t, err := s.promote(ctx, len(trials), *due)
			if err != nil {
				return trials, err
			}
			if err := keep(t); err != nil {
				return trials, err
			}
			continue
		}
		var raw map[string]float64
		var pending spaces.Config // a configuration to evaluate exactly as it is
		if s.Sampler == "guided" {
			read := measured(view)
			lead = s.leader(promoted(lead, trials), best, read)
			if lead != nil {
				pending = g.propose(*lead, read)
			} else if base := s.Space.Baseline(); !triedBefore(base, trials) && g.fits(base) {
				pending = base
			} else if small := s.Space.Smallest(); !triedBefore(small, trials) && g.fits(small) {
				// A baseline over budget: the guide starts from the smallest
				// configuration, which always fits, and grows what it uses.
				pending = small
			}
			if pending != nil {
				raw = enc.Encode(pending)
			}
		}
		switch {
		case raw != nil:
		case s.isTPE() && len(trials) < startupTrials:
			raw = mv.random()
		case s.isTPE() && s.moveNext(mv, len(trials)):
			if inc := s.incumbent(best, view); inc != nil {
				raw = mv.propose(*inc, trials)
			}
		}
		if raw != nil {
			if err := study.EnqueueTrial(raw); err != nil {
				return trials, err
			}
		}
		var done *results.Trial
		objective := func(gt goptuna.Trial) (float64, error) {
			raw, err := enc.Suggest(gt)
			if err != nil {
				return 0, err
			}
			cfg, sys, err := enc.Decode(raw)
			if pending != nil {
				cfg = pending
				sys, err = s.Space.Resolve(s.Budget, cfg)
			}
			if err != nil {
				return 0, err
			}
			t, err := s.measure(ctx, &gt, pruner, best, len(trials), results.OriginSampler, cfg, sys)
			if err != nil {
				return 0, err
			}
			if err := record(t); err != nil {
				return 0, err
			}
			done = &t
			if t.State == results.StatePruned {
				return 0, goptuna.ErrTrialPruned
			}
			return s.score(t), nil
		}
		if err := study.Optimize(objective, 1); err != nil {
			return trials, err
		}
		if done == nil {
			// goptuna swallows objective errors when told to ignore them;
			// ours are fatal (store, ctx), so surface whatever ended it.
			if err := ctx.Err(); err != nil {
				return trials, err
			}
			return trials, errors.New("sampler trial ended without a result")
		}
	}
	return trials, nil
}

// measured is trials as the guide reads them: a pruned screen as the
// measurement it is. With screening, pruning spares no load (every trial
// costs its screen; only promotions run the full load): it only rules a
// trial out of promotion, and the guide learns from its screen as from
// any other (its utilisation, the errors a pooler would repair).
func measured(trials []results.Trial) []results.Trial {
	var out []results.Trial
	for i, t := range trials {
		if t.State == results.StatePruned && t.Screened() {
			if out == nil {
				out = slices.Clone(trials)
			}
			out[i].State = results.StateComplete
		}
	}
	if out == nil {
		return trials
	}
	return out
}

// promoted is lead, or the promotion that superseded it: the same
// configuration, measured with the full load.
func promoted(lead *results.Trial, trials []results.Trial) *results.Trial {
	if lead == nil || !lead.Screened() {
		return lead
	}
	for i := range trials {
		if p := trials[i].PromotedFrom; p != nil && *p == lead.Number {
			return &trials[i]
		}
	}
	return lead
}

// incumbent is what local moves start from: the best feasible trial, or
// while there is none the trial the sampler scored highest (a study whose
// SLO nothing meets yet still climbs towards it).
func (s *Study) incumbent(best *results.Trial, trials []results.Trial) *results.Trial {
	if best != nil {
		return best
	}
	var inc *results.Trial
	for i := range trials {
		if inc == nil || s.score(trials[i]) > s.score(*inc) {
			inc = &trials[i]
		}
	}
	return inc
}

// leader is what the guide works from: the best feasible trial, or while
// there is none the one with the most TPS within the error limit. In a
// closed loop more TPS is less latency, and TPS is measured with far less
// noise than a P95, so it leads towards the SLO more surely than the score.
// The leader changes only for a trial better by more than leadMargin (or the
// first feasible one): chasing the noise would restart the guide's list of
// moves around configurations that are no better.
func (s *Study) leader(lead, best *results.Trial, trials []results.Trial) *results.Trial {
	cand := best
	if cand == nil {
		for i := range trials {
			t := &trials[i]
			if t.State == results.StateFailed || t.Metrics.ErrorRate > s.Objective.MaxErrorRate {
				continue
			}
			if cand == nil || t.Metrics.TPS > cand.Metrics.TPS {
				cand = t
			}
		}
	}
	if cand == nil {
		return s.incumbent(best, trials)
	}
	switch {
	case lead == nil, lead.State == results.StateFailed:
		return cand
	case cand == best && !Feasible(lead.Metrics, s.Objective):
		return cand
	case cand.Metrics.TPS > lead.Metrics.TPS*(1+leadMargin):
		return cand
	}
	return lead
}

// leadMargin is the improvement that moves the guide to another trial:
// above the model's and a cluster's run-to-run noise (about 1%).
const leadMargin = 0.02

// moveNext decides whether the next sampler trial is a local move around
// the incumbent.
func (s *Study) moveNext(mv *mover, done int) bool {
	share := s.LocalMoves
	if s.Sampler == "guided" {
		share = guidedLocalMoves
	}
	return share > 0 && done >= startupTrials && mv.rng.Float64() < share
}

func (s *Study) isTPE() bool { return s.Sampler == "" || s.Sampler == "tpe" || s.Sampler == "guided" }

type queued struct {
	origin results.Origin
	cfg    spaces.Config
}

// queue is what still has to run before sampling: the baseline (unless a
// stored trial is the baseline) and the presets not yet run, in order.
func (s *Study) queue(done []results.Trial) []queued {
	var baseline, enqueued int
	for _, t := range done {
		switch t.Origin {
		case results.OriginBaseline:
			baseline++
		case results.OriginEnqueued:
			enqueued++
		}
	}
	var q []queued
	if s.Baseline && baseline == 0 {
		base := s.Space.Baseline()
		if s.BaselineConfig != nil {
			base = s.Space.Complete(s.BaselineConfig)
		}
		q = append(q, queued{results.OriginBaseline, base})
	}
	for i, p := range s.Enqueue {
		if i >= enqueued {
			q = append(q, queued{results.OriginEnqueued, s.Space.Complete(p.Config)})
		}
	}
	return q
}

// evaluate runs one configuration on ev (the study's evaluator, or a
// re-measurement of it) and builds its trial record. Only ctx's own errors
// are returned; anything else the evaluator reports makes a failed trial.
func (s *Study) evaluate(ctx context.Context, ev Evaluator, number int, origin results.Origin, cfg spaces.Config, sys spaces.System, w spaces.Workload) (results.Trial, error) {
	usage := s.Space.Usage(sys)
	t := results.Trial{
		Number:    number,
		Origin:    origin,
		Params:    cfg,
		Resources: results.Resources{CPUCores: usage.CPU.Cores(), MemoryMiB: int64(usage.Memory)},
		Started:   s.Now(),
	}
	m, err := ev.Evaluate(ctx, sys, w)
	t.Finished = s.Now()
	t.DurationS = t.Finished.Sub(t.Started).Seconds()
	if err != nil {
		if ctx.Err() != nil {
			return t, ctx.Err()
		}
		if errors.Is(err, ErrAbort) {
			return t, err
		}
		var stop interface{ StopsStudy() bool }
		if errors.As(err, &stop) && stop.StopsStudy() {
			return t, fmt.Errorf("%w: %w", ErrAbort, err)
		}
		t.State = results.StateFailed
		t.Error = err.Error()
		return t, nil
	}
	t.State = results.StateComplete
	t.Metrics = m.Metrics
	t.Utilisation = m.Utilisation
	t.Errors = m.Errors
	t.Timings = m.Timings
	return t, nil
}

// SLO is the objective as results judges trials by it: the one SLO rule.
func SLO(o spaces.Objective) results.SLO {
	return results.SLO{P95: o.SLOP95, MaxErrorRate: o.MaxErrorRate}
}

// Feasible reports whether m meets the objective's SLO and error limit.
func Feasible(m results.Metrics, o spaces.Objective) bool { return SLO(o).MeetsMetrics(m) }

// score is what the sampler maximises: TPS when the SLO holds; otherwise TPS
// shrunk by how far the SLO is missed (squared) and halved, so every
// infeasible point ranks below a feasible one of the same TPS and the
// sampler still learns which way is better. A failed trial scores 0; a
// pruned one by its screen.
func (s *Study) score(t results.Trial) float64 {
	if t.State == results.StateFailed {
		return 0
	}
	m := t.Metrics
	if Feasible(m, s.Objective) {
		return m.TPS
	}
	f := 0.5
	if slo := float64(s.Objective.SLOP95.Milliseconds()); slo > 0 && m.P95 > slo {
		f *= math.Pow(slo/m.P95, 2)
	}
	if m.ErrorRate > s.Objective.MaxErrorRate {
		f *= math.Pow((s.Objective.MaxErrorRate+1e-3)/(m.ErrorRate+1e-3), 2)
	}
	return m.TPS * f
}

// better returns whichever of best and t has the higher TPS within the SLO.
func (s *Study) better(best, t *results.Trial) *results.Trial {
	if t.State != results.StateComplete || !Feasible(t.Metrics, s.Objective) {
		return best
	}
	if best == nil || t.Metrics.TPS > best.Metrics.TPS {
		return t
	}
	return best
}

// teach hands a finished trial to goptuna as if its sampler had proposed it,
// so the baseline, presets and resumed trials shape what comes next.
func (s *Study) teach(study *goptuna.Study, enc *Encoding, t results.Trial) error {
	raw := enc.Encode(spaces.Config(t.Params))
	dists := make(map[string]any, len(raw))
	params := make(map[string]any, len(raw))
	for name, dist := range enc.SearchSpace() {
		dists[name] = dist
		v, err := goptuna.ToExternalRepresentation(dist, raw[name])
		if err != nil {
			return fmt.Errorf("trial %d: %s: %w", t.Number, name, err)
		}
		params[name] = v
	}
	start := t.Started
	if start.IsZero() {
		start = s.Now()
	}
	_, err := study.Storage.CloneTrial(study.ID, goptuna.FrozenTrial{
		State:              goptuna.TrialStateComplete,
		Value:              s.score(t),
		IntermediateValues: map[int]float64{},
		DatetimeStart:      start,
		DatetimeComplete:   start.Add(time.Duration(t.DurationS * float64(time.Second))),
		InternalParams:     raw,
		Params:             params,
		Distributions:      dists,
		UserAttrs:          map[string]string{},
		SystemAttrs:        map[string]string{},
	})
	return err
}

// newGoptuna makes the in-memory goptuna study with the chosen sampler,
// seeded. Durability is ours (the Store), not goptuna's.
func (s *Study) newGoptuna(enc *Encoding, pruner goptuna.Pruner) (*goptuna.Study, error) {
	opts := []goptuna.StudyOption{
		goptuna.StudyOptionDirection(goptuna.StudyDirectionMaximize),
		goptuna.StudyOptionLogger(nil),
		goptuna.StudyOptionIgnoreError(false),
		goptuna.StudyOptionSampler(newSeededRandom(s.Seed)),
		goptuna.StudyOptionPruner(pruner),
	}
	switch s.Sampler {
	case "", "tpe", "guided":
		// TPE's own startup sampler is goptuna's unseeded one (see
		// seededRandom): Run enqueues the startup trials itself instead.
		opts = append(opts, goptuna.StudyOptionSampler(tpe.NewSampler(
			tpe.SamplerOptionSeed(s.Seed),
			tpe.SamplerOptionNumberOfStartupTrials(0),
		)))
	case "random":
	case "cmaes":
		opts = append(opts,
			goptuna.StudyOptionRelativeSampler(cmaes.NewSampler(cmaes.SamplerOptionSeed(s.Seed))),
			goptuna.StudyOptionDefineSearchSpace(enc.SearchSpace()))
	case "sobol":
		// Sobol is deterministic (the seed does not change it); as Joe and
		// Kuo recommend, it skips the sequence's first points.
		sampler := sobol.NewSampler()
		sobol.SamplerOptionSkipInitialPoints(uint32(max(2, s.Trials)))(sampler)
		opts = append(opts,
			goptuna.StudyOptionRelativeSampler(sampler),
			goptuna.StudyOptionDefineSearchSpace(enc.SearchSpace()))
	default:
		return nil, fmt.Errorf("sampler %q: want one of %v", s.Sampler, Samplers)
	}
	return goptuna.CreateStudy("tune", opts...)
}

// startupTrials is how many trials TPE has before it models the space: the
// baseline and presets count towards it, random trials make up the rest.
const startupTrials = 8

// guidedLocalMoves is the share of local moves once the guide has nothing
// left to propose; the rest are TPE's.
const guidedLocalMoves = 0.5

// EvaluatorFunc adapts a function to Evaluator.
type EvaluatorFunc func(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error)

// Evaluate implements Evaluator.
func (f EvaluatorFunc) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	return f(ctx, sys, w)
}
