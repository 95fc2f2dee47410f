package sse_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/tune-dify/tune/loader/sse"
)

// chatStream is testdata/chatflow.sse: a 21-event Dify chatflow answer with
// two pings, 9.8 KB.
func chatStream(b *testing.B) []byte {
	in, err := os.ReadFile("testdata/chatflow.sse")
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkDecoder is the hot path: one decoder per connection, Reset per
// stream. It should not allocate.
func BenchmarkDecoder(b *testing.B) {
	in := chatStream(b)
	r := bytes.NewReader(in)
	d := sse.NewDecoder(r)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		r.Reset(in)
		d.Reset(r)
		for {
			e, err := d.Next()
			if err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			events++
			_ = e.Data
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

// BenchmarkScannerAnchor is what a naive client does: bufio.Scanner lines
// and strings.HasPrefix(line, "data:"). It is not a correct decoder (no CR
// line ends, no multi-line data, a 64 KiB line limit, no dispatch rule) and
// is here only to put BenchmarkDecoder's figure in context.
func BenchmarkScannerAnchor(b *testing.B) {
	in := chatStream(b)
	r := bytes.NewReader(in)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		r.Reset(in)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "data:") {
				events++
				_ = strings.TrimPrefix(line[len("data:"):], " ")
			}
		}
		if err := sc.Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

// eventReader returns one event per Read, as Dify flushes them, so the
// decoder sees the refills and partial buffers of a real connection.
type eventReader struct {
	events [][]byte
	i      int
}

func (r *eventReader) Read(p []byte) (int, error) {
	if r.i == len(r.events) {
		return 0, io.EOF
	}
	n := copy(p, r.events[r.i])
	r.events[r.i] = r.events[r.i][n:]
	if len(r.events[r.i]) == 0 {
		r.i++
	}
	return n, nil
}

func BenchmarkDecoderEventPerRead(b *testing.B) {
	in := chatStream(b)
	var events [][]byte
	for rest := in; len(rest) > 0; {
		i := bytes.Index(rest, []byte("\n\n")) + 2
		events = append(events, rest[:i])
		rest = rest[i:]
	}
	r := &eventReader{events: make([][]byte, len(events))}
	d := sse.NewDecoder(r)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		copy(r.events, events)
		r.i = 0
		d.Reset(r)
		for {
			if _, err := d.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
}
