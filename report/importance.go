package report

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"

	"github.com/tune-dify/tune/results"
)

// ImportanceMethod names how Importance estimates a parameter's share, for
// the page to state.
const ImportanceMethod = "ε² (epsilon-squared) of a one-way ANOVA of TPS on each parameter: " +
	"choices and numbers with few values are grouped by value, other numbers into equal-count bins " +
	"(√n bins, at most 10); ε² is the share of TPS variance between the groups, corrected for the " +
	"share that chance alone gives a parameter with that many groups, and clamped at 0; " +
	"p is a permutation test (TPS shuffled 999 times): the chance of a share at least as large if the parameter did nothing; " +
	"q is p adjusted for testing every parameter at once (Benjamini–Hochberg), and a share counts when q < 0.05"

// Importance is how much of the variation in TPS one parameter explains on
// its own (its main effect), 0..1.
type Importance struct {
	Param  string  `json:"param"`
	Share  float64 `json:"share"`
	Groups int     `json:"groups"` // 1: the parameter never varied
	// P is the permutation test's p-value, Q the Benjamini–Hochberg
	// q-value over all the parameters: with thirty parameters, one or two
	// have p < 0.05 by chance alone; below 5% of those with q < 0.05 do.
	P float64 `json:"p"`
	Q float64 `json:"q"`
}

// permutations is the permutation test's size: p-values to 1/1000, small
// enough for a q-value under 0.05 across some thirty parameters.
const permutations = 999

// Significant reports whether the share is unlikely to be chance, the
// number of parameters tested taken into account.
func (im Importance) Significant() bool { return im.Q < 0.05 }

// maxBins bounds the groups of a numeric parameter: more groups than that
// leave too few trials in each to estimate a mean with ~50 trials.
const maxBins = 10

// Importances ranks params by how much of the TPS variance of the complete
// trials each explains on its own, largest first (ties by name). It is the
// bias-corrected effect size ε² = (SSB − (g−1)·MSW) / (SST + MSW) of a
// one-way ANOVA: unlike the plain share SSB/SST (η²), a parameter that does
// nothing scores about 0 whatever its number of groups. Main effects only:
// two parameters that matter only together score low. With fewer than four
// complete trials, or a TPS that never varies, it returns nil.
func Importances(trials []results.Trial, params []string) []Importance {
	var done []results.Trial
	var y []float64
	for _, t := range trials {
		if t.State == results.StateComplete && !math.IsNaN(t.Metrics.TPS) {
			done = append(done, t)
			y = append(y, t.Metrics.TPS)
		}
	}
	n := len(y)
	if n < 4 || stat.Variance(y, nil) == 0 {
		return nil
	}
	bins := min(max(int(math.Sqrt(float64(n))), 2), maxBins)
	out := make([]Importance, 0, len(params))
	// A fixed seed: the same study gives the same report.
	rng := rand.New(rand.NewPCG(1, 2))
	shuffled := make([]float64, n)
	for _, p := range params {
		groups := groupsOf(done, p, bins)
		im := Importance{Param: p, Share: epsilonSquared(y, groups), Groups: countGroups(groups), P: 1}
		if im.Share > 0 {
			atLeast := 0
			copy(shuffled, y)
			for range permutations {
				rng.Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				if epsilonSquared(shuffled, groups) >= im.Share {
					atLeast++
				}
			}
			im.P = float64(1+atLeast) / float64(1+permutations)
		}
		out = append(out, im)
	}
	adjust(out)
	slices.SortFunc(out, func(a, b Importance) int {
		return cmp.Or(cmp.Compare(b.Share, a.Share), cmp.Compare(a.Param, b.Param))
	})
	return out
}

// adjust sets each Q by the Benjamini–Hochberg step-up procedure over the
// parameters that varied: q(i) = min over j ≥ i of p(j)·m/j, p ascending.
func adjust(ims []Importance) {
	var idx []int
	for i, im := range ims {
		ims[i].Q = 1
		if im.Groups > 1 {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ims[a].P, ims[b].P) })
	m := float64(len(idx))
	q := 1.0
	for r := len(idx) - 1; r >= 0; r-- {
		q = min(q, ims[idx[r]].P*m/float64(r+1))
		ims[idx[r]].Q = q
	}
}

// groupsOf assigns each trial a group by its value of param: by value for
// strings, booleans and numbers with at most bins distinct values; else
// into bins groups of about equal count, equal values always together.
// A trial without the parameter joins the group of missing values, and
// then the parameter is grouped by value.
func groupsOf(trials []results.Trial, param string, bins int) []int {
	g := make([]int, len(trials))
	nums := make([]float64, len(trials))
	numeric := true
	distinct := map[string]int{}
	for i, t := range trials {
		v := t.Params[param]
		key := fmt.Sprintf("%T:%v", v, v)
		if _, seen := distinct[key]; !seen {
			distinct[key] = len(distinct)
		}
		g[i] = distinct[key]
		switch x := v.(type) {
		case int64:
			nums[i] = float64(x)
		case float64:
			nums[i] = x
		default:
			numeric = false // a choice, a boolean, or missing
		}
	}
	if !numeric || len(distinct) <= bins {
		return g
	}
	// Equal-count bins by rank; a run of equal values takes the bin of its
	// first member so it is never split.
	order := make([]int, len(trials))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(nums[a], nums[b]) })
	bin := 0
	for rank, i := range order {
		if rank == 0 || nums[i] != nums[order[rank-1]] {
			bin = rank * bins / len(order)
		}
		g[i] = bin
	}
	return g
}

func countGroups(g []int) int {
	seen := map[int]bool{}
	for _, x := range g {
		seen[x] = true
	}
	return len(seen)
}

// epsilonSquared is the one-way ANOVA effect size of groups on y, clamped to
// [0, 1]; 0 when there is one group or no degrees of freedom left within.
// Groups are small non-negative ints; sums run in index order so the same
// input always gives the same bits.
func epsilonSquared(y []float64, groups []int) float64 {
	n := len(y)
	size := 0
	for _, g := range groups {
		size = max(size, g+1)
	}
	sum := make([]float64, size)
	count := make([]int, size)
	for i, v := range y {
		sum[groups[i]] += v
		count[groups[i]]++
	}
	k := 0
	for _, c := range count {
		if c > 0 {
			k++
		}
	}
	if k < 2 || n-k < 1 {
		return 0
	}
	mean := stat.Mean(y, nil)
	var sst, ssb float64
	for _, v := range y {
		sst += (v - mean) * (v - mean)
	}
	for g, c := range count {
		if c > 0 {
			m := sum[g] / float64(c)
			ssb += float64(c) * (m - mean) * (m - mean)
		}
	}
	msw := (sst - ssb) / float64(n-k)
	e := (ssb - float64(k-1)*msw) / (sst + msw)
	return min(max(e, 0), 1)
}
