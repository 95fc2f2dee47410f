package spaces

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Placement: a choice setting named "<service>.placement" whose value is
// Dedicated gives that service's pods nodes of their own (Weaviate away from
// CPU-hungry neighbours). The capacity those nodes do not use is stranded,
// so the budget counts it as spent.
const (
	PlacementSuffix = ".placement"
	Dedicated       = "dedicated"
)

// dedicated reports whether svc's pods get nodes of their own in sys.
func dedicated(sys System, svc string) bool {
	return sys.String(svc+PlacementSuffix, "") == Dedicated
}

// reservedShare is what the reserved components take from each of n nodes,
// rounded up so that n shares always cover the whole.
func reservedShare(r Resources, n int) Resources {
	return Resources{
		CPU:    (r.CPU + Millicores(n) - 1) / Millicores(n),
		Memory: (r.Memory + Mebibytes(n) - 1) / Mebibytes(n),
	}
}

// Usage is what sys spends of its budget: reserved, plus every service's
// replicas × (CPU, memory), plus capacity stranded by dedicated placement
// (with a node pool, the whole of each dedicated node; without one, the
// rounding of the dedicated service up to whole cores and whole GiB). It is
// the "resources" figure of a trial, feasible or not.
func (s *Space) Usage(sys System) Resources {
	u, _ := account(sys)
	return u
}

// Check reports whether sys fits its budget: total usage within the budget
// and, for a node pool, every pod placed on a node (first-fit decreasing,
// after each node gives its share of the reserved resources; dedicated
// services first, on nodes of their own). The error says what does not fit
// and by how much ("needs 17.5 CPU, budget 16c32g has 16") and matches
// ErrInfeasible and ErrInvalid.
func (s *Space) Check(sys System) error {
	_, problems := account(sys)
	if len(problems) == 0 {
		return nil
	}
	return infeasible(strings.Join(problems, "; "))
}

// account computes Usage and the problems Check reports.
func account(sys System) (Resources, []string) {
	b := sys.Budget
	names := make([]string, 0, len(sys.Services))
	for name := range sys.Services {
		names = append(names, name)
	}
	slices.Sort(names)

	use := sys.Reserved
	var problems []string
	if b.Nodes <= 0 {
		for _, name := range names {
			t := sys.Services[name].Total()
			if dedicated(sys, name) && t != (Resources{}) {
				t = Resources{CPU: roundUp(t.CPU, 1000), Memory: roundUp(t.Memory, 1024)}
			}
			use = use.Add(t)
		}
		return use, overBudget(use, b)
	}

	share := reservedShare(sys.Reserved, b.Nodes)
	if !share.Fits(b.Node) {
		problems = append(problems, fmt.Sprintf("reserved takes %s from each node, a node of %s has %s",
			amount(share), b, amount(b.Node)))
		for _, name := range names {
			use = use.Add(sys.Services[name].Total())
		}
		return use, problems
	}
	free := Resources{CPU: b.Node.CPU - share.CPU, Memory: b.Node.Memory - share.Memory}
	nodesLeft := b.Nodes
	var shared []pod
	var unplaced []string
	for _, name := range names {
		a := sys.Services[name]
		p := pod{name, Resources{CPU: a.CPU, Memory: a.Memory}}
		if a.Replicas <= 0 {
			continue
		}
		if !dedicated(sys, name) {
			for range a.Replicas {
				shared = append(shared, p)
			}
			use = use.Add(a.Total())
			continue
		}
		if !p.size.Fits(free) {
			use = use.Add(a.Total())
			unplaced = append(unplaced, tooBig(p, b, free))
			continue
		}
		perNode := min(perNodeCount(free.CPU, p.size.CPU), perNodeCount(free.Memory, p.size.Memory))
		n := (a.Replicas + perNode - 1) / perNode
		use = use.Add(free.Times(n))
		if n > nodesLeft {
			unplaced = append(unplaced, fmt.Sprintf("%s needs %d dedicated node(s), %s has %d left", name, n, b, nodesLeft))
		}
		nodesLeft = max(nodesLeft-n, 0)
	}
	if problems = overBudget(use, b); len(problems) > 0 {
		return use, problems // packing can only fail too; the totals say more
	}
	return use, append(unplaced, pack(shared, nodesLeft, free, b)...)
}

// pod is one replica of a service.
type pod struct {
	svc  string
	size Resources
}

// pack places pods on n nodes of capacity free, first-fit decreasing by the
// larger of a pod's CPU and memory shares of a node, and describes the pods
// that found no node.
func pack(pods []pod, n int, free Resources, b Budget) []string {
	weight := func(p pod) float64 {
		return max(float64(p.size.CPU)/float64(max(free.CPU, 1)), float64(p.size.Memory)/float64(max(free.Memory, 1)))
	}
	slices.SortStableFunc(pods, func(x, y pod) int {
		if c := cmp.Compare(weight(y), weight(x)); c != 0 {
			return c
		}
		return cmp.Compare(x.svc, y.svc)
	})
	nodes := make([]Resources, n)
	for i := range nodes {
		nodes[i] = free
	}
	left := map[string]int{}
	var order []pod
	for _, p := range pods {
		placed := false
		for i := range nodes {
			if p.size.Fits(nodes[i]) {
				nodes[i].CPU -= p.size.CPU
				nodes[i].Memory -= p.size.Memory
				placed = true
				break
			}
		}
		if !placed {
			if left[p.svc] == 0 {
				order = append(order, p)
			}
			left[p.svc]++
		}
	}
	// The node with the most CPU left says by how much the pods miss.
	var most Resources
	for _, r := range nodes {
		if r.CPU > most.CPU || (r.CPU == most.CPU && r.Memory > most.Memory) {
			most = r
		}
	}
	var problems []string
	for _, p := range order {
		if !p.size.Fits(free) {
			problems = append(problems, tooBig(p, b, free))
			continue
		}
		problems = append(problems, fmt.Sprintf("%d %s pod(s) of %s find no node of %s with room left (most on one node: %s)",
			left[p.svc], p.svc, amount(p.size), b, amount(most)))
	}
	return problems
}

func tooBig(p pod, b Budget, free Resources) string {
	return fmt.Sprintf("a %s pod needs %s, a node of %s has %s after reserved", p.svc, amount(p.size), b, amount(free))
}

// overBudget compares total usage with the budget's total.
func overBudget(use Resources, b Budget) []string {
	var problems []string
	if use.CPU > b.Total.CPU {
		problems = append(problems, fmt.Sprintf("needs %s CPU, budget %s has %s", formatCores(use.CPU), b, formatCores(b.Total.CPU)))
	}
	if use.Memory > b.Total.Memory {
		problems = append(problems, fmt.Sprintf("needs %s memory, budget %s has %s", formatGiB(use.Memory), b, formatGiB(b.Total.Memory)))
	}
	return problems
}

func amount(r Resources) string {
	return formatCores(r.CPU) + " CPU, " + formatGiB(r.Memory)
}

func roundUp[T ~int64](v, unit T) T { return (v + unit - 1) / unit * unit }

// perNodeCount is how many pods of size need fit in free (need > 0 assumed
// unless zero, which never limits).
func perNodeCount[T ~int64](free, need T) int {
	if need <= 0 {
		return maxReplicas
	}
	return int(free / need)
}
