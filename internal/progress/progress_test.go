package progress

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/results"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/progress -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// study replays a resumed study of 6 trials (1 stored) on a fake clock:
// trials take 12 s, one fails, the best changes twice.
func study(t *testing.T, mode Mode, timeout time.Duration) string {
	t.Helper()
	base := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	now := base
	var out bytes.Buffer
	d := New(&out, mode, Options{Trials: 6, Timeout: timeout, Now: func() time.Time { return now },
		Describe: func(p map[string]any) string { return fmt.Sprintf("api %v×", p["api.replicas"]) }})
	d.Start("nightly", 1)
	fmt.Fprintln(d.Text(), "study \"nightly\": budget 8c16g")
	var best *results.Trial
	for i, tr := range []results.Trial{
		{Number: 1, State: results.StateComplete, Origin: results.OriginBaseline, Metrics: results.Metrics{TPS: 20.9, P95: 2400, ErrorRate: 0}},
		{Number: 2, State: results.StateFailed, Origin: results.OriginSampler, Error: "OOMKilled:\napi"},
		{Number: 3, State: results.StateComplete, Origin: results.OriginSampler, Metrics: results.Metrics{TPS: 41.2, P95: 2100, ErrorRate: 0.001}},
		{Number: 4, State: results.StateComplete, Origin: results.OriginSampler, Metrics: results.Metrics{TPS: 45, P95: 3900}},
		{Number: 5, State: results.StateComplete, Origin: results.OriginEnqueued, Metrics: results.Metrics{TPS: 47.5, P95: 2300}},
	} {
		tr.Params = map[string]any{"api.replicas": int64(i + 1)}
		if tr.State == results.StateComplete && tr.Metrics.P95 <= 2500 && (best == nil || tr.Metrics.TPS > best.Metrics.TPS) {
			b := tr
			best = &b
		}
		now = now.Add(12 * time.Second)
		d.OnTrial(tr, best)
	}
	fmt.Fprintln(d.Text(), "recommended: trial 5")
	d.Finish(best, "")
	return out.String()
}

func TestPlainGolden(t *testing.T) {
	golden(t, "plain.golden", study(t, Plain, 0))
	golden(t, "plain-timeout.golden", study(t, Plain, 40*time.Second))
}

func TestJSONGolden(t *testing.T) {
	got := study(t, JSON, 0)
	golden(t, "json.golden", got)
	// Every line is one JSON object, and nothing else is printed.
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines, want start + 5 trials + done:\n%s", len(lines), got)
	}
	for i, l := range lines {
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		if e.Event == "trial" && (e.Trial == nil || e.ETAS == nil) {
			t.Errorf("line %d: a trial event without its trial or ETA: %s", i+1, l)
		}
	}
	var last Event
	_ = json.Unmarshal([]byte(lines[5]), &last)
	if last.Done != 6 || last.Best == nil || last.Best.Number != 5 || *last.ETAS != 0 {
		t.Errorf("last trial event: %+v", last)
	}
}

func TestQuietPrintsNothing(t *testing.T) {
	if got := study(t, Quiet, 0); got != "" {
		t.Errorf("quiet printed:\n%s", got)
	}
}

// On a terminal the trial lines scroll and the status line is erased and
// redrawn in place; text never lands on the status line.
func TestLiveRedrawsInPlace(t *testing.T) {
	got := study(t, Live, 0)
	if !strings.Contains(got, "\r\x1b[2K5/6 trials · best 41.2 TPS at P95 2100 ms (#3) · 12s/trial, ETA 12s\r") {
		t.Errorf("no status line redrawn in place:\n%q", got)
	}
	if !strings.HasSuffix(got, "\r\x1b[2K6/6 trials · best 47.5 TPS at P95 2300 ms (#5) · 12s/trial, done\n") {
		t.Errorf("final status line missing:\n%q", got)
	}
	if bad := regexp.MustCompile(`[^K\n]trial \d/6`).FindString(got); bad != "" {
		t.Errorf("a trial line drawn over the status line without erasing it: %q in\n%q", bad, got)
	}
	if !strings.Contains(got, "\r\x1b[2Krecommended: trial 5\n") {
		t.Errorf("text written without erasing the status line first:\n%q", got)
	}
}

func TestChoose(t *testing.T) {
	for _, c := range []struct {
		quiet, json, tty bool
		want             Mode
	}{
		{false, false, false, Plain}, {false, false, true, Live}, {true, false, true, Quiet}, {true, true, false, JSON}, {false, true, true, JSON},
	} {
		if got := Choose(c.quiet, c.json, c.tty); got != c.want {
			t.Errorf("Choose(quiet %v, json %v, tty %v) = %v, want %v", c.quiet, c.json, c.tty, got, c.want)
		}
	}
}

func TestWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		400 * time.Millisecond: "0.4s", 12 * time.Second: "12s", 185 * time.Second: "3m05s", 2*time.Hour + 10*time.Minute: "2h10m",
	} {
		if got := words(d); got != want {
			t.Errorf("words(%v) = %q, want %q", d, got, want)
		}
	}
}
