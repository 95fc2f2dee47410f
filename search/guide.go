package search

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"slices"
	"strings"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// guide proposes configurations the way the seed's engineer tuned by hand:
// identify the principal bottleneck from the incumbent's per-service CPU
// utilisation, give it the cores the idle services do not use (each idle
// service down to what it uses plus headroom, so to its minimum when it does
// nothing), then try the settings that belong to the busiest services, then
// reshape the bottleneck's pods. Every proposal is a feasible configuration
// one step from the incumbent; when none is left untried the study falls
// back to TPE.
//
// It reads only what every target reports (results.Trial's Utilisation and
// Errors) and the space's declarations, never a service or setting by name,
// so it works on any space and topology.
type guide struct {
	sp  *spaces.Space
	b   spaces.Budget
	rng *rand.Rand
}

// The utilisation thresholds of the guide. A service below idleBelow gives
// back what it does not use (below idleAt, everything above its minimum);
// headroom is what it keeps above its use, so that a service at 40% keeps its
// latency; above busyAbove a service is a bottleneck that receives cores
// (the busiest one does whatever its utilisation).
const (
	idleAt    = 0.1
	idleBelow = 0.5
	headroom  = 1.5
	busyAbove = 0.75
)

func newGuide(sp *spaces.Space, b spaces.Budget, seed int64) *guide {
	return &guide{sp: sp, b: b, rng: rand.New(rand.NewSource(seed ^ 0x6a1de))}
}

// propose returns the first candidate around inc that no trial has tried
// and that fits the budget, or nil when there is none.
func (g *guide) propose(inc results.Trial, tried []results.Trial) spaces.Config {
	for _, c := range g.candidates(inc) {
		if c == nil || triedBefore(c, tried) {
			continue
		}
		if sys, err := g.sp.Resolve(g.b, c); err != nil || g.sp.Check(sys) != nil {
			continue
		}
		return c
	}
	return nil
}

// candidates lists the proposals around inc, most promising first.
func (g *guide) candidates(inc results.Trial) []spaces.Config {
	base := g.sp.Complete(spaces.Config(inc.Params))
	util := inc.Utilisation
	var out []spaces.Config
	// 1. Rebalance: idle services to what they use, the freed cores to
	// the bottleneck, as more pods of the same size or as bigger pods.
	if len(util) > 0 {
		out = append(out, g.rebalance(base, util, true), g.rebalance(base, util, false))
	}
	// 2. Reshape: the bottleneck's pods merged or split at the same cores
	// (a pod's processes need their cores; several small pods beat one big).
	busy := g.byUtilisation(util)
	for _, s := range busy[:min(2, len(busy))] {
		out = append(out, g.reshape(base, util, s, -1), g.reshape(base, util, s, +1))
	}
	// 3. The settings: choices and switches first, those of the busiest
	// services first.
	out = append(out, g.settingMoves(base, inc)...)
	// 4. Shift: a step of CPU between each pair of services, from the least
	// used to the most.
	for i := len(busy) - 1; i >= 0; i-- {
		for j := 0; j < i; j++ {
			out = append(out, g.shift(base, busy[i], busy[j]))
		}
	}
	for j := len(busy) - 1; j > 0; j-- {
		out = append(out, g.shift(base, busy[0], busy[j]))
	}
	return out
}

// byUtilisation lists the space's services whose CPU the search can move,
// busiest first.
func (g *guide) byUtilisation(util map[string]float64) []spaces.Service {
	var svcs []spaces.Service
	for _, s := range g.sp.Services {
		if s.CPU.Max > s.CPU.Min || s.Replicas.Max > s.Replicas.Min {
			svcs = append(svcs, s)
		}
	}
	slices.SortStableFunc(svcs, func(a, b spaces.Service) int { return cmp.Compare(util[b.Name], util[a.Name]) })
	return svcs
}

func clone(c spaces.Config) spaces.Config { return maps.Clone(c) }

// rebalance takes from every idle service what it does not use, and hands
// that and any unspent budget to the busy services, busiest first. With
// morePods, a replicated bottleneck grows by pods of its current size;
// otherwise its pods grow.
func (g *guide) rebalance(base spaces.Config, util map[string]float64, morePods bool) spaces.Config {
	c := clone(base)
	for _, s := range g.sp.Services {
		u, ok := util[s.Name]
		if !ok || u >= idleBelow {
			continue
		}
		r, cpu := replicas(c, s), cores(c, s)
		if u < idleAt {
			// A service that does nothing runs its fewest, smallest pods.
			g.setService(c, s, s.Replicas.Min, s.CPU.Min.Cores())
			continue
		}
		// One that waits on another keeps its pods (their concurrency)
		// with the cores it uses plus headroom.
		g.setService(c, s, r, stepUp(s, u*cpu*headroom))
	}
	g.fill(c, g.byUtilisation(util), util, morePods)
	return c
}

// fill hands the CPU left in the budget to the services whose utilisation is
// above busyAbove, busiest first, until the budget is spent.
func (g *guide) fill(c spaces.Config, order []spaces.Service, util map[string]float64, morePods bool) {
	for i, s := range order {
		if i > 0 && util[s.Name] < busyAbove {
			break
		}
		for g.grow(c, s, morePods) {
		}
	}
}

// grow gives s one more pod of its size (morePods, while replicas allow) or
// one CPU step more per pod, if the result fits; it reports whether it did.
func (g *guide) grow(c spaces.Config, s spaces.Service, morePods bool) bool {
	r, cpu := replicas(c, s), cores(c, s)
	try := func(r int64, cpu float64) bool {
		if r > s.Replicas.Max || cpu > s.CPU.Max.Cores()+1e-9 {
			return false
		}
		old := clone(c)
		g.setService(c, s, r, cpu)
		if g.fits(c) {
			return true
		}
		clear(c)
		maps.Copy(c, old)
		return false
	}
	if morePods && try(r+max(1, s.Replicas.Step), cpu) {
		return true
	}
	return try(r, cpu+step(s))
}

// reshape splits s's cores over one more pod (dir +1) or one fewer (dir
// -1), each pod on the CPU grid below the same total; what is left over goes
// to the bottleneck.
func (g *guide) reshape(base spaces.Config, util map[string]float64, s spaces.Service, dir int64) spaces.Config {
	r := replicas(base, s)
	nr := r + dir*max(1, s.Replicas.Step)
	if nr < s.Replicas.Min || nr > s.Replicas.Max {
		return nil
	}
	c := clone(base)
	total := float64(r) * cores(base, s)
	g.setService(c, s, nr, stepDown(s, total/float64(nr)))
	g.fill(c, g.byUtilisation(util), util, false)
	return c
}

// shift moves one CPU step per pod from one service to the other, which
// takes all it can of it.
func (g *guide) shift(base spaces.Config, from, to spaces.Service) spaces.Config {
	c := clone(base)
	fr, fc := replicas(c, from), cores(c, from)
	if fc-step(from) < from.CPU.Min.Cores()-1e-9 {
		return nil
	}
	g.setService(c, from, fr, fc-step(from))
	if !g.grow(c, to, false) {
		return nil
	}
	for g.grow(c, to, false) {
	}
	return c
}

// settingMoves changes one setting of base at a time: a bool flipped, every
// other choice, an int a step or two either way. Settings of the busiest
// services come first, then the settings of no service (a pooler, say),
// then the rest; a trial with errors puts the settings of no service first.
// Each moved configuration is rebalanced by the incumbent's utilisation.
func (g *guide) settingMoves(base spaces.Config, inc results.Trial) []spaces.Config {
	type move struct {
		c    spaces.Config
		rank float64
	}
	owner := map[string]bool{}
	for _, s := range g.sp.Services {
		owner[s.Name] = true
	}
	var moves []move
	for _, p := range g.sp.Params {
		svc, _, _ := strings.Cut(p.Name, ".")
		if p.PerCPU != nil {
			svc = p.PerCPU.Service
		}
		rank := 0.5 // a setting of no service (a pooler, say)
		if owner[svc] {
			rank = inc.Utilisation[svc]
		}
		if len(inc.Errors) > 0 && !owner[svc] {
			rank = 1
		}
		if p.Type == spaces.TypeBool || p.Type == spaces.TypeChoice {
			rank++ // another regime (storage, pooling) before fine-tuning a number
		}
		rank += g.rng.Float64() * 1e-3 // ties in the seed's order
		for _, v := range paramNeighbours(p, base[p.Name]) {
			c := clone(base)
			c[p.Name] = v
			if p.PerCPU != nil {
				g.fitMemory(c)
			}
			moves = append(moves, move{c, rank})
		}
	}
	slices.SortStableFunc(moves, func(a, b move) int { return cmp.Compare(b.rank, a.rank) })
	out := make([]spaces.Config, len(moves))
	for i, m := range moves {
		out[i] = m.c
	}
	return out
}

// paramNeighbours are the values one move away from v.
func paramNeighbours(p spaces.Param, v any) []any {
	switch p.Type {
	case spaces.TypeBool:
		b, _ := v.(bool)
		return []any{!b}
	case spaces.TypeChoice:
		var out []any
		for _, ch := range p.Choices {
			if ch != fmt.Sprint(v) {
				out = append(out, ch)
			}
		}
		return out
	case spaces.TypeInt:
		n := int64(toFloat(v))
		st := int64(math.Max(1, p.Step))
		var out []any
		for _, d := range []int64{st, -st} {
			if m := n + d; float64(m) >= p.Min && float64(m) <= p.Max {
				out = append(out, m)
			}
		}
		return out
	case spaces.TypeFloat:
		f := toFloat(v)
		st := p.Step
		if st <= 0 {
			st = (p.Max - p.Min) / 8
		}
		var out []any
		for _, d := range []float64{st, -st} {
			if m := f + d; m >= p.Min && m <= p.Max {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// setService sets s's replicas and per-pod CPU, keeps its per-core settings
// within their ratios, and raises its memory to its floor.
func (g *guide) setService(c spaces.Config, s spaces.Service, r int64, cpu float64) {
	cpu = math.Max(s.CPU.Min.Cores(), math.Min(s.CPU.Max.Cores(), cpu))
	c[s.Name+".replicas"] = r
	c[s.Name+".cpu"] = cpu
	for _, p := range g.sp.Params {
		if p.PerCPU == nil || p.PerCPU.Service != s.Name {
			continue
		}
		// The count stays (the settings moves tune it) unless the new pod
		// size puts it outside the space's per-core range.
		n := toFloat(c[p.Name])
		n = math.Max(math.Ceil(p.PerCPU.Min*cpu-1e-9), math.Min(math.Floor(p.PerCPU.Max*cpu+1e-9), n))
		c[p.Name] = int64(math.Max(p.Min, math.Min(p.Max, n)))
	}
	g.fitMemory(c)
}

// fitMemory raises every service's memory to its floor and, if that
// overspends the memory budget, takes the excess from the services with the
// most memory above their floors.
func (g *guide) fitMemory(c spaces.Config) {
	for _, s := range g.sp.Services {
		if lo := int64(s.MemoryMin(g.sp, c)); toInt(c[s.Name+".memory"]) < lo {
			c[s.Name+".memory"] = lo
		}
	}
	for range 64 {
		sys, err := g.sp.Resolve(g.b, c)
		if err != nil {
			return
		}
		over := g.sp.Usage(sys).Memory - g.b.Total.Memory
		if over <= 0 {
			return
		}
		var fat *spaces.Service
		var most int64
		for i, s := range g.sp.Services {
			spare := (toInt(c[s.Name+".memory"]) - int64(s.MemoryMin(g.sp, c))) * replicas(c, s)
			if spare > most {
				fat, most = &g.sp.Services[i], spare
			}
		}
		if fat == nil {
			return
		}
		st := int64(max(1, fat.Memory.Step))
		c[fat.Name+".memory"] = toInt(c[fat.Name+".memory"]) - st
	}
}

func (g *guide) fits(c spaces.Config) bool {
	sys, err := g.sp.Resolve(g.b, c)
	return err == nil && g.sp.Check(sys) == nil
}

func replicas(c spaces.Config, s spaces.Service) int64 { return toInt(c[s.Name+".replicas"]) }
func cores(c spaces.Config, s spaces.Service) float64  { return toFloat(c[s.Name+".cpu"]) }
func step(s spaces.Service) float64                    { return math.Max(1, float64(s.CPU.Step)) / 1000 }

// stepUp is the least CPU on s's grid at or above want, within its range.
func stepUp(s spaces.Service, want float64) float64 {
	lo, st := s.CPU.Min.Cores(), step(s)
	v := lo + math.Ceil(math.Max(0, want-lo)/st-1e-9)*st
	return math.Min(v, s.CPU.Max.Cores())
}

// stepDown is the most CPU on s's grid at or below want, within its range.
func stepDown(s spaces.Service, want float64) float64 {
	lo, st := s.CPU.Min.Cores(), step(s)
	v := lo + math.Floor(math.Max(0, want-lo)/st+1e-9)*st
	return math.Min(v, s.CPU.Max.Cores())
}

func toInt(v any) int64 { return int64(math.Round(toFloat(v))) }
