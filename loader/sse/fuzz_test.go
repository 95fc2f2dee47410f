package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// FuzzDecoder checks, for any input and limit: no panic, memory bounded by
// the limit, the same result one byte at a time and split in two as in one
// read, and agreement with ref, a direct transcription of the spec.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n", "data: a\r\n\r\n", "data: a\r\r", "\xEF\xBB\xBFdata: a\n\n",
		"event: ping\n\n: c\nid: 1\x00\nretry: 10\ndata\ndata:  x\n\n", "data: a\n\ndata: b",
		"data: \xF0\x9F\x98A\xff\n\n", "data: 0123456789abcdefghij\n\n",
	} {
		f.Add([]byte(s), uint16(16), uint16(3))
	}
	files, _ := filepath.Glob("testdata/*.sse")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(0), uint16(100))
	}
	f.Fuzz(func(t *testing.T, in []byte, max, split uint16) {
		opt := WithMaxEventSize(int(max))
		whole, werr := collect(t, bytes.NewReader(in), opt)
		oneByte, oerr := collect(t, iotest.OneByteReader(bytes.NewReader(in)), opt)
		if fmt.Sprint(whole, werr) != fmt.Sprint(oneByte, oerr) {
			t.Fatalf("whole read %q, %v\none byte   %q, %v", whole, werr, oneByte, oerr)
		}
		at := int(split) % (len(in) + 1)
		halves, herr := collect(t, io.MultiReader(bytes.NewReader(in[:at]), bytes.NewReader(in[at:])), opt)
		if fmt.Sprint(whole, werr) != fmt.Sprint(halves, herr) {
			t.Fatalf("split at %d: %q, %v; whole %q, %v", at, halves, herr, whole, werr)
		}
		limit := int(max)
		if limit <= 0 {
			limit = DefaultMaxEventSize
		}
		want, wantErr := ref(in, limit)
		if fmt.Sprint(whole) != fmt.Sprint(want) || !errors.Is(werr, wantErr) {
			t.Fatalf("decoder %q, %v\nspec    %q, %v", whole, werr, want, wantErr)
		}
	})
}

// collect decodes r fully, checking after each event that the decoder holds
// no more memory than its limit allows.
func collect(t *testing.T, r io.Reader, opts ...Option) ([]string, error) {
	d := NewDecoder(r, opts...)
	var evs []string
	for {
		e, err := d.Next()
		if cap(d.buf) > max(initialBufSize, d.max+1) || len(d.data) > d.max+1 {
			t.Fatalf("buffers %d, %d bytes for a %d byte limit", cap(d.buf), len(d.data), d.max)
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, fmt.Sprintf("%s|%s|%s", e.Type, e.Data, e.ID))
	}
}

// ref decodes the whole input the way the spec's prose reads, with no
// concern for speed, as an oracle for the fuzzer.
func ref(in []byte, limit int) ([]string, error) {
	in = bytes.TrimPrefix(in, bom)
	var evs []string
	var data, typ []byte
	id, pending := "", false
	fix := func(b []byte) []byte { return appendValidUTF8(nil, b) }
	for {
		i := bytes.IndexAny(in, "\r\n")
		if i < 0 {
			switch {
			case len(in) > limit:
				return evs, ErrEventTooLarge
			case len(in) > 0 || pending:
				return evs, ErrIncompleteEvent
			}
			return evs, io.EOF
		}
		line := in[:i]
		if len(line) > limit {
			return evs, ErrEventTooLarge
		}
		if in[i] == '\r' && i+1 < len(in) && in[i+1] == '\n' {
			i++
		}
		in = in[i+1:]
		switch {
		case len(line) == 0:
			pending = false
			if len(data) > 0 {
				t := "message"
				if len(typ) > 0 {
					t = string(fix(typ))
				}
				evs = append(evs, fmt.Sprintf("%s|%s|%s", t, fix(data[:len(data)-1]), id))
			}
			data, typ = nil, nil
		case line[0] == ':':
		default:
			pending = true
			name, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(name) {
			case "event":
				typ = value
			case "data":
				if len(data)+len(value) > limit {
					return evs, ErrEventTooLarge
				}
				data = append(append(data, value...), '\n')
			case "id":
				if bytes.IndexByte(value, 0) < 0 {
					id = string(fix(value))
				}
			}
		}
	}
}
