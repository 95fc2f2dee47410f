package search

import (
	"maps"

	"github.com/tune-dify/tune/spaces"
)

// merges are, with two services or more saturated, the pods of each
// saturated service but the busiest merged into fewer pods that hold the
// CPU it used, its concurrency and memory kept in total, and the cores the
// merge frees handed to the busiest. Every pod costs cores of its own
// beside its processes' work (probes, heartbeats, the pod's network stack),
// and a saturated service spends them for as long as it is busy: fewer pods
// do the same work on fewer cores. The rebalance never takes cores from a
// saturated service and consolidating keeps all of them, so without this
// move two saturated services hold their split however their pods waste
// it. default/8c16g/chatflow (today's topology, means over ten model
// seeds): the api in 2 pods of 0.75 CPU at 96% and the Celery worker in 4
// pods of 0.75 at concurrency 8 with 768 MiB each at 87% serve 60.9 TPS;
// the worker in 2 pods of 1.25 at concurrency 16 with 1536 MiB each and
// the freed half core on the api (2 × 1 CPU) 67.0 (64.2 with 768 MiB a
// pod, 55.6 with concurrency 8 too); the worker's 3 cores in 2 pods of 1.5
// at concurrency 8 (consolidate's move: all cores kept, half the task
// slots) 55.0. Half as many pods first, then one fewer.
//
// Only a service whose pods run one process each merges this way (the
// space declares no per-core process count for it: a Celery worker, its
// concurrency greenlets): where processes are declared per core, fewer,
// bigger pods are consolidate's and fitProcesses' moves, at the same
// cores (the case study's api in 5 pods of 0.75 CPU, one CPU-bound
// gunicorn worker each, merged into 3 pods of 1 CPU with 2 workers, the
// freed cores on the Celery worker, ran 64 TPS in cmd/tune's 6-trial
// study where the same 3.75 cores in 3 pods of 1.25 with a worker each
// ran 89, 88 with one small pod's memory each).
func (g *guide) merges(base spaces.Config, util map[string]float64) []spaces.Config {
	var busy []spaces.Service
	for _, s := range g.byUtilisation(util) {
		if util[s.Name] >= busyAbove && !g.kept[s.Name] {
			busy = append(busy, s)
		}
	}
	if len(busy) < 2 {
		return nil
	}
	var out []spaces.Config
	for _, s := range busy[1:] {
		if g.runsProcesses(s) {
			continue
		}
		r := replicas(base, s)
		for _, nr := range []int64{(r + 1) / 2, r - 1} {
			if c := g.merge(base, util, s, nr, busy[0]); c != nil && !sameParams(c, base) {
				out = append(out, c)
			}
		}
	}
	return out
}

// merge puts s's pods into nr pods of the CPU it used (the grid's step
// below), keeps its integer settings (its concurrency: a pod runs one
// process) and its memory in total, and gives the cores it frees to `to`,
// then to the other saturated services. Nil when nr is not fewer pods
// within s's range, nr pods cannot hold s's concurrency within its
// settings' range, or the merge frees no core.
func (g *guide) merge(base spaces.Config, util map[string]float64, s spaces.Service, nr int64, to spaces.Service) spaces.Config {
	r := replicas(base, s)
	if nr < s.Replicas.Min || nr >= r {
		return nil
	}
	was := float64(r) * cores(base, s)
	per := stepDown(s, util[s.Name]*was/float64(nr))
	if float64(nr)*per >= was-1e-9 {
		return nil // consolidate's move: the same cores in fewer pods
	}
	c := clone(base)
	g.setService(c, s, nr, per)
	for _, p := range g.sp.Params {
		if p.Type != spaces.TypeInt || g.owner(p) != s.Name || g.switchedOff(p, base) {
			continue
		}
		if toFloat(base[p.Name])*float64(r)/float64(nr) > p.Max {
			return nil // fewer pods cannot hold its concurrency
		}
		c[p.Name] = scaleInt(p, base[p.Name], float64(r)/float64(nr))
	}
	g.keepMemory(c, base, s)
	// The freed cores to `to` as bigger pods, or where a step on each of
	// its pods does not fit, as one pod fewer, each bigger (more pods of
	// its size would spend them on the pods' own cores); what is left to
	// the other saturated services, never back to s.
	grew := false
	for g.grow(c, to, false) {
		grew = true
	}
	if !grew {
		g.growFewer(c, to, was-float64(nr)*per)
	}
	var rest []spaces.Service
	for _, o := range g.byUtilisation(util) {
		if o.Name != s.Name && o.Name != to.Name && util[o.Name] >= busyAbove {
			rest = append(rest, o)
		}
	}
	g.fill(c, rest, util, false)
	return c
}

// growFewer gives s, in c, freed cores more in one pod fewer, each bigger
// than now by a CPU step or more, the most that fits; its memory is kept
// in total. c is left as it was when none fits.
func (g *guide) growFewer(c spaces.Config, s spaces.Service, freed float64) {
	r, cpu := replicas(c, s), cores(c, s)
	nr := r - max(1, s.Replicas.Step)
	if nr < max(1, s.Replicas.Min) {
		return
	}
	old := clone(c)
	for per := stepDown(s, (float64(r)*cpu+freed)/float64(nr)); per >= cpu+step(s)-1e-9; per -= step(s) {
		g.setService(c, s, nr, per)
		g.keepMemory(c, old, s)
		if g.fits(c) {
			return
		}
	}
	clear(c)
	maps.Copy(c, old)
}

// keepMemory gives s's pods in c, fewer than in base, base's memory of s in
// total (on s's grid, within its range): a merged pod holds the requests
// of the pods merged into it, and a heap near its limit stalls the pod
// for longer at every collection.
func (g *guide) keepMemory(c, base spaces.Config, s spaces.Service) {
	r, nr := replicas(base, s), replicas(c, s)
	lo, st := int64(s.Memory.Min), memStep(s)
	mem := lo + (toInt(base[s.Name+".memory"])*r/nr-lo)/st*st
	c[s.Name+".memory"] = min(int64(s.Memory.Max), max(toInt(c[s.Name+".memory"]), mem))
	g.fitMemory(c)
}
