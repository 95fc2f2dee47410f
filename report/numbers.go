package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tune-dify/tune/results"
)

// Numbers are the figures the report shows, computed from the records
// alone; the golden tests pin them.
type Numbers struct {
	Counts results.Counts       `json:"counts"`
	SLO    results.SLO          `json:"slo"`
	Front  []results.FrontPoint `json:"front"`
	// Recommended is the study's pick among trials that meet the SLO; nil
	// when none does. Closest is then the complete trial with the lowest
	// P95, the one that misses by least.
	Recommended *int `json:"recommended"`
	Closest     *int `json:"closest,omitempty"`
	Baseline    *int `json:"baseline"`
	// Gain is the chosen trial's TPS over the baseline's, minus 1.
	Gain        *float64     `json:"gain,omitempty"`
	Changes     []Change     `json:"changes"`
	Before      []Busy       `json:"before,omitempty"` // the baseline's services, busiest first
	After       []Busy       `json:"after,omitempty"`  // the chosen trial's
	Convergence []Step       `json:"convergence"`
	Importance  []Importance `json:"importance"`
}

// Change is one setting the chosen trial changes from the baseline.
type Change struct {
	Param string `json:"param"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

// Busy is one service's CPU utilisation, 0..1 of its allocation.
type Busy struct {
	Service     string  `json:"service"`
	Utilisation float64 `json:"utilisation"`
}

// Step is the search's progress after one trial: the best TPS among trials
// meeting the SLO so far (0 and Best nil while none does) and the
// wall-clock seconds spent on trials so far.
type Step struct {
	Trial    int     `json:"trial"`
	ElapsedS float64 `json:"elapsed_s"`
	BestTPS  float64 `json:"best_tps"`
	Best     *int    `json:"best,omitempty"`
}

// Compute derives the report's numbers from s.
func Compute(s *Study) Numbers {
	n := Numbers{Counts: results.Summary(s.Trials), SLO: s.SLO, Front: []results.FrontPoint{}}
	for _, t := range results.Front(s.Trials) {
		n.Front = append(n.Front, results.FrontPoint{Number: t.Number, TPS: t.Metrics.TPS, P95: t.Metrics.P95})
	}
	var chosen, base *results.Trial
	if t, ok := results.Pick(s.Trials, s.Pick, s.SLO); ok {
		n.Recommended, chosen = ptr(t.Number), &t
	} else if t, ok := closest(s.Trials); ok {
		n.Closest, chosen = ptr(t.Number), &t
	}
	for i, t := range s.Trials {
		if t.Origin == results.OriginBaseline {
			n.Baseline, base = ptr(t.Number), &s.Trials[i]
			break
		}
	}
	if base != nil && chosen != nil {
		if base.State == results.StateComplete && base.Metrics.TPS > 0 {
			g := chosen.Metrics.TPS/base.Metrics.TPS - 1
			n.Gain = &g
		}
		for _, p := range s.ParamNames() {
			from, to := base.Params[p], chosen.Params[p]
			if fmt.Sprint(from) != fmt.Sprint(to) {
				n.Changes = append(n.Changes, Change{Param: p, From: from, To: to})
			}
		}
		n.Before = busiest(base.Utilisation)
	}
	if chosen != nil {
		n.After = busiest(chosen.Utilisation)
	}
	n.Convergence = convergence(s.Trials, s.SLO, s.Meta.WallTime)
	n.Importance = Importances(s.Trials, s.ParamNames())
	return n
}

func ptr[T any](v T) *T { return &v }

// closest is the complete trial with the lowest P95 (ties: higher TPS, then
// lower number), among those within the error limit when any is.
func closest(trials []results.Trial) (results.Trial, bool) {
	var c []results.Trial
	for _, t := range trials {
		if t.State == results.StateComplete && !math.IsNaN(t.Metrics.P95) {
			c = append(c, t)
		}
	}
	if len(c) == 0 {
		return results.Trial{}, false
	}
	return slices.MinFunc(c, func(a, b results.Trial) int {
		return cmp.Or(cmp.Compare(a.Metrics.ErrorRate, b.Metrics.ErrorRate),
			cmp.Compare(a.Metrics.P95, b.Metrics.P95),
			cmp.Compare(b.Metrics.TPS, a.Metrics.TPS),
			cmp.Compare(a.Number, b.Number))
	}), true
}

// busiest lists u's services by utilisation, busiest first (ties by name).
func busiest(u map[string]float64) []Busy {
	out := make([]Busy, 0, len(u))
	for s, v := range u {
		out = append(out, Busy{Service: s, Utilisation: v})
	}
	slices.SortFunc(out, func(a, b Busy) int {
		return cmp.Or(cmp.Compare(b.Utilisation, a.Utilisation), cmp.Compare(a.Service, b.Service))
	})
	return out
}

// convergence is the best SLO-feasible TPS after each trial, in number
// order, with the time spent so far: each trial's own wall-clock duration,
// or, for a study on the model (whose trials take no time worth showing),
// the per-trial cost on a cluster its wall time estimates.
func convergence(trials []results.Trial, slo results.SLO, w *results.WallTime) []Step {
	steps := make([]Step, 0, len(trials))
	var elapsed, best float64
	var bestN *int
	for _, t := range trials {
		if estimated(w) {
			elapsed += w.SpentS / float64(w.Trials)
		} else {
			elapsed += t.DurationS
		}
		if slo.Meets(t) && t.Metrics.TPS > best {
			best, bestN = t.Metrics.TPS, ptr(t.Number)
		}
		steps = append(steps, Step{Trial: t.Number, ElapsedS: elapsed, BestTPS: best, Best: bestN})
	}
	return steps
}

// saturated is the utilisation from which a service is called the
// bottleneck: CFS throttling and queueing dominate above it.
const saturated = 0.8

// Story is the recommendation in words, one paragraph a string.
func Story(s *Study, n Numbers) []string {
	byNum := map[int]results.Trial{}
	for _, t := range s.Trials {
		byNum[t.Number] = t
	}
	var out []string
	sloText := sloWords(n.SLO)
	switch {
	case n.Counts.Complete == 0:
		return []string{fmt.Sprintf("No trial has completed yet (%s).", n.Counts)}
	case n.Recommended != nil:
		r := byNum[*n.Recommended]
		out = append(out, fmt.Sprintf("Deploy trial #%d: %.1f TPS at P95 %s with %.2f%% errors, within the SLO (%s).",
			r.Number, r.Metrics.TPS, msWords(r.Metrics.P95), 100*r.Metrics.ErrorRate, sloText))
	default:
		c := byNum[*n.Closest]
		out = append(out, fmt.Sprintf("No trial meets the SLO (%s). The closest is trial #%d: P95 %s at %.1f TPS with %.2f%% errors; "+
			"a larger budget, a looser SLO or more trials may find one.", sloText, c.Number, msWords(c.Metrics.P95), c.Metrics.TPS, 100*c.Metrics.ErrorRate))
	}
	chosen := n.Recommended
	if chosen == nil {
		chosen = n.Closest
	}
	if n.Baseline != nil {
		b := byNum[*n.Baseline]
		switch {
		case b.State != results.StateComplete:
			out = append(out, fmt.Sprintf("The baseline (trial #%d, the configuration as deployed) %s: %s.", b.Number, b.State, oneLine(b.Error)))
		case n.Gain != nil:
			meets := "meets the SLO"
			if !s.SLO.Meets(b) {
				meets = "misses the SLO"
			}
			out = append(out, fmt.Sprintf("That is %+.0f%% TPS over the baseline (trial #%d, the configuration as deployed: %.1f TPS at P95 %s, which %s), changing %d of %d settings (table below).",
				100**n.Gain, b.Number, b.Metrics.TPS, msWords(b.Metrics.P95), meets, len(n.Changes), len(s.ParamNames())))
		}
	}
	if story := bottleneck(n, *chosen); story != "" {
		out = append(out, story)
	}
	if w := s.Meta.WallTime; w != nil {
		out = append(out, wallTime(*w, n))
	}
	return out
}

// estimated says whether w is the model's estimate of a cluster's wall
// time, with trials to spread it over.
func estimated(w *results.WallTime) bool { return w != nil && !w.Measured && w.Trials > 0 }

// wallTime tells what the study cost, or would cost, on a cluster, and how
// far into it the recommended trial came.
func wallTime(w results.WallTime, n Numbers) string {
	s := w.String()
	s = strings.ToUpper(s[:1]) + s[1:] + "."
	if n.Recommended == nil {
		return s
	}
	for _, st := range n.Convergence {
		if st.Trial == *n.Recommended {
			about := "about "
			if w.Measured {
				about = ""
			}
			return s + fmt.Sprintf(" The recommended trial came %s%s into it.", about, (time.Duration(math.Round(st.ElapsedS))*time.Second).String())
		}
	}
	return s
}

// bottleneck tells which service was saturated before and after.
func bottleneck(n Numbers, chosen int) string {
	var parts []string
	if len(n.Before) > 0 {
		parts = append(parts, "In the baseline "+saturation(n.Before)+".")
	}
	if len(n.After) > 0 {
		s := fmt.Sprintf("In trial #%d %s.", chosen, saturation(n.After))
		if len(n.Before) > 0 && n.Before[0].Utilisation >= saturated && n.After[0].Service != n.Before[0].Service {
			s += fmt.Sprintf(" The bottleneck moved from %s to %s.", n.Before[0].Service, n.After[0].Service)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func saturation(b []Busy) string {
	top := b[0]
	next := ""
	if len(b) > 1 {
		next = fmt.Sprintf(" (next: %s %.0f%%)", b[1].Service, 100*b[1].Utilisation)
	}
	if top.Utilisation >= saturated {
		return fmt.Sprintf("%s is the bottleneck: %.0f%% of its CPU in use%s", top.Service, 100*top.Utilisation, next)
	}
	return fmt.Sprintf("no service is CPU-saturated: the busiest is %s at %.0f%%%s, so latency comes from elsewhere (connections, storage, the load itself)",
		top.Service, 100*top.Utilisation, next)
}

func sloWords(s results.SLO) string {
	p95 := "no P95 limit"
	if s.P95 > 0 {
		p95 = "P95 ≤ " + s.P95.String()
	}
	return fmt.Sprintf("%s, errors ≤ %.1f%%", p95, 100*s.MaxErrorRate)
}

// msWords writes milliseconds as a person reads them: "840 ms", "2.86 s".
func msWords(ms float64) string {
	if ms < 1000 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		return string(r[:199]) + "…"
	}
	return s
}
