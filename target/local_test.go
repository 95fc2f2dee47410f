package target_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tune-dify/tune/deployer/local"
	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/internal/leakcheck"
	"github.com/tune-dify/tune/loader"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target"
)

// preset resolves spaces/presets/<id>.yaml at budget against the seed's space.
func preset(t testing.TB, id, budget string) (*spaces.Space, spaces.System, spaces.Workload) {
	t.Helper()
	sp, err := spaces.Load(filepath.Join("..", "spaces", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := spaces.ParseBudget(budget)
	if err != nil {
		t.Fatal(err)
	}
	c, err := spaces.LoadConfig(filepath.Join("..", "spaces", "presets", id+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sys, err := sp.Resolve(b, sp.Complete(c))
	if err != nil {
		t.Fatal(err)
	}
	return sp, sys, sp.Load
}

// TestLocalMatchesModel runs the same configuration and load on the
// virtual-time model and over HTTP on the emulator: the throughput agrees
// within ±30% (the bound allows for a loaded CI machine; on an idle one the
// two agree within a few percent, which the test logs;
// `TUNE_EMULATE_TOLERANCE` tightens it).
func TestLocalMatchesModel(t *testing.T) {
	leakcheck.Check(t)
	_, sys, w := preset(t, "s8-final", "8c16g")
	w.Users, w.SpawnRate, w.Duration = 20, 10, 10*time.Second
	virtual, real := modelAndLocal(t, sys, w)
	tol := 0.30
	if s := os.Getenv("TUNE_EMULATE_TOLERANCE"); s != "" {
		if _, err := fmt.Sscan(s, &tol); err != nil {
			t.Fatal(err)
		}
	}
	diff := real.Metrics.TPS/virtual.Metrics.TPS - 1
	t.Logf("model %.1f TPS P50 %.0f P95 %.0f ms; emulator over HTTP %.1f TPS P50 %.0f P95 %.0f ms (%+.1f%%); utilisation %v",
		virtual.Metrics.TPS, virtual.Metrics.P50, virtual.Metrics.P95, real.Metrics.TPS, real.Metrics.P50, real.Metrics.P95, 100*diff, real.Utilisation)
	if math.Abs(diff) > tol || real.Failed > 0 {
		t.Errorf("emulator %.1f TPS vs model %.1f (%+.1f%%, bound ±%.0f%%), %d failed %v",
			real.Metrics.TPS, virtual.Metrics.TPS, 100*diff, 100*tol, real.Failed, real.Errors)
	}
	if real.Utilisation["api"] <= 0 {
		t.Errorf("no api utilisation: %v", real.Utilisation)
	}
}

func TestLoadConfigCoversTheModelsWindow(t *testing.T) {
	w := spaces.Workload{Scenario: "chatflow", Users: 50, SpawnRate: 10, Duration: time.Minute}
	cfg, err := target.LoadConfig("http://127.0.0.1:1/v1", "app-x", w, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Minute + 5*time.Second; cfg.Duration != want {
		t.Errorf("duration %v, want the 5 s ramp plus the minute: %v", cfg.Duration, want)
	}
	for _, sc := range spaces.Scenarios {
		w.Scenario = sc
		if _, err := target.LoadConfig("http://127.0.0.1:1/v1", "app-x", w, 1); err != nil {
			t.Errorf("scenario %s: %v", sc, err)
		}
	}
	w.Scenario = "nope"
	if _, err := target.LoadConfig("http://127.0.0.1:1/v1", "app-x", w, 1); err == nil {
		t.Error("an unknown scenario is accepted")
	}
}

// TestLLMStreamsTokens: on today's topology the llm scenario's answer
// streams token by token as the model generates it, so `tune load` sees
// the first token well before the stream's end; the space's provider
// (load.llm: here 40 tokens at 20 a second, as Dify's mock OpenAI server
// streams) is the one the emulator runs. Four users and 80 tokens a second
// in all keep the real-time emulator ahead of the clock on a CI machine
// busy with other race-instrumented tests (at 8 users and 800 tokens a
// second one such run completed no stream in 12 s; at 4 users, one did
// once under load average 10, so the run is 20 s and a failure prints
// its timeline).
func TestLLMStreamsTokens(t *testing.T) {
	leakcheck.Check(t)
	sp, err := spaces.Load(filepath.Join("..", "spaces", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := spaces.ParseBudget("16c32g")
	if err != nil {
		t.Fatal(err)
	}
	cfg := sp.Baseline()
	cfg["worker.concurrency"] = int64(10) // a slot for every user: no run waits in the queue
	sys, err := sp.Resolve(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := sp.Load
	w.Scenario, w.Users, w.SpawnRate, w.Duration = "llm", 4, 100, 20*time.Second
	w.LLM = spaces.LLM{TTFT: 300 * time.Millisecond, TokensPerSecond: 20, AnswerTokens: 40}
	key := target.NewKey()
	srv, err := local.Start("127.0.0.1:0", local.Options{System: sys, App: local.AppLLM, LLM: w.LLM, Seed: 1, Keys: []string{string(key)}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	lc, err := target.LoadConfig(srv.URL(), key, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := loader.Run(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d streams: TTFT p50 %.0f ms, total p50 %.0f ms, %.0f events a stream",
		sum.Completed, sum.TTFT.P50, sum.Total.P50, sum.EventsPerStream.P50)
	if sum.Completed == 0 || sum.Failed > 0 {
		// The timeline says whether streams were in flight and never
		// ended (a stalled emulator) or never started.
		t.Fatalf("%d completed, %d failed %v; per second: %+v", sum.Completed, sum.Failed, sum.Errors, sum.Timeline)
	}
	if sum.TTFT.P50 > 0.5*sum.Total.P50 {
		t.Errorf("TTFT p50 %.0f ms of total %.0f ms: want the tokens streamed over time", sum.TTFT.P50, sum.Total.P50)
	}
	if e := sum.EventsPerStream.P50; e < 40 || e >= 60 {
		t.Errorf("%.0f events a stream: want one message per token of the space's 40-token answer, plus the workflow's events", e)
	}
}

// TestLocalMixedLoad: a mixed load over HTTP drives each app with its own
// key on one emulated system, agrees with the model's TPS for the same mix
// within the bound of TestLocalMatchesModel, and the utilisation shows
// every app's stations at work (the agent's plugin daemon, retrieval's
// embedding server and Weaviate, everyone's api).
func TestLocalMixedLoad(t *testing.T) {
	leakcheck.Check(t)
	_, sys, w := preset(t, "s16-final", "16c32g")
	w, err := w.WithScenario("chatflow=60,agent=30,retrieval=10")
	if err != nil {
		t.Fatal(err)
	}
	w.Users, w.SpawnRate, w.Duration = 20, 20, 6*time.Second
	virtual, real := modelAndLocal(t, sys, w)
	diff := real.Metrics.TPS/virtual.Metrics.TPS - 1
	t.Logf("model %.1f TPS P95 %.0f ms; emulator over HTTP %.1f TPS P95 %.0f ms (%+.1f%%); utilisation %v",
		virtual.Metrics.TPS, virtual.Metrics.P95, real.Metrics.TPS, real.Metrics.P95, 100*diff, real.Utilisation)
	if math.Abs(diff) > 0.30 || real.Failed > 0 {
		t.Errorf("emulator %.1f TPS vs model %.1f (%+.1f%%, bound ±30%%), %d failed %v",
			real.Metrics.TPS, virtual.Metrics.TPS, 100*diff, real.Failed, real.Errors)
	}
	for _, svc := range []string{"api", "pluginDaemon", "xinference", "weaviate"} {
		if real.Utilisation[svc] <= 0 {
			t.Errorf("no %s utilisation: %v", svc, real.Utilisation)
		}
	}
}

func TestMixedLoadConfigNeedsEveryAppsKey(t *testing.T) {
	w, err := spaces.Workload{Users: 10, SpawnRate: 10, Duration: time.Minute}.WithScenario("chatflow=3,retrieval=1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.LoadConfig("http://127.0.0.1:1/v1", "app-x", w, 1); !errors.Is(err, target.ErrNeedAppKeys) {
		t.Errorf("one key for a mix: %v, want ErrNeedAppKeys", err)
	}
	if _, err := target.AppsLoadConfig("http://127.0.0.1:1/v1", target.AppKeys{"chatflow": "app-x"}, w, 1); !errors.Is(err, target.ErrNeedAppKeys) {
		t.Errorf("no key for retrieval: %v, want ErrNeedAppKeys", err)
	}
	cfg, err := target.AppsLoadConfig("http://127.0.0.1:1/v1", target.AppKeys{"chatflow": "app-x", "retrieval": "dataset-y"}, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := cfg.Scenario.(*loader.Mix)
	if !ok || len(m.Parts()) != 2 || m.Parts()[1].Key != "dataset-y" || m.Parts()[0].Weight != 3 {
		t.Errorf("scenario %#v", cfg.Scenario)
	}
}

// modelAndLocal measures sys under w on the model in virtual time and on
// the emulator over HTTP in real time.
func modelAndLocal(t *testing.T, sys spaces.System, w spaces.Workload) (virtual, real results.Measurement) {
	t.Helper()
	virtual, err := sim.New(1).Evaluate(context.Background(), sys, w)
	if err != nil {
		t.Fatal(err)
	}
	real, err = (&target.Local{Seed: 1}).Evaluate(context.Background(), sys, w)
	if err != nil {
		t.Fatal(err)
	}
	return virtual, real
}
