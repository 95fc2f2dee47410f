package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tune-dify/tune/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// runCLI runs tune in-process and returns what a user would see.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), exitCode(err)
}

// golden compares got with testdata/golden/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/tune -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// space is the default space (the community chart); seedSpace is the case
// study's, which the presets in spaces/presets (s8-*, s16-*) are written for.
const (
	space     = "../../spaces/default.yaml"
	seedSpace = "../../spaces/seed.yaml"
)

// Bad input as a new user would type it: one clear message each, naming the
// file, line or flag; exit code 2; no stack trace.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"missing-file", []string{"--budget", "16c32g", "--space", "testdata/nope.yaml"}},
		{"invalid-yaml", []string{"--budget", "16c32g", "--space", "testdata/invalid-yaml.yaml"}},
		{"unknown-field", []string{"--budget", "16c32g", "--space", "testdata/unknown-field.yaml"}},
		{"min-over-max", []string{"--budget", "16c32g", "--space", "testdata/min-over-max.yaml"}},
		{"reserved-over-budget", []string{"--budget", "8c16g", "--space", "testdata/reserved-over.yaml"}},
		{"budget-16cores", []string{"--budget", "16cores", "--space", space}},
		{"smallest-does-not-fit", []string{"--budget", "8c16g", "--space", "testdata/too-big.yaml"}},
		{"no-budget", []string{"--space", space}},
		{"unknown-flag", []string{"--budget", "8c16g", "--space", space, "--trails", "3"}},
		{"bad-scenario", []string{"--budget", "8c16g", "--space", space, "--scenario", "chat"}},
		{"bad-sampler", []string{"--budget", "8c16g", "--space", space, "--sampler", "grid"}},
		{"unknown-preset", []string{"--budget", "8c16g", "--space", space, "--enqueue", "s99"}},
		{"preset-over-budget", []string{"--budget", "8c16g", "--space", seedSpace, "--enqueue", "s16-final"}},
		{"eval-no-config", []string{"eval", "--budget", "8c16g", "--space", space}},
		{"validate-budget", []string{"validate", "--space", space, "--budget", "2c4g"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append(c.args, "--out", t.TempDir())
			if c.args[0] == "eval" || c.args[0] == "validate" {
				args = c.args
			}
			stdout, stderr, code := runCLI(t, args...)
			if code != exitBadInput {
				t.Errorf("exit code %d, want %d\nstderr: %s", code, exitBadInput, stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace in stderr:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty on bad input:\n%s", stdout)
			}
			golden(t, "bad-"+c.name+".txt", stderr)
		})
	}
}

// TestScreenedStudyOutput: the summary of a study with --screen, as the
// user reads it: the screening line, the screens and promotions counted
// and marked in the table, the recommendation a full load.
func TestScreenedStudyOutput(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "--budget", "16c32g", "--space", seedSpace, "--trials", "12", "--seed", "1",
		"--sampler", "guided", "--screen", "30s", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "study-16c32g-screen.txt", strings.ReplaceAll(stdout, out, "OUT"))
}

func TestStudyOutput(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "--budget", "8c16g", "--space", seedSpace, "--trials", "6", "--seed", "1", "--enqueue", "s8-final", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "study-8c16g-6.txt", strings.ReplaceAll(stdout, out, "OUT"))

	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != 6 {
		t.Fatalf("trials.jsonl has %d trials, want 6", len(trials))
	}
	var pf struct {
		Front       []map[string]any `json:"front"`
		Recommended *int             `json:"recommended"`
	}
	b, err := os.ReadFile(filepath.Join(out, "pareto.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pf); err != nil || pf.Recommended == nil || len(pf.Front) == 0 {
		t.Fatalf("pareto.json %s: %v", b, err)
	}
	v, err := os.ReadFile(filepath.Join(out, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(v, &values); err != nil {
		t.Fatalf("values.yaml does not parse as Helm reads it: %v", err)
	}
	if _, ok := values["api"]; !ok {
		t.Errorf("values.yaml has no api block:\n%s", v)
	}
	if !strings.HasPrefix(string(v), "# tune recommendation: trial ") || !strings.Contains(string(v), "tune --budget 8c16g") {
		t.Errorf("values.yaml header:\n%s", v)
	}

	// Rerunning the same command resumes: nothing new with the same --trials,
	// two more with --trials 8.
	stdout, _, code = runCLI(t, "--budget", "8c16g", "--space", seedSpace, "--trials", "8", "--seed", "1", "--enqueue", "s8-final", "--out", out)
	if code != exitOK || !strings.Contains(stdout, "resuming study") {
		t.Fatalf("resume: exit %d\n%s", code, stdout)
	}
	trials, err = results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(trials) != 8 {
		t.Fatalf("after resume trials.jsonl has %d trials (%v), want 8", len(trials), err)
	}

	// export picks from the folder alone.
	exp := filepath.Join(t.TempDir(), "knee.yaml")
	stdout, stderr, code = runCLI(t, "export", "--from", out, "--pick", "knee", "-o", exp)
	if code != exitOK {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "(knee)") {
		t.Errorf("export says %q, want the knee pick named", stdout)
	}
	if b, err := os.ReadFile(exp); err != nil || yaml.Unmarshal(b, &values) != nil {
		t.Fatalf("export wrote no readable values file: %v", err)
	}
	// An output folder that does not exist is bad input, named.
	_, stderr, code = runCLI(t, "export", "--from", out, "-o", filepath.Join(out, "nope", "values.yaml"))
	if code != exitBadInput || !strings.Contains(stderr, "no folder") {
		t.Errorf("export into a missing folder: exit %d, %s", code, stderr)
	}
}

func TestEvalJSON(t *testing.T) {
	stdout, stderr, code := runCLI(t, "eval", "--budget", "16c32g", "--space", seedSpace,
		"--config", "../../spaces/presets/s16-final.yaml", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Metrics   results.Metrics   `json:"metrics"`
		Resources results.Resources `json:"resources"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if got.Metrics.TPS <= 0 || got.Resources.CPUCores <= 0 || got.Resources.CPUCores > 16 {
		t.Errorf("eval output %+v", got)
	}
}

// TestModelOverrides: a what-if file with slower NFS fsyncs lowers the TPS
// of a configuration whose PostgreSQL is on NFS; a bad file is bad input
// naming its line.
func TestModelOverrides(t *testing.T) {
	eval := func(args ...string) float64 {
		t.Helper()
		stdout, stderr, code := runCLI(t, append([]string{"eval", "--budget", "8c16g", "--space", seedSpace,
			"--config", "../../spaces/presets/s8-initial.yaml", "--json"}, args...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got struct {
			Metrics results.Metrics `json:"metrics"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		return got.Metrics.TPS
	}
	dir := t.TempDir()
	slow := filepath.Join(dir, "slow-nfs.yaml")
	if err := os.WriteFile(slow, []byte("apiVersion: tune.dify.dev/v1alpha1\nkind: ModelOverrides\nfsyncNFS: 20ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if base, what := eval(), eval("--model-overrides", slow); what >= 0.95*base {
		t.Errorf("slower NFS: %.1f TPS, calibrated %.1f: want clearly lower", what, base)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: tune.dify.dev/v1alpha1\nkind: ModelOverrides\nfsyncNSF: 20ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, "eval", "--budget", "8c16g", "--space", seedSpace,
		"--config", "../../spaces/presets/s8-initial.yaml", "--model-overrides", bad)
	if code != exitBadInput || !strings.Contains(stderr, "bad.yaml:3") || !strings.Contains(stderr, "fsyncNSF") {
		t.Errorf("exit %d, %s: want 2 naming bad.yaml:3 and the field", code, stderr)
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	for _, cmd := range [][]string{{"--help"}, {"eval", "--help"}, {"export", "--help"}, {"validate", "--help"}, {"load", "--help"}, {"emulate", "--help"}} {
		stdout, _, code := runCLI(t, cmd...)
		if code != exitOK {
			t.Fatalf("%v: exit %d", cmd, code)
		}
		if !strings.Contains(stdout, "Examples:") {
			t.Errorf("%v has no examples", cmd)
		}
		golden(t, "help-"+strings.Trim(strings.Join(cmd, "-"), "-")+".txt", stdout)
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	t.Setenv("TUNE_BUDGET", "16cores")
	_, stderr, code := runCLI(t, "--space", space, "--out", t.TempDir())
	if code != exitBadInput || !strings.Contains(stderr, "16cores") {
		t.Errorf("TUNE_BUDGET=16cores: exit %d, stderr %s", code, stderr)
	}
}

func TestConfigFileSetsFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tune.yaml")
	if err := os.WriteFile(file, []byte("budget: 8c16g\nspace: "+seedSpace+"\ntrials: 2\nseed: 4\nenqueue: [s8-final]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	stdout, stderr, code := runCLI(t, "--config-file", file, "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(trials) != 2 || trials[1].Origin != results.OriginEnqueued {
		t.Fatalf("--config-file study: %d trials (%v)\n%s", len(trials), err, stdout)
	}
	// A flag on the command line wins over the file.
	_, stderr, code = runCLI(t, "--config-file", file, "--budget", "16cores", "--out", out)
	if code != exitBadInput || !strings.Contains(stderr, "16cores") {
		t.Errorf("--budget over --config-file: exit %d, %s", code, stderr)
	}
}

func TestConfigFileUnknownKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tune.yaml")
	if err := os.WriteFile(file, []byte("budjet: 8c16g\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, "--config-file", file, "--space", space)
	if code != exitBadInput || !strings.Contains(stderr, `unknown key "budjet"`) {
		t.Errorf("exit %d, %s", code, stderr)
	}
}

// --timeout ends an overnight study at its deadline: what finished is kept,
// the summary is written, and the study can be resumed.
func TestTimeoutKeepsWhatIsDone(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "--budget", "16c32g", "--space", space, "--trials", "1000",
		"--timeout", "400ms", "--out", out)
	if code == exitBadInput {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "stopped at --timeout 400ms after") {
		t.Fatalf("no timeout line in:\n%s", stdout)
	}
	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(trials) >= 1000 {
		t.Fatalf("%d trials after the deadline (%v)", len(trials), err)
	}
	if _, err := os.Stat(filepath.Join(out, "pareto.json")); err != nil {
		t.Errorf("no pareto.json after the deadline: %v", err)
	}
}

// SIGINT (a cancelled context) ends the study between or during trials:
// every finished trial is kept, the user is told how to resume, exit 1.
func TestInterruptKeepsTrialsAndResumes(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The interrupt comes once two trials are on disk, so the resume has
	// something to resume.
	go func() {
		for ctx.Err() == nil {
			if ts, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl")); err == nil && len(ts) >= 2 {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"--budget", "16c32g", "--space", space, "--trials", "1000", "--out", out}, &stdout, &stderr)
	if code := exitCode(err); code != exitFailed {
		t.Fatalf("exit %d, want %d: %s", code, exitFailed, stderr.String())
	}
	if !strings.Contains(stdout.String(), "interrupted after") || stderr.Len() != 0 {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	before, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(before) < 2 {
		t.Fatalf("%d trials kept after the interrupt (%v), want at least 2", len(before), err)
	}
	n := len(before) + 2
	stdoutAgain, stderrAgain, code := runCLI(t, "--budget", "16c32g", "--space", space, "--trials", fmt.Sprint(n), "--out", out)
	if code == exitBadInput || !strings.Contains(stdoutAgain, fmt.Sprintf("resuming study %q: %d of %d trials done", "default-16c32g-chatflow", len(before), n)) {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdoutAgain, stderrAgain)
	}
	after, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(after) != n {
		t.Fatalf("after resume %d trials (%v), want %d", len(after), err, n)
	}
	for i, tr := range after {
		if tr.Number != i {
			t.Errorf("trial %d numbered %d: numbers must continue without a gap or repeat", i, tr.Number)
		}
	}
}

// TestValidateNamesWhatTheModelIgnores: renaming api.workers in a copy of
// the seed's space still validates, but validate names the new name (the
// model does not read it) and api.workers (the model runs its default).
func TestValidateNamesWhatTheModelIgnores(t *testing.T) {
	b, err := os.ReadFile(seedSpace)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "renamed.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "api.workers", "api.workerz")), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, "validate", "--space", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "validate-renamed.txt", strings.ReplaceAll(stdout, path, "SPACE"))
}

// TestScreenAndConfirm: with --screen some trials stop at their short load
// (stored as pruned), the others are stored as screens (screen_s) and only
// promotions run the full load; the summary says which is which; the front
// and the recommendation hold full loads only; and with --confirm the
// recommendation in pareto.json is the re-measured candidate the study
// names.
func TestScreenAndConfirm(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "--budget", "16c32g", "--space", seedSpace, "--trials", "12", "--seed", "1",
		"--sampler", "guided", "--screen", "1m", "--confirm", "2", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	pruned, screened, promoted := 0, 0, 0
	for _, tr := range trials {
		switch {
		case tr.State == results.StatePruned:
			pruned++
		case tr.Screened():
			screened++
		case tr.Origin == results.OriginPromoted:
			promoted++
		}
	}
	if pruned == 0 || screened == 0 || promoted == 0 {
		t.Errorf("%d pruned, %d screened, %d promoted by a 1m screen: want some of each:\n%s", pruned, screened, promoted, stdout)
	}
	for _, want := range []string{fmt.Sprintf("%d by a screen only, %d promoted to the full load", screened, promoted), " screen 1m0s ", " promoted #",
		"screening: each trial measured 1m0s after the ramp"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the summary does not say %q:\n%s", want, stdout)
		}
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"complete (screen 60 s)", "promoted #", "screen only", "screens (short load, never recommended)"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report.html does not say %q", want)
		}
	}
	var pf results.ParetoFile
	b, err := os.ReadFile(filepath.Join(out, "pareto.json"))
	if err == nil {
		err = json.Unmarshal(b, &pf)
	}
	if err != nil || pf.Recommended == nil {
		t.Fatalf("pareto.json: %v %s", err, b)
	}
	for _, p := range append(pf.Front, results.FrontPoint{Number: *pf.Recommended}) {
		if tr := trials[p.Number]; tr.Screened() || tr.State != results.StateComplete {
			t.Errorf("pareto.json names trial %d, measured only by a screen (%v s) or %s", p.Number, tr.ScreenS, tr.State)
		}
	}
	if want := fmt.Sprintf("confirmation: the 2 best trials within the SLO, each measured 2 more times\n  trial #%d", *pf.Recommended); !strings.Contains(stdout, want) {
		t.Errorf("the recommendation (#%d) is not the first confirmed candidate:\n%s", *pf.Recommended, stdout)
	}
}

// TestLoadOverlay: --load and --load-set change the space's load for one
// run as helm -f and --set change values. The Enterprise benchmark's rows
// run as MODEL.md says (deployer/sim's TestCalibrationTableEE holds them to
// the report), the same overlay given either way measures the same, a
// faster LLM shortens the streams, and a bad overlay is bad input naming
// the flag or the file's line.
func TestLoadOverlay(t *testing.T) {
	const ee = "../../spaces/loads/ee-benchmark.yaml"
	eval := func(args ...string) (string, results.Metrics) {
		t.Helper()
		args = append([]string{"eval", "--budget", "16c32g", "--space", space}, args...)
		stdout, stderr, code := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		js, stderr, code := runCLI(t, append(args, "--json")...)
		var got struct {
			Metrics results.Metrics `json:"metrics"`
		}
		if err := json.Unmarshal([]byte(js), &got); code != exitOK || err != nil {
			t.Fatalf("%v --json: exit %d, %v: %s", args, code, err, stderr)
		}
		return stdout, got.Metrics
	}
	var table strings.Builder
	for _, row := range []struct {
		id    string
		users string
	}{{"ee-a1w1", "9"}, {"ee-a1w2", "8"}, {"ee-a2w2", "17"}, {"ee-a2w3", "16"}, {"ee-a3w3", "18"}} {
		out, _ := eval("--config", "../../spaces/presets/"+row.id+".yaml", "--load", ee, "--users", row.users)
		table.WriteString(out)
	}
	golden(t, "eval-ee-benchmark.txt", table.String())

	preset := []string{"--config", "../../spaces/presets/ee-a2w3.yaml", "--users", "16"}
	_, file := eval(append(preset, "--load", ee)...)
	_, set := eval(append(preset, "--load-set", "scenario=llm,thinkMin=1ms,thinkMax=1ms",
		"--load-set", "llm.ttft=5ms,llm.tokensPerSecond=20,llm.answerTokens=8")...)
	if file != set {
		t.Errorf("the same load given as a file and as --load-set: %+v and %+v", file, set)
	}
	if _, fast := eval(append(preset, "--load", ee, "--load-set", "llm.tokensPerSecond=80")...); !(fast.P50 < 0.8*file.P50) {
		t.Errorf("an LLM 4x faster: P50 %.0f ms, at 20 tokens/s %.0f ms: want clearly shorter", fast.P50, file.P50)
	}

	bad := filepath.Join(t.TempDir(), "bad-load.yaml")
	if err := os.WriteFile(bad, []byte("scenario: llm\nllm:\n  tokensPerSecond: fast\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--load-set", "users=0"}, "--load-set: load.users: 0 must be > 0"},
		{[]string{"--load-set", "llm.tokens=8"}, "--load-set: load.llm.tokens: unknown field"},
		{[]string{"--load-set", "users"}, "--load-set \"users\": key \"users\" has no value"},
		{[]string{"--load", bad}, "bad-load.yaml:3: load.llm.tokensPerSecond: want a number"},
		{[]string{"--load", "nope.yaml"}, "--load: nope.yaml: no such file or directory"},
	} {
		_, stderr, code := runCLI(t, append([]string{"eval", "--budget", "16c32g", "--space", space}, append(preset, c.args...)...)...)
		if code != exitBadInput || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// A mixed load on the model: the figures over all requests, then each
// app's own.
func TestEvalMix(t *testing.T) {
	stdout, stderr, code := runCLI(t, "eval", "--budget", "16c32g", "--space", seedSpace,
		"--config", "../../spaces/presets/s16-final.yaml", "--scenario", "chatflow=60,agent=30,retrieval=10")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "eval-mix.txt", stdout)
	if code := exitCodeOf(t, "eval", "--budget", "16c32g", "--space", seedSpace,
		"--config", "../../spaces/presets/s16-final.yaml", "--scenario", "chatflow=60,agent=0"); code != exitBadInput {
		t.Errorf("a weight of 0: exit %d, want 2", code)
	}
}

func exitCodeOf(t *testing.T, args ...string) int {
	t.Helper()
	_, _, code := runCLI(t, args...)
	return code
}
