package report

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"
	"github.com/go-echarts/go-echarts/v2/types"

	"github.com/tune-dify/tune/results"
)

// Chart is one chart of a page: go-echarts' element and script, drawn by
// ECharts in the browser with its SVG renderer (sharp at any zoom, and the
// browser test can count what it drew).
type Chart struct {
	ID      string
	Title   string
	Caption string
	Element template.HTML
	Script  template.HTML
}

// snippeter is what every go-echarts chart is.
type snippeter interface{ RenderSnippet() render.ChartSnippet }

// newChart renders c; id must be a JavaScript identifier, as go-echarts
// names the chart's variables after it.
func newChart(id, title, caption string, c snippeter) Chart {
	s := c.RenderSnippet()
	return Chart{ID: id, Title: title, Caption: caption,
		Element: template.HTML(s.Element), Script: template.HTML(s.Script)} // #nosec: go-echarts escapes the options
}

// Colours, so one thing has one colour on every chart.
const (
	colTrial     = "#5470c6"
	colFront     = "#ee6666"
	colBaseline  = "#3ba272"
	colPreset    = "#9a60b4"
	colRecommend = "#fac858"
	colMuted     = "#a0a0a0"
	colFailed    = "#c23531"
	colSLO       = "#d14a61"
)

func initOpts(id, height string) charts.GlobalOpts {
	return charts.WithInitializationOpts(opts.Initialization{ChartID: id, Width: "100%", Height: height, Renderer: "svg"})
}

// pointTooltip shows a trial's number, TPS and P95 for [p95, tps, number]
// points.
var pointTooltip = opts.Tooltip{Show: opts.Bool(true), Trigger: "item", Formatter: types.FuncStr(opts.FuncOpts(
	`function (p) { var v = p.value; return p.seriesName + '<br>trial #' + v[2] + ': ' + v[1].toFixed(1) + ' TPS, P95 ' + v[0].toFixed(0) + ' ms'; }`))}

func point(t results.Trial) opts.ScatterData {
	return opts.ScatterData{Name: "#" + strconv.Itoa(t.Number), Value: []any{round(t.Metrics.P95, 1), round(t.Metrics.TPS, 2), t.Number}}
}

// niceBelow and niceAbove round an axis end out to 1, 2 or 5 times a power
// of ten, so a log axis ends on numbers a person reads.
func niceBelow(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{5, 2, 1} {
		if m*p <= v {
			return m * p
		}
	}
	return p
}

func niceAbove(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// labelOpts labels a series' points; labels that would overlap move apart.
func labelOpts(text string, pos string) charts.SeriesOpts {
	return charts.WithSeriesOpts(func(s *charts.SingleSeries) {
		s.Label = &opts.Label{Show: opts.Bool(true), Position: pos, Formatter: text, Color: "#333"}
		s.LabelLayout = &opts.LabelLayout{MoveOverlap: "shiftY"}
	})
}

func styled(color string, symbol string, size int) charts.SeriesOpts {
	return charts.WithSeriesOpts(func(s *charts.SingleSeries) {
		s.Symbol, s.SymbolSize = symbol, size
		s.ItemStyle = &opts.ItemStyle{Color: color}
	})
}

// paretoChart: TPS against P95 for every trial, the SLO line, the front
// joined, the baseline, presets and recommendation labelled, failed and
// pruned trials apart.
func paretoChart(s *Study, n Numbers) Chart {
	lo, hi := math.Inf(1), 0.0 // the P95 range, for the axis
	for _, t := range s.Trials {
		if t.Metrics.P95 > 0 {
			lo, hi = min(lo, t.Metrics.P95), max(hi, t.Metrics.P95)
		}
	}
	if s.SLO.P95 > 0 {
		slo := float64(s.SLO.P95.Milliseconds())
		lo, hi = min(lo, slo), max(hi, slo)
	}
	if hi == 0 {
		lo, hi = 100, 1000
	}
	c := charts.NewScatter()
	c.SetGlobalOptions(initOpts("pareto", "520px"),
		charts.WithTooltipOpts(pointTooltip),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithGridOpts(opts.Grid{Top: "60", Left: "70", Right: "40", Bottom: "60"}),
		// Latency on a log scale: one trial that fell over at 20 s would
		// otherwise squeeze the whole front into a corner.
		charts.WithXAxisOpts(opts.XAxis{Type: "log", Name: "P95 latency (ms, log scale)", NameLocation: "middle", NameGap: 30,
			Min: niceBelow(lo), Max: niceAbove(hi), SplitLine: &opts.SplitLine{Show: opts.Bool(true)},
			AxisLabel: &opts.AxisLabel{ShowMinLabel: opts.Bool(true), ShowMaxLabel: opts.Bool(true)}}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "TPS", Scale: opts.Bool(true)}),
		charts.WithAnimation(false),
	)
	onFront := map[int]bool{}
	for _, p := range n.Front {
		onFront[p.Number] = true
	}
	lowest := lo // the left edge, for failed trials with no P95
	var sampled, presets, base, rec, pruned, screens, failed []opts.ScatterData
	for _, t := range s.Trials {
		switch {
		case t.State == results.StateFailed:
			// No measurement: drawn on the TPS = 0 line, at its P95 if it
			// had one, else at the left edge.
			p95 := t.Metrics.P95
			if p95 <= 0 {
				p95 = lowest
			}
			failed = append(failed, opts.ScatterData{Name: "#" + strconv.Itoa(t.Number), Value: []any{round(p95, 1), 0, t.Number}})
			continue
		case t.State == results.StatePruned && t.Metrics.P95 <= 0:
			continue // pruned before it measured anything: only the table shows it
		case t.State == results.StatePruned:
			pruned = append(pruned, point(t))
			continue
		case t.Screened():
			screens = append(screens, point(t))
			continue
		}
		switch {
		case n.Recommended != nil && t.Number == *n.Recommended:
			rec = append(rec, point(t))
		case t.Origin == results.OriginBaseline:
			base = append(base, point(t))
		case t.Origin == results.OriginEnqueued:
			presets = append(presets, point(t))
		default:
			sampled = append(sampled, point(t))
		}
	}
	trialOpts := []charts.SeriesOpts{styled(colTrial, "circle", 9)}
	if s.SLO.P95 > 0 {
		slo := float64(s.SLO.P95.Milliseconds())
		trialOpts = append(trialOpts,
			charts.WithMarkLineNameXAxisItemOpts(opts.MarkLineNameXAxisItem{Name: "SLO", XAxis: slo}),
			charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"},
				LineStyle: &opts.LineStyle{Color: colSLO, Type: "dashed", Width: 2},
				Label:     &opts.Label{Show: opts.Bool(true), Formatter: "SLO P95 " + msWords(slo)}}))
	}
	c.AddSeries("trials", sampled, trialOpts...)

	// The front, joined in order of P95.
	front := charts.NewLine()
	var fd []opts.LineData
	for i := len(n.Front) - 1; i >= 0; i-- {
		p := n.Front[i]
		fd = append(fd, opts.LineData{Name: "#" + strconv.Itoa(p.Number), Value: []any{round(p.P95, 1), round(p.TPS, 2), p.Number}})
	}
	recNum := -1
	if n.Recommended != nil {
		recNum = *n.Recommended
	}
	front.AddSeries("Pareto front", fd, charts.WithSeriesOpts(func(s *charts.SingleSeries) {
		s.Symbol, s.SymbolSize = "circle", 11
		s.ItemStyle = &opts.ItemStyle{Color: colFront}
		s.LineStyle = &opts.LineStyle{Color: colFront, Width: 2}
		// The recommended trial has its own label.
		s.Label = &opts.Label{Show: opts.Bool(true), Position: "right", Color: colFront, Formatter: string(opts.FuncOpts(
			fmt.Sprintf(`function (p) { return p.value[2] === %d ? '' : '#' + p.value[2]; }`, recNum)))}
		s.LabelLayout = &opts.LabelLayout{MoveOverlap: "shiftY"}
	}))
	c.Overlap(front)

	if len(base) > 0 {
		c.AddSeries("baseline", base, styled(colBaseline, "diamond", 18), labelOpts("baseline {b}", "left"))
	}
	if len(presets) > 0 {
		c.AddSeries("presets", presets, styled(colPreset, "triangle", 15), labelOpts("preset {b}", "left"))
	}
	if len(rec) > 0 {
		c.AddSeries("recommended", rec, styled(colRecommend, "pin", 30), labelOpts("recommended {b}", "right"))
	}
	if len(pruned) > 0 {
		c.AddSeries("pruned (partial metrics)", pruned, charts.WithSeriesOpts(func(s *charts.SingleSeries) {
			s.Symbol, s.SymbolSize = "emptyCircle", 9
			s.ItemStyle = &opts.ItemStyle{Color: colMuted}
		}))
	}
	if len(screens) > 0 {
		c.AddSeries("screens (short load, never recommended)", screens, charts.WithSeriesOpts(func(s *charts.SingleSeries) {
			s.Symbol, s.SymbolSize = "emptyDiamond", 9
			s.ItemStyle = &opts.ItemStyle{Color: colTrial}
		}))
	}
	if len(failed) > 0 {
		c.AddSeries("failed (no TPS)", failed, styled(colFailed, "path://M2,0 L5,3 L8,0 L10,2 L7,5 L10,8 L8,10 L5,7 L2,10 L0,8 L3,5 L0,2 Z", 12))
	}
	noun := "trials"
	if len(n.Front) == 1 {
		noun = "trial"
	}
	caption := fmt.Sprintf("Each complete trial at its P95 and TPS; up and to the left is better. The red line joins the Pareto front (%d %s no other beats on both).", len(n.Front), noun)
	if c := n.Counts; c.Failed > 0 {
		caption += fmt.Sprintf(" Failed trials (%d) are red crosses on TPS 0.", c.Failed)
	}
	if c := n.Counts; c.Pruned > 0 {
		caption += fmt.Sprintf(" Pruned trials (%d) are hollow grey circles: their metrics are partial.", c.Pruned)
	}
	if c := n.Counts; c.Screened > 0 {
		caption += fmt.Sprintf(" Trials measured only by a screen (%d) are hollow diamonds: a short load, off the front; %d were promoted to the full load.", c.Screened, c.Promoted)
	}
	return newChart("pareto", "Pareto front: TPS against P95", caption, c)
}

// convergenceCharts: the best SLO-feasible TPS after each trial, against
// the trial number and against the time spent.
func convergenceCharts(s *Study, n Numbers) []Chart {
	byTrial := charts.NewLine()
	byTrial.SetGlobalOptions(initOpts("convergence_trials", "360px"),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "trial", NameLocation: "middle", NameGap: 28, MinInterval: 1}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "TPS"}),
		charts.WithAnimation(false))
	var best, feasible, missed []opts.LineData
	var bestT []opts.LineData
	byNum := map[int]results.Trial{}
	for _, t := range s.Trials {
		byNum[t.Number] = t
	}
	for _, st := range n.Convergence {
		if st.Best != nil {
			best = append(best, opts.LineData{Value: []any{st.Trial, round(st.BestTPS, 2)}})
			bestT = append(bestT, opts.LineData{Value: []any{round(st.ElapsedS, 2), round(st.BestTPS, 2)}})
		}
		t := byNum[st.Trial]
		if t.State != results.StateComplete {
			continue
		}
		d := opts.LineData{Value: []any{t.Number, round(t.Metrics.TPS, 2)}}
		if s.SLO.Meets(t) {
			feasible = append(feasible, d)
		} else {
			missed = append(missed, d)
		}
	}
	stepLine := func(color string) charts.SeriesOpts {
		return charts.WithSeriesOpts(func(s *charts.SingleSeries) {
			s.Step, s.ShowSymbol = "end", opts.Bool(false)
			s.LineStyle = &opts.LineStyle{Color: color, Width: 3}
			s.ItemStyle = &opts.ItemStyle{Color: color}
		})
	}
	dots := func(color string) charts.SeriesOpts {
		return charts.WithSeriesOpts(func(s *charts.SingleSeries) {
			s.Symbol, s.SymbolSize = "circle", 7
			s.LineStyle = &opts.LineStyle{Width: 0, Opacity: opts.Float(0)}
			s.ItemStyle = &opts.ItemStyle{Color: color}
		})
	}
	byTrial.AddSeries("best within the SLO", best, stepLine(colFront))
	byTrial.AddSeries("trial meets the SLO", feasible, dots(colTrial))
	byTrial.AddSeries("trial misses the SLO", missed, dots(colMuted))

	byTime := charts.NewLine()
	byTime.SetGlobalOptions(initOpts("convergence_time", "360px"),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: timeAxis(s), NameLocation: "middle", NameGap: 28}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "TPS"}),
		charts.WithAnimation(false))
	byTime.AddSeries("best within the SLO", bestT, stepLine(colFront))

	none := ""
	if len(best) == 0 {
		none = " No trial meets the SLO yet, so the best line is empty."
	}
	return []Chart{
		newChart("convergence_trials", "Convergence by trial", "The best TPS among trials that meet the SLO after each trial, over every trial's own TPS."+none, byTrial),
		newChart("convergence_time", "Convergence by time spent", timeCaption(s)+none, byTime),
	}
}

// timeAxis names the convergence chart's time axis: a cluster's own
// seconds, or the model's estimate of them.
func timeAxis(s *Study) string {
	if estimated(s.Meta.WallTime) {
		return "seconds the trials would take on a cluster (estimate)"
	}
	return "seconds spent on trials (deploy + load)"
}

func timeCaption(s *Study) string {
	if w := s.Meta.WallTime; estimated(w) {
		return "The same best TPS against the time the trials would take on a cluster: " + w.Assumption + ", and each trial's load."
	}
	return "The same best TPS against the wall-clock seconds the trials took, deploy and load included."
}

// importanceChart: each varied parameter's share of the TPS variance,
// largest on top; shares the permutation test cannot tell from chance are
// grey.
func importanceChart(n Numbers) Chart {
	var shown []Importance
	var fixed []string
	for _, im := range n.Importance {
		if im.Groups < 2 {
			fixed = append(fixed, im.Param)
			continue
		}
		shown = append(shown, im)
	}
	c := charts.NewBar()
	height := max(200, 24*len(shown)+80)
	c.SetGlobalOptions(initOpts("importance", strconv.Itoa(height)+"px"),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithGridOpts(opts.Grid{Left: "200", Right: "90", Top: "20", Bottom: "40"}),
		// Bars run left to right (XYReversal): x holds the values, y the names.
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "% of TPS variance", NameLocation: "middle", NameGap: 26, Max: 100}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category"}),
		charts.WithAnimation(false))
	names := make([]string, 0, len(shown))
	data := make([]opts.BarData, 0, len(shown))
	for i := len(shown) - 1; i >= 0; i-- {
		im := shown[i]
		color := colTrial
		if !im.Significant() {
			color = colMuted
		}
		names = append(names, im.Param)
		data = append(data, opts.BarData{Value: round(100*im.Share, 1), ItemStyle: &opts.ItemStyle{Color: color},
			Label: &opts.Label{Show: opts.Bool(true), Position: "right", Formatter: fmt.Sprintf("%.0f%% (p %.3f, q %.2f)", 100*im.Share, im.P, im.Q)}})
	}
	c.SetXAxis(names).AddSeries("share of TPS variance (%)", data)
	c.XYReversal()
	caption := "How much of the variation in TPS each parameter explains on its own; blue bars are unlikely to be chance (q < 0.05), grey ones may be. Method: " + ImportanceMethod + "."
	if len(fixed) > 0 {
		caption += fmt.Sprintf(" Never varied, so not shown: %s.", strings.Join(fixed, ", "))
	}
	if len(n.Importance) == 0 {
		caption = "Needs at least four complete trials whose TPS varies."
	}
	return newChart("importance", "Parameter importance", caption, c)
}

// utilisationChart: a heatmap of CPU utilisation per service per trial.
func utilisationChart(s *Study) Chart {
	services := s.Services()
	var trials []string
	var data []opts.HeatMapData
	x := 0
	for _, t := range s.Trials {
		if len(t.Utilisation) == 0 {
			continue
		}
		trials = append(trials, "#"+strconv.Itoa(t.Number))
		for y, svc := range services {
			if u, ok := t.Utilisation[svc]; ok {
				data = append(data, opts.HeatMapData{Value: []any{x, y, round(100*u, 0)}})
			}
		}
		x++
	}
	c := charts.NewHeatMap()
	c.SetGlobalOptions(initOpts("utilisation", strconv.Itoa(max(240, 28*len(services)+120))+"px"),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item", Formatter: types.FuncStr(opts.FuncOpts(
			`function (p) { return 'trial ' + p.name + '<br>' + p.seriesName + ': ' + p.value[2] + '% CPU'; }`))}),
		charts.WithGridOpts(opts.Grid{Left: "110", Right: "40", Top: "20", Bottom: "90"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Name: "trial", Data: trials, SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		// The space's first service (the critical path) on top.
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: services, Inverse: opts.Bool(true), SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithVisualMapOpts(opts.VisualMap{Calculable: opts.Bool(true), Min: 0, Max: 100, Orient: "horizontal", Left: "center", Bottom: "0",
			Text: []string{"100% CPU", "0%"}, InRange: &opts.VisualMapInRange{Color: []string{"#f7fbff", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"}}}),
		charts.WithAnimation(false))
	c.SetXAxis(trials).AddSeries("CPU utilisation", data, charts.WithLabelOpts(opts.Label{Show: opts.Bool(len(trials) <= 30), Formatter: "{@[2]}"}))
	return newChart("utilisation", "Utilisation per service",
		"CPU used over CPU allocated, per service and trial, during the measured load; the darkest cell of a column is that trial's bottleneck. Trials with no utilisation recorded (failed before the load) are left out.", c)
}
