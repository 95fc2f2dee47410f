package results

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Front returns the Pareto front of the complete trials measured with the
// full load: those no other such trial beats on TPS (higher is better)
// without losing on P95 (lower is better). It is sorted by TPS descending,
// so P95 descends too. Screens (Trial.Screened) are left out: a short
// load's figures are noisier and must not stand beside full loads.
//
// Trials with identical TPS and P95 are one point: only the lowest-numbered
// of them is on the front, so the front never lists the same point twice and
// the earliest trial to reach it gets the credit. Complete trials whose TPS
// or P95 is NaN are left out (they cannot be ordered).
func Front(trials []Trial) []Trial {
	var c []Trial
	for _, t := range trials {
		if t.State == StateComplete && !t.Screened() && !math.IsNaN(t.Metrics.TPS) && !math.IsNaN(t.Metrics.P95) {
			c = append(c, t)
		}
	}
	// Best TPS first; among equal TPS the lowest P95, then the lowest
	// number. A sweep then keeps each trial whose P95 beats every trial
	// before it: equal TPS with a higher P95, and duplicates, are dominated
	// by (or identical to) an earlier one.
	slices.SortFunc(c, func(a, b Trial) int {
		return cmp.Or(
			cmp.Compare(b.Metrics.TPS, a.Metrics.TPS),
			cmp.Compare(a.Metrics.P95, b.Metrics.P95),
			cmp.Compare(a.Number, b.Number))
	})
	front := []Trial{}
	for _, t := range c {
		if len(front) == 0 || t.Metrics.P95 < front[len(front)-1].Metrics.P95 {
			front = append(front, t)
		}
	}
	return front
}

// Dominates reports whether a is at least as good as b on both TPS and P95
// and strictly better on one.
func Dominates(a, b Trial) bool {
	x, y := a.Metrics, b.Metrics
	return x.TPS >= y.TPS && x.P95 <= y.P95 && (x.TPS > y.TPS || x.P95 < y.P95)
}

// SLO is the service-level objective a recommended trial must meet.
type SLO struct {
	// P95 is the latency limit on a trial's P95 (inclusive). Zero means no
	// limit: --slo-p95 is optional.
	P95 time.Duration
	// MaxErrorRate is the highest error rate allowed (inclusive), 0..1.
	// Zero means no errors are tolerated; 1 means no limit.
	MaxErrorRate float64
}

// Meets reports whether t is complete, measured with the full load (not a
// screen: only a full load can be recommended) and within s.
func (s SLO) Meets(t Trial) bool {
	return t.State == StateComplete && !t.Screened() && s.MeetsMetrics(t.Metrics)
}

// MeetsMetrics reports whether measured metrics are within s: the one SLO
// rule every part of tune applies (the search's score, the pick, eval).
func (s SLO) MeetsMetrics(m Metrics) bool {
	if m.ErrorRate > s.MaxErrorRate || math.IsNaN(m.ErrorRate) {
		return false
	}
	return s.P95 <= 0 || m.P95 <= ms(s.P95)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type sloJSON struct {
	P95ms        *float64 `json:"p95_ms"` // null: no latency limit
	MaxErrorRate float64  `json:"max_error_rate"`
}

// MarshalJSON writes s as pareto.json's "slo": the P95 limit in
// milliseconds, or null when there is none.
func (s SLO) MarshalJSON() ([]byte, error) {
	j := sloJSON{MaxErrorRate: s.MaxErrorRate}
	if s.P95 > 0 {
		v := ms(s.P95)
		j.P95ms = &v
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *SLO) UnmarshalJSON(b []byte) error {
	var j sloJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = SLO{MaxErrorRate: j.MaxErrorRate}
	if j.P95ms != nil {
		s.P95 = time.Duration(*j.P95ms * float64(time.Millisecond))
	}
	return nil
}

// Mode is how Pick chooses one trial to recommend.
type Mode string

// The pick modes of `tune export --pick`.
const (
	// ModeMaxTPS picks the highest TPS that meets the SLO.
	ModeMaxTPS Mode = "max-tps"
	// ModeKnee picks the knee of the SLO-feasible front: the point that
	// gives up least TPS for the most latency.
	ModeKnee Mode = "knee"
	// ModeMinP95 picks the lowest P95 that keeps at least MinP95Share of
	// the max-tps pick's TPS.
	ModeMinP95 Mode = "min-p95"
)

// Modes lists the valid modes, the default first.
func Modes() []Mode { return []Mode{ModeMaxTPS, ModeKnee, ModeMinP95} }

// ParseMode returns the Mode named s.
func ParseMode(s string) (Mode, error) {
	if m := Mode(s); slices.Contains(Modes(), m) {
		return m, nil
	}
	names := make([]string, 0, 3)
	for _, m := range Modes() {
		names = append(names, string(m))
	}
	return "", fmt.Errorf("unknown pick mode %q: valid modes are %s", s, strings.Join(names, ", "))
}

// String returns the mode's name.
func (m Mode) String() string { return string(m) }

// Set parses s into m, so a *Mode is a flag.Value (and a pflag.Value).
func (m *Mode) Set(s string) error {
	v, err := ParseMode(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Type names the flag's value type for pflag's help text.
func (m *Mode) Type() string { return "mode" }

// MinP95Share is the share of the max-tps pick's TPS that ModeMinP95 keeps.
// A latency-first pick that gave up, say, half the throughput would answer a
// different question than "what should I deploy": 90% keeps the pick within
// what run-to-run noise and a modest safety margin cost.
const MinP95Share = 0.9

// Pick returns the trial to recommend among trials under slo, and false when
// no complete trial meets the SLO (or mode is not one of Modes).
//
//   - max-tps: the highest TPS; ties go to the lower P95, then the lower number.
//   - knee: on the front of the SLO-feasible trials, with TPS and P95 each
//     scaled to [0,1] over the front, the point farthest from the line joining
//     the front's two ends, on the side towards high TPS and low P95. A front
//     of two points or fewer, or one with no point on that side (no knee),
//     falls back to max-tps. Equal distances go to the higher TPS.
//   - min-p95: the lowest P95 among feasible trials with at least
//     MinP95Share of the max-tps pick's TPS; ties go to the higher TPS, then
//     the lower number.
func Pick(trials []Trial, mode Mode, slo SLO) (Trial, bool) {
	var feasible []Trial
	for _, t := range trials {
		if slo.Meets(t) && !math.IsNaN(t.Metrics.TPS) && !math.IsNaN(t.Metrics.P95) {
			feasible = append(feasible, t)
		}
	}
	if len(feasible) == 0 {
		return Trial{}, false
	}
	best := slices.MinFunc(feasible, func(a, b Trial) int {
		return cmp.Or(
			cmp.Compare(b.Metrics.TPS, a.Metrics.TPS),
			cmp.Compare(a.Metrics.P95, b.Metrics.P95),
			cmp.Compare(a.Number, b.Number))
	})
	switch mode {
	case ModeMaxTPS:
		return best, true
	case ModeKnee:
		return knee(Front(feasible), best), true
	case ModeMinP95:
		floor := MinP95Share * best.Metrics.TPS
		var near []Trial
		for _, t := range feasible {
			if t.Metrics.TPS >= floor {
				near = append(near, t)
			}
		}
		return slices.MinFunc(near, func(a, b Trial) int {
			return cmp.Or(
				cmp.Compare(a.Metrics.P95, b.Metrics.P95),
				cmp.Compare(b.Metrics.TPS, a.Metrics.TPS),
				cmp.Compare(a.Number, b.Number))
		}), true
	}
	return Trial{}, false
}

// knee finds the knee of front (sorted by TPS descending, as Front returns
// it), or returns fallback when there is none.
func knee(front []Trial, fallback Trial) Trial {
	if len(front) <= 2 {
		return fallback
	}
	hi, lo := front[0].Metrics, front[len(front)-1].Metrics
	// On a front of three or more points both spans are positive: TPS and
	// P95 strictly decrease along it.
	tpsSpan, p95Span := hi.TPS-lo.TPS, hi.P95-lo.P95
	// Scaled, the ends are (0,0) and (1,1), so the chord is y = x and a
	// point's signed distance from it towards the ideal corner (1,0) is
	// (x-y)/√2; the constant factor does not change the argmax.
	pick, bestD := fallback, 0.0
	for _, t := range front[1 : len(front)-1] {
		x := (t.Metrics.TPS - lo.TPS) / tpsSpan
		y := (t.Metrics.P95 - lo.P95) / p95Span
		if d := x - y; d > bestD {
			pick, bestD = t, d
		}
	}
	return pick
}

// ParetoFile is the content of pareto.json.
type ParetoFile struct {
	SLO         SLO          `json:"slo"`
	Front       []FrontPoint `json:"front"`       // Front of all complete full-load trials, not only feasible ones
	Recommended *int         `json:"recommended"` // trial number; null when no trial meets the SLO
	Pick        Mode         `json:"pick"`
}

// FrontPoint is one trial on the front, as pareto.json lists it.
type FrontPoint struct {
	Number int     `json:"number"`
	TPS    float64 `json:"tps"`
	P95    float64 `json:"p95_ms"`
}

// NewParetoFile computes the front and the pick for pareto.json. The front
// covers every complete trial so the file shows the whole trade-off, while
// the recommendation honours the SLO.
func NewParetoFile(trials []Trial, mode Mode, slo SLO) ParetoFile {
	f := ParetoFile{SLO: slo, Front: []FrontPoint{}, Pick: mode}
	for _, t := range Front(trials) {
		f.Front = append(f.Front, FrontPoint{Number: t.Number, TPS: t.Metrics.TPS, P95: t.Metrics.P95})
	}
	if t, ok := Pick(trials, mode, slo); ok {
		n := t.Number
		f.Recommended = &n
	}
	return f
}

// WritePareto writes f to path as indented JSON, atomically.
func WritePareto(path string, f ParetoFile) error {
	if f.Front == nil {
		f.Front = []FrontPoint{} // "front": [] rather than null for scripts
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeAtomic(path, append(b, '\n'))
}
