package search

import (
	"math"

	"github.com/tune-dify/tune/spaces"
)

// trims feed each saturated service one CPU step on each of its pods from
// a less busy service of several pods, reshaped to give up just that: its
// remaining cores in the pod count nearest its own that holds them on its
// CPU grid, its processes and memory kept in total. When the budget is
// spent, shift's way to a saturated service is a step off every pod of
// the donor, and a donor of many small pods then gives far more than the
// receiver needs: seed/8c16g/agent~v2 (a slower CPU) settled with the
// plugin daemon at 96% of half a core and the api in 5 pods of 0.75 CPU
// at 77%, 35.7 TPS on average over ten model seeds; a step off each api
// pod for the daemon (5 × 0.5, the daemon 2 × 0.75) serves 29.1, a whole
// api pod (4 × 0.75, the daemon 1.25) 34.0, and the api's 3.5 cores left
// as 2 pods of 1.75 with 3 workers each and the daemon on 0.75 serve 40.8.
func (g *guide) trims(base spaces.Config, util map[string]float64) []spaces.Config {
	busy := g.byUtilisation(util)
	var out []spaces.Config
	for i, to := range busy {
		if util[to.Name] < busyAbove {
			break
		}
		if g.kept[to.Name] {
			continue
		}
		for _, from := range busy[i+1:] {
			if c := g.trim(base, util, from, to); c != nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// trim reshapes from's pods to hold its cores less one CPU step on each of
// to's pods, gives that step to to, and what the grid's rounding leaves to
// the busy services. Nil when a step off each of from's pods is no more
// than to needs (shift's move), from would be busier than cutBusy on what
// is left (it needs its cores: in a seed/8c16g/chatflow study the api at
// 92% trimmed for the saturated Celery worker served 14% less), or no
// other pod count holds the rest within a CPU step of from's.
func (g *guide) trim(base spaces.Config, util map[string]float64, from, to spaces.Service) spaces.Config {
	r := replicas(base, from)
	need := float64(replicas(base, to)) * step(to)
	if r < 2 || float64(r)*step(from) <= need+1e-9 {
		return nil
	}
	was := float64(r) * cores(base, from)
	total := was - need
	if util[from.Name]*was/total > cutBusy {
		return nil
	}
	nr := g.podsHolding(from, r, total, func(n int64) bool { return n != r })
	if nr == 0 {
		return nil
	}
	per := stepDown(from, total/float64(nr))
	if per < from.CPU.Min.Cores()-1e-9 || total-per*float64(nr) >= step(from)-1e-9 {
		return nil
	}
	c := clone(base)
	g.setService(c, from, nr, per)
	g.keepProcesses(c, base, from)
	g.keepMemory(c, base, from)
	if !g.grow(c, to, false) {
		return nil
	}
	g.fill(c, g.byUtilisation(util), util, false)
	return c
}

// keepProcesses gives s's pods in c, reshaped from base's, base's process
// count in total (within the per-core range): the same work at the same
// concurrency.
func (g *guide) keepProcesses(c, base spaces.Config, s spaces.Service) {
	r, nr := replicas(base, s), replicas(c, s)
	g.setProcesses(c, s, func(p spaces.Param) float64 {
		return math.Ceil(toFloat(base[p.Name])*float64(r)/float64(nr) - 1e-9)
	})
}

// podsHolding is the pod count of s that ok allows (within s's replica
// range and step) whose pods on s's CPU grid hold the most of total cores,
// the nearest r among equals, the more pods among those (0: none).
func (g *guide) podsHolding(s spaces.Service, r int64, total float64, ok func(int64) bool) int64 {
	st := max(1, s.Replicas.Step)
	var best int64
	var most float64
	for nr := max(1, s.Replicas.Min); nr <= s.Replicas.Max; nr++ {
		if (nr-r)%st != 0 || !ok(nr) {
			continue
		}
		per := stepDown(s, total/float64(nr))
		if per > s.CPU.Max.Cores()+1e-9 || per < s.CPU.Min.Cores()-1e-9 {
			continue
		}
		held := per * float64(nr)
		if held > total+1e-9 {
			continue // its smallest pods hold more
		}
		closer := best == 0 || abs64(nr-r) < abs64(best-r) || (abs64(nr-r) == abs64(best-r) && nr > best)
		if held > most+1e-9 || (held > most-1e-9 && closer) {
			best, most = nr, held
		}
	}
	return best
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
