package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/tune-dify/tune/deployer/helm"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target/release"
)

func newEvalCmd() *cobra.Command {
	o := &common{}
	var config string
	var asJSON bool
	c := &cobra.Command{
		Use:   "eval --budget B --space F --config C.yaml",
		Short: "Evaluate one configuration and print its metrics",
		Long: `eval measures one configuration, a YAML map of parameter name to value (the
names of params in trials.jsonl; spaces/presets/ holds examples). Parameters the file
leaves out take the space's current values.`,
		Example: `  tune eval --budget 16c32g --space spaces/default.yaml --config spaces/presets/s16-final.yaml
  tune eval --budget 8c16g --space spaces/default.yaml --config spaces/presets/s8-final.yaml \
       --scenario agent --json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if config == "" {
				return badInput("--config is required (e.g. --config spaces/presets/s16-final.yaml)")
			}
			if o.target == "helm" {
				return badInput("tune eval does not deploy; for one configuration on the cluster run a study: tune --target helm --trials 2 --enqueue %s ...", config)
			}
			in, err := o.load()
			if err != nil {
				return err
			}
			cfg, err := spaces.LoadConfig(config)
			if err != nil {
				return err
			}
			_, sys, err := checkConfig(in, cfg, "--config "+config)
			if err != nil {
				return err
			}
			m, err := in.evaluator.Evaluate(c.Context(), sys, in.workload)
			if err != nil {
				return fmt.Errorf("evaluate %s: %w", config, err)
			}
			usage := in.space.Usage(sys)
			res := results.Resources{CPUCores: usage.CPU.Cores(), MemoryMiB: int64(usage.Memory)}
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{
					"metrics": m.Metrics, "resources": res, "completed": m.Completed, "failed": m.Failed,
					"errors": m.Errors, "utilisation": m.Utilisation, "scenarios": m.Scenarios,
				})
			}
			mm := m.Metrics
			feasible := "meets"
			if !search.Feasible(mm, in.objective) {
				feasible = "misses"
			}
			fmt.Fprintf(out, "%s on %s, scenario %s, %d users\n", config, in.budget.Name, in.workload.Name(), in.workload.Users)
			fmt.Fprintf(out, "  TPS %.1f  P50 %.0f ms  P95 %.0f ms  P99 %.0f ms  TTFB P95 %.0f ms  errors %.2f%% (%s the SLO)\n",
				mm.TPS, mm.P50, mm.P95, mm.P99, mm.TTFBP95, 100*mm.ErrorRate, feasible)
			for _, p := range in.workload.Parts() {
				if s, ok := m.Scenarios[p.Scenario]; ok {
					fmt.Fprintf(out, "  %-10s %3d users  TPS %.1f  P95 %.0f ms  errors %.2f%%\n",
						p.Scenario, s.Users, s.Metrics.TPS, s.Metrics.P95, 100*s.Metrics.ErrorRate)
				}
			}
			fmt.Fprintf(out, "  resources %.2f CPU, %d MiB of %s\n", res.CPUCores, res.MemoryMiB, in.budget.Name)
			if len(m.Utilisation) > 0 {
				fmt.Fprintf(out, "  CPU utilisation %s\n", utilisationLine(m.Utilisation))
			}
			return nil
		},
	}
	o.register(c)
	c.Flags().StringVar(&config, "config", "", "configuration file: a YAML map of parameter name to value")
	c.Flags().BoolVar(&asJSON, "json", false, `print {"metrics": {...}, "resources": {...}} as JSON`)
	return c
}

// utilisationLine lists services by utilisation, busiest first.
func utilisationLine(u map[string]float64) string {
	names := make([]string, 0, len(u))
	for n := range u {
		names = append(names, n)
	}
	// Busiest first, ties by name: the first names the bottleneck.
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(u[b], u[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.0f%%", n, 100*u[n])
	}
	return strings.Join(parts, ", ")
}

func newExportCmd() *cobra.Command {
	var from, mode, output, base string
	var sloFlag time.Duration
	c := &cobra.Command{
		Use:   "export --from DIR -o values.yaml",
		Short: "Write a study's recommended configuration as a Helm values overlay",
		Long: `export reads a study's output folder (trials.jsonl, study.json, space.yaml) and writes
the picked trial as a values overlay that helm upgrade -f takes as it is:
  max-tps  highest TPS within the SLO (the study's own recommendation)
  knee     the knee of the SLO-feasible Pareto front of TPS against P95
  min-p95  lowest P95 within the SLO among trials with at least 90% of the max-tps TPS
With --base, list-style env blocks (api.extraEnv) keep the base file's other entries,
because Helm replaces lists instead of merging them.`,
		Example: `  tune export --from tune-out/default-16c32g-chatflow -o values.yaml
  tune export --from tune-out/default-16c32g-chatflow --pick knee --slo-p95 1s -o knee.yaml
  helm upgrade dify dify/dify -f my-values.yaml -f values.yaml`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if from == "" {
				return badInput("--from is required: a study's output folder (e.g. tune-out/default-16c32g-chatflow)")
			}
			pm, err := results.ParseMode(mode)
			if err != nil {
				return badInput("--pick: %w", err)
			}
			rec, err := results.ReadFolder(from)
			if errors.Is(err, results.ErrNotStudy) {
				return badInput("--from %w", err)
			} else if err != nil {
				return badInput("%w", err)
			}
			sp, err := spaces.Load(rec.SpaceFile)
			if err != nil {
				return err
			}
			obj := sp.Objective
			obj.SLOP95 = time.Duration(rec.Study.SLOP95Ms) * time.Millisecond
			obj.MaxErrorRate = rec.Study.MaxErrorRate
			if sloFlag > 0 {
				obj.SLOP95 = sloFlag
			}
			var baseValues map[string]any
			if base != "" {
				raw, err := os.ReadFile(base)
				if err != nil {
					return badInput("--base: %w", err)
				}
				if err := yaml.Unmarshal(raw, &baseValues); err != nil {
					return badInput("--base %s: %w", base, err)
				}
			}
			pick, ok := results.Pick(rec.Trials, pm, search.SLO(obj))
			if !ok {
				fmt.Fprintf(c.ErrOrStderr(), "tune: no trial of %s meets the SLO (P95 ≤ %s, errors ≤ %.1f%%)\n",
					from, obj.SLOP95, 100*obj.MaxErrorRate)
				return errSilent
			}
			name := results.ValuesYAML
			if output != "" && output != "-" {
				name = filepath.Base(output)
				if fi, err := os.Stat(filepath.Dir(output)); err != nil || !fi.IsDir() {
					return badInput("-o %s: no folder %s to write into", output, filepath.Dir(output))
				}
			}
			files, err := release.Export(c.Context(), sp, baseValues, pick, header(rec.Study, pick), name)
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				if _, err := c.OutOrStdout().Write(files[0].Data); err != nil {
					return err
				}
				if len(files) > 1 {
					fmt.Fprintf(c.ErrOrStderr(), "tune: trial %d also deploys %s beside the chart: export with -o FILE to write it\n",
						pick.Number, files[1].Name)
					return errSilent
				}
				return nil
			}
			var wrote []string
			for i, f := range files {
				path := output
				if i > 0 {
					path = filepath.Join(filepath.Dir(output), f.Name)
				}
				if err := results.WriteFile(path, f.Data, 0o644); err != nil {
					return err
				}
				wrote = append(wrote, path)
			}
			output = strings.Join(wrote, ", ")
			m := pick.Metrics
			fmt.Fprintf(c.OutOrStdout(), "wrote %s: trial %d (%s), TPS %.1f, P95 %.0f ms\n", output, pick.Number, pm, m.TPS, m.P95)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&from, "from", "", "a study's output folder")
	f.StringVar(&mode, "pick", "max-tps", "which trial: max-tps, knee or min-p95")
	f.DurationVar(&sloFlag, "slo-p95", 0, "P95 SLO for the pick (default: the study's)")
	f.StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	f.StringVar(&base, "base", "", "your release's values file: list-style env entries it holds are kept")
	return c
}

func newValidateCmd() *cobra.Command {
	var spaceFile, budget, target, chart string
	c := &cobra.Command{
		Use:   "validate --space F [--budget B] [--target helm]",
		Short: "Check a space file (and that its smallest configuration fits a budget)",
		Long: `validate checks a space file and, with --budget, that its smallest configuration
fits. With --target helm it also renders the space's chart (no cluster needed) with the
smallest and the largest value of each parameter and lists every values path that
changes nothing in the rendered manifests: a typo'd path, or a key the chart ignores.`,
		Example: `  tune validate --space spaces/default.yaml
  tune validate --space spaces/default.yaml --budget 2x8c16g
  tune validate --space spaces/default.yaml --target helm --chart ./charts/dify`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if spaceFile == "" {
				return badInput("--space is required (e.g. --space spaces/default.yaml)")
			}
			var b *spaces.Budget
			if budget != "" {
				pb, err := spaces.ParseBudget(budget)
				if err != nil {
					return badInput("--budget: %w", err)
				}
				b = &pb
			}
			sp, err := spaces.Load(spaceFile)
			if err != nil {
				return err
			}
			if err := sp.Validate(b); err != nil {
				return err
			}
			dims := len(search.NewEncoding(sp, spaces.Budget{}, false).SearchSpace())
			out := c.OutOrStdout()
			fmt.Fprintf(out, "%s: ok: %d services, %d parameters, %d search dimensions\n",
				spaceFile, len(sp.Services), len(sp.ParamNames()), dims)
			printUnread(out, target, false, sp)
			if b != nil {
				sys, err := sp.Resolve(*b, sp.Smallest())
				if err != nil {
					return err
				}
				u := sp.Usage(sys)
				fmt.Fprintf(out, "smallest configuration uses %.2f CPU and %d MiB of %s (reserved %.2f CPU, %d MiB)\n",
					u.CPU.Cores(), u.Memory, b.Name, sp.Reserved.CPU.Cores(), sp.Reserved.Memory)
			}
			switch target {
			case "", "sim", "local":
				return nil
			case "helm":
				return validatePaths(c.Context(), out, sp, chart)
			}
			return badInput("--target %q: want sim, local or helm", target)
		},
	}
	c.Flags().StringVar(&spaceFile, "space", "", "search space file")
	c.Flags().StringVar(&budget, "budget", "", "also check against this budget, e.g. 16c32g or 2x8c16g")
	c.Flags().StringVar(&target, "target", "", "helm: also render the chart and report values paths that change nothing")
	c.Flags().StringVar(&chart, "chart", "", "with --target helm: a local chart folder or .tgz instead of the space's target.helm.chart")
	return c
}

// validatePaths renders the space's chart at each parameter's extremes and
// reports the values paths that change nothing; any is exit 1.
func validatePaths(ctx context.Context, out io.Writer, sp *spaces.Space, chart string) error {
	opts := helm.Options{}
	var err error
	if opts.Chart, err = chartFlag(chart); err != nil {
		return err
	}
	d, err := helm.New(ctx, sp, opts)
	if err != nil {
		return badInput("--target helm: %w", err)
	}
	problems, err := d.CheckPaths(ctx)
	if err != nil {
		return err
	}
	if len(problems) == 0 {
		fmt.Fprintln(out, "helm: every values path of every parameter changes the rendered manifests")
	} else {
		fmt.Fprintf(out, "helm: %d values paths change nothing in the rendered manifests:\n", len(problems))
		for _, p := range problems {
			fmt.Fprintf(out, "  %s\n", p)
		}
	}
	// A chart version that adds a container the space does not bound is
	// named here, not discovered on the cluster.
	unbounded, err := d.Bounds(ctx)
	if err != nil {
		return err
	}
	if len(unbounded) == 0 {
		fmt.Fprintln(out, "helm: at the smallest and the largest configuration every long-running container is bounded by the space")
	} else {
		fmt.Fprintf(out, "helm: %d containers the space does not bound:\n", len(unbounded))
		for _, u := range unbounded {
			fmt.Fprintf(out, "  %s\n", u)
		}
	}
	if len(problems) > 0 || len(unbounded) > 0 {
		return errSilent
	}
	return nil
}
