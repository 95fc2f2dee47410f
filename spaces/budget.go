package spaces

import (
	"regexp"
	"strconv"
	"strings"
)

// maxNodes bounds node pools; packing is quadratic in it.
const maxNodes = 10_000

var budgetSyntax = regexp.MustCompile(`^(?:([0-9]+)x)?([0-9.]+)c([0-9.]+)g$`)

// ParseBudget parses "16c32g" (16 cores, 32 GiB, no node structure) or a
// node pool "2x8c16g" (2 nodes of 8 cores and 16 GiB). Fractions are allowed
// ("1.5c3.5g"); "g" is GiB. Case and surrounding space are ignored.
func ParseBudget(s string) (Budget, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	m := budgetSyntax.FindStringSubmatch(t)
	if m == nil || len(s) > maxQuantity {
		return Budget{}, invalidf("budget %q: want <cores>c<GiB>g or <nodes>x<cores>c<GiB>g, e.g. 16c32g or 2x8c16g", s)
	}
	cpu, err := ParseCPU(m[2])
	if err != nil {
		return Budget{}, invalidf("budget %q: %v", s, err)
	}
	mem, err := ParseMemory(m[3] + "Gi")
	if err != nil {
		return Budget{}, invalidf("budget %q: %v", s, err)
	}
	if cpu == 0 || mem == 0 {
		return Budget{}, invalidf("budget %q: cores and memory must be > 0", s)
	}
	b := Budget{Name: strings.TrimSpace(s), Total: Resources{CPU: cpu, Memory: mem}}
	if m[1] != "" {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > maxNodes {
			return Budget{}, invalidf("budget %q: node count must be 1..%d", s, maxNodes)
		}
		b.Nodes, b.Node = n, b.Total
		b.Total = b.Node.Times(n)
		if b.Total.CPU > maxMillicores || b.Total.Memory > maxMebibytes {
			return Budget{}, invalidf("budget %q: too large", s)
		}
	}
	return b, nil
}

// String is the budget as the user wrote it, or its canonical form
// ("16c32g", "2x8c16g") for a Budget built in code.
func (b Budget) String() string {
	if b.Name != "" {
		return b.Name
	}
	one := b.Total
	prefix := ""
	if b.Nodes > 0 {
		one, prefix = b.Node, strconv.Itoa(b.Nodes)+"x"
	}
	return prefix + formatCores(one.CPU) + "c" + exactDecimal(int64(one.Memory), 1024) + "g"
}
