package search

import (
	"math"

	"github.com/tune-dify/tune/spaces"
)

// fitProcesses puts s's cores into fewer pods, each keeping its process
// count, so that every process of a pod has a whole core of it: the move
// for pods whose busy processes (each using at least fitBusyProcess of a
// core, so they want the core the GIL lets them use) outnumber their
// pods' whole cores. Such pods are throttled for as long as they are busy
// (their processes and the pod's own threads overrun the quota), whatever
// their utilisation says, and the same cores in fewer pods serve more:
// seed/16c32g/chatflow~v1's api in 6 pods of 1.5 CPU with 2 processes each
// settles at 147 TPS, the same 9 cores as 4 pods of 2.25 serve 155. One
// process fewer per pod instead lost 2% in the same studies (a core and a
// half for one process). What the grid's rounding leaves goes to the busy
// services. Nil when s's pods already give each process a core, its
// processes wait on I/O, or no fewer pods fit a core per process.
func (g *guide) fitProcesses(base spaces.Config, util map[string]float64, s spaces.Service) spaces.Config {
	u, measured := util[s.Name]
	if !measured {
		return nil
	}
	r, cpu := replicas(base, s), cores(base, s)
	c := clone(base)
	moved := false
	for _, p := range g.sp.Params {
		if p.PerCPU == nil || p.PerCPU.Service != s.Name || p.Type != spaces.TypeInt {
			continue
		}
		n := toFloat(base[p.Name])
		if n <= math.Floor(cpu+1e-9) || u*cpu/n < fitBusyProcess {
			return nil
		}
		nr := int64(math.Floor(float64(r)*cpu/n + 1e-9))
		if nr < s.Replicas.Min || nr >= r {
			return nil
		}
		g.setService(c, s, nr, stepDown(s, float64(r)*cpu/float64(nr)))
		if cores(c, s) < n-1e-9 {
			return nil // its pods cannot be that big
		}
		c[p.Name] = int64(n)
		moved = true
	}
	if !moved {
		return nil
	}
	g.settle(c)
	g.fill(c, g.byUtilisation(util), util, false)
	return c
}

// fitBusyProcess is below ioBoundProcess: fitting keeps each pod's
// processes, so it loses nothing an I/O-bound pod needs, and processes at
// 0.47 of a core (the mixed load's api, 6 pods of 1.5 CPU with two each)
// gained 4% as 4 pods of 2.25; at a third of a core (seed/8c16g/agent's,
// waiting on plugin calls) they were not fitted.
const fitBusyProcess = 0.4
