package report

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/tune-dify/tune/loader"
)

// Run describes a load run for its page's header: what was driven, how.
type Run struct {
	URL      string // the service API base; credentials in it are never shown
	Scenario string
	Load     string // the load shape in words: "100 users, spawn 10/s, think 1s..3s"
	Started  string // when, as the page shows it
}

// loadPage is what templates/load.html renders.
type loadPage struct {
	scripts
	Run     Run
	Summary *loader.Summary
	Rows    []latencyRow
	Errors  []errorRow
	Charts  []Chart
}

type latencyRow struct {
	Name string
	loader.Percentiles
}

type errorRow struct {
	Kind    string
	Count   int64
	Example string
}

// RenderLoad writes the page of one load run to w, like Locust's HTML
// report: the summary, then per second the TPS, the users and requests in
// flight, P50/P95 of the total time and of the time to first token, and
// errors by kind.
func RenderLoad(w io.Writer, run Run, s *loader.Summary) error {
	if u, err := url.Parse(run.URL); err == nil && u.User != nil {
		run.URL = u.Redacted()
	}
	p := loadPage{scripts: libraries(), Run: run, Summary: s, Rows: []latencyRow{
		{"time to headers", s.TTFB}, {"time to first token", s.TTFT}, {"total (end event)", s.Total},
	}}
	for k, v := range s.Errors {
		p.Errors = append(p.Errors, errorRow{k, v, s.ErrorExamples[k]})
	}
	slices.SortFunc(p.Errors, func(a, b errorRow) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Kind, b.Kind)) })
	p.Charts = loadCharts(s)
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, "load.html", p); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteLoad writes the load run's page to path.
func WriteLoad(path string, run Run, s *loader.Summary) error {
	return writeFile(path, func(w io.Writer) error { return RenderLoad(w, run, s) })
}

func loadCharts(s *loader.Summary) []Chart {
	secs := make([]string, len(s.Timeline))
	var done, failed, users, inflight, p50, p95, t50, t95 []opts.LineData
	kinds := map[string]bool{}
	for i, sec := range s.Timeline {
		secs[i] = strconv.Itoa(sec.T)
		done = append(done, opts.LineData{Value: sec.Completed})
		failed = append(failed, opts.LineData{Value: sec.Failed})
		users = append(users, opts.LineData{Value: sec.Users})
		inflight = append(inflight, opts.LineData{Value: sec.InFlight})
		lat := func(v float64) opts.LineData {
			if sec.Completed == 0 {
				return opts.LineData{Value: "-"} // no success this second: a gap, not a zero
			}
			return opts.LineData{Value: round(v, 1)}
		}
		p50, p95 = append(p50, lat(sec.TotalP50)), append(p95, lat(sec.TotalP95))
		t50, t95 = append(t50, lat(sec.TTFTP50)), append(t95, lat(sec.TTFTP95))
		for k := range sec.Errors {
			kinds[k] = true
		}
	}
	window := charts.WithMarkAreaData([]opts.MarkAreaData{
		{Name: "measured window", XAxis: strconv.Itoa(int(s.WarmUp))},
		{XAxis: strconv.Itoa(max(int(s.WarmUp+s.Duration)-1, int(s.WarmUp)))}})
	base := func(id, yName string) *charts.Line {
		c := charts.NewLine()
		c.SetGlobalOptions(initOpts(id, "320px"),
			charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
			charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
			charts.WithGridOpts(opts.Grid{Top: "40", Left: "60", Right: "30", Bottom: "50"}),
			charts.WithXAxisOpts(opts.XAxis{Type: "category", Name: "second", NameLocation: "middle", NameGap: 28}),
			charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: yName}),
			charts.WithAnimation(false))
		c.SetXAxis(secs)
		return c
	}
	line := func(color string) charts.SeriesOpts {
		return charts.WithSeriesOpts(func(s *charts.SingleSeries) {
			s.ShowSymbol = opts.Bool(false)
			s.LineStyle = &opts.LineStyle{Color: color, Width: 2}
			s.ItemStyle = &opts.ItemStyle{Color: color}
		})
	}
	shade := charts.WithMarkAreaStyleOpts(opts.MarkAreaStyle{ItemStyle: &opts.ItemStyle{Color: "rgba(84,112,198,0.07)"}})

	tps := base("load_tps", "requests / s")
	tps.AddSeries("completed", done, line(colTrial), window, shade)
	tps.AddSeries("failed", failed, line(colFailed))

	load := base("load_users", "count")
	load.AddSeries("users", users, line(colBaseline), window, shade)
	load.AddSeries("in flight", inflight, line(colPreset))

	lat := base("load_latency", "ms")
	lat.AddSeries("total P50", p50, line(colTrial), window, shade)
	lat.AddSeries("total P95", p95, line(colFront))
	lat.AddSeries("first token P50", t50, line(colBaseline))
	lat.AddSeries("first token P95", t95, line(colRecommend))

	errs := charts.NewBar()
	errs.SetGlobalOptions(initOpts("load_errors", "320px"),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithGridOpts(opts.Grid{Top: "40", Left: "60", Right: "30", Bottom: "50"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Name: "second", NameLocation: "middle", NameGap: 28}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "failed / s", MinInterval: 1}),
		charts.WithAnimation(false))
	errs.SetXAxis(secs)
	sorted := make([]string, 0, len(kinds))
	for k := range kinds {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		data := make([]opts.BarData, len(s.Timeline))
		for i, sec := range s.Timeline {
			data[i] = opts.BarData{Value: sec.Errors[k]}
		}
		errs.AddSeries(k, data, charts.WithSeriesOpts(func(s *charts.SingleSeries) { s.Stack = "errors" }))
	}
	if len(sorted) == 0 {
		// An empty axis still shows the reader there was nothing to show.
		data := make([]opts.BarData, len(s.Timeline))
		for i := range data {
			data[i] = opts.BarData{Value: 0}
		}
		errs.AddSeries("no errors", data, charts.WithItemStyleOpts(opts.ItemStyle{Color: colMuted}))
	}
	return []Chart{
		newChart("load_tps", "Requests per second", "Requests that ended in each second, completed and failed; the shaded band is the measured window (after the spawn ramp and warm-up).", tps),
		newChart("load_users", "Users and requests in flight", "Closed-loop users running and requests in flight at the end of each second.", load),
		newChart("load_latency", "Latency per second", "P50 and P95 of the total time (request sent → end event) and of the time to the first token, over the successes that ended in each second (1% precision).", lat),
		newChart("load_errors", "Errors by kind", "Failed requests per second, stacked by kind (HTTP status and Dify code, error event, failed workflow, missing end event, timeout, connection, malformed).", errs),
	}
}
