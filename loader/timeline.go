package loader

import (
	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// secondSigFigs is the precision of a second's percentiles: 1%, plenty for
// a chart, and a histogram a seventh of the summary's size.
const secondSigFigs = 2

// seconds keeps each second's latency histograms only until the second is
// closed, then its percentiles: a run of any length holds a few histograms
// (the open seconds), never one per second. Guarded by recorder.mu.
type seconds struct {
	open   map[int]*secondHists
	spare  []*secondHists
	closed int // seconds below this are closed
	lat    []SecondLatency
	errs   []map[string]int64 // per second, allocated on the second's first failure
}

type secondHists struct{ total, ttft *hdrhistogram.Histogram }

// SecondLatency is one second's latency percentiles, in milliseconds, of
// the successful requests that ended in it; zero when none did.
type SecondLatency struct {
	TotalP50 float64 `json:"total_p50_ms"`
	TotalP95 float64 `json:"total_p95_ms"`
	TTFTP50  float64 `json:"ttft_p50_ms"`
	TTFTP95  float64 `json:"ttft_p95_ms"`
}

func newSeconds(n int) seconds {
	return seconds{open: map[int]*secondHists{}, lat: make([]SecondLatency, n), errs: make([]map[string]int64, n)}
}

// record adds one success ending in second i; total and ttft are in µs,
// ttft < 0 when the stream had no token. A second already closed (its
// request was recorded more than a second late) keeps its percentiles.
func (s *seconds) record(i int, total, ttft int64) {
	if i < s.closed || i >= len(s.lat) {
		return
	}
	h := s.open[i]
	if h == nil {
		if n := len(s.spare); n > 0 {
			h, s.spare = s.spare[n-1], s.spare[:n-1]
		} else {
			lat := func() *hdrhistogram.Histogram { return hdrhistogram.New(1, maxLatencyUS, secondSigFigs) }
			h = &secondHists{total: lat(), ttft: lat()}
		}
		s.open[i] = h
	}
	_ = h.total.RecordValue(total)
	if ttft >= 0 {
		_ = h.ttft.RecordValue(ttft)
	}
}

// fail counts one failure of kind ending in second i.
func (s *seconds) fail(i int, kind string) {
	if i < 0 || i >= len(s.errs) {
		return
	}
	if s.errs[i] == nil {
		s.errs[i] = map[string]int64{}
	}
	s.errs[i][kind]++
}

// closeBefore turns the histograms of seconds below end into percentiles
// and keeps the histograms for reuse.
func (s *seconds) closeBefore(end int) {
	end = min(end, len(s.lat))
	for i := s.closed; i < end; i++ {
		h := s.open[i]
		if h == nil {
			continue
		}
		q := func(h *hdrhistogram.Histogram, p float64) float64 {
			if h.TotalCount() == 0 {
				return 0
			}
			return float64(h.ValueAtQuantile(p)) / 1e3
		}
		s.lat[i] = SecondLatency{TotalP50: q(h.total, 50), TotalP95: q(h.total, 95), TTFTP50: q(h.ttft, 50), TTFTP95: q(h.ttft, 95)}
		h.total.Reset()
		h.ttft.Reset()
		s.spare = append(s.spare, h)
		delete(s.open, i)
	}
	s.closed = max(s.closed, end)
}
