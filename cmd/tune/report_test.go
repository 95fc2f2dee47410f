package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// copyStudy copies the report package's fixture study folder into a
// temporary one.
func copyStudy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "report", "testdata", "study")
	for _, f := range []string{"trials.jsonl", "study.json", "pareto.json", "space.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReportCommand(t *testing.T) {
	dir := copyStudy(t)
	stdout, stderr, code := runCLI(t, "report", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "report-study.txt", strings.ReplaceAll(stdout, dir, "DIR"))
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="pareto"`, `id="importance"`, `id="utilisation"`, `id="trials-table"`, "Recommended trial: <b>#11</b>"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report.html lacks %s", want)
		}
	}

	out := filepath.Join(t.TempDir(), "elsewhere.html")
	if _, stderr, code := runCLI(t, "report", dir, "-o", out); code != exitOK {
		t.Fatalf("-o: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

func TestReportBadInput(t *testing.T) {
	empty := t.TempDir()
	corrupt := copyStudy(t)
	if err := os.WriteFile(filepath.Join(corrupt, "trials.jsonl"), []byte("{\"number\": 0, \"state\": \"complete\"}\n{\"number\": \"x\"}\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"no-folder", []string{"report"}},
		{"not-a-folder", []string{"report", "testdata/nope"}},
		{"no-trials", []string{"report", empty}},
		{"corrupt-line", []string{"report", corrupt}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, c.args...)
			if code != exitBadInput || stdout != "" {
				t.Errorf("exit %d, stdout %q; want exit 2 and nothing on stdout", code, stdout)
			}
			stderr = strings.ReplaceAll(strings.ReplaceAll(stderr, empty, "EMPTY"), corrupt, "DIR")
			golden(t, "bad-report-"+c.name+".txt", stderr)
		})
	}
}

func TestReportHelp(t *testing.T) {
	stdout, _, code := runCLI(t, "report", "--help")
	if code != exitOK || !strings.Contains(stdout, "Examples:") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	golden(t, "help-report---help.txt", stdout)
}

// TestLoadHTML: tune load --html writes the run's page.
func TestLoadHTML(t *testing.T) {
	const key = "app-secret-do-not-print"
	srv := difyChat(t, key)
	t.Setenv("DIFY_API_KEY", key)
	page := filepath.Join(t.TempDir(), "run.html")
	stdout, stderr, code := runCLI(t, "load", "--url", srv.URL+"/v1", "--users", "2", "--spawn-rate", "0",
		"--duration", "1200ms", "--html", page)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "wrote "+page) {
		t.Errorf("stdout does not name the page:\n%s", stdout)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="load_tps"`, `id="load_latency"`, `id="load_errors"`, "2 users, spawn 0/s, 1.2s"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if bytes.Contains(b, []byte(key)) {
		t.Fatal("the API key is in the page")
	}
}

// The study's --quiet and --json flags choose the display; its plain and
// JSON output are pinned on a clock that advances 2 s a trial.
func TestProgressFlags(t *testing.T) {
	// The fixture study's copy of the space: the default space changes as
	// the chart does, and this golden is about the display, not the space.
	sp, err := spaces.Load(filepath.Join("..", "..", "report", "testdata", "study", "space.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		args []string
	}{{"plain", nil}, {"json", []string{"--json"}}, {"quiet", []string{"--quiet"}}} {
		t.Run(c.name, func(t *testing.T) {
			now := base
			old := progressNow
			progressNow = func() time.Time { return now }
			defer func() { progressNow = old }()
			var o progressOpts
			cmd := &cobra.Command{Use: "x", Run: func(*cobra.Command, []string) {}}
			o.register(cmd)
			if err := cmd.ParseFlags(c.args); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			d := o.display(&out, sp, 3, 0)
			d.Start("s", 0)
			fmt.Fprintln(d.Text(), "study \"s\"")
			var best *results.Trial
			for i, tps := range []float64{20, 35, 30} {
				tr := results.Trial{Number: i, State: results.StateComplete, Origin: results.OriginSampler,
					Params: sp.Baseline(), Metrics: results.Metrics{TPS: tps, P95: 1000}}
				if best == nil || tps > best.Metrics.TPS {
					best = &tr
				}
				now = now.Add(2 * time.Second)
				d.OnTrial(tr, best)
			}
			d.Finish(best, "")
			golden(t, "progress-"+c.name+".txt", out.String())
		})
	}
}
