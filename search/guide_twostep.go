package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// A regime that cuts what a service spends per request is worth what its
// cores are worth elsewhere, and that does not show in the regime's own
// trial: the service only runs less busy, at the same TPS, while its
// cores still sit in it. The engineer reads "pgbouncer cut the database's
// load; now PostgreSQL can shrink and the api grow" and takes both steps.
// The guide takes the second from the regime's trial itself, not from its
// leader: the regime lost within the noise (seed/8c16g/agent: pgbouncer on,
// 44.7 TPS against 45.6, PostgreSQL at 0.49 of 1.25 CPU instead of 0.56),
// so the leader never has it, and moving PostgreSQL's cores to the api
// without it saturates PostgreSQL (32.6 TPS). With both steps, PostgreSQL
// at 0.75 CPU behind the pooler and the api at 2 × 1.75, the same budget
// serves 47.8 TPS on average, 95.6% of the optimum.

// twoStep is the first untried second step (see secondStep) from the
// regime trials of tried (see regimeCuts), those with the most TPS first;
// nil when there is none. A regime trial counts while it is within
// lossShare of inc: the step is to gain on the leader, not on a trial
// left behind.
func (g *guide) twoStep(inc results.Trial, tried []results.Trial, lost []map[string]string) spaces.Config {
	for _, rc := range g.regimeCuts(tried) {
		if rc.trial.Metrics.TPS < (1-lossShare)*inc.Metrics.TPS {
			continue
		}
		if c := g.firstUntried(rc.trial, g.secondStep(rc), tried, lost); c != nil {
			return c
		}
	}
	return nil
}

// regimeCut is a trial that ran another regime than the trial it is
// compared with (the same pods, the same numbers, a choice or switch
// moved) and in which service cut spent at least regimeCutShare less CPU
// per request (utilisation × cores / TPS).
type regimeCut struct {
	trial results.Trial
	cut   spaces.Service
}

// regimeCutShare is a fall in CPU per request beyond the run-to-run noise
// of utilisation and TPS (1-2% each).
const regimeCutShare = 0.05

// regimeCuts lists the measured, error-free trials that cut a service's
// CPU per request by a change of regime alone, the most TPS first. Only
// against a trial that served within lossShare as much: a service's
// background work (vacuum, heartbeats) is spread over the requests, so
// per request it falls wherever TPS rose, whatever the regime did
// (seed/16c32g/chatflow: PostgreSQL on SSD instead of NFS, 89.8 TPS
// instead of 52.4, the api then the bottleneck). And only a service that
// used idleBelow of its cores or more before the regime: one that used
// less gives its cores back in the guide's rebalance anyway, and cut
// further it is what slows the requests the cores were moved for
// (seed/16c32g/chatflow: PostgreSQL at 0.38 of 4 CPU behind the pooler, cut
// to 1.75, lost 3%).
func (g *guide) regimeCuts(tried []results.Trial) []regimeCut {
	ok := func(t results.Trial) bool {
		return t.State == results.StateComplete && len(t.Utilisation) > 0 && t.Metrics.TPS > 0 &&
			t.Metrics.ErrorRate <= g.obj.MaxErrorRate
	}
	var ts []results.Trial
	var cs []spaces.Config
	for _, t := range tried {
		if ok(t) {
			ts, cs = append(ts, t), append(cs, g.sp.Complete(spaces.Config(t.Params)))
		}
	}
	var out []regimeCut
	for i, r := range ts {
		cr := cs[i]
		for j, b := range ts {
			cb := cs[j]
			if math.Abs(r.Metrics.TPS-b.Metrics.TPS) > lossShare*b.Metrics.TPS || !g.regimeApart(cr, cb) {
				continue
			}
			for _, s := range g.byUtilisation(r.Utilisation) {
				if g.kept[s.Name] {
					continue
				}
				was, now := perRequest(b, cb, s), perRequest(r, cr, s)
				if b.Utilisation[s.Name] >= idleBelow && now < (1-regimeCutShare)*was && !slices.ContainsFunc(out, func(o regimeCut) bool {
					return o.cut.Name == s.Name && sameParams(o.trial.Params, r.Params)
				}) {
					out = append(out, regimeCut{trial: r, cut: s})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b regimeCut) int { return cmp.Compare(b.trial.Metrics.TPS, a.trial.Metrics.TPS) })
	return out
}

// regimeApart reports whether a and b differ in at least one choice or
// switch and in nothing else the search moves (pods, cores, memory,
// numbers).
func (g *guide) regimeApart(a, b spaces.Config) bool {
	regime := false
	for _, p := range g.sp.Params {
		if fmt.Sprint(a[p.Name]) == fmt.Sprint(b[p.Name]) {
			continue
		}
		if p.Type != spaces.TypeBool && p.Type != spaces.TypeChoice {
			return false
		}
		regime = true
	}
	if !regime {
		return false
	}
	for _, s := range g.sp.Services {
		for _, k := range []string{".replicas", ".cpu", ".memory"} {
			if fmt.Sprint(a[s.Name+k]) != fmt.Sprint(b[s.Name+k]) {
				return false
			}
		}
	}
	return true
}

// perRequest is the CPU s spent per completed request in t (c is t's
// configuration): its utilisation times its cores, over the TPS.
func perRequest(t results.Trial, c spaces.Config, s spaces.Service) float64 {
	u, ok := t.Utilisation[s.Name]
	if !ok || t.Metrics.TPS <= 0 {
		return 0
	}
	return u * cores(c, s) * float64(replicas(c, s)) / t.Metrics.TPS
}

// secondStep takes from the regime trial's cut service the cores it no
// longer needs, down to what keeps it below cutBusy at the load the trial
// ran, and gives them to the trial's bottleneck (its busiest service but
// the cut one, saturated): as a CPU step on each of its pods when the
// freed cores cover one, else in one pod fewer holding its cores and the
// freed ones (processes as consolidate keeps them). Nil when the cut
// service needs what it has or the trial has no saturated bottleneck.
func (g *guide) secondStep(rc regimeCut) []spaces.Config {
	base := g.sp.Complete(spaces.Config(rc.trial.Params))
	util := rc.trial.Utilisation
	s := rc.cut
	var to *spaces.Service
	for _, b := range g.byUtilisation(util) {
		if b.Name != s.Name && !g.kept[b.Name] {
			to = &b
			break
		}
	}
	if to == nil || util[to.Name] < busyAbove {
		return nil
	}
	r, was := replicas(base, s), cores(base, s)
	keep := stepUp(s, util[s.Name]*was/cutBusy)
	if keep >= was-1e-9 {
		return nil
	}
	cut := clone(base)
	g.setService(cut, s, r, keep)
	freed := float64(r) * (was - keep)

	tr, tc := replicas(base, *to), cores(base, *to)
	total := float64(tr)*tc + freed
	var out []spaces.Config
	if per := stepDown(*to, total/float64(tr)); per > tc+1e-9 {
		c := clone(cut)
		g.setService(c, *to, tr, per)
		out = append(out, c)
	} else if nr := g.fewerPods(*to, tr, total); nr > 0 {
		c := clone(cut)
		g.setService(c, *to, nr, stepDown(*to, total/float64(nr)))
		g.processesFor(c, base, util, *to, g.processPerWholeCore)
		g.capProcesses(c, *to)
		out = append(out, c)
	}
	for _, c := range out {
		g.fill(c, g.byUtilisation(util), util, false) // what the grid's rounding left
	}
	return out
}

// fewerPods is the pod count below r that puts the most of total cores on
// s's CPU grid (the most pods among equals), 0 when none is allowed: 3
// pods of 1 CPU and 0.5 freed are 2 pods of 1.75, not 3 of 1 with half a
// core left over.
func (g *guide) fewerPods(s spaces.Service, r int64, total float64) int64 {
	return g.podsHolding(s, r, total, func(nr int64) bool { return nr < r })
}

// capProcesses keeps s's per-core process counts at most maxProcessesPerCore
// per core of its pods (at least one). Processes waiting on I/O keep their
// count per core when pods grow (processesFor), but from pods of 0.75 CPU
// with 2 workers that is 5 workers in a pod of 1.75, and in traced studies
// of seed/8c16g/agent 2 × 1.75 CPU served 47.8 TPS on average with 3
// workers, 46.0 with 4 and 44.6 with 5.
func (g *guide) capProcesses(c spaces.Config, s spaces.Service) {
	cpu := cores(c, s)
	g.setProcesses(c, s, func(p spaces.Param) float64 {
		return math.Min(toFloat(c[p.Name]), math.Floor(maxProcessesPerCore*cpu+1e-9))
	})
}

// maxProcessesPerCore: see capProcesses.
const maxProcessesPerCore = 2

// cutBusy is the utilisation the cut service is sized for at the regime
// trial's load: busy, with room for the TPS its cores buy elsewhere.
const cutBusy = 0.9
