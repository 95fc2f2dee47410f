package report

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tune-dify/tune/loader"
	"github.com/tune-dify/tune/results"
)

// chromium finds Debian's Chromium. Its absence fails the test: the pages
// are only known to work once a real browser has drawn them.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("TUNE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium on PATH: the report tests open the pages in a real headless browser; " +
		"`bash .ci/install-report.sh` installs Debian's chromium (or set TUNE_CHROMIUM to a Chrome binary)")
	return ""
}

// page is what the browser saw of one page.
type page struct {
	problems []string // console errors, uncaught exceptions, network requests
	loadMs   float64  // navigation start → load event
}

// profileDir is a fresh Chromium profile folder. Chromium's helper
// processes can still write into it for a moment after the browser has
// exited, which fails t.TempDir's own cleanup ("directory not empty"), so
// it is removed with a few retries; a leftover is logged, not a failure.
func profileDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tune-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("Chromium's profile %s left behind: %v", dir, err)
	})
	return dir
}

// browse opens file in headless Chromium with the flags this machine needs
// (no sandbox as root, no background networking against a closed network,
// a fresh profile), records every console error, exception and request
// that leaves the file, and runs check on the page. With TUNE_REPORT_SHOTS
// set it also writes a full-page screenshot there.
func browse(t *testing.T, file, shot string, check func(ctx context.Context) error) page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profileDir(t)),
		chromedp.WindowSize(1300, 1000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second) // a bound, not an assertion
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()

	var mu sync.Mutex
	var p page
	problem := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		p.problems = append(p.problems, fmt.Sprintf(format, a...))
	}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert || e.Type == runtime.APITypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problem("console.%s: %s", e.Type, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			problem("uncaught: %s", e.ExceptionDetails.Error())
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError || e.Entry.Level == log.LevelWarning {
				problem("log %s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if u := e.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "about:") {
				problem("network request: %s", u)
			}
		}
	})
	url := "file://" + file
	var timing string
	err := chromedp.Run(ctx,
		network.Enable(), log.Enable(), runtime.Enable(),
		chromedp.Navigate(url),
		chromedp.WaitReady("body"),
		chromedp.Evaluate(`(() => { const n = performance.getEntriesByType("navigation")[0]; return JSON.stringify(n ? n.loadEventEnd : -1); })()`, &timing),
		chromedp.ActionFunc(check),
	)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	p.loadMs, _ = strconv.ParseFloat(timing, 64)
	if dir := os.Getenv("TUNE_REPORT_SHOTS"); dir != "" && shot != "" {
		var png []byte
		if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil { // quality 100: PNG
			t.Fatal(err)
		}
		out := filepath.Join(dir, shot)
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	return p
}

// chartsDrawn checks that every chart id has an ECharts instance, data in
// its series and an SVG with shapes in it.
func chartsDrawn(ctx context.Context, ids []string) error {
	for _, id := range ids {
		var got struct {
			Instance bool `json:"instance"`
			Points   int  `json:"points"`
			Shapes   int  `json:"shapes"`
			Width    int  `json:"width"`
		}
		js := fmt.Sprintf(`(() => {
			const el = document.getElementById(%q);
			if (!el) return {instance: false, points: 0, shapes: 0, width: 0};
			const inst = echarts.getInstanceByDom(el);
			const svg = el.querySelector("svg");
			let points = 0;
			if (inst) for (const s of inst.getOption().series) points += (s.data || []).filter(d => d !== "-" && !(d && d.value === "-")).length;
			return {instance: !!inst, points: points, shapes: svg ? svg.querySelectorAll("path, circle, rect").length : 0,
				width: svg ? Math.round(svg.getBoundingClientRect().width) : 0};
		})()`, id)
		if err := chromedp.Evaluate(js, &got).Do(ctx); err != nil {
			return fmt.Errorf("chart %s: %w", id, err)
		}
		if !got.Instance || got.Points == 0 || got.Shapes < 10 || got.Width < 300 {
			return fmt.Errorf("chart %s is missing or empty: %+v", id, got)
		}
	}
	return nil
}

// withFailures is the fixture study with a failed and a pruned trial, as a
// cluster study has them.
func withFailures(t *testing.T) string {
	t.Helper()
	s, err := Load(studyDir)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range s.Trials {
		switch s.Trials[i].Number {
		case 3:
			s.Trials[i].State, s.Trials[i].Error = results.StateFailed, "rollout: api: 0/2 ready: OOMKilled"
			s.Trials[i].Metrics, s.Trials[i].Utilisation = results.Metrics{}, nil
		case 5:
			s.Trials[i].State = results.StatePruned
		}
	}
	if err := results.WriteJSONL(filepath.Join(dir, TrialsFile), s.Trials); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{StudyFile, SpaceFile} {
		b, _ := os.ReadFile(filepath.Join(studyDir, f))
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var studyCharts = []string{"pareto", "convergence_trials", "convergence_time", "importance", "utilisation"}

// TestStudyReportInBrowser opens report.html in headless Chromium: no
// console error, no request leaves the file, every chart drawn with data,
// the recommended trial's number on the page, the trials table sorts.
func TestStudyReportInBrowser(t *testing.T) {
	dir := withFailures(t)
	path, err := WriteStudy(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Load(dir)
	n := Compute(s)
	if n.Recommended == nil {
		t.Fatal("the fixture has no recommendation")
	}
	p := browse(t, path, "report-study.png", func(ctx context.Context) error {
		if err := chartsDrawn(ctx, studyCharts); err != nil {
			return err
		}
		var rec, legend string
		if err := chromedp.Text("#recommended", &rec, chromedp.ByQuery).Do(ctx); err != nil {
			return err
		}
		if want := fmt.Sprintf("#%d", *n.Recommended); !strings.Contains(rec, want) {
			return fmt.Errorf("recommended line %q lacks %s", rec, want)
		}
		if err := chromedp.Evaluate(`echarts.getInstanceByDom(document.getElementById("pareto")).getOption().series.map(s => s.name).join("|")`, &legend).Do(ctx); err != nil {
			return err
		}
		for _, want := range []string{"Pareto front", "baseline", "presets", "recommended", "failed (no TPS)", "pruned (partial metrics)"} {
			if !slices.Contains(strings.Split(legend, "|"), want) {
				return fmt.Errorf("pareto chart has no %q series: %s", want, legend)
			}
		}
		// Sorting by TPS puts the recommended trial (the highest TPS within
		// the SLO, and here the highest overall) at one end.
		var order []string
		click := chromedp.Click(`#trials-table thead th:nth-child(4)`, chromedp.ByQuery)
		rows := chromedp.Evaluate(`[...document.querySelectorAll("#trials-table tbody tr")].map(r => r.dataset.trial)`, &order)
		if err := chromedp.Run(ctx, click, rows); err != nil {
			return err
		}
		want := strconv.Itoa(*n.Recommended)
		if order[0] != want && order[len(order)-1] != want {
			if err := chromedp.Run(ctx, click, rows); err != nil {
				return err
			}
			if order[0] != want && order[len(order)-1] != want {
				return fmt.Errorf("sorted by TPS, rows %v: recommended #%s at neither end", order, want)
			}
		}
		return nil
	})
	for _, pr := range p.problems {
		t.Error(pr)
	}
	t.Logf("report.html of %d trials: load event after %.0f ms", len(s.Trials), p.loadMs)
}

// TestLoadReportInBrowser runs a real load against a Dify-like server that
// refuses every fifth request, writes its page and opens it.
func TestLoadReportInBrowser(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_ = json.NewEncoder(w).Encode(map[string]any{"code": "too_many_requests", "message": "slow down", "status": 429})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for i := range 3 {
			time.Sleep(10 * time.Millisecond)
			fmt.Fprintf(w, "data: {\"event\": \"message\", \"answer\": \"chunk %d\", \"conversation_id\": \"c1\"}\n\n", i)
			fl.Flush()
		}
		fmt.Fprint(w, "data: {\"event\": \"message_end\", \"conversation_id\": \"c1\"}\n\n")
	}))
	defer srv.Close()
	sum, err := loader.Run(t.Context(), loader.Config{BaseURL: srv.URL + "/v1", APIKey: "app-test", Scenario: &loader.Chat{},
		Users: 6, SpawnRate: 3, Duration: 4 * time.Second, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "load.html")
	if err := WriteLoad(path, Run{URL: srv.URL + "/v1", Scenario: "chatflow", Load: "6 users, spawn 3/s, 4s"}, sum); err != nil {
		t.Fatal(err)
	}
	p := browse(t, path, "report-load.png", func(ctx context.Context) error {
		if err := chartsDrawn(ctx, []string{"load_tps", "load_users", "load_latency", "load_errors"}); err != nil {
			return err
		}
		var head string
		var kinds []string
		if err := chromedp.Run(ctx, chromedp.Text("#headline", &head, chromedp.ByQuery),
			chromedp.Evaluate(`echarts.getInstanceByDom(document.getElementById("load_errors")).getOption().series.map(s => s.name)`, &kinds)); err != nil {
			return err
		}
		if want := fmt.Sprintf("%.1f TPS", sum.TPS); !strings.Contains(head, want) {
			return fmt.Errorf("headline %q lacks %q", head, want)
		}
		if len(sum.Errors) == 0 {
			return fmt.Errorf("the server refused every fifth request, yet no error was counted")
		}
		for k := range sum.Errors {
			if !slices.Contains(kinds, k) {
				return fmt.Errorf("errors chart series %v lack %s", kinds, k)
			}
		}
		return nil
	})
	for _, pr := range p.problems {
		t.Error(pr)
	}
	t.Logf("load page of %d seconds: load event after %.0f ms", len(sum.Timeline), p.loadMs)
}

// TestLargeReportInBrowser opens the 1,000-trial report and logs how long
// the browser took (a figure, not an assertion).
func TestLargeReportInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 1,000-trial page is only measured")
	}
	for _, size := range []int{40, 1000} {
		path := filepath.Join(t.TempDir(), HTMLFile)
		if err := Write(path, bigStudy(t, size)); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(path)
		p := browse(t, path, "", func(ctx context.Context) error { return chartsDrawn(ctx, studyCharts) })
		for _, pr := range p.problems {
			t.Error(pr)
		}
		t.Logf("%d trials: %.2f MB, load event after %.0f ms", size, float64(fi.Size())/(1<<20), p.loadMs)
	}
}
