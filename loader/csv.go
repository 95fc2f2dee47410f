package loader

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

// WriteCSV writes the summary as Locust's --csv does, to prefix_stats.csv,
// prefix_history.csv and prefix_failures.csv.
func (s *Summary) WriteCSV(prefix string) error {
	files := []struct {
		suffix string
		write  func(io.Writer) error
	}{
		{"_stats.csv", s.WriteStatsCSV},
		{"_history.csv", s.WriteTimelineCSV},
		{"_failures.csv", s.WriteErrorsCSV},
	}
	for _, f := range files {
		if err := writeFile(prefix+f.suffix, f.write); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("loader: %w", err)
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("loader: write %s: %w", path, err)
	}
	return f.Close()
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// WriteStatsCSV writes one row per figure: its count and percentiles, and
// the run's totals on each row so that a row stands alone.
func (s *Summary) WriteStatsCSV(w io.Writer) error {
	c := csv.NewWriter(w)
	_ = c.Write([]string{"name", "count", "p50", "p90", "p95", "p99", "max", "completed", "failed", "tps", "error_rate"})
	for _, r := range []struct {
		name string
		p    Percentiles
	}{{"ttfb_ms", s.TTFB}, {"ttft_ms", s.TTFT}, {"total_ms", s.Total}, {"events_per_stream", s.EventsPerStream}} {
		_ = c.Write([]string{r.name, strconv.FormatInt(r.p.Count, 10),
			fmtFloat(r.p.P50), fmtFloat(r.p.P90), fmtFloat(r.p.P95), fmtFloat(r.p.P99), fmtFloat(r.p.Max),
			strconv.FormatInt(s.Completed, 10), strconv.FormatInt(s.Failed, 10), fmtFloat(s.TPS), strconv.FormatFloat(s.ErrorRate, 'f', 6, 64)})
	}
	c.Flush()
	return c.Error()
}

// WriteTimelineCSV writes the per-second timeline.
func (s *Summary) WriteTimelineCSV(w io.Writer) error {
	c := csv.NewWriter(w)
	_ = c.Write([]string{"t_s", "completed", "failed", "users", "in_flight"})
	for _, p := range s.Timeline {
		_ = c.Write([]string{strconv.Itoa(p.T), strconv.FormatInt(p.Completed, 10), strconv.FormatInt(p.Failed, 10),
			strconv.FormatInt(p.Users, 10), strconv.FormatInt(p.InFlight, 10)})
	}
	c.Flush()
	return c.Error()
}

// WriteErrorsCSV writes each error kind, its count and its first example,
// kinds sorted.
func (s *Summary) WriteErrorsCSV(w io.Writer) error {
	c := csv.NewWriter(w)
	_ = c.Write([]string{"kind", "count", "example"})
	kinds := make([]string, 0, len(s.Errors))
	for k := range s.Errors {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		_ = c.Write([]string{k, strconv.FormatInt(s.Errors[k], 10), s.ErrorExamples[k]})
	}
	c.Flush()
	return c.Error()
}
