package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tune-dify/tune/loader"
	"github.com/tune-dify/tune/report"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

type loadOpts struct {
	url, scenario, dataset, thinkTime, stages, queries string
	appKeys                                            string // --app-key-env
	jsonOut, csvPrefix, html                           string
	keys                                               keySource
	users                                              int
	spawnRate, rate                                    float64
	duration, warmUp, timeout                          time.Duration
	conversation                                       bool
}

func newLoadCmd() *cobra.Command {
	o := &loadOpts{}
	c := &cobra.Command{
		Use:   "load --url http://host/v1 --users 100 --duration 3m",
		Short: "Drive Dify's streaming API with SSE load and measure it (like locust --headless)",
		Long: `load sends the requests a Dify app's users send and measures each stream: time to
response headers (TTFB), to the first token (TTFT) and to the end event (total), with
HdrHistogram percentiles. Closed loop: --users with --spawn-rate and --think-time, or
--stages. Open loop: --rate requests per second, started on schedule whatever the
server does (no coordinated omission). The API key comes from the environment variable
named by --api-key-env (default DIFY_API_KEY) or from --api-key-file, and is never
printed. Exit 1 when any request failed.`,
		Example: `  DIFY_API_KEY=app-... tune load --url http://dify.example/v1 --users 100 --spawn-rate 10 \
       --duration 3m --think-time 1s..3s --json summary.json
  tune load --url http://dify.example/v1 --stages 50:1m,100:1m,150:1m --csv run --html run.html
  tune load --url http://dify.example/v1 --scenario retrieval --dataset 3f1c... --rate 20 --duration 1m
  DIFY_API_KEY=app-chat... AGENT_KEY=app-agent... KB_KEY=dataset-... tune load --url http://dify.example/v1 \
       --scenario chatflow=60,agent=30,retrieval=10 --app-key-env agent=AGENT_KEY,retrieval=KB_KEY --dataset 3f1c...`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.run(c.Context(), c.OutOrStdout()) },
	}
	f := c.Flags()
	f.StringVar(&o.url, "url", "", "Dify service API base URL, e.g. http://host/v1")
	f.StringVar(&o.scenario, "scenario", "chatflow", "chatflow or agent (chat-messages), workflow (workflows/run), retrieval (datasets/{id}/retrieve), or a mix of apps with their weights in the users, e.g. chatflow=60,agent=30,retrieval=10 (each app's key from --app-key-env)")
	f.StringVar(&o.appKeys, "app-key-env", "", "a mix: the environment variable holding each app's own key, e.g. agent=AGENT_KEY,retrieval=KB_KEY (apps left out use --api-key-env's)")
	f.StringVar(&o.dataset, "dataset", "", "knowledge base id, for --scenario retrieval")
	f.IntVar(&o.users, "users", 100, "concurrent virtual users (closed loop)")
	f.Float64Var(&o.spawnRate, "spawn-rate", 10, "users started per second (0: all at once)")
	f.DurationVar(&o.duration, "duration", 3*time.Minute, "length of the run, ramp and warm-up included (ignored with --stages)")
	f.StringVar(&o.thinkTime, "think-time", "0s", "pause between a user's requests: a duration or a uniform range such as 1s..3s")
	f.StringVar(&o.stages, "stages", "", "closed-loop stages users:duration, e.g. 50:1m,100:1m,150:1m")
	f.Float64Var(&o.rate, "rate", 0, "open loop: requests started per second (instead of --users)")
	f.DurationVar(&o.warmUp, "warm-up", 0, "excluded from the figures after the spawn ramp")
	f.DurationVar(&o.timeout, "request-timeout", 60*time.Second, "limit on one request, headers to end event")
	f.StringVar(&o.queries, "queries", "", "file of queries, one a line (default: a built-in list)")
	f.BoolVar(&o.conversation, "conversation", false, "each user continues its conversation (conversation_id) instead of starting new ones")
	o.keys.register(c, "environment variable holding the app or dataset API key")
	f.StringVar(&o.jsonOut, "json", "", "write the summary as JSON to this file")
	f.StringVar(&o.csvPrefix, "csv", "", "write PREFIX_stats.csv, PREFIX_timeline.csv and PREFIX_errors.csv")
	f.StringVar(&o.html, "html", "", "write a self-contained HTML report to this file: the per-second timeline (TPS, users, P50/P95 of total and first token, errors by kind) and the summary")
	return c
}

func (o *loadOpts) run(ctx context.Context, stdout io.Writer) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	cfg.Progress = func(s loader.Second) {
		fmt.Fprintf(stdout, "t=%4ds  users %4d  in flight %4d  | %5d ok  %4d failed\n",
			s.T, s.Users, s.InFlight, s.Completed, s.Failed)
	}
	started := time.Now()
	sum, err := loader.Run(ctx, cfg)
	if err != nil {
		return err
	}
	writeLoadSummary(stdout, sum)
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return err
		}
		if err := results.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if o.csvPrefix != "" {
		if err := sum.WriteCSV(o.csvPrefix); err != nil {
			return err
		}
	}
	if o.html != "" {
		run := report.Run{URL: cfg.BaseURL, Scenario: o.scenario, Load: o.shape(), Started: started.UTC().Format("2006-01-02 15:04:05 UTC")}
		if err := report.WriteLoad(o.html, run, sum); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", o.html)
	}
	if sum.Failed > 0 {
		return errSilent // the summary lists the failures; exit 1
	}
	return nil
}

// shape is the load in words, for the HTML report's header.
func (o *loadOpts) shape() string {
	var s string
	switch {
	case o.rate > 0:
		s = fmt.Sprintf("open loop, %g requests/s for %s", o.rate, o.duration)
	case o.stages != "":
		s = "stages " + o.stages
	default:
		s = fmt.Sprintf("%d users, spawn %g/s, %s", o.users, o.spawnRate, o.duration)
	}
	if o.thinkTime != "0s" && o.rate == 0 {
		s += ", think " + o.thinkTime
	}
	return s
}

// config turns the flags into a loader configuration; every error is bad
// input and names its flag.
func (o *loadOpts) config() (loader.Config, error) {
	cfg := loader.Config{BaseURL: strings.TrimRight(o.url, "/"), Users: o.users, SpawnRate: o.spawnRate,
		Duration: o.duration, Rate: o.rate, WarmUp: o.warmUp, Timeout: o.timeout}
	if o.url == "" {
		return cfg, badInput("--url is required (the service API base, e.g. http://host/v1)")
	}
	switch o.scenario {
	case "chatflow", "agent":
		cfg.Scenario = &loader.Chat{Conversation: o.conversation}
	case "workflow":
		cfg.Scenario = &loader.Workflow{}
	case "retrieval":
		if o.dataset == "" {
			return cfg, badInput("--scenario retrieval needs --dataset <knowledge base id>")
		}
		cfg.Scenario = &loader.Retrieval{DatasetID: o.dataset}
	default:
		if !strings.Contains(o.scenario, "=") {
			return cfg, badInput("--scenario %q: want chatflow, agent, workflow or retrieval, or a mix such as chatflow=60,agent=30,retrieval=10", o.scenario)
		}
	}
	var err error
	if cfg.ThinkMin, cfg.ThinkMax, err = parseThinkTime(o.thinkTime); err != nil {
		return cfg, badInput("--think-time: %w", err)
	}
	if o.stages != "" {
		if cfg.Stages, err = parseStages(o.stages); err != nil {
			return cfg, badInput("--stages: %w", err)
		}
	}
	if o.queries != "" {
		if cfg.Queries, err = loader.ReadQueriesFile(o.queries); err != nil {
			return cfg, badInput("--queries: %w", err)
		}
	}
	key, err := o.keys.key()
	if err != nil {
		return cfg, err
	}
	cfg.APIKey = key
	if cfg.Scenario == nil {
		if cfg.Scenario, err = o.mix(); err != nil {
			return cfg, err
		}
	} else if o.appKeys != "" {
		return cfg, badInput("--app-key-env is for a mixed --scenario (e.g. chatflow=60,agent=30)")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, badInput("%w", err)
	}
	return cfg, nil
}

// mix is the loader's Mix of a mixed --scenario: each app with the key
// --app-key-env names for it, or --api-key-env's.
func (o *loadOpts) mix() (*loader.Mix, error) {
	m, err := spaces.ParseMix(o.scenario)
	if err != nil {
		return nil, badInput("--scenario %w", err)
	}
	keys := map[string]loader.Secret{}
	if o.appKeys != "" {
		for pair := range strings.SplitSeq(o.appKeys, ",") {
			app, env, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if _, in := m[app]; !ok || !in || env == "" {
				return nil, badInput("--app-key-env %q: want app=VARIABLE for an app of --scenario %s", pair, m)
			}
			key := strings.TrimSpace(os.Getenv(env))
			if key == "" {
				return nil, badInput("--app-key-env: $%s (the %s app's key) is not set", env, app)
			}
			keys[app] = loader.Secret(key)
		}
	}
	var parts []loader.MixPart
	for _, p := range m.Parts() {
		sc, err := loader.NamedScenario(p.Scenario, loader.ScenarioOptions{DatasetID: o.dataset, Conversation: o.conversation})
		if errors.Is(err, loader.ErrNeedDataset) {
			return nil, badInput("--scenario %s: its retrieval needs --dataset <knowledge base id>", m)
		} else if err != nil {
			return nil, badInput("--scenario %w", err)
		}
		parts = append(parts, loader.MixPart{Name: p.Scenario, Weight: p.Weight, Scenario: sc, Key: keys[p.Scenario]})
	}
	mix, err := loader.NewMix(parts)
	if err != nil {
		return nil, badInput("--scenario %w", err)
	}
	return mix, nil
}

// keySource is where an API key comes from: --api-key-file or the
// --api-key-env variable, never a flag's value (it would show in ps and
// shell history).
type keySource struct{ env, file string }

func (k *keySource) register(c *cobra.Command, envHelp string) {
	c.Flags().StringVar(&k.env, "api-key-env", "DIFY_API_KEY", envHelp)
	c.Flags().StringVar(&k.file, "api-key-file", "", "file holding the API key (instead of --api-key-env)")
}

// where says where the key comes from, for messages.
func (k *keySource) where() string {
	if k.file != "" {
		return k.file
	}
	return "$" + k.env
}

// key reads the key. Errors name where it was looked for, never what was
// found.
func (k *keySource) key() (loader.Secret, error) {
	if k.file != "" {
		b, err := os.ReadFile(k.file)
		if err != nil {
			return "", badInput("--api-key-file: %w", err)
		}
		if key := strings.TrimSpace(string(b)); key != "" {
			return loader.Secret(key), nil
		}
		return "", badInput("--api-key-file %s is empty", k.file)
	}
	if key := strings.TrimSpace(os.Getenv(k.env)); key != "" {
		return loader.Secret(key), nil
	}
	return "", badInput("no API key: set %s (an app-... or dataset-... key) or give --api-key-file", k.env)
}

// parseThinkTime reads "2s" (fixed) or "1s..3s" (uniform, like Locust's between).
func parseThinkTime(s string) (lo, hi time.Duration, err error) {
	a, b, ranged := strings.Cut(strings.TrimSpace(s), "..")
	if lo, err = time.ParseDuration(strings.TrimSpace(a)); err != nil {
		return 0, 0, fmt.Errorf("%q: want a duration (2s) or a range (1s..3s)", s)
	}
	hi = lo
	if ranged {
		if hi, err = time.ParseDuration(strings.TrimSpace(b)); err != nil {
			return 0, 0, fmt.Errorf("%q: want a duration (2s) or a range (1s..3s)", s)
		}
	}
	if lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("%q: want 0 ≤ min ≤ max", s)
	}
	return lo, hi, nil
}

// parseStages reads "50:1m,100:1m,150:1m": users and how long each stage runs.
func parseStages(s string) ([]loader.Stage, error) {
	var stages []loader.Stage
	for i, part := range strings.Split(s, ",") {
		u, d, ok := strings.Cut(strings.TrimSpace(part), ":")
		users, uerr := strconv.Atoi(strings.TrimSpace(u))
		dur, derr := time.ParseDuration(strings.TrimSpace(d))
		if !ok || uerr != nil || derr != nil || users < 1 || dur <= 0 {
			return nil, fmt.Errorf("stage %d %q: want users:duration, e.g. 100:1m", i+1, part)
		}
		stages = append(stages, loader.Stage{Users: users, Duration: dur})
	}
	return stages, nil
}

// writeLoadSummary prints the end-of-run table, like Locust's.
func writeLoadSummary(w io.Writer, s *loader.Summary) {
	fmt.Fprintf(w, "\n%.0fs measured after %.0fs of ramp and warm-up: %d completed, %d failed (%.2f%%), %.1f TPS\n",
		s.Duration, s.WarmUp, s.Completed, s.Failed, 100*s.ErrorRate, s.TPS)
	fmt.Fprintf(w, "%-22s %9s %9s %9s %9s %9s\n", "ms", "p50", "p90", "p95", "p99", "max")
	for _, row := range []struct {
		name string
		p    loader.Percentiles
	}{{"time to headers", s.TTFB}, {"time to first token", s.TTFT}, {"total (end event)", s.Total}} {
		fmt.Fprintf(w, "%-22s %9.1f %9.1f %9.1f %9.1f %9.1f\n", row.name, row.p.P50, row.p.P90, row.p.P95, row.p.P99, row.p.Max)
	}
	if len(s.Errors) == 0 {
		return
	}
	kinds := make([]string, 0, len(s.Errors))
	for k := range s.Errors {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		return s.Errors[kinds[i]] > s.Errors[kinds[j]] || s.Errors[kinds[i]] == s.Errors[kinds[j]] && kinds[i] < kinds[j]
	})
	fmt.Fprintln(w, "errors:")
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-28s %6d  e.g. %s\n", k, s.Errors[k], s.ErrorExamples[k])
	}
}
