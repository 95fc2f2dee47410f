package search

import (
	"math"

	"github.com/tune-dify/tune/spaces"
)

// headroom gives the pods of the saturated services that run processes
// (a per-core process setting: gunicorn's workers) memory the budget
// leaves unspent, up to memoryHeadroom times the least the space lets them
// run in (their floor: a gunicorn worker's process each), busiest first;
// nil when none gets more. The guide's moves otherwise keep a pod's memory
// at its floor once a move raised its processes, and a Python process in a
// pod near its limit collects garbage while the kernel reclaims: every
// process of the pod stalls, for longer the closer the pod is to its limit.
// No target reports memory, so the guide cannot see it; what it can see is
// memory the budget holds that no pod uses, and a saturated service whose
// stalls cost the others their load (seed/8c16g/agent: the api in 2 pods
// of 1.75 CPU with 3 workers serves 47.8 TPS on average at its floor of
// 1792 MiB, 50.0 at 3072; seed/8c16g/agent~v1: 58.6 and 61.2).
func (g *guide) headroom(base spaces.Config, util map[string]float64) spaces.Config {
	c := clone(base)
	moved := false
	for _, s := range g.byUtilisation(util) {
		if util[s.Name] < busyAbove || g.kept[s.Name] || !g.runsProcesses(s) {
			continue
		}
		st := memStep(s)
		have := toInt(c[s.Name+".memory"])
		want := int64(math.Min(float64(s.Memory.Max), memoryHeadroom*float64(s.MemoryMin(g.sp, c))))
		want = want / st * st
		for m := want; float64(m) >= minMemoryRaise*float64(have); m -= st {
			c[s.Name+".memory"] = m
			if g.fits(c) {
				moved = true
				break
			}
			c[s.Name+".memory"] = have
		}
	}
	if !moved {
		return nil
	}
	return c
}

// runsProcesses reports whether s's pods run processes the space counts
// per core (gunicorn's workers): interpreters that collect garbage, and
// several of them a pod. Other services' memory is their caches and
// connections (PostgreSQL), which utilisation does not tell the guide how
// to size; a service without it runs one process a pod (a Celery worker,
// its concurrency in greenlets), which merges fold together.
func (g *guide) runsProcesses(s spaces.Service) bool {
	for _, p := range g.sp.Params {
		if p.PerCPU != nil && p.PerCPU.Service == s.Name && p.Type == spaces.TypeInt {
			return true
		}
	}
	return false
}

// minMemoryRaise is the least raise worth a trial: a pod already within
// a step or two of its headroom gains less than the noise.
const minMemoryRaise = 1.25

// memoryHeadroom is the pod memory, as a multiple of its floor, at which a
// full collection no longer waits on reclaim: the floor is about what the
// processes hold after imports, and a pod's heap grows to about twice that
// under load.
const memoryHeadroom = 2.0
