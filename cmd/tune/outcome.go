package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target"
)

// writeOutcome writes pareto.json and values.yaml into the study folder and
// prints the summary. With no trial inside the SLO it says so and returns
// errSilent (exit 1): the study ran, but there is nothing to recommend.
func writeOutcome(stdout io.Writer, folder *results.Folder, in *inputs, trials []results.Trial) error {
	slo := search.SLO(in.objective)
	if err := folder.WritePareto(results.NewParetoFile(trials, results.ModeMaxTPS, slo)); err != nil {
		return err
	}
	rec, ok := results.Pick(trials, results.ModeMaxTPS, slo)
	recNumber := -1
	if ok {
		recNumber = rec.Number
	}
	fmt.Fprintln(stdout)
	if err := results.WriteReport(stdout, trials, results.Front(trials), recNumber); err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(stdout, "no trial met the SLO (P95 ≤ %s, errors ≤ %.1f%%): no values.yaml written; see %s\n",
			in.objective.SLOP95, 100*in.objective.MaxErrorRate, folder.File(results.TrialsJSONL))
		if err := folder.RemoveValues(); err != nil {
			return err
		}
		return errSilent
	}
	var buf bytes.Buffer
	if err := renderValues(&buf, in.space, nil, rec, folder.Study, results.ValuesYAML); err != nil {
		return err
	}
	if err := folder.WriteValues(buf.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %s\n", shortConfig(in.space, rec.Params))
	if len(rec.Utilisation) > 0 {
		fmt.Fprintf(stdout, "  CPU utilisation, busiest first: %s\n", utilisationLine(rec.Utilisation))
	}
	fmt.Fprintf(stdout, "wrote %s, %s, %s\n", folder.File(results.TrialsJSONL), folder.File(results.ParetoJSON), folder.File(results.ValuesYAML))
	return nil
}

// renderValues writes the trial's overlay (merged into base's lists when
// given) with its provenance header.
func renderValues(w io.Writer, sp *spaces.Space, base map[string]any, t results.Trial, study results.StudyFile, file string) error {
	overlay, err := sp.Overlay(spaces.Config(t.Params), base)
	if err != nil {
		return fmt.Errorf("values for trial %d: %w", t.Number, err)
	}
	return results.WriteValues(w, overlay, results.Header{
		Study: study.Study, Budget: study.Budget, Trial: t, Command: study.Command, File: file,
	})
}

// shortConfig writes a configuration in one line, grouped by the name
// before the first dot: a service as replicas×cores/memory followed by its
// other parameters ("api 3×2c/2G workers=2 dbPoolSize=10"), then the groups
// that are not services ("pgbouncer enabled=true poolSize=100").
func shortConfig(sp *spaces.Space, params map[string]any) string {
	groups := map[string][]string{}
	var order []string
	for _, name := range sp.ParamNames() {
		group, rest, _ := strings.Cut(name, ".")
		if _, ok := groups[group]; !ok {
			order = append(order, group)
			groups[group] = nil
		}
		switch rest {
		case "replicas", "cpu", "memory":
			continue // services are written whole below
		}
		groups[group] = append(groups[group], fmt.Sprintf("%s=%v", rest, params[name]))
	}
	services := map[string]spaces.Service{}
	for _, s := range sp.Services {
		services[s.Name] = s
	}
	parts := make([]string, 0, len(order))
	for _, g := range order {
		head := g
		if s, ok := services[g]; ok {
			r, _ := params[g+".replicas"].(int64)
			cpu, _ := params[g+".cpu"].(float64)
			mem, _ := params[g+".memory"].(int64)
			head = fmt.Sprintf("%s %gc/%s", g, cpu, memShort(mem))
			if s.Replicas.Max > s.Replicas.Min || r != 1 {
				head = fmt.Sprintf("%s %d×%gc/%s", g, r, cpu, memShort(mem))
			}
		}
		parts = append(parts, strings.Join(append([]string{head}, groups[g]...), " "))
	}
	return strings.Join(parts, " · ")
}

func memShort(mib int64) string {
	return strconv.FormatFloat(float64(mib)/1024, 'f', -1, 64) + "G"
}

// printUnread says which of the space's parameters the target ignores and
// which of its own settings the space lacks, by name.
func printUnread(w io.Writer, targetName string, emulate bool, sp *spaces.Space) {
	if targetName == "helm" && !emulate {
		return // the chart reads its values paths: validate --target helm checks them
	}
	u := target.ModelUnread(sp)
	if len(u.Ignored) > 0 {
		fmt.Fprintf(w, "the embedded model ignores: %s\n", strings.Join(u.Ignored, ", "))
	}
	if len(u.Defaulted) > 0 {
		fmt.Fprintf(w, "the embedded model runs at its defaults (not in the space): %s\n", strings.Join(u.Defaulted, ", "))
	}
}
