package local

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// field is one key of an object.
type field struct {
	k string
	v any
}

// object is a JSON object whose keys keep their order, as a Python dict
// does. Dify builds each event as a dict (the event name first, then the
// fields of its response model in declaration order) and serialises it
// with orjson; encoding/json cannot keep that order for a map, so events
// are written by appendJSON instead.
type object []field

// appendJSON appends v as orjson writes it: compact (no spaces after ','
// or ':'), non-ASCII as raw UTF-8, only '"', '\' and control characters
// escaped, floats with a decimal point, None as null. v is a string, an
// int, int64, float64, bool, nil, object, []any, []string or []object.
func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float64:
		return appendFloat(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case object:
		b = append(b, '{')
		for i, f := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.k)
			b = append(b, ':')
			b = appendJSON(b, f.v)
		}
		return append(b, '}')
	case []any:
		return appendArray(b, v, appendJSON)
	case []string:
		return appendArray(b, v, appendString)
	case []object:
		return appendArray(b, v, func(b []byte, o object) []byte { return appendJSON(b, o) })
	}
	panic("local: appendJSON: unsupported type") // a programming error: every event is built here
}

// appendArray writes a JSON array of vs, each written by one.
func appendArray[T any](b []byte, vs []T, one func([]byte, T) []byte) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = one(b, v)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString writes s quoted, escaping what orjson escapes and nothing
// else; invalid UTF-8 becomes U+FFFD (orjson refuses it; the emulator's
// strings are its own or the client's, already valid).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat writes f as Python's repr does for the values Dify sends
// (elapsed seconds, prices): the shortest digits that round-trip, always
// with a decimal point or an exponent.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...) // orjson writes null for both
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	n := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	for _, c := range b[n:] {
		if c == '.' {
			return b
		}
	}
	return append(b, '.', '0')
}
