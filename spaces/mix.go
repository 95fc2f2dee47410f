package spaces

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Mix is a mixed load: the scenarios a deployment serves at once, each with
// its weight in the users, as Locust splits its users by user-class
// weight. A space writes it as a mapping (load.mix: {chatflow: 60, agent:
// 30, retrieval: 10}); --scenario takes it as chatflow=60,agent=30,retrieval=10.
// Weights are relative: 6/3/1 is the same mix as 60/30/10.
type Mix map[string]int

// maxWeight bounds one weight, so a split's period stays small.
const maxWeight = 10_000

// Part is one scenario of a load and its weight.
type Part struct {
	Scenario string
	Weight   int
}

// Parts lists the mix's scenarios in the order of Scenarios (then by name,
// for names Validate refuses), so the same mix always splits the same way
// whatever order the file wrote it in.
func (m Mix) Parts() []Part {
	names := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		ia, ib := scenarioRank(a), scenarioRank(b)
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	parts := make([]Part, len(names))
	for i, n := range names {
		parts[i] = Part{Scenario: n, Weight: m[n]}
	}
	return parts
}

func scenarioRank(name string) int {
	if i := slices.Index(Scenarios, name); i >= 0 {
		return i
	}
	return len(Scenarios)
}

// String is the mix as --scenario takes it, in Parts' order:
// "chatflow=60,agent=30,retrieval=10".
func (m Mix) String() string {
	var b strings.Builder
	for i, p := range m.Parts() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.Scenario)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(p.Weight))
	}
	return b.String()
}

// problems lists what is wrong with m, each with the mix key it is about
// ("" for the whole mix).
func (m Mix) problems() (keys, msgs []string) {
	if len(m) == 0 {
		return []string{""}, []string{"want at least one scenario and its weight, e.g. {chatflow: 60, agent: 30, retrieval: 10}"}
	}
	for _, p := range m.Parts() {
		switch {
		case !slices.Contains(Scenarios, p.Scenario):
			keys = append(keys, p.Scenario)
			msgs = append(msgs, fmt.Sprintf("%q is not a scenario: want %s", p.Scenario, strings.Join(Scenarios, ", ")))
		case p.Weight < 1 || p.Weight > maxWeight:
			keys = append(keys, p.Scenario)
			msgs = append(msgs, fmt.Sprintf("weight %d outside 1..%d (leave a scenario out rather than weigh it 0)", p.Weight, maxWeight))
		}
	}
	return keys, msgs
}

// ParseMix reads a mix as --scenario takes it: scenario=weight pairs
// separated by commas, such as chatflow=60,agent=30,retrieval=10. Every
// error matches ErrInvalid.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for part := range strings.SplitSeq(s, ",") {
		name, weight, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		w, err := strconv.Atoi(strings.TrimSpace(weight))
		if !ok || name == "" || err != nil {
			return nil, invalidf("%q: want scenario=weight pairs separated by commas, e.g. chatflow=60,agent=30,retrieval=10", part)
		}
		if _, dup := m[name]; dup {
			return nil, invalidf("%s is weighed twice", name)
		}
		m[name] = w
	}
	if _, msgs := m.problems(); len(msgs) > 0 {
		return nil, invalidf("%s", strings.Join(msgs, "; "))
	}
	return m, nil
}

// Split assigns virtual users to the parts of a load by weight, the same
// way wherever users are made (the model's and the loader's), so both run
// the same load. User i's part is fixed by its number alone, and users are
// interleaved (nginx's smooth weighted round robin): the first n users of
// any spawn ramp hold each part's share to within one user, as Locust's
// dispatcher spreads user classes while it spawns.
type Split struct {
	parts []Part
	cycle []int // part indices of one period; users repeat it
}

// NewSplit is the split of parts (one part: every user runs it). Weights
// below 1 count as 1.
func NewSplit(parts []Part) Split {
	g := 0
	for _, p := range parts {
		g = gcd(g, max(1, p.Weight))
	}
	total := 0
	w := make([]int, len(parts))
	for i, p := range parts {
		w[i] = max(1, p.Weight) / max(1, g)
		total += w[i]
	}
	cycle := make([]int, 0, total)
	current := make([]int, len(parts))
	for range total {
		best := 0
		for i := range parts {
			current[i] += w[i]
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		cycle = append(cycle, best)
	}
	return Split{parts: parts, cycle: cycle}
}

// Of is the index in the parts of user i (0-based).
func (s Split) Of(i int) int {
	if len(s.cycle) == 0 || i < 0 {
		return 0
	}
	return s.cycle[i%len(s.cycle)]
}

// Counts is how many of n users each part gets.
func (s Split) Counts(n int) []int {
	c := make([]int, len(s.parts))
	for i := range n {
		c[s.Of(i)]++
	}
	return c
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Mixed reports whether w is a mixed load.
func (w Workload) Mixed() bool { return len(w.Mix) > 0 }

// Name is the load's scenario, or its mix as --scenario takes it: what a
// study's name and records call the load.
func (w Workload) Name() string {
	if w.Mixed() {
		return w.Mix.String()
	}
	return w.Scenario
}

// Parts are the load's scenarios and weights: the mix's, or the one
// scenario with weight 1.
func (w Workload) Parts() []Part {
	if w.Mixed() {
		return w.Mix.Parts()
	}
	return []Part{{Scenario: w.Scenario, Weight: 1}}
}

// WithScenario is w running spec instead of its own scenario or mix: a
// scenario name (one of Scenarios) or a mix (ParseMix). Every error matches
// ErrInvalid.
func (w Workload) WithScenario(spec string) (Workload, error) {
	if strings.Contains(spec, "=") {
		m, err := ParseMix(spec)
		if err != nil {
			return w, err
		}
		w.Scenario, w.Mix = "", m
		return w, nil
	}
	if !slices.Contains(Scenarios, spec) {
		return w, invalidf("%q: want one of %s, or a mix such as chatflow=60,agent=30,retrieval=10", spec, strings.Join(Scenarios, ", "))
	}
	w.Scenario, w.Mix = spec, nil
	return w, nil
}
