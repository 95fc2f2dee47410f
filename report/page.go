package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tune-dify/tune/results"
)

//go:embed assets/echarts.min.js assets/tablesort.min.js assets/tablesort.number.min.js
var assets embed.FS

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"pct":  func(v float64) string { return strconv.FormatFloat(100*v, 'f', 2, 64) },
	"f0":   func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) },
	"f1":   func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"f2":   func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"unit": unit,
	"val": func(v any) string {
		if v == nil {
			return "—"
		}
		return fmt.Sprint(v)
	},
}).ParseFS(templateFS, "templates/*.html"))

// script reads an inlined asset. The files are embedded: failing to read
// one is a broken build, not a runtime condition.
func script(name string) template.JS {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic(err)
	}
	return template.JS(b) // #nosec: a vendored library, not user data
}

// scripts are the libraries every page inlines.
type scripts struct {
	ECharts, Tablesort, TablesortNumber template.JS
}

func libraries() scripts {
	return scripts{script("echarts.min.js"), script("tablesort.min.js"), script("tablesort.number.min.js")}
}

// studyPage is what templates/study.html renders.
type studyPage struct {
	scripts
	Study   *Study
	Numbers Numbers
	Story   []string
	Chosen  *results.Trial
	Charts  []Chart
	Params  []string
	Rows    []row
	LastAt  string
}

type row struct {
	results.Trial
	Front, Recommended, Meets bool
	Values                    []any
}

// Render writes the study's report page to w.
func Render(w io.Writer, s *Study) error {
	n := Compute(s)
	p := studyPage{scripts: libraries(), Study: s, Numbers: n, Story: Story(s, n), Params: s.ParamNames()}
	onFront := map[int]bool{}
	for _, f := range n.Front {
		onFront[f.Number] = true
	}
	for i, t := range s.Trials {
		r := row{Trial: t, Front: onFront[t.Number], Meets: s.SLO.Meets(t)}
		if n.Recommended != nil && t.Number == *n.Recommended {
			r.Recommended = true
			p.Chosen = &s.Trials[i]
		}
		if n.Closest != nil && t.Number == *n.Closest {
			p.Chosen = &s.Trials[i]
		}
		for _, name := range p.Params {
			r.Values = append(r.Values, t.Params[name])
		}
		p.Rows = append(p.Rows, r)
		if !t.Finished.IsZero() {
			p.LastAt = t.Finished.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	p.Charts = append(p.Charts, paretoChart(s, n))
	p.Charts = append(p.Charts, convergenceCharts(s, n)...)
	p.Charts = append(p.Charts, importanceChart(n), utilisationChart(s))
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, "study.html", p); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteStudy writes report.html into the study folder dir from what the
// folder holds, and returns its path. It works on a study still running or
// interrupted: the report covers the trials finished so far.
func WriteStudy(dir string) (string, error) {
	s, err := Load(dir)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, HTMLFile)
	return path, Write(path, s)
}

// Write writes the report page of s to path.
func Write(path string, s *Study) error {
	return writeFile(path, func(w io.Writer) error { return Render(w, s) })
}

// writeFile writes the page to a temporary file beside path and renames it
// into place: a browser never opens half a report.
func writeFile(path string, render func(io.Writer) error) error {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return nil
}

// unit is how a parameter's values read in the changes table.
func unit(param string) string {
	switch {
	case strings.HasSuffix(param, ".cpu"):
		return "cores"
	case strings.HasSuffix(param, ".memory"):
		return "MiB"
	}
	return ""
}
