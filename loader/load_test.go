package loader_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tune-dify/tune/internal/leakcheck"
	"github.com/tune-dify/tune/loader"
)

func TestScenarios(t *testing.T) {
	leakcheck.Check(t)
	d := &dify{chunks: 5}
	srv := newDify(t, d)
	for _, tc := range []struct {
		name   string
		sc     loader.Scenario
		query  string
		events float64 // per stream
		token  bool
	}{
		{"chatflow", &loader.Chat{}, "hello", 8, true},
		{"agent", &loader.Chat{}, "agent please", 9, true},
		{"workflow", &loader.Workflow{QueryInput: "q"}, "hello", 7, true},
		{"retrieval", &loader.Retrieval{DatasetID: "ds1", TopK: 2}, "hello", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(srv.URL, tc.sc)
			cfg.Queries = []string{tc.query}
			start := time.Now()
			s, err := loader.Run(t.Context(), cfg)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if s.Completed == 0 || s.Failed != 0 || len(s.Errors) != 0 {
				t.Fatalf("completed %d, failed %d, errors %v %v", s.Completed, s.Failed, s.Errors, s.ErrorExamples)
			}
			if want := float64(s.Completed) / s.Duration; math.Abs(s.TPS-want) > 1e-9 || s.Duration < 0.45 {
				t.Errorf("tps %v over %vs, want %v", s.TPS, s.Duration, want)
			}
			if s.EventsPerStream.P50 != tc.events || s.EventsPerStream.Max != tc.events {
				t.Errorf("events per stream %+v, want %v", s.EventsPerStream, tc.events)
			}
			if s.TTFB.Count != s.Completed || s.Total.Count != s.Completed {
				t.Errorf("histogram counts %d, %d; completed %d", s.TTFB.Count, s.Total.Count, s.Completed)
			}
			if tc.token {
				if s.TTFT.Count != s.Completed || !(s.TTFB.P50 <= s.TTFT.P50 && s.TTFT.P50 <= s.Total.P50) {
					t.Errorf("want ttfb <= ttft <= total: %+v %+v %+v", s.TTFB, s.TTFT, s.Total)
				}
			} else if s.TTFT.Count != 0 {
				t.Errorf("retrieval has a first token: %+v", s.TTFT)
			}
			if tc.name == "chatflow" && s.Pings < s.Completed {
				t.Errorf("pings %d < streams %d", s.Pings, s.Completed)
			}
			var sum int64
			for _, p := range s.Timeline {
				sum += p.Completed
			}
			// A second a row, for each second the run took (one, unless a
			// busy machine stretched the half-second run past it).
			if sum < s.Completed || len(s.Timeline) < 1 || len(s.Timeline) > int(math.Ceil(elapsed.Seconds())) {
				t.Errorf("timeline %+v, completed %d", s.Timeline, s.Completed)
			}
			m := s.Measurement()
			if m.Completed != int(s.Completed) || m.Metrics.TPS != s.TPS || m.Metrics.P95 != s.Total.P95 || m.Metrics.TTFBP95 != s.TTFB.P95 {
				t.Errorf("measurement %+v from %+v", m, s)
			}
		})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for u := range d.users {
		if !slices.Contains([]string{"tune-1", "tune-2", "tune-3", "tune-4", ""}, u) { // retrieval sends no user
			t.Errorf("user %q", u)
		}
	}
}

func TestConversationKept(t *testing.T) {
	leakcheck.Check(t)
	d := &dify{chunks: 1}
	srv := newDify(t, d)
	cfg := config(srv.URL, &loader.Chat{Conversation: true})
	cfg.Users, cfg.Duration = 1, 200*time.Millisecond
	if _, err := loader.Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.convs) < 2 || d.convs[0] != "" || d.convs[1] != "c-tune-1" {
		t.Errorf("conversation ids sent: %q", d.convs[:min(3, len(d.convs))])
	}
}

// TestLatencyAccuracy compares the loader's p50 total time with the
// server's own timing of the same streams (handler start → message_end
// flushed): 20 events 10 ms apart, 50 concurrent streams, and 1,000 when
// TUNE_ACCURACY_1000 is set (slow, and the in-process server competes
// with the client for the CPU).
func TestLatencyAccuracy(t *testing.T) {
	users := []int{50}
	if os.Getenv("TUNE_ACCURACY_1000") != "" {
		users = append(users, 1000)
	}
	for _, n := range users {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			leakcheck.Check(t)
			d := &dify{chunks: 17, gap: 10 * time.Millisecond} // 17 + started, end, finished = 20
			srv := newDify(t, d)
			cfg := config(srv.URL, &loader.Chat{})
			cfg.Users, cfg.Duration = n, 1500*time.Millisecond
			if n > 50 {
				cfg.Duration, cfg.WarmUp = 5*time.Second, time.Second
			}
			s, err := loader.Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			d.mu.Lock()
			times := slices.Clone(d.times)
			d.mu.Unlock()
			slices.Sort(times)
			server := float64(times[len(times)/2].Microseconds()) / 1000
			client := s.Total.P50
			t.Logf("%d streams: %d completed, client p50 %.3f ms (ttfb %.3f), server p50 %.3f ms, error %.3f ms",
				n, s.Completed, s.Total.P50, s.TTFB.P50, server, client-server)
			// Measured error here is 0.3–1.6 ms (2.4–3.7 under -race); the
			// bound is loose so a busy CI machine does not fail it, and the
			// real figure belongs to the pinned benchmark, not to a test.
			// The bound is 15 ms plus 15% of the server's time (twice that
			// under -race): it catches a clock that starts or stops at the
			// wrong moment (an error of a whole stream's length), not the
			// scheduling delay of a machine busy with other work.
			tolerance := 15 + 0.15*server // ms
			if raceEnabled {
				tolerance *= 2
			}
			if n > 50 {
				// Here the error measured so far is CPU saturation (client and
				// server share two cores), not the client's clock: report only.
				return
			}
			if s.Completed < int64(3*n) || s.Failed != 0 || math.Abs(client-server) > tolerance {
				t.Errorf("client %.3f ms vs server %.3f ms, %d failed %v", client, server, s.Failed, s.Errors)
			}
		})
	}
}

func TestDurationRespected(t *testing.T) {
	leakcheck.Check(t)
	// Streams that would take 10 s: the run must still stop at 300 ms and
	// not count the requests it cut.
	srv := newDify(t, &dify{chunks: 1000, gap: 10 * time.Millisecond})
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Duration, cfg.Timeout = 300*time.Millisecond, 30*time.Second
	start := time.Now()
	s, err := loader.Run(t.Context(), cfg)
	if el := time.Since(start); err != nil || el < 300*time.Millisecond || el > 5*time.Second {
		t.Fatalf("run took %v, err %v", el, err)
	}
	if s.Completed != 0 || s.Failed != 0 {
		t.Errorf("cut requests counted: %+v", s)
	}
}

func TestCancel(t *testing.T) {
	leakcheck.Check(t)
	srv := newDify(t, &dify{chunks: 1000, gap: 10 * time.Millisecond})
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Duration = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := loader.Run(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || s == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("err %v after %v, summary %v", err, time.Since(start), s)
	}
	if s.Duration > 2 {
		t.Errorf("window %vs after cancel at 0.2s", s.Duration)
	}
}

// TestStages checks that users follow the stages, up and down, by the
// user names the server sees in each stage.
func TestStages(t *testing.T) {
	leakcheck.Check(t)
	d := &dify{chunks: 1, gap: 5 * time.Millisecond}
	srv := newDify(t, d)
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Users, cfg.Duration, cfg.SpawnRate = 0, 0, 100
	var progress []loader.Second
	cfg.Progress = func(s loader.Second) { progress = append(progress, s) }
	// Stages of a second with windows well inside them: a busy CI machine
	// must not move a request across a boundary.
	cfg.Stages = []loader.Stage{{Users: 2, Duration: time.Second}, {Users: 5, Duration: time.Second}, {Users: 1, Duration: time.Second}}
	start := time.Now()
	s, err := loader.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Completed == 0 || s.Failed != 0 || len(s.Timeline) < 3 {
		t.Fatalf("%+v", s)
	}
	// Progress is live: a request recorded just after the tick reaches only
	// the final timeline.
	if len(progress) < 2 || progress[0].T != 0 || progress[0].Completed == 0 ||
		progress[0].Completed > s.Timeline[0].Completed {
		t.Errorf("progress %+v, timeline %+v", progress, s.Timeline)
	}
	// The spawn ramp of the first stage (2 users at 100/s) is warm-up.
	if s.WarmUp != 0.02 || math.Abs(s.Duration-2.98) > 0.5 {
		t.Errorf("window %vs after %vs", s.Duration, s.WarmUp)
	}
	seen := func(from, to time.Duration) []string {
		d.mu.Lock()
		defer d.mu.Unlock()
		set := map[string]bool{}
		for _, a := range d.arrivals {
			if at := a.at.Sub(start); at >= from && at < to {
				set[a.user] = true
			}
		}
		var users []string
		for u := range set {
			users = append(users, u)
		}
		slices.Sort(users)
		return users
	}
	ms := time.Millisecond
	for _, w := range []struct {
		from, to time.Duration
		want     []string
	}{
		{200 * ms, 900 * ms, []string{"tune-1", "tune-2"}},
		{1300 * ms, 1900 * ms, []string{"tune-1", "tune-2", "tune-3", "tune-4", "tune-5"}},
		{2300 * ms, 2900 * ms, []string{"tune-1"}},
	} {
		if got := seen(w.from, w.to); !slices.Equal(got, w.want) {
			t.Errorf("users in [%v, %v): %v, want %v", w.from, w.to, got, w.want)
		}
	}
}

// slow answers every chat request after d, or when the client goes.
func slow(t *testing.T, d time.Duration, arrivals *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrivals.Add(1)
		wait(r, d)
		sse(w, msg, "data: {\"event\":\"message_end\"}\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestOpenLoop checks that a slow server does not slow the arrivals: every
// scheduled start is sent on time, and its latency is counted from then.
func TestOpenLoop(t *testing.T) {
	leakcheck.Check(t)
	var arrivals atomic.Int64
	srv := slow(t, 300*time.Millisecond, &arrivals)
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Users, cfg.Rate, cfg.Duration = 0, 100, time.Second
	s, err := loader.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 100 starts are due in 1 s; a closed loop of the same concurrency
	// against this server would have sent far fewer.
	if n := arrivals.Load(); n < 97 || n > 100 {
		t.Errorf("%d requests arrived, want 100", n)
	}
	if s.Failed != 0 || s.Completed < 60 || s.TTFB.P50 < 300 || s.Total.P50 > 400 {
		t.Errorf("completed %d, failed %d %v, ttfb %+v", s.Completed, s.Failed, s.Errors, s.TTFB)
	}
}

// TestOpenLoopOverload checks that starts beyond the in-flight cap are
// counted, not dropped: sent + overload = scheduled.
func TestOpenLoopOverload(t *testing.T) {
	leakcheck.Check(t)
	var arrivals atomic.Int64
	srv := slow(t, 200*time.Millisecond, &arrivals)
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Users, cfg.Rate, cfg.MaxInFlight, cfg.Duration = 0, 100, 5, time.Second
	s, err := loader.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	over := s.Errors[loader.KindOverload]
	if n := arrivals.Load(); n+over != 100 || over < 50 {
		t.Errorf("%d sent + %d overload, want 100 scheduled", n, over)
	}
	if s.ErrorExamples[loader.KindOverload] == "" {
		t.Error("no overload example")
	}
}
