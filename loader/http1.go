package loader

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// The hot path of a user's exchange, for the request and response shapes
// Dify streams always have: the request written and the response's status,
// headers and chunked body read by the connection itself, into objects it
// reuses, instead of by net/http, whose general code (header sorting, a
// map and strings per response, a body and a chunk reader per response)
// was a quarter of the client's own CPU per stream on an in-memory
// connection (BenchmarkClientPerStream). Every other shape (a
// status other than 200, Content-Length, Connection or Trailer headers,
// a header block that is not in the buffer yet) goes to net/http, which
// then reads exactly the bytes it would have read anyway.
// FuzzReadResponse and TestWriteRequestAsNetHTTP hold both to net/http.

// maxFastHeaders bounds the headers the fast path keeps in its reused
// arrays; a response with more goes to net/http.
const maxFastHeaders = 16

// h1 is a connection's reusable state for the fast path.
type h1 struct {
	resp    http.Response
	header  http.Header
	vals    [maxFastHeaders]string
	chunked chunkedBody
	strs    []string // recent header keys, values and statuses, to avoid a string per response
	line    []byte   // scratch for canonical header keys
}

// maxInternedStrings bounds h1.strs: a server inventing a new value per
// response (a Date) costs an allocation, not memory.
const maxInternedStrings = 32

// intern returns b as a string, from the recent ones when it is there.
func (h *h1) intern(b []byte) string {
	for _, s := range h.strs {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	if len(b) == 0 {
		return s
	}
	if len(h.strs) < maxInternedStrings {
		h.strs = append(h.strs, s)
	} else {
		h.strs[int(b[0])%maxInternedStrings] = s // a changing value replaces some slot; no growth
	}
	return s
}

var chunkedTE = []string{"chunked"}

// readResponse reads the response to req from br: on the fast path when
// its status line and headers are all buffered and in Dify's shape,
// otherwise with http.ReadResponse. The fast path's response, headers and
// body are h's, valid until the next call.
func (h *h1) readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if resp := h.fastResponse(br, req); resp != nil {
		return resp, nil
	}
	return http.ReadResponse(br, req)
}

// fastResponse parses the buffered header block if it is "HTTP/1.1 200",
// chunked, without Content-Length, Connection or Trailer, with lines ended
// by CRLF, no folded lines, header names of token characters and values
// free of control characters. nil otherwise, with nothing consumed.
func (h *h1) fastResponse(br *bufio.Reader, req *http.Request) *http.Response {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil
	}
	block := buf[:end+2] // every line with its CRLF
	line, block, _ := bytes.Cut(block, []byte("\r\n"))
	reason, ok := bytes.CutPrefix(line, []byte("HTTP/1.1 200 "))
	if !ok || len(reason) == 0 || !plainValue(reason) || reason[0] == ' ' || reason[0] == '\t' {
		return nil
	}
	if h.header == nil {
		h.header = make(http.Header) // small: clearing a map sized for 16 cost more than filling it
	}
	clear(h.header)
	chunked, n := false, 0
	for len(block) > 0 {
		line, block, _ = bytes.Cut(block, []byte("\r\n"))
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(k) == 0 || !token(k) || !plainValue(v) || n == maxFastHeaders {
			return nil
		}
		v = bytes.Trim(v, " \t")
		key := h.intern(h.canonical(k))
		switch key {
		case "Content-Length", "Connection", "Trailer", "Pragma", "Transfer-Encoding":
			// Transfer-Encoding: once, exactly chunked; net/http
			// moves it out of the header into TransferEncoding.
			if key != "Transfer-Encoding" || chunked || string(v) != "chunked" {
				return nil
			}
			chunked = true
			continue
		}
		h.vals[n] = h.intern(v)
		if prev, dup := h.header[key]; dup {
			h.header[key] = append(prev, h.vals[n])
		} else {
			h.header[key] = h.vals[n : n+1 : n+1]
		}
		n++
	}
	if !chunked {
		return nil
	}
	status := h.intern(line200(reason))
	_, _ = br.Discard(end + 4)
	h.chunked = chunkedBody{br: br}
	h.resp = http.Response{
		Status: status, StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h.header, Body: &h.chunked, ContentLength: -1, TransferEncoding: chunkedTE, Request: req,
	}
	return &h.resp
}

// line200 is the Status of a 200 response with reason: "200 " + reason,
// built in a scratch that intern copies out of.
func line200(reason []byte) []byte {
	var b [64]byte
	return append(append(b[:0], "200 "...), reason...)
}

// canonical is k in net/textproto's canonical form (k is all token
// characters), in h's scratch.
func (h *h1) canonical(k []byte) []byte {
	h.line = append(h.line[:0], k...)
	upper := true
	for i, c := range h.line {
		switch {
		case upper && 'a' <= c && c <= 'z':
			h.line[i] = c - ('a' - 'A')
		case !upper && 'A' <= c && c <= 'Z':
			h.line[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	return h.line
}

// token reports whether k is all RFC 7230 token characters, so that
// net/textproto accepts it as a header name and canonicalizes it.
func token(k []byte) bool {
	for _, c := range k {
		if c >= 0x80 || !tokenByte[c] {
			return false
		}
	}
	return true
}

var tokenByte = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// plainValue reports whether v has no control characters but tab (and no
// DEL), so net/textproto would take it as it is.
func plainValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// chunkedBody reads an HTTP/1.1 chunked body from br as net/http's
// chunked reader does (the same limits: chunk lines under 4096 bytes
// ending in CRLF, hexadecimal sizes of at most 16 digits, extensions
// dropped, a chunk's data followed by CRLF), then its trailer, which it
// discards; io.EOF at the end, io.ErrUnexpectedEOF when the body is cut.
type chunkedBody struct {
	br     *bufio.Reader
	n      uint64 // unread bytes of the current chunk
	data   bool   // in a chunk's data (or at its CRLF)
	excess int64  // overhead beyond what net/http allows a sender
	err    error
}

// maxChunkLine is net/http's limit on a chunk's size line.
const maxChunkLine = 4096

var errChunked = errors.New("malformed chunked encoding")

// Read implements io.Reader: it returns what the buffer holds of the
// current chunk, and reads on into the next chunks only while their size
// lines are buffered, so it never waits for more than it returns.
func (c *chunkedBody) Read(p []byte) (int, error) {
	n := 0
	for c.err == nil && len(p) > 0 {
		if c.data && c.n == 0 { // the CRLF after a chunk's data
			if n > 0 && c.br.Buffered() < 2 {
				break
			}
			crlf, err := c.br.Peek(2)
			if len(crlf) < 2 {
				c.err = unexpected(err)
				break
			}
			if string(crlf) != "\r\n" {
				c.err = errChunked
				break
			}
			_, _ = c.br.Discard(2)
			c.data = false
		}
		if !c.data {
			if n > 0 && !c.lineBuffered() {
				break
			}
			c.beginChunk()
			continue
		}
		q := p
		if uint64(len(q)) > c.n {
			q = q[:c.n]
		}
		k, err := c.br.Read(q)
		n += k
		p = p[k:]
		c.n -= uint64(k)
		if err != nil {
			c.err = unexpected(err)
		}
		if c.br.Buffered() == 0 && c.n > 0 {
			break // don't wait for the rest of the chunk once some of it is out
		}
	}
	if n > 0 && c.err == io.EOF {
		return n, nil // EOF on the next call, with nothing else
	}
	return n, c.err
}

// Close implements io.Closer: later reads fail, as net/http's do.
func (c *chunkedBody) Close() error {
	if c.err == nil || c.err == io.EOF {
		c.err = http.ErrBodyReadAfterClose
	}
	return nil
}

// lineBuffered reports whether a whole chunk size line is buffered.
func (c *chunkedBody) lineBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

// beginChunk reads a chunk's size line; at the last chunk, the trailer.
func (c *chunkedBody) beginChunk() {
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		c.err = errChunked
		return
	case err != nil:
		c.err = unexpected(err)
		return
	}
	if len(line) < 2 || bytes.IndexByte(line, '\r') != len(line)-2 || len(line)-2 >= maxChunkLine {
		c.err = errChunked
		return
	}
	line = line[:len(line)-2]
	c.excess += int64(len(line)) + 2
	// In net/http's order: trailing space trimmed, then the extension
	// (after ';') dropped.
	line = bytes.TrimRight(line, " \t")
	line, _, _ = bytes.Cut(line, []byte(";"))
	if len(line) == 0 || len(line) > 16 {
		c.err = errChunked
		return
	}
	var size uint64
	for _, d := range line {
		switch {
		case '0' <= d && d <= '9':
			d -= '0'
		case 'a' <= d && d <= 'f':
			d -= 'a' - 10
		case 'A' <= d && d <= 'F':
			d -= 'A' - 10
		default:
			c.err = errChunked
			return
		}
		size = size<<4 | uint64(d)
	}
	// A sender may spend 16 bytes of overhead a chunk and twice its
	// data; beyond 16 KB of excess, net/http gives up, and so do we.
	c.excess = max(c.excess-16-2*int64(size), 0)
	if c.excess > 16<<10 {
		c.err = errChunked
		return
	}
	if size > 0 {
		c.n, c.data = size, true
		return
	}
	c.err = c.trailer()
}

// trailer reads what follows the last chunk as net/http's body does: the
// blank line, or trailer fields (discarded) whose blank line is already
// in the buffer.
func (c *chunkedBody) trailer() error {
	b, err := c.br.Peek(2)
	switch {
	case string(b) == "\r\n":
		_, _ = c.br.Discard(2)
		return io.EOF
	case len(b) < 2:
		return io.ErrUnexpectedEOF
	case err != nil:
		return err
	}
	if !upcomingDoubleCRLF(c.br) {
		return errChunked
	}
	if _, err := textproto.NewReader(c.br).ReadMIMEHeader(); err != nil {
		return unexpected(err)
	}
	return io.EOF
}

// upcomingDoubleCRLF reports whether br's buffer, filled as far as it
// goes, holds a blank line: net/http's bound on a trailer.
func upcomingDoubleCRLF(br *bufio.Reader) bool {
	for peekSize := 4; ; peekSize++ {
		buf, err := br.Peek(peekSize)
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeRequest writes req to bw as req.Write does, on the fast path when
// req is what the scenarios build: a POST or GET to an http(s) URL with a
// buffered body of known length (or none), headers with canonical names
// and plain values, none that net/http writes or checks itself.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	hasBody := req.Body != nil && req.Body != http.NoBody
	host := req.Host
	if host == "" && req.URL != nil {
		host = req.URL.Host
	}
	if hasBody != (req.ContentLength > 0) || req.ContentLength < 0 || req.Method != http.MethodPost && req.Method != http.MethodGet || req.Close ||
		req.URL == nil || req.URL.Opaque != "" || req.URL.User != nil || req.URL.RawPath != "" || req.URL.RawQuery != "" || req.URL.ForceQuery ||
		!plainHost(host) || !plainPath(req.URL.Path) || len(req.TransferEncoding) > 0 || req.Trailer != nil || len(req.Header) > 8 {
		return req.Write(bw)
	}
	var keys [8]string
	n := 0
	for k, vs := range req.Header {
		if len(vs) != 1 || !plainHeader(k, vs[0]) {
			return req.Write(bw)
		}
		keys[n] = k
		n++
	}
	sortStrings(keys[:n])
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(req.URL.Path)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\nUser-Agent: Go-http-client/1.1\r\n")
	if req.Method == http.MethodPost || req.ContentLength > 0 {
		bw.WriteString("Content-Length: ")
		var num [20]byte
		bw.Write(appendUint(num[:0], uint64(req.ContentLength)))
		bw.WriteString("\r\n")
	}
	for _, k := range keys[:n] {
		bw.WriteString(k)
		bw.WriteString(": ")
		bw.WriteString(req.Header[k][0])
		bw.WriteString("\r\n")
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		return err
	}
	if !hasBody {
		return nil
	}
	// As net/http: exactly ContentLength bytes, and the body closed.
	defer req.Body.Close()
	wrote, err := io.CopyN(bw, req.Body, req.ContentLength)
	if err == nil {
		var extra [1]byte
		if k, _ := req.Body.Read(extra[:]); k > 0 {
			err = http.ErrContentLength
		}
	}
	if err != nil || wrote != req.ContentLength {
		return errors.Join(http.ErrContentLength, err)
	}
	return nil
}

// plainHeader reports whether req.Write would write k: v as they are: a
// canonical name it does not handle itself, a value with no control
// characters and no surrounding spaces.
func plainHeader(k, v string) bool {
	switch k {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer", "Connection", "Expect":
		return false
	}
	if k == "" || !token([]byte(k)) || http.CanonicalHeaderKey(k) != k {
		return false
	}
	if v != strings.TrimSpace(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] == 0x7f {
			return false
		}
	}
	return true
}

// plainHost: ASCII letters, digits, '.', '-' and a ':' port, so that no
// punycode or zone removal would change it.
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

// plainPath: a path that URL.RequestURI returns unescaped.
func plainPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("/-._~", c) >= 0) {
			return false
		}
	}
	return true
}

func appendUint(b []byte, n uint64) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

// sortStrings sorts a few strings in place without allocating.
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
