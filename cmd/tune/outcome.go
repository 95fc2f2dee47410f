package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// slo is the objective as results' SLO.
func slo(obj spaces.Objective) results.SLO {
	return results.SLO{P95: obj.SLOP95, MaxErrorRate: obj.MaxErrorRate}
}

// writeOutcome writes pareto.json and values.yaml into out and prints the
// summary. With no trial inside the SLO it says so and returns errSilent
// (exit 1): the study ran, but there is nothing to recommend.
func writeOutcome(stdout io.Writer, out string, in *inputs, meta studyMeta, trials []results.Trial) error {
	pf := results.NewParetoFile(trials, results.ModeMaxTPS, slo(in.objective))
	if err := results.WritePareto(filepath.Join(out, "pareto.json"), pf); err != nil {
		return err
	}
	rec, ok := results.Pick(trials, results.ModeMaxTPS, slo(in.objective))
	recNumber := -1
	if ok {
		recNumber = rec.Number
	}
	fmt.Fprintln(stdout)
	if err := results.WriteReport(stdout, trials, results.Front(trials), recNumber); err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(stdout, "\nno trial met the SLO (P95 ≤ %s, errors ≤ %.1f%%): no values.yaml written; see %s\n",
			in.objective.SLOP95, 100*in.objective.MaxErrorRate, filepath.Join(out, "trials.jsonl"))
		os.Remove(filepath.Join(out, "values.yaml"))
		return errSilent
	}
	path := filepath.Join(out, "values.yaml")
	if err := writeValues(path, in.space, nil, rec, meta); err != nil {
		return err
	}
	m := rec.Metrics
	fmt.Fprintf(stdout, "\nrecommended: trial %d, TPS %.1f, P95 %.0f ms, errors %.2f%%\n  %s\nwrote %s, %s, %s\n",
		rec.Number, m.TPS, m.P95, 100*m.ErrorRate, shortConfig(in.space, rec.Params),
		filepath.Join(out, "trials.jsonl"), filepath.Join(out, "pareto.json"), path)
	return nil
}

// writeValues renders the trial's overlay (merged into base's lists when
// given) with its provenance header; path "" or "-" writes to w.
func writeValues(path string, sp *spaces.Space, base map[string]any, t results.Trial, meta studyMeta) error {
	var buf bytes.Buffer
	if err := renderValues(&buf, sp, base, t, meta, filepath.Base(path)); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}

func renderValues(w io.Writer, sp *spaces.Space, base map[string]any, t results.Trial, meta studyMeta, file string) error {
	overlay, err := sp.Overlay(spaces.Config(t.Params), base)
	if err != nil {
		return fmt.Errorf("values for trial %d: %w", t.Number, err)
	}
	return results.WriteValues(w, overlay, results.Header{
		Study: meta.Study, Budget: meta.Budget, Trial: t, Command: meta.Command, File: file,
	})
}

// progressLine is the line printed as each trial finishes.
func progressLine(sp *spaces.Space, t results.Trial, best *results.Trial, total int) string {
	var res string
	switch t.State {
	case results.StateComplete:
		m := t.Metrics
		res = fmt.Sprintf("TPS %6.1f  P95 %6.0f ms  err %5.2f%%", m.TPS, m.P95, 100*m.ErrorRate)
	default:
		res = fmt.Sprintf("%s: %s", t.State, t.Error)
	}
	b := "best —"
	if best != nil {
		b = fmt.Sprintf("best %.1f (#%d)", best.Metrics.TPS, best.Number)
	}
	return fmt.Sprintf("trial %*d/%d  %-8s %s | %s | %s", len(fmt.Sprint(total)), t.Number+1, total,
		t.Origin, shortConfig(sp, t.Params), res, b)
}

// shortConfig writes a configuration in one line: services as
// replicas×cores/memory, then the other parameters by their last name part.
func shortConfig(sp *spaces.Space, params map[string]any) string {
	var parts []string
	for _, s := range sp.Services {
		r, _ := params[s.Name+".replicas"].(int64)
		cpu, _ := params[s.Name+".cpu"].(float64)
		mem, _ := params[s.Name+".memory"].(int64)
		p := fmt.Sprintf("%s %gc/%s", s.Name, cpu, memShort(mem))
		if s.Replicas.Max > s.Replicas.Min || r != 1 {
			p = fmt.Sprintf("%s %d×%gc/%s", s.Name, r, cpu, memShort(mem))
		}
		parts = append(parts, p)
	}
	names := make([]string, 0, len(sp.Params))
	for _, p := range sp.Params {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%v", n, params[n]))
	}
	return strings.Join(parts, " ")
}

func memShort(mib int64) string {
	if mib%1024 == 0 {
		return fmt.Sprintf("%dG", mib/1024)
	}
	return fmt.Sprintf("%.1fG", float64(mib)/1024)
}

// durationMs formats milliseconds as a duration for messages.
func durationMs(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
