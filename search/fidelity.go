package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/c-bata/goptuna"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// Remeasurer is an Evaluator that can measure a configuration again as an
// independent run. On a cluster every run is one (Evaluate again); the
// embedded model is deterministic in its seed, so its wrapper hands back a
// model with another seed. Confirm uses it when the evaluator has it.
type Remeasurer interface {
	// Remeasure returns the evaluator of the i-th re-measurement (i ≥ 1).
	Remeasure(i int) Evaluator
}

// The screening rules. A screen is a short load: its figures are as
// unbiased as the full load's but noisier, and a trial pruned there is lost
// to the search for good (it counts as tried), so a screen prunes only what
// it shows beyond its noise:
//   - a P95 above the SLO by more than screenSLOSlack: one minute's P95
//     varies by 8-11% (one standard deviation) around the full load's on
//     the model, twenty seconds' by 12-13%;
//   - an error rate above screenErrorSlack times the limit;
//   - nothing at all when the screen's P95 is above screenCensor of its
//     length: requests about as slow as the window rarely complete in it,
//     so such a screen understates latency and misstates TPS (an llm
//     load's baseline: P95 54 s over 3 minutes, 25 s over a 20 s screen,
//     at twice the TPS). A screen rescreenFactor times its P95 follows
//     (today's topology's 8c16g baseline: P95 15 s over 20 s, judged
//     over a minute instead of the 3-minute load); censored again, or
//     longer than half the full load, it runs on to the full load, whose
//     figures the sampler then learns from;
//   - a TPS whose upper bound is below the best trial's. The bound is the
//     screen's TPS plus screenZ standard errors of a count of n completions
//     (n = TPS × the screen's length), which is screenBurst/√n relative:
//     a closed loop's completions come in bursts, and on the model one
//     minute's TPS varies by 1.0 to 1.6 times what a Poisson count would
//     (1.5-2.7% at 45-150 TPS). At least screenMargin: a short window
//     also catches the world's slow spells (run-to-run noise of about 1%
//     on the model and a cluster alike).
//
// The model measured the rules' inputs on the configurations of guided
// studies (seed space 8c16g agent and 16c32g chatflow, default space 8c16g
// chatflow and 16c32g llm): a screen's TPS over the same configuration's
// full-load mean averaged 0.99-1.01 for every case and length.
const (
	screenSLOSlack   = 1.25
	screenErrorSlack = 2.0
	screenZ          = 2.0
	screenBurst      = 1.5
	screenMargin     = 0.03
	screenCensor     = 0.5
	// rescreenFactor: a censored screen's P95 understates the truth;
	// a screen this many times it holds requests up to twice as slow
	// uncensored (see rescreen).
	rescreenFactor = 4.0
	// promoteZ: a screen is promoted over a full load only when ahead of
	// it by this many of its standard errors (see promotion).
	promoteZ = 1.0
)

// Prunable reports whether a trial whose screening load of length screen
// measured m should stop there: it breaks the SLO or error limit beyond the
// screen's noise, or cannot beat best even at the top of the screen's noise
// (best nil: no feasible trial yet, so only the constraints prune).
func Prunable(m results.Metrics, screen time.Duration, o spaces.Objective, best *results.Trial) bool {
	if censored(m, screen) {
		return false
	}
	if slo := float64(o.SLOP95.Milliseconds()); slo > 0 && m.P95 > slo*screenSLOSlack {
		return true
	}
	if m.ErrorRate > o.MaxErrorRate*screenErrorSlack+1e-3 {
		return true
	}
	return best != nil && screenUpper(m.TPS, screen) < best.Metrics.TPS
}

// screenUpper is the most TPS a screen that measured tps over screen can
// plausibly stand for (see the screening rules).
func screenUpper(tps float64, screen time.Duration) float64 {
	se := screenSE(tps, screen.Seconds())
	if math.IsInf(se, 1) {
		return se // nothing completed: the screen says nothing of TPS
	}
	return tps * (1 + math.Max(screenMargin, screenZ*se))
}

// screenPruner is goptuna's view of Prunable: the study hands it the screen
// being judged (goptuna's Pruner sees only intermediate values).
type screenPruner struct {
	study  *Study
	screen results.Metrics
	length time.Duration
	best   *results.Trial
}

// Prune implements goptuna.Pruner.
func (p *screenPruner) Prune(*goptuna.Study, goptuna.FrozenTrial) (bool, error) {
	return Prunable(p.screen, p.length, p.study.Objective, p.best), nil
}

// screening reports whether sampler trials start with a screen.
func (s *Study) screening() bool {
	return s.Screen > 0 && s.Screen < s.Workload.Duration
}

// measure runs one trial: the screen first when the study screens, then,
// only when the screen's figures are censored (see Prunable), a screen
// long enough for them (see rescreen) and, censored again, the full load.
// A trial that survives its screen is recorded with the screen's metrics
// (ScreenS says so): the search learns from it, and its full load waits
// until it is a candidate for recommendation (see promotion). A pruned
// trial keeps the screen's metrics and utilisation too. Sampler trials ask
// goptuna's pruner (gt), one step a screen; the baseline and presets,
// which goptuna never sees running, ask Prunable directly. The trial's
// time and timings count every load it ran.
func (s *Study) measure(ctx context.Context, gt *goptuna.Trial, p *screenPruner, best *results.Trial, number int, origin results.Origin, cfg spaces.Config, sys spaces.System) (results.Trial, error) {
	if !s.screening() {
		return s.evaluate(ctx, s.Evaluator, number, origin, cfg, sys, s.Workload)
	}
	var before *results.Trial // the censored screen run before this load
	run := func(w spaces.Workload) (results.Trial, error) {
		t, err := s.evaluate(ctx, s.Evaluator, number, origin, cfg, sys, w)
		if before != nil {
			t.Started, t.DurationS = before.Started, before.DurationS+t.DurationS
			t.Timings = results.AddTimings(before.Timings, t.Timings)
		}
		return t, err
	}
	w := s.Workload
	w.Duration = s.screenLength(best)
	for step := 0; w.Duration > 0; step++ {
		t, err := run(w)
		if err != nil || t.State != results.StateComplete {
			return t, err
		}
		t.ScreenS = w.Duration.Seconds()
		prune := Prunable(t.Metrics, w.Duration, s.Objective, best)
		if gt != nil {
			p.screen, p.length, p.best = t.Metrics, w.Duration, best
			switch err := gt.ShouldPrune(step, s.score(t)); {
			case err == goptuna.ErrTrialPruned: // compared as goptuna does
				prune = true
			case err != nil:
				return t, fmt.Errorf("trial %d: prune: %w", number, err)
			default:
				prune = false
			}
		}
		switch {
		case prune:
			t.State = results.StatePruned
			return t, nil
		case !censored(t.Metrics, w.Duration):
			return t, nil // the full load waits for a promotion
		}
		before = &t
		if step > 0 {
			break // censored twice: the full load
		}
		w.Duration = s.rescreen(t.Metrics, w.Duration)
	}
	return run(s.Workload)
}

// rescreen is the length of the screen that follows a censored one of
// length screen (0: none, the full load): rescreenFactor times the P95 it
// measured, enough for requests up to twice as slow as that censored
// figure (the requests slower than the window are the ones it missed).
// Only a screen shorter than half the full load is worth running first;
// a rescreen censored again runs on to the full load.
func (s *Study) rescreen(m results.Metrics, screen time.Duration) time.Duration {
	d := time.Duration(rescreenFactor * m.P95 * float64(time.Millisecond)).Round(time.Second)
	if d <= screen || d > s.Workload.Duration/2 {
		return 0
	}
	return d
}

// screenLength is the next screen's length: Screen, or with
// ScreenCompletions as long as it takes the trial the search works from
// (best) to complete that many requests, within Screen and half the full
// load. A screen's TPS is a count of completions whose relative noise
// falls as 1/√n (see the screening rules): a fixed length measures an agent
// load's 45 TPS twice as noisily as a chatflow's 160, and the guide's moves
// there differ by a few percent.
func (s *Study) screenLength(best *results.Trial) time.Duration {
	if s.ScreenCompletions <= 0 || best == nil || best.Metrics.TPS <= 0 {
		return s.Screen
	}
	d := time.Duration(float64(s.ScreenCompletions) / best.Metrics.TPS * float64(time.Second)).Round(time.Second)
	return min(max(d, s.Screen), s.Workload.Duration/2)
}

// censored reports whether a screen's figures say nothing reliable: its
// P95 is above screenCensor of its length (see the screening rules).
func censored(m results.Metrics, screen time.Duration) bool {
	return m.P95 > screenCensor*float64(screen.Milliseconds())
}

// Promotion. A screen's TPS is unbiased but noisier than a full load's (see
// the screening rules), and only a full load may be recommended, so full
// loads go to the candidates for recommendation alone, as in successive
// halving: the best SLO-feasible trial, when it is a screen that has stood
// for PromoteAfter trials (the climb paused there) and is ahead of the best
// full load by more than promoteZ of its standard errors, and the best
// screen of all once the study has one trial left. The best of many noisy
// screens is a lucky one: on a plateau, without the margin, each new lucky
// screen cost a full load that fell back under the one already measured
// (seed space 16c32g chatflow: five 147-TPS promotions under a 148 full
// load; the margin took its load-seconds to 95% from 1110 to 920). The
// first promotion also waits until the screens have cost a full load (see
// climbed). A promotion is a trial of its own (origin promoted, PromotedFrom its
// screen), recorded like any other, so a study killed between a screen
// and its promotion resumes and promotes it: the rule reads nothing but
// the stored trials. The promotion supersedes its screen: from then on the
// search reads the configuration's full load.

// DefaultPromoteAfter is the default of Study.PromoteAfter (see the bench).
const DefaultPromoteAfter = 2

// promoteAfter is the study's own (PromoteAfter, or the default; negative:
// only on the last trial).
func (s *Study) promoteAfter() int {
	if s.PromoteAfter == 0 {
		return DefaultPromoteAfter
	}
	return s.PromoteAfter
}

// promotion returns the screened trial whose full load is due next, or nil.
// left is the trials the study has left, this one included.
func (s *Study) promotion(trials []results.Trial, left int) *results.Trial {
	if !s.screening() {
		return nil
	}
	view := current(trials)
	best := s.bestOf(view, false)
	if best == nil || !best.Screened() {
		return nil
	}
	if left <= 1 {
		return best
	}
	if inc := s.bestOf(view, true); inc != nil && best.Metrics.TPS < inc.Metrics.TPS*(1+promoteZ*screenSE(best.Metrics.TPS, best.ScreenS)) {
		return nil // within its noise of what a full load already measured
	}
	if !s.climbed(trials) {
		return nil
	}
	if stood := len(trials) - 1 - best.Number; s.promoteAfter() > 0 && stood >= s.promoteAfter() {
		return best
	}
	return nil
}

// climbed reports whether the study's screens have cost a full load yet,
// or a promotion already ran: the first full load waits for it. The first
// screens are the guide's big moves (every limit raised, the first split,
// the idle services cut), each one a step of tens of percent, and a
// configuration that stood two trials among them is soon left behind: on
// the seed space's retrieval load on a 2x8c16g pool, the first split's
// screen (66 TPS) stood two trials and was promoted, and the next move
// screened 105.
func (s *Study) climbed(trials []results.Trial) bool {
	spent := 0.0
	for _, t := range trials {
		if t.Origin == results.OriginPromoted {
			return true
		}
		if t.Screened() {
			w := s.Workload
			w.Duration = time.Duration(t.ScreenS * float64(time.Second))
			spent += LoadSeconds(w)
		}
	}
	return spent >= LoadSeconds(s.Workload)
}

// screenSE is the relative standard error of a screen's TPS: a count of
// n completions in the screen, bursty (see the screening rules).
func screenSE(tps, screenS float64) float64 {
	n := tps * screenS
	if n < 1 {
		return math.Inf(1)
	}
	return screenBurst / math.Sqrt(n)
}

// promotionRun is the Remeasurer's index of a promotion's run: on a
// cluster a promotion is a run of its own, after a redeploy, whose noise
// owes nothing to its screen's (the model hands back another seed).
const promotionRun = 1 << 16

// promote runs the full load of the screened trial t as trial number.
func (s *Study) promote(ctx context.Context, number int, t results.Trial) (results.Trial, error) {
	sys, err := s.Space.Resolve(s.Budget, t.Params)
	if err != nil {
		return results.Trial{}, fmt.Errorf("promote trial %d: %w", t.Number, err)
	}
	ev := s.Evaluator
	if r, ok := ev.(Remeasurer); ok {
		ev = r.Remeasure(promotionRun)
	}
	full, err := s.evaluate(ctx, ev, number, results.OriginPromoted, spaces.Config(t.Params), sys, s.Workload)
	from := t.Number
	full.PromotedFrom = &from
	return full, err
}

// current is trials without the screens a promotion has superseded: what
// the search reads of each configuration is its best-informed measurement.
func current(trials []results.Trial) []results.Trial {
	promoted := map[int]bool{}
	for _, t := range trials {
		if t.PromotedFrom != nil {
			promoted[*t.PromotedFrom] = true
		}
	}
	if len(promoted) == 0 {
		return trials
	}
	out := make([]results.Trial, 0, len(trials)-len(promoted))
	for _, t := range trials {
		if !promoted[t.Number] {
			out = append(out, t)
		}
	}
	return out
}

// bestOf is the trial of trials with the most TPS within the SLO (nil when
// none): among full loads only when full is set (what may be recommended),
// else screens included (what the search works from).
func (s *Study) bestOf(trials []results.Trial, full bool) *results.Trial {
	var best *results.Trial
	for i := range trials {
		if full && trials[i].Screened() {
			continue
		}
		best = s.better(best, &trials[i])
	}
	return best
}

// LoadSeconds is what a load of w costs in seconds: the users' ramp plus
// the measured window. A screened or pruned trial costs its screen's, a
// promotion the full load's; one whose censored screen ran on costs both,
// the full load starting from zero (on a cluster without a redeploy).
func LoadSeconds(w spaces.Workload) float64 {
	ramp := 0.0
	if w.SpawnRate > 0 {
		ramp = float64(w.Users) / w.SpawnRate
	}
	return ramp + w.Duration.Seconds()
}

// Confirmation is one candidate re-measured before a recommendation.
type Confirmation struct {
	Trial    int       `json:"trial"`    // the candidate's trial number
	TPS      []float64 `json:"tps"`      // the trial's own measurement, then each re-measurement
	P95      []float64 `json:"p95_ms"`   // the same, P95 in ms
	Feasible int       `json:"feasible"` // how many of the measurements met the SLO
	// PromotedFrom is the screened trial the candidate's first full load
	// promoted (nil: the candidate ran the full load as a trial).
	PromotedFrom *int `json:"promoted_from,omitempty"`
	// noise is the relative run-to-run noise pooled over the candidates
	// confirmed together (see pool).
	noise pooledNoise
}

// pooledNoise is a relative standard deviation and its degrees of freedom.
type pooledNoise struct {
	rel float64
	df  int
}

// pool sets on each confirmation the relative noise of a run pooled over
// all of them: the candidates are neighbouring configurations measured by
// the same loads, so their relative spreads estimate one noise, and three
// runs alone often show a spread far below it by chance (three runs within
// 0.2% where the next fell 2.6% lower). A candidate with a failed run is
// left out of the pool.
func pool(cs []Confirmation) {
	sum, df := 0.0, 0
	for _, c := range cs {
		if len(c.TPS) < 2 || slices.Contains(c.TPS, 0) {
			continue
		}
		mean, sd := stat.MeanStdDev(c.TPS, nil)
		sum += float64(len(c.TPS)-1) * (sd / mean) * (sd / mean)
		df += len(c.TPS) - 1
	}
	if df == 0 {
		return
	}
	for i := range cs {
		cs[i].noise = pooledNoise{rel: math.Sqrt(sum / float64(df)), df: df}
	}
}

// Mean is the candidate's mean TPS over its measurements.
func (c Confirmation) Mean() float64 {
	sum := 0.0
	for _, v := range c.TPS {
		sum += v
	}
	return sum / float64(len(c.TPS))
}

// Spread is the lowest and highest TPS measured.
func (c Confirmation) Spread() (lo, hi float64) {
	return slices.Min(c.TPS), slices.Max(c.TPS)
}

// Interval is the 95% prediction interval of the candidate's next
// measurement: mean ± t(0.975, df)·s·√(1+1/n) (Student's t, the
// measurements taken as normal), s the noise pooled over the candidates
// confirmed with it when Confirm pooled more runs than its own (s relative
// to its mean, df the pooled degrees of freedom), else its own (df n-1).
// The range of three measurements holds a fourth only half the time; this
// is what "within the spread" can promise.
func (c Confirmation) Interval() (lo, hi float64) {
	n := float64(len(c.TPS))
	if n < 2 {
		return c.TPS[0], c.TPS[0]
	}
	mean, sd := stat.MeanStdDev(c.TPS, nil)
	df := n - 1
	if float64(c.noise.df) > df {
		sd, df = c.noise.rel*mean, float64(c.noise.df)
	}
	half := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(0.975) * sd * math.Sqrt(1+1/n)
	return mean - half, mean + half
}

// Confirm re-measures the top SLO-feasible configurations of trials (at
// most top of them, each repeats more times) and returns them with the
// recommended one first: the highest mean TPS among those that met the SLO
// in every measurement, else in most. A candidate measured only by a screen
// is promoted first (a trial recorded in the store and appended to the
// trials returned): a confirmation holds full loads only, and what it
// recommends is a fully measured trial. The re-measurements are not
// trials; they cost repeats × top full loads.
func (s *Study) Confirm(ctx context.Context, trials []results.Trial, top, repeats int) ([]results.Trial, []Confirmation, error) {
	if s.Now == nil {
		s.Now = time.Now
	}
	var cands []results.Trial
	for _, t := range current(trials) {
		if t.State == results.StateComplete && Feasible(t.Metrics, s.Objective) && !triedBefore(t.Params, cands) {
			cands = append(cands, t)
		}
	}
	slices.SortStableFunc(cands, func(a, b results.Trial) int { return -cmpFloat(a.Metrics.TPS, b.Metrics.TPS) })
	cands = cands[:min(top, len(cands))]
	out := make([]Confirmation, 0, len(cands))
	for _, t := range cands {
		if t.Screened() {
			full, err := s.promote(ctx, len(trials), t)
			if err != nil {
				return trials, out, err
			}
			if err := s.Store.Add(ctx, full); err != nil {
				return trials, out, fmt.Errorf("store trial %d: %w", full.Number, err)
			}
			trials = append(trials, full)
			if full.State != results.StateComplete {
				continue // the full load failed: no candidate
			}
			t = full
		}
		c := Confirmation{Trial: t.Number, TPS: []float64{t.Metrics.TPS}, P95: []float64{t.Metrics.P95}, PromotedFrom: t.PromotedFrom}
		if Feasible(t.Metrics, s.Objective) {
			c.Feasible = 1
		}
		sys, err := s.Space.Resolve(s.Budget, t.Params)
		if err != nil {
			return trials, out, fmt.Errorf("confirm trial %d: %w", t.Number, err)
		}
		for i := 1; i <= repeats; i++ {
			ev := s.Evaluator
			if r, ok := ev.(Remeasurer); ok {
				ev = r.Remeasure(i)
			}
			m, err := ev.Evaluate(ctx, sys, s.Workload)
			if err != nil {
				if ctx.Err() != nil {
					return trials, out, ctx.Err()
				}
				c.TPS, c.P95 = append(c.TPS, 0), append(c.P95, 0) // failed: no TPS
				continue
			}
			c.TPS, c.P95 = append(c.TPS, m.Metrics.TPS), append(c.P95, m.Metrics.P95)
			if Feasible(m.Metrics, s.Objective) {
				c.Feasible++
			}
		}
		out = append(out, c)
	}
	pool(out)
	slices.SortStableFunc(out, func(a, b Confirmation) int {
		if a.Feasible != b.Feasible {
			return b.Feasible - a.Feasible
		}
		return -cmpFloat(a.Mean(), b.Mean())
	})
	return trials, out, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Seeded is an evaluator that is deterministic in its seed (the embedded
// model): New builds it for a seed. It evaluates with Seed and re-measures
// with another seed each time, so Confirm's re-measurements are
// independent runs, as on a cluster.
type Seeded struct {
	Seed int64
	New  func(seed int64) Evaluator
}

// Evaluate implements Evaluator.
func (s Seeded) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	return s.New(s.Seed).Evaluate(ctx, sys, w)
}

// Remeasure implements Remeasurer.
func (s Seeded) Remeasure(i int) Evaluator { return s.New(s.Seed + 7919*int64(i)) }
