package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tune-dify/tune/report"
)

func newReportCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "report <study folder>",
		Short: "Write a study's HTML report (report.html) from its output folder",
		Long: `report reads a study's output folder (trials.jsonl; study.json, pareto.json and
space.yaml when present) and writes report.html into it: one self-contained page that
opens from disk with no network. It shows the recommendation in words (what changes
from the baseline, the gain, which service was the bottleneck before and after), the
Pareto front of TPS against P95, convergence by trial and by time spent, parameter
importance, CPU utilisation per service per trial, and the sortable trials table.

A study writes its report when it ends; run this for a study still running or
interrupted: the page covers the trials finished so far.`,
		Example: `  tune report tune-out/default-16c32g-chatflow
  tune report tune-out/nightly -o /tmp/nightly.html`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return badInput("report needs one study folder (e.g. tune report tune-out/default-16c32g-chatflow), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			dir := args[0]
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return badInput("%s: not a folder (want a study's output folder, e.g. tune-out/default-16c32g-chatflow)", dir)
			}
			s, err := report.Load(dir)
			if errors.Is(err, report.ErrNoTrials) {
				return badInput("%w", err)
			} else if err != nil {
				return badInput("%w", err)
			}
			path := out
			if path == "" {
				path = dir + string(os.PathSeparator) + report.HTMLFile
			}
			if err := report.Write(path, s); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s (%s)\n", path, report.Compute(s).Counts)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "file to write (default <study folder>/report.html)")
	return c
}
