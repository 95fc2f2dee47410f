package sse_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tune-dify/tune/loader/sse"
)

// ev is an Event with Data copied, so results can be kept and compared.
type ev struct {
	Type, Data, ID string
}

func (e ev) String() string { return fmt.Sprintf("{%s %q id=%q}", e.Type, e.Data, e.ID) }

func msg(data string) ev { return ev{Type: "message", Data: data} }

// decodeAll reads every event and the error that ended the stream.
func decodeAll(r io.Reader, opts ...sse.Option) ([]ev, error) {
	d := sse.NewDecoder(r, opts...)
	var evs []ev
	for {
		e, err := d.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev{e.Type, string(e.Data), e.ID})
	}
}

type decodeCase struct {
	name string
	in   string
	max  int
	want []ev
	err  error // io.EOF, sse.ErrIncompleteEvent or sse.ErrEventTooLarge
}

var decodeCases = []decodeCase{
	{name: "LF", in: "data: a\n\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "CRLF", in: "data: a\r\n\r\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "CR", in: "data: a\r\r", want: []ev{msg("a")}, err: io.EOF},
	{name: "mixed line ends", in: "data: a\r\ndata: b\rdata: c\n\r\n", want: []ev{msg("a\nb\nc")}, err: io.EOF},
	{name: "CRLF is one line end", in: "data: a\r\ndata: b\r\n\r\n", want: []ev{msg("a\nb")}, err: io.EOF},
	{name: "LF CR is two line ends", in: "data: a\n\r", want: []ev{msg("a")}, err: io.EOF},
	{name: "CR CRLF", in: "data: a\r\r\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "CR CR LF", in: "data: a\r\r\ndata: b\n\n", want: []ev{msg("a"), msg("b")}, err: io.EOF},
	{name: "BOM skipped", in: "\xEF\xBB\xBFdata: a\n\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "BOM only at start", in: "data: a\n\n\xEF\xBB\xBFdata: b\n\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "only one BOM skipped", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n", err: io.EOF},
	{name: "BOM prefix is not a BOM", in: "\xEF\xBBdata: a\n\n", err: io.EOF},
	{name: "BOM alone", in: "\xEF\xBB\xBF", err: io.EOF},
	{name: "comments ignored", in: ": ping\n\ndata: a\n: x\ndata: b\n:\n\n", want: []ev{msg("a\nb")}, err: io.EOF},
	{name: "field without colon", in: "data\n\n", want: []ev{msg("")}, err: io.EOF},
	{name: "event without colon resets type", in: "event: x\nevent\ndata: a\n\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "space stripped once", in: "data:  a\n\n", want: []ev{msg(" a")}, err: io.EOF},
	{name: "no space", in: "data:a\n\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "tab kept", in: "data:\ta\n\n", want: []ev{msg("\ta")}, err: io.EOF},
	{name: "trailing space kept", in: "data: a \n\n", want: []ev{msg("a ")}, err: io.EOF},
	{name: "colon in value", in: "data: a: b\ndata::\n\n", want: []ev{msg("a: b\n:")}, err: io.EOF},
	{name: "multi-line data", in: "data: a\ndata: b\ndata: c\n\n", want: []ev{msg("a\nb\nc")}, err: io.EOF},
	{name: "data empty value", in: "data:\n\n", want: []ev{msg("")}, err: io.EOF},
	{name: "two empty data lines", in: "data:\ndata:\n\n", want: []ev{msg("\n")}, err: io.EOF},
	{name: "trailing empty data line", in: "data: a\ndata:\n\n", want: []ev{msg("a\n")}, err: io.EOF},
	{name: "NUL in data kept", in: "data: a\x00b\n\n", want: []ev{msg("a\x00b")}, err: io.EOF},
	{name: "event type", in: "event: ping\ndata: a\n\n", want: []ev{{"ping", "a", ""}}, err: io.EOF},
	{name: "last event field wins", in: "event: a\nevent: b\ndata: x\n\n", want: []ev{{"b", "x", ""}}, err: io.EOF},
	{name: "event type reset after dispatch", in: "event: ping\ndata: a\n\ndata: b\n\n", want: []ev{{"ping", "a", ""}, msg("b")}, err: io.EOF},
	{name: "empty data buffer dispatches nothing", in: "event: ping\n\ndata: b\n\n", want: []ev{msg("b")}, err: io.EOF},
	{name: "blank lines only", in: "\n\r\n\r\n\n", err: io.EOF},
	{name: "empty stream", in: "", err: io.EOF},
	{name: "id", in: "id: 1\ndata: a\n\ndata: b\n\n", want: []ev{{"message", "a", "1"}, {"message", "b", "1"}}, err: io.EOF},
	{name: "id with NUL ignored", in: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", want: []ev{{"message", "a", "1"}, {"message", "b", "1"}}, err: io.EOF},
	{name: "empty id clears", in: "id: 1\ndata: a\n\nid\ndata: b\n\n", want: []ev{{"message", "a", "1"}, msg("b")}, err: io.EOF},
	{name: "id set by data-less block", in: "id: 7\n\ndata: a\n\n", want: []ev{{"message", "a", "7"}}, err: io.EOF},
	{name: "retry not an event", in: "retry: 1000\n\ndata: a\n\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "unknown fields ignored", in: "foo: bar\nDATA: x\ndata : y\ndata: a\n\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "unknown field only", in: "foo: bar\n\n", err: io.EOF},
	{name: "invalid UTF-8 replaced", in: "data: a\xffb\n\n", want: []ev{msg("a\uFFFDb")}, err: io.EOF},
	{name: "truncated sequence is one U+FFFD", in: "data: \xF0\x9F\x98A\n\n", want: []ev{msg("\uFFFDA")}, err: io.EOF},
	{name: "surrogate is three U+FFFD", in: "data: \xED\xA0\x80\n\n", want: []ev{msg("\uFFFD\uFFFD\uFFFD")}, err: io.EOF},
	{name: "invalid UTF-8 event type", in: "event: \xC3\ndata: a\n\n", want: []ev{{"\uFFFD", "a", ""}}, err: io.EOF},
	{name: "valid UTF-8 kept", in: "data: Dify 是 🚀\n\n", want: []ev{msg("Dify 是 🚀")}, err: io.EOF},
	{name: "incomplete: no blank line", in: "data: a\n\ndata: b\n", want: []ev{msg("a")}, err: sse.ErrIncompleteEvent},
	{name: "incomplete: mid-line", in: "data: a\n\ndata: b", want: []ev{msg("a")}, err: sse.ErrIncompleteEvent},
	{name: "incomplete: event field only", in: "event: x\n", err: sse.ErrIncompleteEvent},
	{name: "incomplete: mid-comment", in: "data: a\n\n: pi", want: []ev{msg("a")}, err: sse.ErrIncompleteEvent},
	{name: "trailing comment is clean", in: "data: a\n\n: bye\n", want: []ev{msg("a")}, err: io.EOF},
	{name: "trailing CR is a line end", in: "data: a\r\r", want: []ev{msg("a")}, err: io.EOF},
	{name: "too large: line", in: "data: 0123456789abcdef\n\n", max: 16, err: sse.ErrEventTooLarge},
	{name: "too large: unterminated line", in: "data: 0123456789abcdef", max: 16, err: sse.ErrEventTooLarge},
	{name: "too large: comment line", in: ": 0123456789abcdefgh\n\n", max: 16, err: sse.ErrEventTooLarge},
	{name: "too large: data over lines", in: "data:01234567\ndata:89abcdefg\n\n", max: 16, err: sse.ErrEventTooLarge},
	{name: "at the limit", in: "data:0123456789\ndata:abcde\n\n", max: 16, want: []ev{msg("0123456789\nabcde")}, err: io.EOF},
	{name: "events before too large", in: "data: a\n\ndata: 0123456789abcdefgh\n\n", max: 16, want: []ev{msg("a")}, err: sse.ErrEventTooLarge},
}

func TestDecoder(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll(strings.NewReader(tc.in), sse.WithMaxEventSize(tc.max))
			if !equalEvents(got, tc.want) {
				t.Errorf("events:\n got %v\nwant %v", got, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

// TestDecoderSplits feeds every case in every way a network could: one byte
// per read, split at each point, data returned together with io.EOF, and
// expects what a single read gives.
func TestDecoderSplits(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			opt := sse.WithMaxEventSize(tc.max)
			want, wantErr := decodeAll(strings.NewReader(tc.in), opt)
			check := func(how string, r io.Reader) {
				t.Helper()
				got, err := decodeAll(r, opt)
				if !equalEvents(got, want) || err.Error() != wantErr.Error() {
					t.Errorf("%s: got %v, %v; want %v, %v", how, got, err, want, wantErr)
				}
			}
			check("one byte", iotest.OneByteReader(strings.NewReader(tc.in)))
			check("data with EOF", iotest.DataErrReader(strings.NewReader(tc.in)))
			check("half reader", iotest.HalfReader(strings.NewReader(tc.in)))
			for i := 1; i < len(tc.in); i++ {
				check(fmt.Sprintf("split at %d", i), io.MultiReader(strings.NewReader(tc.in[:i]), strings.NewReader(tc.in[i:])))
			}
		})
	}
}

// chunkReader returns one chunk per Read, as a network would deliver them.
type chunkReader struct{ chunks []string }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

func TestCRLFAcrossReads(t *testing.T) {
	r := &chunkReader{chunks: []string{"data: a\r", "\ndata: b\r", "\n\r", "\n", "data: c\r", "\r", "\n"}}
	got, err := decodeAll(r)
	want := []ev{msg("a\nb"), msg("c")}
	if !equalEvents(got, want) || err != io.EOF {
		t.Errorf("got %v, %v; want %v, EOF", got, err, want)
	}
}

// TestNextDoesNotWaitPastEvent checks that an event ending in CR is returned
// without waiting for the byte that would tell whether an LF follows; a
// load tester timing chunk arrival needs the event when it arrives.
func TestNextDoesNotWaitPastEvent(t *testing.T) {
	for _, in := range []string{"data: a\r\r", "data: a\n\n", "\xEF\xBB\xBFdata: a\r\n\r"} {
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte(in))
		}()
		done := make(chan error, 1)
		go func() {
			e, err := sse.NewDecoder(pr).Next()
			if err == nil && string(e.Data) != "a" {
				err = fmt.Errorf("data %q", e.Data)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%q: %v", in, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%q: Next blocked waiting for more input", in)
		}
		pw.Close()
	}
}

func TestRetry(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		set  bool
	}{
		{"retry: 1000\n\n", time.Second, true},
		{"retry:0\n\n", 0, true},
		{"retry: 1000\nretry: 10a\n\n", time.Second, true},
		{"retry: 10a\n\n", 0, false},
		{"retry: -5\n\n", 0, false},
		{"retry:  5\n\n", 0, false}, // the second space is part of the value
		{"retry: 1.5\n\n", 0, false},
		{"retry:\n\n", 0, false},
		{"retry\n\n", 0, false},
		{"retry: ١٢\n\n", 0, false}, // digits, but not ASCII digits
		{"retry: 99999999999999999999999\n\n", math.MaxInt64, true},
		{"retry: 250\n", 250 * time.Millisecond, true}, // set on the line, not at dispatch
	} {
		d := sse.NewDecoder(strings.NewReader(tc.in))
		for {
			if _, err := d.Next(); err != nil {
				break
			}
		}
		got, set := d.Retry()
		if got != tc.want || set != tc.set {
			t.Errorf("%q: Retry() = %v, %v; want %v, %v", tc.in, got, set, tc.want, tc.set)
		}
	}
}

func TestLastEventID(t *testing.T) {
	d := sse.NewDecoder(strings.NewReader("id: 1\ndata: a\n\nid: 2\n\nid: 3\n"))
	e, _ := d.Next()
	if e.ID != "1" || d.LastEventID() != "1" {
		t.Errorf("after first event: ID %q, LastEventID %q", e.ID, d.LastEventID())
	}
	if _, err := d.Next(); err != sse.ErrIncompleteEvent {
		t.Fatalf("err = %v", err)
	}
	// "id: 2" was followed by a blank line, "id: 3" was not.
	if got := d.LastEventID(); got != "2" {
		t.Errorf("LastEventID = %q, want 2", got)
	}
}

func TestKeepAlives(t *testing.T) {
	in := ": hello\n\nevent: ping\n\ndata: a\n\n:\nevent: ping\r\n\r\n\n\nid: 3\n\n"
	var comments []string
	var empty []string
	d := sse.NewDecoder(strings.NewReader(in),
		sse.WithCommentFunc(func(text []byte) { comments = append(comments, string(text)) }),
		sse.WithEmptyEventFunc(func(typ string) { empty = append(empty, typ) }))
	var n int
	for {
		if _, err := d.Next(); err != nil {
			break
		}
		n++
	}
	if n != 1 {
		t.Errorf("%d events, want 1", n)
	}
	if want := []string{" hello", ""}; fmt.Sprint(comments) != fmt.Sprint(want) {
		t.Errorf("comments %q, want %q", comments, want)
	}
	if want := []string{"ping", "ping", "message"}; fmt.Sprint(empty) != fmt.Sprint(want) {
		t.Errorf("empty events %q, want %q", empty, want)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
	d := sse.NewDecoder(r)
	if e, err := d.Next(); err != nil || string(e.Data) != "a" {
		t.Fatalf("Next = %q, %v", e.Data, err)
	}
	_, err := d.Next()
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if _, again := d.Next(); again != err {
		t.Errorf("second Next err = %v, want sticky %v", again, err)
	}
}

func TestNoProgress(t *testing.T) {
	_, err := decodeAll(zeroReader{})
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("err = %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// TestEndlessLine is a hostile server sending a line that never ends: the
// decoder must give up at the limit, not read (and hold) all of it.
func TestEndlessLine(t *testing.T) {
	r := &countingReader{r: infiniteReader('a')}
	_, err := decodeAll(r, sse.WithMaxEventSize(64<<10))
	if !errors.Is(err, sse.ErrEventTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if r.n > 2*64<<10 {
		t.Errorf("read %d bytes before giving up on a 64 KiB limit", r.n)
	}
	// A 10 MB event of short lines hits the data limit the same way.
	big := strings.Repeat("data: "+strings.Repeat("x", 1000)+"\n", 10_000) + "\n"
	if _, err := decodeAll(strings.NewReader(big)); !errors.Is(err, sse.ErrEventTooLarge) {
		t.Errorf("10 MB event: err = %v", err)
	}
}

type infiniteReader byte

func (b infiniteReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReset(t *testing.T) {
	d := sse.NewDecoder(strings.NewReader("id: 1\nretry: 5\nevent: x\ndata: a\n"))
	if _, err := d.Next(); err != sse.ErrIncompleteEvent {
		t.Fatalf("err = %v", err)
	}
	d.Reset(strings.NewReader("\xEF\xBB\xBFdata: b\n\n"))
	e, err := d.Next()
	if err != nil || e.Type != "message" || string(e.Data) != "b" || e.ID != "" {
		t.Fatalf("after Reset: %+v, %v", e, err)
	}
	if _, set := d.Retry(); set {
		t.Error("Reset kept the reconnection time")
	}
	if _, err := d.Next(); err != io.EOF {
		t.Errorf("err = %v, want EOF", err)
	}
}

// TestDataValidUntilNext documents the aliasing contract: Data is reused.
func TestDataValidUntilNext(t *testing.T) {
	d := sse.NewDecoder(strings.NewReader("data: first\n\ndata: second\n\n"))
	e1, _ := d.Next()
	kept := bytes.Clone(e1.Data)
	e2, _ := d.Next()
	if string(kept) != "first" || string(e2.Data) != "second" {
		t.Errorf("kept %q, second %q", kept, e2.Data)
	}
}

func equalEvents(a, b []ev) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHugeLimit guards the buffer growth arithmetic against overflow.
func TestHugeLimit(t *testing.T) {
	in := "data: " + strings.Repeat("x", 100_000) + "\n\n"
	got, err := decodeAll(iotest.HalfReader(strings.NewReader(in)), sse.WithMaxEventSize(math.MaxInt))
	if err != io.EOF || len(got) != 1 || len(got[0].Data) != 100_000 {
		t.Errorf("got %d events, err %v", len(got), err)
	}
}
