package results

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./results -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./results -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var t0 = time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)

// fixture is a small study with a real trade-off: the front is trials 5, 6,
// 3 and 7; trial 8 repeats trial 3's point; with a 1300 ms SLO the three
// pick modes choose three different trials (5, 6 and 3).
func fixture() []Trial {
	tr := func(n int, o Origin, s State, tps, p95, errRate, cpu float64, mib int64) Trial {
		start := t0.Add(time.Duration(n) * 5 * time.Minute)
		return Trial{
			Number: n, State: s, Origin: o,
			Params: map[string]any{
				"api.replicas":      int64(1 + n%4),
				"api.cpu":           float64(1 + n%3),
				"api.memory":        int64(2048),
				"api.workers":       int64(2),
				"pgbouncer.enabled": n%2 == 0,
				"postgresql.disk":   "ssd",
			},
			Resources: Resources{CPUCores: cpu, MemoryMiB: mib},
			Metrics: Metrics{
				TPS: tps, P50: p95 * 0.5, P95: p95, P99: p95 * 1.5, TTFBP95: p95 * 0.25, ErrorRate: errRate,
			},
			Started:   start,
			Finished:  start.Add(4*time.Minute + 30*time.Second),
			DurationS: 270,
		}
	}
	ts := []Trial{
		tr(0, OriginBaseline, StateComplete, 53.8, 1840, 0, 8, 16384),
		tr(1, OriginEnqueued, StateComplete, 116.3, 1100, 0.002, 16, 32768),
		tr(2, OriginSampler, StateFailed, 0, 0, 0, 15.5, 30000),
		tr(3, OriginSampler, StateComplete, 124.7, 980, 0, 16, 32000),
		tr(4, OriginSampler, StatePruned, 40.1, 3000, 0, 12, 24000),
		tr(5, OriginSampler, StateComplete, 131.2, 1250, 0, 16, 32768),
		tr(6, OriginSampler, StateComplete, 128.4, 1020, 0.001, 16, 32768),
		tr(7, OriginSampler, StateComplete, 90, 600, 0, 14, 28000),
		tr(8, OriginSampler, StateComplete, 124.7, 980, 0, 16, 32000),
		tr(9, OriginSampler, StateComplete, 100, 1400, 0.05, 16, 32768),
	}
	ts[2].Error = "deploy: api: OOMKilled (limit 512 MiB)\nrollout did not finish"
	ts[2].Errors = map[string]int{"oom": 1}
	ts[5].Utilisation = map[string]float64{"api": 0.93, "postgresql": 0.41}
	ts[9].Errors = map[string]int{"http 502": 40, "timeout": 10}
	return ts
}
