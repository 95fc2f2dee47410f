package loader_test

import (
	"testing"
	"time"

	"github.com/tune-dify/tune/loader"
)

// BenchmarkChatStreams reports completed streams per second against an
// in-process Dify-like server sending 21 events a stream with no delay.
// Client and server share the CPU, so this is a floor, not make bench-load.
func BenchmarkChatStreams(b *testing.B) {
	d := &dify{chunks: 17}
	srv := newDify(b, d)
	for b.Loop() {
		cfg := config(srv.URL, &loader.Chat{})
		cfg.Users, cfg.Duration, cfg.WarmUp = 50, 2*time.Second, 500*time.Millisecond
		s, err := loader.Run(b.Context(), cfg)
		if err != nil || s.Failed != 0 {
			b.Fatal(err, s.Errors)
		}
		b.ReportMetric(s.TPS, "streams/s")
	}
}
