package results

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Counts is how many trials ended in each state. Screened counts the
// complete trials measured only by a screen, Promoted the full loads of
// screened configurations (both among Complete).
type Counts struct {
	Total, Complete, Failed, Pruned int
	Screened                        int `json:",omitempty"`
	Promoted                        int `json:",omitempty"`
}

// Summary counts trials by state. Records with any other state count only
// in Total.
func Summary(trials []Trial) Counts {
	c := Counts{Total: len(trials)}
	for _, t := range trials {
		switch t.State {
		case StateComplete:
			c.Complete++
			if t.Screened() {
				c.Screened++
			}
			if t.Origin == OriginPromoted {
				c.Promoted++
			}
		case StateFailed:
			c.Failed++
		case StatePruned:
			c.Pruned++
		}
	}
	return c
}

// String reads "12 trials: 9 complete, 2 failed, 1 pruned", and with
// screening "12 trials: 9 complete (5 by a screen only, 2 promoted to the
// full load), 2 failed, 1 pruned".
func (c Counts) String() string {
	noun := "trials"
	if c.Total == 1 {
		noun = "trial"
	}
	complete := strconv.Itoa(c.Complete) + " complete"
	if c.Screened > 0 || c.Promoted > 0 {
		complete += fmt.Sprintf(" (%d by a screen only, %d promoted to the full load)", c.Screened, c.Promoted)
	}
	return fmt.Sprintf("%d %s: %s, %d failed, %d pruned", c.Total, noun, complete, c.Failed, c.Pruned)
}

// maxErrorWidth keeps a failed trial's error on one readable line; the full
// text is in trials.jsonl.
const maxErrorWidth = 100

// WriteReport writes the plain-text summary the CLI prints after a study:
// the counts, one row per trial in number order (failed and pruned trials
// show "-" for metrics; a trial measured only by a screen reads "screen
// 20s" as its state, a promotion names its screen), '*' marking the front, the recommended trial
// (recommended < 0: none met the SLO) and each failed trial's error.
func WriteReport(w io.Writer, trials, front []Trial, recommended int) error {
	var b bytes.Buffer
	fmt.Fprintln(&b, Summary(trials))
	fmt.Fprintln(&b)

	onFront := make(map[int]bool, len(front))
	for _, t := range front {
		onFront[t.Number] = true
	}
	sorted := slices.SortedFunc(slices.Values(trials), func(a, b Trial) int { return cmp.Compare(a.Number, b.Number) })

	tab := table{
		head:  []string{"trial", "origin", "state", "TPS", "P95 ms", "p99 ms", "err%", "CPU", "MiB", "front"},
		right: []bool{true, false, false, true, true, true, true, true, true, false},
	}
	var rec *Trial
	for i, t := range sorted {
		if t.Number == recommended {
			rec = &sorted[i]
		}
		origin, state := string(t.Origin), string(t.State)
		if t.PromotedFrom != nil {
			origin = fmt.Sprintf("%s #%d", t.Origin, *t.PromotedFrom)
		}
		if t.State == StateComplete && t.Screened() {
			state = "screen " + (time.Duration(t.ScreenS * float64(time.Second))).String()
		}
		row := []string{strconv.Itoa(t.Number), origin, state}
		if t.State == StateComplete {
			m := t.Metrics
			row = append(row, f1(m.TPS), f0(m.P95), f0(m.P99), fmt.Sprintf("%.2f", 100*m.ErrorRate))
		} else {
			row = append(row, "-", "-", "-", "-")
		}
		row = append(row, f1(t.Resources.CPUCores), strconv.FormatInt(t.Resources.MemoryMiB, 10))
		mark := ""
		if onFront[t.Number] {
			mark = "*"
		}
		tab.rows = append(tab.rows, append(row, mark))
	}
	tab.write(&b)

	fmt.Fprintln(&b)
	switch {
	case rec != nil:
		m := rec.Metrics
		fmt.Fprintf(&b, "recommended: trial %d (TPS %.1f, P95 %.0f ms, error rate %.2f%%)\n",
			rec.Number, m.TPS, m.P95, 100*m.ErrorRate)
	case recommended >= 0:
		fmt.Fprintf(&b, "recommended: trial %d\n", recommended)
	default:
		fmt.Fprintln(&b, "recommended: none (no complete trial meets the SLO)")
	}

	first := true
	for _, t := range sorted {
		if t.State != StateFailed {
			continue
		}
		if first {
			fmt.Fprintln(&b, "\nfailed:")
			first = false
		}
		fmt.Fprintf(&b, "  trial %d: %s\n", t.Number, clip(oneLine(cmp.Or(t.Error, "(no error recorded)")), maxErrorWidth))
	}
	_, err := w.Write(b.Bytes())
	return err
}

func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// table aligns columns by their widest cell: text left, numbers right.
type table struct {
	head  []string
	right []bool
	rows  [][]string
}

func (t table) write(w io.Writer) {
	width := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range append([][]string{t.head}, t.rows...) {
		cells := make([]string, len(r))
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if t.right[i] {
				cells[i] = pad + c
			} else {
				cells[i] = c + pad
			}
		}
		fmt.Fprintln(w, strings.TrimRight(strings.Join(cells, "  "), " "))
	}
}
