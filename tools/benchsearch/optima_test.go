package main

import (
	"math"
	"slices"
	"testing"

	"github.com/tune-dify/tune/spaces"
)

// TestClimbReachesFewerLargerPods: the optimum search's climb moves a
// service's cores into another pod count with its processes and memory
// kept in total, and memory from one service to another within the budget.
// Without them a spent budget walls the climb off from one large api pod
// with many workers and a lot of memory, the optimum of agent loads.
func TestClimbReachesFewerLargerPods(t *testing.T) {
	chdirRoot(t)
	p, err := load(benchCase{Space: "spaces/seed.yaml", Budget: "8c16g", Scenario: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	c := p.sp.Baseline()
	c["api.replicas"], c["api.cpu"], c["api.workers"], c["api.memory"] = int64(2), 1.5, int64(3), int64(3072)
	spreadMemory(p, c)
	used := memoryUsed(p, c)
	ns := neighbours(p, c)

	one := slices.IndexFunc(ns, func(n spaces.Config) bool { return n["api.replicas"] == int64(1) && toF(n["api.cpu"]) > 1.5 })
	if one < 0 {
		t.Fatal("no neighbour puts the api's cores into one pod")
	}
	n := ns[one]
	if got := toF(n["api.cpu"]); math.Abs(got-3) > 1e-9 {
		t.Errorf("one api pod of %.2f CPU, want the two pods' 3", got)
	}
	if got, want := n["api.workers"], int64(6); got != want {
		t.Errorf("one api pod runs %v workers, want the two pods' %d", got, want)
	}
	if got, want := n["api.memory"], 2*c["api.memory"].(int64); got != want {
		t.Errorf("one api pod has %v MiB, want the two pods' %d", got, want)
	}

	moved := 0
	for _, n := range ns {
		if n["api.replicas"] == c["api.replicas"] && n["api.memory"].(int64) > c["api.memory"].(int64) && n["api.cpu"] == c["api.cpu"] {
			moved++
			if got := memoryUsed(p, n); got > p.b.Total.Memory {
				t.Errorf("a memory move to the api uses %d MiB of a %d MiB budget", got, p.b.Total.Memory)
			}
		}
	}
	if moved == 0 {
		t.Errorf("with the memory budget spent (%d of %d MiB), no neighbour gives the api memory from another service", used, p.b.Total.Memory)
	}
}

func memoryUsed(p *problem, c spaces.Config) spaces.Mebibytes {
	sys, err := p.sp.Resolve(p.b, c)
	if err != nil {
		return math.MaxInt64
	}
	return p.sp.Usage(sys).Memory
}
