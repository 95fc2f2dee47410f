package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// The guide's moves on settings (gunicorn workers and connections, Celery
// concurrency, pools, storage, pooler, placement), beside its moves on
// cores and pods in guide.go.

// settingMoves changes one setting of base at a time: a bool flipped, every
// other choice, an int a step or two either way. Settings of the busiest
// services come first, then the settings of no service (a pooler, say),
// then the rest; a trial with errors puts the settings of no service first.
// Nothing else moves with a setting but the memory floor of a per-core
// count: a move that needs resources the budget no longer has (a pooler
// switched on when every core is spent) does not fit and propose skips it.
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
		if g.switchedOff(p, base) {
			continue // a trial that changes nothing the system runs
		}
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

// switchedOff reports whether p belongs to a component c switches off, so
// that moving it changes nothing the system runs (a pooler's mode while the
// pooler is off): p's group, the name before its last dot, is a service
// whose enabledBy switch is false, or has a bool setting "<group>.enabled"
// that is false (Helm's convention for an optional component). The switch
// itself is never off.
func (g *guide) switchedOff(p spaces.Param, c spaces.Config) bool {
	i := strings.LastIndex(p.Name, ".")
	if i < 0 {
		return false
	}
	group := p.Name[:i]
	switches := []string{group + ".enabled"}
	if s, ok := g.service(group); ok && s.EnabledBy != "" {
		switches = append(switches, s.EnabledBy)
	}
	for _, sw := range switches {
		if sw != p.Name && c[sw] == false && slices.ContainsFunc(g.sp.Params, func(q spaces.Param) bool { return q.Name == sw && q.Type == spaces.TypeBool }) {
			return true
		}
	}
	return false
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

// regimeMoves are the moves among settingMoves that change a choice or a
// switch.
func (g *guide) regimeMoves(moves []spaces.Config, base spaces.Config) []spaces.Config {
	var out []spaces.Config
	for _, c := range moves {
		if _, _, ok := g.regimeChange(c, base); ok {
			out = append(out, c)
		}
	}
	return out
}

// regimeChange is the first choice or switch (in the space's order) that c
// sets to another value than base, with its "setting=value" as valuesRun
// keys it; false when c changes none.
func (g *guide) regimeChange(c, base spaces.Config) (spaces.Param, string, bool) {
	for _, p := range g.sp.Params {
		if (p.Type == spaces.TypeBool || p.Type == spaces.TypeChoice) && fmt.Sprint(c[p.Name]) != fmt.Sprint(base[p.Name]) {
			return p, p.Name + "=" + fmt.Sprint(c[p.Name]), true
		}
	}
	return spaces.Param{}, "", false
}

// raiseAll doubles every integer setting at once (within its range and the
// pod's per-core range): the limits a request passes through are raised
// together, and the step is repeated while it pays (again).
func (g *guide) raiseAll(base spaces.Config) spaces.Config {
	c := clone(base)
	for _, p := range g.sp.Params {
		if p.Type == spaces.TypeInt && !g.switchedOff(p, base) {
			c[p.Name] = scaleInt(p, c[p.Name], 2)
		}
	}
	g.settle(c)
	return c
}

// scaledSettings multiplies one integer setting at a time by f, the
// settings of the busiest services first.
func (g *guide) scaledSettings(base spaces.Config, inc results.Trial, f float64) []spaces.Config {
	var out []spaces.Config
	for _, p := range g.settingsByUse(inc) {
		if p.Type != spaces.TypeInt || g.switchedOff(p, base) {
			continue
		}
		c := clone(base)
		c[p.Name] = scaleInt(p, c[p.Name], f)
		g.settle(c)
		out = append(out, c)
	}
	return out
}

// settingsByUse lists the space's settings, those of the busiest services
// first, then those of no service.
func (g *guide) settingsByUse(inc results.Trial) []spaces.Param {
	ps := slices.Clone(g.sp.Params)
	rank := func(p spaces.Param) float64 {
		if svc := g.owner(p); svc != "" {
			return inc.Utilisation[svc]
		}
		return -1
	}
	slices.SortStableFunc(ps, func(a, b spaces.Param) int { return cmp.Compare(rank(b), rank(a)) })
	return ps
}

// owner is the service a setting belongs to ("" for none).
func (g *guide) owner(p spaces.Param) string {
	if p.PerCPU != nil {
		return p.PerCPU.Service
	}
	svc, _, _ := strings.Cut(p.Name, ".")
	for _, s := range g.sp.Services {
		if s.Name == svc {
			return svc
		}
	}
	return ""
}

// scaleInt is v times f on p's grid, within p's range.
func scaleInt(p spaces.Param, v any, f float64) int64 {
	st := math.Max(1, p.Step)
	n := p.Min + math.Round((toFloat(v)*f-p.Min)/st)*st
	return int64(math.Max(p.Min, math.Min(p.Max, n)))
}

// challenger is the trial that beat the leader's TPS by more than
// challengeMargin while breaking the error limit, the most TPS first: a
// step the right way whose side effect (more processes, more connections
// than PostgreSQL admits) one setting can undo. Nil when there is none.
func (g *guide) challenger(inc results.Trial, tried []results.Trial) *results.Trial {
	var ch *results.Trial
	for i := range tried {
		t := &tried[i]
		if t.State != results.StateComplete || t.Metrics.ErrorRate <= g.obj.MaxErrorRate || len(t.Utilisation) == 0 {
			continue
		}
		if t.Metrics.TPS > inc.Metrics.TPS*(1+challengeMargin) && (ch == nil || t.Metrics.TPS > ch.Metrics.TPS) {
			ch = t
		}
	}
	return ch
}

// challengeMargin is how much more TPS than the leader makes a trial with
// errors worth repairing: above the run-to-run noise.
const challengeMargin = 0.01

// repairs are the moves that may take a challenger's errors away while
// keeping what it gained: its settings moved one at a time, ranked as a
// trial with errors ranks them (the settings of no service, a pooler say,
// and switches first), the first two.
func (g *guide) repairs(ch results.Trial) []spaces.Config {
	moves := g.settingMoves(g.sp.Complete(spaces.Config(ch.Params)), ch)
	return moves[:min(2, len(moves))]
}

// unexplored are the moves of regimes (settingMoves' choices and switches,
// moves from base) of a service using idleBelow of its CPU or more, to a
// value no trial has run. What another regime is worth does not show in
// utilisation (WAL fsyncs on NFS cost a busy PostgreSQL its latency, not
// its cores), and it moves the bottleneck the split is computed from, so
// each such value is measured once, before the cores are moved around the
// leader: traced studies of seed/8c16g/agent put PostgreSQL on local SSD,
// a 3-8% gain, only at trial 14-15, after eleven moves of pods computed
// from trials on NFS, and seed/8c16g/agent~v1 split the cores for NFS and
// stalled at 94.8% with the plugin daemon starved. A setting of no service
// (a pooler) is not read as busy and keeps its place among the regimes.
// Only once the idle services' cores are spent (holdsIdleCores): a regime
// chosen at the baseline, before the first split, was chosen for a system
// that no split keeps (seed/2x8c16g/retrieval: Weaviate on a dedicated node
// won at the baseline and held every later split 15% below the optimum).
func (g *guide) unexplored(regimes []spaces.Config, base spaces.Config, util map[string]float64) []spaces.Config {
	var out []spaces.Config
	for _, c := range regimes {
		if p, v, ok := g.regimeChange(c, base); ok && !g.ran[v] {
			if svc := g.owner(p); svc != "" && util[svc] >= idleBelow {
				out = append(out, c)
			}
		}
	}
	return out
}

// unrunFirst orders regimes (in their order otherwise) so that those
// setting a choice or switch to a value no trial has run come first:
// going back to a value already measured (the pooler off again) tells
// less than one never seen (PostgreSQL on local SSD).
func (g *guide) unrunFirst(regimes []spaces.Config, base spaces.Config) []spaces.Config {
	var unrun, run []spaces.Config
	for _, c := range regimes {
		if _, v, ok := g.regimeChange(c, base); ok && !g.ran[v] {
			unrun = append(unrun, c)
		} else {
			run = append(run, c)
		}
	}
	return append(unrun, run...)
}

// valuesRun is every "setting=value" of a choice or switch that a trial of
// tried ran.
func (g *guide) valuesRun(tried []results.Trial) map[string]bool {
	out := map[string]bool{}
	for _, t := range tried {
		c := g.sp.Complete(spaces.Config(t.Params))
		for _, p := range g.sp.Params {
			if p.Type == spaces.TypeBool || p.Type == spaces.TypeChoice {
				out[p.Name+"="+fmt.Sprint(c[p.Name])] = true
			}
		}
	}
	return out
}

// holdsIdleCores reports whether a service using less than idleBelow of its
// CPU runs more than its fewest, smallest pods: cores the rebalance still
// has to hand out.
func (g *guide) holdsIdleCores(c spaces.Config, util map[string]float64) bool {
	for _, s := range g.sp.Services {
		if u, ok := util[s.Name]; ok && u < idleBelow && !g.smallest(c, s.Name) {
			return true
		}
	}
	return false
}
