package search

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"slices"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// guide proposes configurations the way the seed's engineer tuned by hand:
// identify the principal bottleneck from the incumbent's per-service CPU
// utilisation, give it the cores the idle services do not use (each idle
// service down to what it uses plus headroom, so to its minimum when it does
// nothing), then try the settings that belong to the busiest services, then
// reshape the bottleneck's pods (a saturated service's small pods merged,
// a process per whole core). Once the SLO holds with nothing saturated, the
// latency left is processes' queues: busy processes get company. A trial
// that served more than the leader but broke the error limit is repaired
// first (its pooler or pools moved), and a trial far ahead in TPS whose P95
// misses the SLO by no more than its noise is worked from instead of a
// leader that met it by luck. Settings of a switched-off component (a
// pooler's mode while it is off) are never moved alone, a move that lost
// clearly comes last around every later leader, and a service saturated in
// its smallest pod that served no more with twice the cores is not taken
// for the bottleneck. A regime of a busy service that no trial has run
// (storage) is tried once, as soon as the idle services' cores are spent,
// and pods whose CPU-bound processes outnumber their whole cores are
// fitted (the same cores in fewer pods, a core per process). A regime that
// cut a busy service's CPU per request is the first of two steps: the
// service is cut and its cores go to the bottleneck, from the regime's own
// trial; saturated pods of processes get the memory the budget leaves;
// with two services saturated the less busy one's pods are merged onto
// the cores it used and the rest goes to the busiest; a saturated service
// short of a step gets it from a service of many small pods reshaped to
// give up just that. Six trials after its leader the guide works from the
// trial with the most TPS. Every proposal is a feasible configuration one
// step from the incumbent; when none is left untried around it the guide
// walks the trials on its plateau, then the study falls back to TPE.
//
// It reads only what every target reports (results.Trial's Utilisation and
// Errors) and the space's declarations, never a service or setting by name,
// so it works on any space and topology.
type guide struct {
	sp  *spaces.Space
	b   spaces.Budget
	obj spaces.Objective
	rng *rand.Rand
	// prev and last are the leaders before and after the guide's last
	// change of leader: the step between them is taken again while it pays
	// (a pattern search's extrapolation), so doubling a limit that helped
	// goes on doubling it without a trial per candidate in between.
	prev, last *results.Trial
	// from is, for each configuration the guide proposed (by key), the
	// trial it was a move from: a move that lost clearly is not the first
	// thing tried around the next leader (see lostMoves).
	from map[string]results.Trial
	// kept are the services the proposals being built keep as they are:
	// saturated, but shown not to limit (see notLimiting).
	kept map[string]bool
	// ran is every value of a choice or switch some trial has run (see
	// unexplored).
	ran map[string]bool
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

func newGuide(sp *spaces.Space, b spaces.Budget, obj spaces.Objective, seed int64) *guide {
	return &guide{sp: sp, b: b, obj: obj, rng: rand.New(rand.NewSource(seed ^ 0x6a1de)), from: map[string]results.Trial{}}
}

// propose returns the first candidate around inc (then around the trials
// on its plateau) that no trial has tried and that fits the budget, or nil
// when there is none.
func (g *guide) propose(inc results.Trial, tried []results.Trial) spaces.Config {
	inc = g.workFrom(inc, tried)
	g.ran = g.valuesRun(tried)
	g.kept = g.notLimiting(inc, tried)
	inc.Utilisation = discount(inc.Utilisation, g.kept)
	if g.last == nil || !sameParams(g.last.Params, inc.Params) {
		g.prev, g.last = g.last, &inc
	}
	var cands []spaces.Config
	if g.prev != nil && inc.Metrics.TPS > g.prev.Metrics.TPS && g.unsaturated(inc) {
		cands = append(cands, g.again(inc, *g.prev))
	}
	if ch := g.challenger(inc, tried); ch != nil {
		cands = append(cands, g.repairs(*ch)...)
	}
	lost := g.lostMoves(tried)
	if c := g.twoStep(inc, tried, lost); c != nil { // guide_twostep.go
		return c
	}
	if c := g.firstUntried(inc, append(cands, g.candidates(inc)...), tried, lost); c != nil {
		return c
	}
	// Nothing left around the leader: the trials on its plateau, best
	// first, before TPE. A leader changes only for more than leadMargin,
	// so a step that gained less (a little CPU moved towards the
	// bottleneck) is never built on, and the next step in the same
	// direction, the one that gains, is never tried (seed/16c32g/chatflow:
	// api 6 × 1.25 CPU at 147.9 TPS, 6 × 1.5 at 148.7, 6 × 1.75 with a
	// second process at 154).
	for _, t := range g.plateau(inc, tried) {
		t.Utilisation = discount(t.Utilisation, g.kept)
		if c := g.firstUntried(t, g.candidates(t), tried, lost); c != nil {
			return c
		}
	}
	return nil
}

// candidates lists the proposals around inc, most promising first.
func (g *guide) candidates(inc results.Trial) []spaces.Config {
	base := g.sp.Complete(spaces.Config(inc.Params))
	util := inc.Utilisation
	var out []spaces.Config
	// 0. Nothing saturated while the SLO is missed: requests wait for a
	// slot somewhere (a connection, a greenlet, a task slot), not for a
	// core, and more cores change nothing. Every limit raised at once, then
	// (while everything idles) each alone, busiest service's first.
	if g.unsaturated(inc) {
		out = append(out, g.raiseAll(base))
		// Each limit alone only while every service idles: with busy
		// services that narrowly miss the SLO the split comes first.
		if g.idle(util) {
			out = append(out, g.scaledSettings(base, inc, 2)...)
		}
	}
	// A regime of a busy service that no trial has run (PostgreSQL on
	// local SSD), once the idle services' cores are spent: before the
	// busy ones' cores are split again by what they used under it.
	settings := g.settingMoves(base, inc)
	if len(util) > 0 && !g.holdsIdleCores(base, util) {
		out = append(out, g.unexplored(g.regimeMoves(settings, base), base, util)...)
	}
	// 1. Rebalance: idle services to what they use, the freed cores to
	// the bottleneck, as more pods of the same size or as bigger pods.
	if len(util) > 0 {
		out = append(out, g.proportional(base, util), g.rebalance(base, util, true), g.rebalance(base, util, false))
		out = append(out, g.headroom(base, util)) // guide_memory.go
	}
	// Two services saturated: one's pods merged onto the cores it used, the
	// freed cores to the other (guide_merge.go).
	out = append(out, g.merges(base, util)...)
	// A saturated service fed one step from a service of many small pods,
	// reshaped to give up just that (guide_trim.go).
	out = append(out, g.trims(base, util)...)
	// A pod whose processes each use about a core is bound by its process
	// count, whatever its quota says: one more process per pod.
	out = append(out, g.moreProcesses(base, util, processBound)...)
	// A saturated bottleneck of several small pods: the same cores in
	// fewer, bigger pods, each with a process per whole core, so a pod's
	// processes and its own threads fit its quota (small pods of one
	// process each are throttled by the threads beside the process).
	for _, s := range g.byUtilisation(util) {
		if util[s.Name] >= busyAbove {
			out = append(out, g.consolidate(base, util, s)...)
		}
	}
	// Pods whose busy processes outnumber their whole cores are throttled
	// while busy: the same cores in fewer pods, a core per process.
	for _, s := range g.byUtilisation(util) {
		out = append(out, g.fitProcesses(base, util, s))
	}
	// Within the SLO with no service saturated, the users' think time
	// bounds TPS and only latency is left to cut: another regime (storage,
	// pooling, placement) before reshaping pods, a value no trial has run
	// before one already measured.
	if idle := len(util) > 0 && !g.saturated(util); idle && Feasible(inc.Metrics, g.obj) {
		// A process busy half the time makes a request wait about as long
		// as it runs (the GIL serves one at a time): another process per
		// pod cuts that wait, the latency a think-time bound loop turns
		// into TPS.
		out = append(out, g.moreProcesses(base, util, latencyProcessBound)...)
		out = append(out, g.unrunFirst(g.regimeMoves(settings, base), base)...)
	}
	// 2. Reshape: the bottleneck's pods merged or split at the same cores
	// (a pod's processes need their cores; several small pods beat one big).
	busy := g.byUtilisation(util)
	for _, s := range busy[:min(2, len(busy))] {
		out = append(out, g.reshape(base, util, s, -1), g.reshape(base, util, s, +1))
	}
	// 3. The settings' choices and switches (another regime), those of the
	// busiest services first.
	regimes := g.regimeMoves(settings, base)
	out = append(out, regimes...)
	// 4. Shift: a step of CPU between each pair of services, from the less
	// used to the more: the refinement a split needs once its bottleneck
	// is fed, before numbers that move TPS by less than the noise.
	for i := len(busy) - 1; i >= 0; i-- {
		for j := 0; j < i; j++ {
			out = append(out, g.shift(base, busy[i], busy[j]))
		}
	}
	// 5. The numeric settings. (CPU from the busiest to each other service
	// is not tried: with the bottleneck fed, each such move cost a trial
	// and lost 5-15% in every traced study.)
	for _, c := range settings {
		if !slices.ContainsFunc(regimes, func(r spaces.Config) bool { return sameParams(r, c) }) {
			out = append(out, c)
		}
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
		if u < idleAt && u*cpu*float64(r)*headroom <= s.CPU.Min.Cores() {
			// A service that does nothing runs its fewest, smallest pods.
			// (Judged by the cores it uses, not its share of them: a
			// service given far more than it can use shows a low share
			// of a sum it needs.)
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

// proportional splits the cores of the services the search can move in
// proportion to what each used (utilisation × cores), a saturated one
// counted at saturatedDemand times what it used since its demand is more
// than it got, scaled up until the budget is spent: the split an engineer
// computes from a dashboard. Pods keep their number unless a pod would need
// more than its maximum; a service whose use fits its smallest pod gets
// that. Where the budget is short of demand the scale is below one and
// every service gives up in proportion.
func (g *guide) proportional(base spaces.Config, util map[string]float64) spaces.Config {
	c := clone(base)
	demand := map[string]float64{}
	var moved []spaces.Service
	for _, s := range g.byUtilisation(util) {
		u, ok := util[s.Name]
		if !ok || g.kept[s.Name] {
			continue
		}
		used := u * cores(c, s) * float64(replicas(c, s))
		if u >= busyAbove {
			used *= saturatedDemand
		}
		demand[s.Name] = used
		moved = append(moved, s)
	}
	if len(moved) == 0 {
		return nil
	}
	shape := func(k float64) spaces.Config {
		n := clone(c)
		for _, s := range moved {
			want := k * demand[s.Name]
			if want*headroom <= s.CPU.Min.Cores() {
				g.setService(n, s, s.Replicas.Min, s.CPU.Min.Cores())
				continue
			}
			// Pods of about podCores each, as many as the service allows.
			r := int64(math.Ceil(want/math.Max(podCores, s.CPU.Min.Cores()) - 1e-9))
			r = min(s.Replicas.Max, max(s.Replicas.Min, r))
			g.setService(n, s, r, stepDown(s, want/float64(r)))
			g.processPerCore(n, s)
		}
		return n
	}
	if !g.fits(shape(0)) {
		return nil
	}
	lo, hi := 0.0, 1.0
	for g.fits(shape(hi)) && hi < 1e4 {
		lo, hi = hi, 2*hi
	}
	for range 40 {
		if mid := (lo + hi) / 2; g.fits(shape(mid)) {
			lo = mid
		} else {
			hi = mid
		}
	}
	n := shape(lo)
	g.fill(n, moved, util, false) // what the grid's rounding left
	return n
}

// podCores is the pod size proportional aims at for a replicated service:
// Dify's services are Python processes that each use at most one core (the
// GIL), so a pod of about a core per process scales, and several small pods
// beat one big one (GC stalls, throttling).
const podCores = 1.0

// saturatedDemand is how much more than it used a saturated service is
// taken to need: its queue hides the rest of its demand.
const saturatedDemand = 1.5

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

// consolidate puts s's cores into fewer pods, half as many and one, each
// pod's processes one per whole core of it (within the per-core range),
// its memory kept in total (see keepMemory); what the grid's rounding
// leaves goes to the busy services.
func (g *guide) consolidate(base spaces.Config, util map[string]float64, s spaces.Service) []spaces.Config {
	r := replicas(base, s)
	total := float64(r) * cores(base, s)
	var out []spaces.Config
	for _, nr := range []int64{(r + 1) / 2, s.Replicas.Min} {
		if nr >= r || nr < s.Replicas.Min || slices.ContainsFunc(out, func(c spaces.Config) bool { return replicas(c, s) == nr }) {
			continue
		}
		c := clone(base)
		g.setService(c, s, nr, stepDown(s, total/float64(nr)))
		g.processesFor(c, base, util, s, g.processPerWholeCore)
		g.keepMemory(c, base, s)
		g.fill(c, g.byUtilisation(util), util, false)
		out = append(out, c)
	}
	return out
}

// processesFor sets s's per-core process counts in c, whose pods of s were
// just resized from base's: a process per core (cpuBound, a Python process
// under the GIL uses at most one) unless base's processes each used less
// than ioBoundProcess of a core in pods that were busy. Those wait on I/O
// (a plugin call, an HTTP tool), a pod needs more of them than it has
// cores, and the resized pods keep base's processes per core: going back
// to one per core threw away the processes that had paid (seed/8c16g/agent:
// api pods of two processes per 0.75 CPU resized to one per pod lost 20-45%).
func (g *guide) processesFor(c, base spaces.Config, util map[string]float64, s spaces.Service, cpuBound func(spaces.Config, spaces.Service)) {
	u, measured := util[s.Name]
	was, now := cores(base, s), cores(c, s)
	for _, p := range g.sp.Params {
		if p.PerCPU == nil || p.PerCPU.Service != s.Name {
			continue
		}
		if n := toFloat(base[p.Name]); !measured || u < busyAbove || n <= 0 || u*was/n >= ioBoundProcess {
			cpuBound(c, s)
			return
		}
	}
	g.setProcesses(c, s, func(p spaces.Param) float64 { return math.Round(toFloat(base[p.Name]) / was * now) })
}

// ioBoundProcess is the share of a core under which a busy pod's processes
// are waiting on I/O rather than on the CPU.
const ioBoundProcess = 0.5

// processPerWholeCore sets s's per-core process counts to the whole cores
// of its pods (at least one), within the space's per-core range.
func (g *guide) processPerWholeCore(c spaces.Config, s spaces.Service) {
	cpu := cores(c, s)
	g.setProcesses(c, s, func(spaces.Param) float64 { return math.Floor(cpu + 1e-9) })
}

// shift moves one CPU step per pod from one service to the other, which
// takes all it can of it.
func (g *guide) shift(base spaces.Config, from, to spaces.Service) spaces.Config {
	c := clone(base)
	fr := replicas(c, from)
	// As many steps from `from` as one step of `to` needs: a pod more, or
	// a CPU step on each of its pods.
	for {
		fc := cores(c, from)
		if fc-step(from) < from.CPU.Min.Cores()-1e-9 {
			return nil
		}
		g.setService(c, from, fr, fc-step(from))
		if g.grow(c, to, true) {
			break
		}
	}
	for g.grow(c, to, false) {
	}
	return c
}

// setService sets s's replicas and per-pod CPU, keeps its per-core settings
// within their ratios, and raises its memory to its floor.
func (g *guide) setService(c spaces.Config, s spaces.Service, r int64, cpu float64) {
	cpu = math.Max(s.CPU.Min.Cores(), math.Min(s.CPU.Max.Cores(), cpu))
	c[s.Name+".replicas"] = r
	c[s.Name+".cpu"] = cpu
	// The count stays (the settings moves tune it) unless the new pod size
	// puts it outside the space's per-core range.
	g.setProcesses(c, s, func(p spaces.Param) float64 { return toFloat(c[p.Name]) })
}

// setProcesses sets each of s's per-core process counts in c to want's
// (at least one), within the space's per-core range for s's pods, rounded
// as the encoding rounds ratio × cores so the guide reaches what TPE does,
// and within the parameter's range; then fits memory.
func (g *guide) setProcesses(c spaces.Config, s spaces.Service, want func(spaces.Param) float64) {
	cpu := cores(c, s)
	for _, p := range g.sp.Params {
		if p.PerCPU == nil || p.PerCPU.Service != s.Name {
			continue
		}
		n := math.Max(math.Round(p.PerCPU.Min*cpu), math.Min(math.Round(p.PerCPU.Max*cpu), want(p)))
		c[p.Name] = int64(math.Max(p.Min, math.Min(p.Max, math.Max(1, n))))
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
		st := memStep(*fat)
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

// memStep is s's memory grid in MiB (the space's loader defaults it).
func memStep(s spaces.Service) int64 { return int64(max(1, s.Memory.Step)) }

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

// unsaturated reports whether inc is held back by something other than
// cores: it misses the SLO while no service it measured uses busyAbove of
// its CPU. (One that meets the SLO unsaturated is bounded by its users'
// think time: latency, not a limit, is what to cut.)
func (g *guide) unsaturated(inc results.Trial) bool {
	if len(inc.Utilisation) == 0 || inc.State == results.StateFailed || Feasible(inc.Metrics, g.obj) { // a pruned trial's screen measured it
		return false
	}
	return !g.saturated(inc.Utilisation)
}

// idle reports whether every service of the space uses less than idleBelow
// of its CPU.
func (g *guide) idle(util map[string]float64) bool {
	for _, s := range g.sp.Services {
		if util[s.Name] >= idleBelow {
			return false
		}
	}
	return true
}

// saturated reports whether a service of the space uses busyAbove of its
// CPU.
func (g *guide) saturated(util map[string]float64) bool {
	for _, s := range g.sp.Services {
		if util[s.Name] >= busyAbove {
			return true
		}
	}
	return false
}

// settle puts every service's per-core settings back in their range and
// its memory at its floor or above.
func (g *guide) settle(c spaces.Config) {
	for _, s := range g.sp.Services {
		g.setService(c, s, replicas(c, s), cores(c, s))
	}
}

// again takes the step from prev to inc once more: integer settings by the
// same factor. Resources stay as inc has them: a rebalance already spends
// the whole budget, and its step repeated overshoots. Nil when the step
// changed no setting the guide can repeat.
func (g *guide) again(inc, prev results.Trial) spaces.Config {
	c := g.sp.Complete(spaces.Config(inc.Params))
	p := g.sp.Complete(spaces.Config(prev.Params))
	moved := false
	for _, q := range g.sp.Params {
		if q.Type != spaces.TypeInt || q.PerCPU != nil || g.switchedOff(q, c) {
			continue
		}
		v, pv := toFloat(c[q.Name]), toFloat(p[q.Name])
		if v == pv || pv <= 0 {
			continue
		}
		// The factor squared: a pattern search's expansion, so a limit
		// far too low is found in a few trials (1, 2, 4, 16, 32).
		n := scaleInt(q, v, (v/pv)*(v/pv))
		c[q.Name] = n
		moved = moved || float64(n) != v
	}
	if !moved {
		return nil
	}
	g.settle(c)
	return c
}

func sameParams(a, b map[string]any) bool {
	return maps.EqualFunc(a, b, func(x, y any) bool { return fmt.Sprint(x) == fmt.Sprint(y) })
}

// moreProcesses raises, for each service whose pods' processes (a per-core
// setting: gunicorn's workers) each use bound of a core or more, or
// whose pods are saturated, the process count by one, within its per-core
// range: a process waiting on I/O leaves its share of the quota unused that
// another could take.
func (g *guide) moreProcesses(base spaces.Config, util map[string]float64, bound float64) []spaces.Config {
	var out []spaces.Config
	for _, p := range g.sp.Params {
		if p.PerCPU == nil || p.Type != spaces.TypeInt {
			continue
		}
		svc, ok := g.service(p.PerCPU.Service)
		u, measured := util[svc.Name]
		if !ok || !measured {
			continue
		}
		n, cpu := toFloat(base[p.Name]), cores(base, svc)
		if n <= 0 || (u*cpu/n < bound && u < busyAbove) || n+1 > math.Round(p.PerCPU.Max*cpu) || n+1 > p.Max {
			continue
		}
		c := clone(base)
		c[p.Name] = int64(n + 1)
		g.fitMemory(c)
		out = append(out, c)
	}
	return out
}

// processBound is the share of a core a process uses when it is the limit
// (a Python process under the GIL never uses more than one).
const processBound = 0.8

// latencyProcessBound is the share of a core above which, once the SLO holds
// and no service is saturated, a process's queue is worth another process.
const latencyProcessBound = 0.5

func (g *guide) service(name string) (spaces.Service, bool) {
	for _, s := range g.sp.Services {
		if s.Name == name {
			return s, true
		}
	}
	return spaces.Service{}, false
}

// processPerCore sets s's per-core process counts to one process per core
// of its pods (the count a Python service under the GIL can use), within
// the space's per-core range.
func (g *guide) processPerCore(c spaces.Config, s spaces.Service) {
	cpu := cores(c, s)
	g.setProcesses(c, s, func(spaces.Param) float64 { return math.Round(cpu) })
}
