package loader

import "unicode/utf8"

// fastEvent is parse's fast path: it fills p from data exactly as
// json.Unmarshal(data, p) would, and reports true, when data is a JSON
// object in Dify's shape: keys in plain lowercase ASCII (no escapes, so
// none of encoding/json's case folding applies), and the fields that
// decide an outcome of the types Dify sends (event, answer and the
// workflow status as strings, data as an object). It validates the whole
// object as encoding/json does, skipping the values it does not need
// without decoding them. Anything else (an error event's code and
// message, a null where a string belongs, nesting deeper than maxScanDepth,
// bytes that are not JSON) returns false, and the caller decodes with
// encoding/json, which gives the answer or the error. It allocates only
// for an event name or a workflow error outside the known names: never on
// the events a successful stream carries.
//
// It also notes the conversation_id (p.conv) when it is a plain string, so
// message_end needs no second decode. FuzzFastEvent holds it to
// encoding/json's answer on every input.
func fastEvent(data []byte, p *event) bool {
	*p = event{}
	s := scan{b: data}
	if !s.enter('{') {
		return false
	}
	for first := true; ; first = false {
		key, st := s.key(first)
		if st == keyEnd {
			break
		}
		if st != keyOK || !plainKey(key) {
			return false
		}
		var ok bool
		switch string(key) {
		case "event":
			p.Event, ok = s.name()
		case "answer":
			p.Answer, ok = s.present()
		case "data":
			ok = s.data(p)
		case "conversation_id":
			ok = s.conversation(p)
		case "code", "message":
			return false // an error event: encoding/json decodes its strings
		default:
			ok = s.value(0)
		}
		if !ok {
			return false
		}
	}
	s.ws()
	return s.i == len(s.b)
}

// maxScanDepth bounds the nesting fastEvent skips through; deeper
// documents go to encoding/json (whose own limit is 10,000).
const maxScanDepth = 64

// scan is a position in a JSON document being validated.
type scan struct {
	b []byte
	i int
}

// Results of scan.key.
const (
	keyOK  = iota // a key and its colon were read
	keyEnd        // the object closed
	keyBad        // not valid JSON here
)

// ws skips JSON whitespace.
func (s *scan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// enter consumes the opening c of an object or array, after whitespace.
func (s *scan) enter(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// key reads the next member of an object up to its value: the separator
// (unless first), the key string and the colon. The key's bytes are
// returned raw: escapes, if any, are not decoded.
func (s *scan) key(first bool) ([]byte, int) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, keyBad
	}
	switch c := s.b[s.i]; {
	case c == '}':
		s.i++
		return nil, keyEnd
	case !first && c == ',':
		s.i++
		s.ws()
	case !first:
		return nil, keyBad
	}
	start, end, _, ok := s.str()
	if !ok {
		return nil, keyBad
	}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return nil, keyBad
	}
	s.i++
	s.ws()
	return s.b[start:end], keyOK
}

// plainKey reports whether encoding/json would match key to a field only
// by its exact bytes: no escapes, no upper case, nothing outside ASCII
// (where its case folding could map, say, "ſ" to "s").
func plainKey(key []byte) bool {
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// strByte marks the bytes a JSON string holds as they are: not the quote,
// not the backslash, not a control character.
var strByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads the string at s.i, validating its escapes, and returns its
// contents' span and whether it holds any escape. Invalid UTF-8 passes, as
// encoding/json lets it pass (and replaces it when decoding).
func (s *scan) str() (start, end int, escaped, ok bool) {
	b := s.b
	if s.i >= len(b) || b[s.i] != '"' {
		return 0, 0, false, false
	}
	i := s.i + 1
	start = i
	for {
		for i < len(b) && strByte[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, 0, false, false
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return start, i, escaped, true
		case '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, 0, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, 0, false, false
				}
				i += 6
			default:
				return 0, 0, false, false
			}
		default: // a control character
			return 0, 0, false, false
		}
	}
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// name reads a string value as name.UnmarshalJSON decodes it; false for
// anything but a string free of escapes and, unless it is a known name,
// valid UTF-8.
func (s *scan) name() (name, bool) {
	start, end, escaped, ok := s.str()
	if !ok || escaped {
		return "", false
	}
	v := s.b[start:end]
	for _, known := range names {
		if string(v) == string(known) {
			return known, true
		}
	}
	if !utf8.Valid(v) {
		return "", false
	}
	return name(v), true
}

// present reads a string value as present.UnmarshalJSON does: whether it
// is non-empty. Other values (null included) are left to encoding/json.
func (s *scan) present() (present, bool) {
	start, end, _, ok := s.str()
	return end > start, ok
}

// conversation notes the conversation_id: its bytes when a plain string,
// otherwise that encoding/json must decode it. The last key wins, as in
// encoding/json.
func (s *scan) conversation(p *event) bool {
	if s.i < len(s.b) && s.b[s.i] == '"' {
		start, end, escaped, ok := s.str()
		if !ok {
			return false
		}
		v := s.b[start:end]
		p.conv, p.convSlow = v, escaped || !utf8.Valid(v)
		return true
	}
	p.conv, p.convSlow = nil, true
	return s.value(0)
}

// data reads the data object's status, text and error into p.Data.
func (s *scan) data(p *event) bool {
	if !s.enter('{') {
		return false
	}
	for first := true; ; first = false {
		key, st := s.key(first)
		if st == keyEnd {
			return true
		}
		if st != keyOK || !plainKey(key) {
			return false
		}
		var ok bool
		switch string(key) {
		case "status":
			p.Data.Status, ok = s.name()
		case "text":
			p.Data.Text, ok = s.present()
		case "error":
			ok = s.errorText(&p.Data.Error)
		default:
			ok = s.value(1)
		}
		if !ok {
			return false
		}
	}
}

// errorText reads a workflow's error: null leaves it as it is (as
// encoding/json does for a string field); a string free of escapes and
// valid UTF-8 is taken; anything else is left to encoding/json.
func (s *scan) errorText(dst *string) bool {
	if s.lit("null") {
		return true
	}
	start, end, escaped, ok := s.str()
	if !ok || escaped || !utf8.Valid(s.b[start:end]) {
		return false
	}
	*dst = string(s.b[start:end])
	return true
}

// lit consumes the literal word if it is next.
func (s *scan) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// value validates and skips one JSON value at depth (the objects and
// arrays around it).
func (s *scan) value(depth int) bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, _, ok := s.str()
		return ok
	case c == '{':
		if depth >= maxScanDepth {
			return false
		}
		s.i++
		for first := true; ; first = false {
			_, st := s.key(first)
			if st == keyEnd {
				return true
			}
			if st != keyOK || !s.value(depth+1) {
				return false
			}
		}
	case c == '[':
		if depth >= maxScanDepth {
			return false
		}
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		for {
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case ']':
				s.i++
				return true
			case ',':
				s.i++
			default:
				return false
			}
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || isDigit(c):
		return s.number()
	}
	return false
}

// number validates a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scan) number() bool {
	b, i := s.b, s.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return false
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return true
}
