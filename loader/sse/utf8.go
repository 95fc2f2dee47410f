package sse

import "unicode/utf8"

// appendValidUTF8 appends src to dst with each maximal invalid subpart
// replaced by U+FFFD, which is what the WHATWG "UTF-8 decode" the spec
// applies to the stream does. bytes.ToValidUTF8 differs: it collapses a run
// of invalid bytes into one U+FFFD. Only called on data that failed
// utf8.Valid, so valid streams never pay for it.
func appendValidUTF8(dst, src []byte) []byte {
	for len(src) > 0 {
		r, n := utf8.DecodeRune(src)
		if r == utf8.RuneError && n == 1 {
			n = invalidPrefixLen(src)
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, src[:n]...)
		}
		src = src[n:]
	}
	return dst
}

// invalidPrefixLen returns the length of the maximal subpart at the start of
// src, which does not begin with a valid sequence: a lead byte and the
// continuation bytes that could still have completed it, at least one byte.
func invalidPrefixLen(src []byte) int {
	b := src[0]
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	var size int
	switch {
	case b >= 0xC2 && b <= 0xDF:
		size = 2
	case b == 0xE0:
		size, lo = 3, 0xA0
	case b == 0xED:
		size, hi = 3, 0x9F
	case b >= 0xE1 && b <= 0xEF:
		size = 3
	case b == 0xF0:
		size, lo = 4, 0x90
	case b == 0xF4:
		size, hi = 4, 0x8F
	case b >= 0xF1 && b <= 0xF3:
		size = 4
	default:
		return 1
	}
	n := 1
	if n < len(src) && src[n] >= lo && src[n] <= hi {
		n++
		for n < size && n < len(src) && src[n] >= 0x80 && src[n] <= 0xBF {
			n++
		}
	}
	return n
}
