package loader_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tune-dify/tune/internal/leakcheck"
	"github.com/tune-dify/tune/loader"
)

// The per-second timeline carries each second's latency percentiles and its
// failures by kind, and they add up to the run's own figures.
func TestTimelinePerSecond(t *testing.T) {
	leakcheck.Check(t)
	d := &dify{chunks: 3, gap: 2 * time.Millisecond}
	var n atomic.Int64
	srv := newDify(t, d)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 { // every fourth request is refused as Dify does under load
			writeJSON(w, 429, map[string]any{"code": "too_many_requests", "message": "slow down", "status": 429})
			return
		}
		d.ServeHTTP(w, r)
	})
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Duration = 2500 * time.Millisecond
	s, err := loader.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Timeline) < 3 {
		t.Fatalf("timeline of %d seconds for a 2.5 s run", len(s.Timeline))
	}
	var completed, failed int64
	kinds := map[string]int64{}
	for _, sec := range s.Timeline {
		completed += sec.Completed
		failed += sec.Failed
		var errs int64
		for k, v := range sec.Errors {
			kinds[k] += v
			errs += v
		}
		// Users start at once and run to the end; in the last, partial
		// second they are already stopping.
		if sec.T < len(s.Timeline)-1 && sec.Users != int64(cfg.Users) {
			t.Errorf("second %d: %d users, want all %d", sec.T, sec.Users, cfg.Users)
		}
		if errs != sec.Failed {
			t.Errorf("second %d: %d failed, errors by kind %v", sec.T, sec.Failed, sec.Errors)
		}
		if sec.Completed == 0 {
			if sec.TotalP50 != 0 || sec.TTFTP95 != 0 {
				t.Errorf("second %d has percentiles and no success: %+v", sec.T, sec)
			}
			continue
		}
		if !(0 < sec.TTFTP50 && sec.TTFTP50 <= sec.TotalP50 && sec.TotalP50 <= sec.TotalP95 && sec.TTFTP50 <= sec.TTFTP95) {
			t.Errorf("second %d: want 0 < ttft p50 <= total p50 <= total p95: %+v", sec.T, sec.SecondLatency)
		}
		if sec.TotalP95 > s.Total.Max*1.01 {
			t.Errorf("second %d: p95 %v ms above the run's max %v ms", sec.T, sec.TotalP95, s.Total.Max)
		}
	}
	if completed < s.Completed || failed < s.Failed || failed == 0 {
		t.Errorf("timeline %d ok / %d failed; run %d / %d", completed, failed, s.Completed, s.Failed)
	}
	for k, v := range s.Errors {
		if kinds[k] < v {
			t.Errorf("kind %s: %d in the timeline, %d in the window", k, kinds[k], v)
		}
	}
	if len(kinds) != len(s.Errors) {
		t.Errorf("kinds in the timeline %v, in the summary %v", kinds, s.Errors)
	}
}
