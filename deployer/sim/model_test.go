package sim

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/spaces"
)

func TestDeterministic(t *testing.T) {
	sys := preset(t, "s16-final", "16c32g")
	for _, sc := range []string{"chatflow", "agent", "retrieval"} {
		w := workload(t, sc)
		a, err := New(7).Evaluate(context.Background(), sys, w)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := New(7).Evaluate(context.Background(), sys, w)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: same seed, different measurements:\n%+v\n%+v", sc, a, b)
		}
		c, _ := New(8).Evaluate(context.Background(), sys, w)
		if reflect.DeepEqual(a.Metrics, c.Metrics) {
			t.Errorf("%s: seeds 7 and 8 gave identical metrics", sc)
		}
		if d := c.Metrics.TPS/a.Metrics.TPS - 1; d > 0.05 || d < -0.05 {
			t.Errorf("%s: seed noise %.1f%% is more than 5%%", sc, 100*d)
		}
	}
}

func TestMeasurementFilled(t *testing.T) {
	m := eval(t, preset(t, "s8-initial", "8c16g"), "chatflow")
	if m.Completed == 0 || m.Metrics.P50 <= 0 || m.Metrics.P50 > m.Metrics.P95 || m.Metrics.P95 > m.Metrics.P99 {
		t.Errorf("metrics out of order: %+v", m.Metrics)
	}
	if m.Metrics.TTFBP95 <= 0 || m.Metrics.TTFBP95 > m.Metrics.P99 {
		t.Errorf("TTFB P95 %.0f ms", m.Metrics.TTFBP95)
	}
	// The seed's first round: api CPU at 98%.
	if u := m.Utilisation["api"]; u < 0.9 {
		t.Errorf("api utilisation %.2f, the seed saw 98%%", u)
	}
	for _, svc := range []string{"api", "postgresql", "redis", "reserved", "worker", "pluginDaemon", "weaviate", "xinference", "ollama"} {
		if u, ok := m.Utilisation[svc]; !ok || u < 0 || u > 1 {
			t.Errorf("utilisation of %s: %v (present %v)", svc, u, ok)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := New(1).Evaluate(ctx, preset(t, "s16-final", "16c32g"), workload(t, "chatflow"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("cancelled run took %v", d)
	}
}

func TestBadInput(t *testing.T) {
	sys := preset(t, "s8-final", "8c16g")
	for name, c := range map[string]struct {
		sys spaces.System
		sc  string
	}{
		"scenario":  {sys, "batch"},
		"storage":   {with(sys, map[string]any{"postgresql.storageClass": "tape"}, nil), "chatflow"},
		"workers":   {with(sys, map[string]any{"api.workers": int64(0)}, nil), "chatflow"},
		"zero cpu":  {with(sys, nil, map[string]spaces.Alloc{"redis": {Replicas: 1, Memory: 512}}), "chatflow"},
		"pool mode": {with(sys, map[string]any{"pgbouncer.poolMode": "statement"}, nil), "chatflow"},
	} {
		w := workload(t, "chatflow")
		w.Scenario = c.sc
		if _, err := New(1).Evaluate(context.Background(), c.sys, w); !errors.Is(err, ErrBadSystem) {
			t.Errorf("%s: err %v, want ErrBadSystem", name, err)
		}
	}
}

// TestDefaults: a System with no services or settings runs on the
// documented defaults, and a zero Workload on the seed's load.
func TestDefaults(t *testing.T) {
	m, err := New(1).Evaluate(context.Background(), spaces.System{Dify: "1.12"}, spaces.Workload{Scenario: "chatflow"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Metrics.TPS < 10 || m.Metrics.TPS > 40 {
		t.Errorf("1.12 defaults (1 api worker, 1 CPU, NFS) gave %.1f TPS", m.Metrics.TPS)
	}
	// Today's Dify at its defaults: one Celery worker with one gevent slot
	// (CELERY_WORKER_AMOUNT=1) runs one chatflow at a time.
	m, err = New(1).Evaluate(context.Background(), spaces.System{}, spaces.Workload{Scenario: "chatflow"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Metrics.TPS < 3 || m.Metrics.TPS > 15 || m.Utilisation["worker"] > 0.5 {
		t.Errorf("1.14 defaults gave %.1f TPS, worker at %.0f%%: want a slot-bound worker", m.Metrics.TPS, 100*m.Utilisation["worker"])
	}
}

// TestNotGameable: configurations that would fall over on real hardware
// fall over in the model.
func TestNotGameable(t *testing.T) {
	base := preset(t, "s8-final", "8c16g")
	sane := tpsOf(t, base, "chatflow")
	// 30 gevent workers crammed into 1 CPU (with the memory they need).
	crammed := with(base, map[string]any{"api.workers": int64(30)}, map[string]spaces.Alloc{"api": api(1, 1, 16384)})
	if got := tpsOf(t, crammed, "chatflow"); got > 0.5*sane {
		t.Errorf("30 workers in 1 CPU: %.1f TPS, 2 workers in 2 CPU: %.1f", got, sane)
	}
	// A tiny PostgreSQL cannot carry the load whatever the api has.
	tinyPG := with(preset(t, "s16-final", "16c32g"), nil, map[string]spaces.Alloc{"postgresql": api(1, 0.5, 4096)})
	if got := tpsOf(t, tinyPG, "chatflow"); got > 60 {
		t.Errorf("PostgreSQL at 0.5 CPU still gives %.1f TPS", got)
	}
	// Redis with a tenth of a core (more than the seed's noise of 2% would
	// be a gain).
	tinyRedis := with(preset(t, "s16-final", "16c32g"), nil, map[string]spaces.Alloc{"redis": api(1, 0.1, 512)})
	if got, full := tpsOf(t, tinyRedis, "chatflow"), tpsOf(t, preset(t, "s16-final", "16c32g"), "chatflow"); got > 1.02*full {
		t.Errorf("starving Redis raised TPS: %.1f vs %.1f", got, full)
	}
}

// BenchmarkTrial is one 100-user, 3-minute chatflow trial at s16-final.
func BenchmarkTrial(b *testing.B) {
	sys := preset(b, "s16-final", "16c32g")
	w := workload(b, "chatflow")
	m := New(1)
	var completed int
	for b.Loop() {
		r, err := m.Evaluate(context.Background(), sys, w)
		if err != nil {
			b.Fatal(err)
		}
		completed = r.Completed
	}
	b.ReportMetric(float64(completed), "requests/trial")
}

// TestImports keeps the package's boundary (doc.go): the model reads spaces
// and writes results' Measurement, nothing more.
func TestImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	allowed := map[string]bool{
		"github.com/tune-dify/tune/spaces":        true,
		"github.com/tune-dify/tune/results":       true,
		"github.com/HdrHistogram/hdrhistogram-go": true,
		"gopkg.in/yaml.v3":                        true, // overrides files
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range pf.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.Contains(p, ".") && !allowed[p] || p == "net/http" {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
