package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

// DefaultMaxEventSize bounds one line and one event's data unless
// WithMaxEventSize says otherwise: well above Dify's events (a few KB), far
// below what a hostile server could make us hold.
const DefaultMaxEventSize = 1 << 20

// initialBufSize is the first read buffer; it grows (up to the max event size)
// only when a line does not fit, and Reset keeps what it grew to.
const initialBufSize = 4096

// maxEmptyReads mirrors bufio: a reader returning (0, nil) this many times in
// a row is broken, not slow.
const maxEmptyReads = 100

// maxInterned bounds the per-decoder cache of event type strings, so a
// server inventing a new type per event costs allocations, not memory.
const maxInterned = 8

// Errors returned by Next, compared with errors.Is.
var (
	// ErrIncompleteEvent is returned instead of io.EOF when the stream ends
	// after a field line with no blank line to dispatch it, or in the middle
	// of a line: the pending event is discarded, as the spec requires, and
	// the caller learns the stream was cut short.
	ErrIncompleteEvent = errors.New("sse: stream ended mid-event")
	// ErrEventTooLarge is returned when one line, or one event's data, is
	// longer than the max event size. The decoder stops there: the rest of
	// the stream cannot be framed without reading the oversized part.
	ErrEventTooLarge = errors.New("sse: event too large")
)

// Event is one dispatched event.
type Event struct {
	// Type is the event type; "message" when the event had no event field.
	Type string
	// Data is the data lines joined by LF. It aliases the decoder's buffer
	// and is valid only until the next call to Next or Reset; copy it to
	// keep it. Not copying is what makes decoding allocation-free.
	Data []byte
	// ID is the last event ID at dispatch: the latest valid id field seen
	// in this stream, possibly from an earlier event.
	ID string
}

// Option configures a Decoder.
type Option func(*Decoder)

// WithMaxEventSize bounds the length of any one line and of one event's
// data, in bytes; n <= 0 means DefaultMaxEventSize.
func WithMaxEventSize(n int) Option {
	return func(d *Decoder) {
		if n <= 0 {
			n = DefaultMaxEventSize
		}
		d.max = n
	}
}

// WithCommentFunc calls f with the text after the colon of every comment
// line (": ping" gives " ping"), so keep-alive comments can be counted and
// timed. text is valid only during the call.
func WithCommentFunc(f func(text []byte)) Option {
	return func(d *Decoder) { d.onComment = f }
}

// WithEmptyEventFunc calls f with the event type of every event the spec
// drops because it has no data lines. Dify's keep-alive, "event: ping"
// followed by a blank line, is such an event: Next never returns it, so this
// is how to see it. Blank lines with no field line before them do not count.
func WithEmptyEventFunc(f func(eventType string)) Option {
	return func(d *Decoder) { d.onEmpty = f }
}

// Decoder reads events from a text/event-stream. It is not safe for
// concurrent use; give each connection its own and reuse it with Reset.
type Decoder struct {
	r   io.Reader
	buf []byte // read buffer; unread bytes are buf[start:end]

	start, end int
	scanned    int   // buf[start:start+scanned] holds no CR or LF
	rerr       error // first error from r, reported once buffered lines are used up
	skipLF     bool  // the last line ended with CR: an LF next belongs to it
	bomDone    bool  // the stream start was checked for a byte order mark

	data     []byte // data buffer, each value followed by LF
	typ      []byte // event type buffer
	pending  bool   // a field line was seen since the last blank line
	idBuf    string // last event ID buffer
	lastID   string // last event ID string, set at dispatch
	retry    time.Duration
	retrySet bool
	err      error // sticky: once Next fails it keeps failing

	fixed    []byte   // data with invalid UTF-8 replaced, when needed
	interned []string // recent event types, to avoid a string per event

	max       int
	onComment func([]byte)
	onEmpty   func(string)
}

// NewDecoder returns a decoder reading the event stream from r.
func NewDecoder(r io.Reader, opts ...Option) *Decoder {
	d := &Decoder{r: r, max: DefaultMaxEventSize}
	for _, o := range opts {
		o(d)
	}
	d.buf = make([]byte, initialBufSize)
	return d
}

// Reset makes d read a new stream from r, forgetting all state of the
// previous one (last event ID, reconnection time) but keeping its buffers,
// so that a connection's decoder decodes stream after stream without
// allocating.
func (d *Decoder) Reset(r io.Reader) {
	*d = Decoder{
		r:         r,
		buf:       d.buf,
		data:      d.data[:0],
		typ:       d.typ[:0],
		fixed:     d.fixed[:0],
		interned:  d.interned,
		max:       d.max,
		onComment: d.onComment,
		onEmpty:   d.onEmpty,
	}
}

// LastEventID returns the last event ID string: the id buffer as of the
// last blank line, whether or not that blank line dispatched an event. It is
// what a client sends as Last-Event-ID when it reconnects.
func (d *Decoder) LastEventID() string { return d.lastID }

// Retry returns the reconnection time the server last set with a retry
// field, and whether it set one in this stream.
func (d *Decoder) Retry() (time.Duration, bool) { return d.retry, d.retrySet }

// Next returns the next event. It returns io.EOF when the stream ends
// cleanly, ErrIncompleteEvent when it ends with an event not yet
// dispatched, ErrEventTooLarge, or the reader's error, wrapped. Once it has
// returned an error, it returns the same error until Reset.
//
// Next returns as soon as the blank line ending an event is read; it never
// waits for more bytes than that, so arrival times are the caller's to
// measure. To stop a blocked Next, make the reader's Read return, e.g. by
// cancelling the HTTP request's context.
func (d *Decoder) Next() (Event, error) {
	if d.err != nil {
		return Event{}, d.err
	}
	for {
		line, err := d.readLine()
		if err != nil {
			d.err = err
			return Event{}, err
		}
		if len(line) == 0 {
			if ev, ok := d.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if err := d.processLine(line); err != nil {
			d.err = err
			return Event{}, err
		}
	}
}

// dispatch follows the spec's "dispatch the event" steps for a blank line.
func (d *Decoder) dispatch() (Event, bool) {
	d.lastID = d.idBuf
	hadFields := d.pending
	d.pending = false
	if len(d.data) == 0 {
		if hadFields && d.onEmpty != nil {
			d.onEmpty(d.eventType())
		}
		d.typ = d.typ[:0]
		return Event{}, false
	}
	data := d.data[:len(d.data)-1] // every value is followed by LF: drop the last
	if !utf8.Valid(data) {
		d.fixed = appendValidUTF8(d.fixed[:0], data)
		data = d.fixed
	}
	ev := Event{Type: d.eventType(), Data: data, ID: d.lastID}
	// data still aliases the buffer's array: the next append overwrites it,
	// which is why Data is only valid until the next call.
	d.data = d.data[:0]
	d.typ = d.typ[:0]
	return ev, true
}

func (d *Decoder) eventType() string {
	if len(d.typ) == 0 {
		return "message"
	}
	t := d.typ
	if !utf8.Valid(t) {
		t = appendValidUTF8(nil, t)
	}
	for _, s := range d.interned {
		if string(t) == s {
			return s
		}
	}
	s := string(t)
	if len(d.interned) < maxInterned {
		d.interned = append(d.interned, s)
	}
	return s
}

// processLine handles one non-empty line.
func (d *Decoder) processLine(line []byte) error {
	if line[0] == ':' {
		if d.onComment != nil {
			d.onComment(line[1:])
		}
		return nil
	}
	d.pending = true
	field, value := line, line[len(line):]
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if len(d.data)+len(value) > d.max {
			return fmt.Errorf("%w: data over %d bytes", ErrEventTooLarge, d.max)
		}
		d.data = append(d.data, value...)
		d.data = append(d.data, '\n')
	case "event":
		d.typ = append(d.typ[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) >= 0 {
			break
		}
		if !utf8.Valid(value) {
			value = appendValidUTF8(nil, value)
		}
		if string(value) != d.idBuf { // ids usually repeat or are absent: allocate only on change
			d.idBuf = string(value)
		}
	case "retry":
		if ms, ok := parseRetry(value); ok {
			d.retry, d.retrySet = ms, true
		}
	}
	return nil
}

// parseRetry accepts ASCII digits only, as the spec says; the empty value is
// not a number and is ignored. Values beyond time.Duration saturate rather
// than wrap, since the spec's integer is unbounded.
func parseRetry(v []byte) (time.Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	const limit = math.MaxInt64 / int64(time.Millisecond)
	var ms int64
	saturated := false
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if ms > (limit-int64(c-'0'))/10 {
			saturated = true
			continue
		}
		ms = ms*10 + int64(c-'0')
	}
	if saturated {
		return math.MaxInt64, true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// readLine returns the next line without its terminator (CRLF, LF or CR).
// The line aliases the read buffer until the next readLine. At the end of
// the stream it returns io.EOF, or ErrIncompleteEvent if an event or a line
// was left unfinished.
func (d *Decoder) readLine() ([]byte, error) {
	if !d.bomDone {
		d.skipBOM()
	}
	for {
		if d.skipLF {
			if d.start == d.end && d.rerr == nil {
				d.fill()
				continue
			}
			d.skipLF = false
			if d.start < d.end && d.buf[d.start] == '\n' {
				d.start++
			}
		}
		window := d.buf[d.start:d.end]
		if i := indexEOL(window[d.scanned:]); i >= 0 {
			i += d.scanned
			d.scanned = 0
			line := window[:i]
			if len(line) > d.max {
				return nil, fmt.Errorf("%w: line over %d bytes", ErrEventTooLarge, d.max)
			}
			d.start += i + 1
			if window[i] == '\r' {
				d.skipLF = true // settled by the next call, without waiting for a byte now
			}
			return line, nil
		}
		d.scanned = len(window)
		if len(window) > d.max {
			return nil, fmt.Errorf("%w: line over %d bytes", ErrEventTooLarge, d.max)
		}
		if d.rerr != nil {
			return nil, d.endErr(len(window) > 0)
		}
		d.fill()
	}
}

// endErr is the error for the end of input, once every complete line is used.
func (d *Decoder) endErr(partialLine bool) error {
	d.start = d.end
	if d.rerr != io.EOF {
		return fmt.Errorf("sse: read: %w", d.rerr)
	}
	if partialLine || d.pending {
		return ErrIncompleteEvent
	}
	return io.EOF
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// skipBOM drops one UTF-8 byte order mark at the start of the stream. It
// reads more only while what it has could still be the start of one, so a
// first line shorter than three bytes is not held back.
func (d *Decoder) skipBOM() {
	for {
		w := d.buf[d.start:d.end]
		n := min(len(w), len(bom))
		if !bytes.Equal(w[:n], bom[:n]) {
			break
		}
		if n == len(bom) {
			d.start += n
			break
		}
		if d.rerr != nil {
			break // a lone prefix of a BOM: leave it as the (unterminated) first line
		}
		d.fill()
	}
	d.bomDone = true
}

// fill reads once into the buffer, first moving unread bytes to its front
// and growing it if a line fills it.
func (d *Decoder) fill() {
	if d.start > 0 {
		d.end = copy(d.buf, d.buf[d.start:d.end])
		d.start = 0
	}
	if d.end == len(d.buf) {
		// Growing past max+1 is never needed: a window that long without a
		// line end is already too large.
		n := min(2*len(d.buf), d.max)
		if n == d.max && d.max < math.MaxInt {
			n++
		}
		if n > len(d.buf) {
			nb := make([]byte, n)
			copy(nb, d.buf[:d.end])
			d.buf = nb
		}
	}
	for range maxEmptyReads {
		n, err := d.r.Read(d.buf[d.end:])
		if n < 0 || n > len(d.buf)-d.end {
			d.rerr = errors.New("sse: reader returned invalid count")
			return
		}
		d.end += n
		if err != nil {
			d.rerr = err
			return
		}
		if n > 0 {
			return
		}
	}
	d.rerr = io.ErrNoProgress
}

// indexEOL returns the index of the first CR or LF in b, or -1. Two
// vectorised scans beat one byte-by-byte scan for both characters.
func indexEOL(b []byte) int {
	lf := bytes.IndexByte(b, '\n')
	search := b
	if lf >= 0 {
		search = b[:lf]
	}
	if cr := bytes.IndexByte(search, '\r'); cr >= 0 {
		return cr
	}
	return lf
}
