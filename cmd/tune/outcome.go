package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target"
	"github.com/tune-dify/tune/target/release"
)

// writeOutcome writes pareto.json and values.yaml into the study folder and
// prints the summary. With no trial inside the SLO it says so and returns
// errSilent (exit 1): the study ran, but there is nothing to recommend.
// base, when given, is the release's values (the chart's and the user's
// files): the overlay keeps their list entries.
// best is the recommendation (nil: none), picked by recommend.
func writeOutcome(ctx context.Context, stdout io.Writer, folder *results.Folder, in *inputs, base map[string]any, trials []results.Trial, best *results.Trial) error {
	pf := results.NewParetoFile(trials, results.ModeMaxTPS, search.SLO(in.objective))
	recNumber := -1
	if best != nil {
		recNumber = best.Number
		pf.Recommended = &recNumber // a confirmed pick may differ from the single measurement's best
	}
	if err := folder.WritePareto(pf); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := results.WriteReport(stdout, trials, results.Front(trials), recNumber); err != nil {
		return err
	}
	// What an earlier run of the study recommended is stale either way.
	if err := folder.RemoveValues(release.CompanionFiles(in.space)...); err != nil {
		return err
	}
	if best == nil {
		fmt.Fprintf(stdout, "no trial met the SLO (P95 ≤ %s, errors ≤ %.1f%%): no values.yaml written; see %s\n",
			in.objective.SLOP95, 100*in.objective.MaxErrorRate, folder.File(results.TrialsJSONL))
		return errSilent
	}
	files, err := release.Export(ctx, in.space, base, *best, header(folder.Study, *best), results.ValuesYAML)
	if err != nil {
		return err
	}
	wrote := []string{folder.File(results.TrialsJSONL), folder.File(results.ParetoJSON)}
	for _, f := range files {
		if err := folder.Write(f.Name, f.Data); err != nil {
			return err
		}
		wrote = append(wrote, folder.File(f.Name))
	}
	fmt.Fprintf(stdout, "  %s\n", shortConfig(in.space, best.Params))
	if len(best.Utilisation) > 0 {
		fmt.Fprintf(stdout, "  CPU utilisation, busiest first: %s\n", utilisationLine(best.Utilisation))
	}
	fmt.Fprintf(stdout, "wrote %s\n", strings.Join(wrote, ", "))
	return nil
}

// recommend is the study's recommendation: the confirmed candidate when
// --confirm re-measured the top trials, else the highest TPS within the SLO.
func recommend(trials []results.Trial, in *inputs, confirmed int) *results.Trial {
	if confirmed >= 0 {
		for i := range trials {
			if trials[i].Number == confirmed {
				return &trials[i]
			}
		}
	}
	if rec, ok := results.Pick(trials, results.ModeMaxTPS, search.SLO(in.objective)); ok {
		return &rec
	}
	return nil
}

// header is what heads a recommendation's files.
func header(study results.StudyFile, t results.Trial) results.Header {
	return results.Header{Study: study.Study, Budget: study.Budget, Trial: t, Command: study.Command}
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
