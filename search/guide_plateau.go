package search

// What the guide learns from the trials around its leader: which services
// are saturated without limiting, which moves lost, and the trials on the
// leader's plateau it walks to when nothing is left around the leader.

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// notLimiting lists the services shown not to limit TPS although
// saturated in their smallest pod, where a little background work (a
// worker's polling, heartbeats) reads as saturation: of two measured
// trials with the same settings, the one that gave the service twice the
// cores or more (taking them only from services using less than idleBelow
// of theirs) served less than the one where it was saturated. Dify's
// Celery worker at its smallest pod is saturated in every seed-space
// optimum (its tasks are off the request path); read as the bottleneck it
// blocked the moves for latency (another process per api pod) for 15
// trials in traced studies (seed/16c32g/agent). Only trials on inc's
// plateau count: a bottleneck moves as the others are fed.
func (g *guide) notLimiting(inc results.Trial, tried []results.Trial) map[string]bool {
	ok := func(t results.Trial) bool {
		return t.State == results.StateComplete && len(t.Utilisation) > 0 && t.Metrics.ErrorRate <= g.obj.MaxErrorRate &&
			t.Metrics.TPS >= plateauShare*inc.Metrics.TPS
	}
	out := map[string]bool{}
	for _, a := range tried {
		if !ok(a) {
			continue
		}
		ca := g.sp.Complete(spaces.Config(a.Params))
		for _, b := range tried {
			if !ok(b) || b.Metrics.TPS > a.Metrics.TPS {
				continue
			}
			cb := g.sp.Complete(spaces.Config(b.Params))
			if !g.sameSettings(ca, cb) {
				continue
			}
			var grew []string
			fair := true
			for _, s := range g.sp.Services {
				was, now := float64(replicas(ca, s))*cores(ca, s), float64(replicas(cb, s))*cores(cb, s)
				switch {
				case now >= 2*was:
					grew = append(grew, s.Name)
				case now < was-1e-9 && a.Utilisation[s.Name] >= idleBelow:
					fair = false
				}
			}
			if !fair {
				continue
			}
			for _, s := range grew {
				if a.Utilisation[s] >= busyAbove && g.smallest(ca, s) {
					out[s] = true
				}
			}
		}
	}
	return out
}

// sameSettings reports whether a and b set every setting alike.
func (g *guide) sameSettings(a, b spaces.Config) bool {
	for _, p := range g.sp.Params {
		if fmt.Sprint(a[p.Name]) != fmt.Sprint(b[p.Name]) {
			return false
		}
	}
	return true
}

// smallest reports whether c runs service name in its fewest, smallest
// pods.
func (g *guide) smallest(c spaces.Config, name string) bool {
	s, ok := g.service(name)
	return ok && replicas(c, s) == s.Replicas.Min && cores(c, s) <= s.CPU.Min.Cores()+1e-9
}

// discount is util with the services of kept counted as busy but not
// saturated (idleBelow): they keep their cores and receive none (and
// proportional, which would size them by that figure, leaves them alone).
func discount(util map[string]float64, kept map[string]bool) map[string]float64 {
	if len(kept) == 0 {
		return util
	}
	out := maps.Clone(util)
	for s := range kept {
		if u, ok := out[s]; ok && u > idleBelow {
			out[s] = idleBelow
		}
	}
	return out
}

// firstUntried is the first of cands, moves from base, that no trial has
// tried and that fits the budget, or nil; it records the move's base. A
// move that repeats one of lost comes after every other.
func (g *guide) firstUntried(base results.Trial, cands []spaces.Config, tried []results.Trial, lost []map[string]string) spaces.Config {
	var later []spaces.Config
	for pass := 0; pass < 2; pass++ {
		for _, c := range cands {
			if c == nil || triedBefore(c, tried) {
				continue
			}
			if sys, err := g.sp.Resolve(g.b, c); err != nil || g.sp.Check(sys) != nil {
				continue
			}
			if pass == 0 && len(lost) > 0 {
				d := g.move(base.Params, c)
				if slices.ContainsFunc(lost, func(l map[string]string) bool { return maps.Equal(l, d) }) {
					later = append(later, c)
					continue
				}
			}
			g.from[configKey(c)] = base
			return c
		}
		cands = later
	}
	return nil
}

// move is what changes from a to b: each differing parameter as "old→new".
func (g *guide) move(a, b map[string]any) map[string]string {
	ca, cb := g.sp.Complete(spaces.Config(a)), g.sp.Complete(spaces.Config(b))
	d := map[string]string{}
	for k, v := range cb {
		if old := fmt.Sprint(ca[k]); old != fmt.Sprint(v) {
			d[k] = old + "→" + fmt.Sprint(v)
		}
	}
	return d
}

// lostMoves are the guide's moves whose trials served lossShare less than
// the trial they were a move from. Around a new leader that differs from
// that trial elsewhere (another pool setting, the pooler switched on) the
// same move loses again: traced studies spent a third of their trials
// repeating the same losing pod shapes around leaders a setting apart
// (seed/8c16g/agent~v1).
func (g *guide) lostMoves(tried []results.Trial) []map[string]string {
	var out []map[string]string
	for _, t := range tried {
		base, ok := g.from[configKey(t.Params)]
		if !ok || t.State != results.StateComplete || t.Metrics.TPS >= (1-lossShare)*base.Metrics.TPS {
			continue
		}
		out = append(out, g.move(base.Params, t.Params))
	}
	return out
}

// lossShare is a loss beyond any run-to-run noise (1-2% of TPS).
const lossShare = 0.05

// configKey is a canonical text of a configuration.
func configKey(c map[string]any) string {
	keys := slices.Sorted(maps.Keys(c))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v;", k, c[k])
	}
	return b.String()
}

// plateau lists the measured trials other than inc within plateauShare of
// its TPS, error-free and (when inc meets the SLO) meeting it too, the most
// TPS first.
func (g *guide) plateau(inc results.Trial, tried []results.Trial) []results.Trial {
	var out []results.Trial
	for _, t := range tried {
		if t.State != results.StateComplete || len(t.Utilisation) == 0 || t.Metrics.ErrorRate > g.obj.MaxErrorRate ||
			t.Metrics.TPS < plateauShare*inc.Metrics.TPS || sameParams(t.Params, inc.Params) {
			continue
		}
		if Feasible(inc.Metrics, g.obj) && !Feasible(t.Metrics, g.obj) {
			continue
		}
		out = append(out, t)
	}
	slices.SortStableFunc(out, func(a, b results.Trial) int { return cmp.Compare(b.Metrics.TPS, a.Metrics.TPS) })
	return out
}

// plateauShare: the trials the guide walks to once nothing is left around
// its leader are within the noise and the leader's margin of it.
const plateauShare = 0.97

// workFrom is the trial the guide's moves start from: the leader, unless
// an error-free trial runs aheadMargin more TPS at a P95 within
// aheadSLOSlack of the SLO. In a closed loop more TPS is less latency, and a
// P95 wanders by a tenth from run to run where TPS moves by a percent: a
// leader that met the SLO by luck must not hold the guide back from a
// configuration that serves far more and misses it by the noise. Once
// staleLeader trials have followed the leader, the guide works from the
// feasible trial with the most TPS even when it leads by less than the
// leader's margin: the leader's neighbourhood has had its chance, and a
// configuration a step away may have a better one (the mixed load at
// 16c32g: 19 trials around api 6 × 1.25 CPU with one process each at 128.8
// TPS while 6 × 1.5 with two, at 130.7, led to 4 × 2.25 at 135).
func (g *guide) workFrom(inc results.Trial, tried []results.Trial) results.Trial {
	slo := float64(g.obj.SLOP95.Milliseconds())
	best := inc
	since := 0
	for _, t := range tried {
		if t.Number > inc.Number {
			since++
		}
	}
	if since >= staleLeader {
		for _, t := range tried {
			if t.State == results.StateComplete && len(t.Utilisation) > 0 && Feasible(t.Metrics, g.obj) && t.Metrics.TPS > best.Metrics.TPS {
				best = t
			}
		}
	}
	for _, t := range tried {
		if t.State != results.StateComplete || len(t.Utilisation) == 0 || t.Metrics.ErrorRate > g.obj.MaxErrorRate {
			continue
		}
		if slo > 0 && t.Metrics.P95 > slo*aheadSLOSlack {
			continue
		}
		if t.Metrics.TPS > inc.Metrics.TPS*(1+aheadMargin) && t.Metrics.TPS > best.Metrics.TPS {
			best = t
		}
	}
	return best
}

// staleLeader, aheadMargin and aheadSLOSlack: see workFrom.
const (
	staleLeader   = 6
	aheadMargin   = 0.05
	aheadSLOSlack = 1.2
)
