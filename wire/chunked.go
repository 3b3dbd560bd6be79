package wire

import (
	"bytes"
	"strconv"
)

// Limits of the chunked decoder.
const (
	// MaxChunkLine is the longest chunk-size line, extensions included,
	// CRLF excluded. net/http allows 4 KiB; nothing legitimate comes close
	// to this.
	MaxChunkLine = 1024
	// MaxTrailerBytes is the longest trailer section, its final CRLF
	// included (net/http's bound with its 4 KiB read buffer).
	MaxTrailerBytes = 4096
	// maxChunkSize bounds a chunk's size: 2^60 bytes, far past any body,
	// so that sizes never overflow.
	maxChunkSize = 1 << 60
	// maxExcess is net/http's bound on chunk overhead (size lines and
	// CRLFs) beyond 16 bytes per chunk plus twice its data.
	maxExcess = 16 << 10
)

// ChunkedDecoder decodes a chunked body (RFC 9112 §7.1) without reading
// anything itself: the caller feeds it the bytes it has and copies out the
// data it points at. Its zero value is ready for a body's first chunk.
//
// Stricter than the RFC on purpose: no whitespace anywhere in a chunk
// line, extensions only as ;name or ;name=token or ;name="quoted", lines
// of at most MaxChunkLine bytes, sizes of at most 16 hex digits and under
// 2^60, trailers with the field syntax of heads (no obs-fold) within
// MaxTrailerBytes and MaxFields.
type ChunkedDecoder struct {
	state  uint8
	left   int64 // data bytes left in the current chunk
	excess int64 // net/http's overhead accounting
	// Trailers are the trailer fields, once Done. Their strings are the
	// decoder's own copy.
	Trailers []Field
}

const (
	stSize    = iota // expecting a chunk-size line
	stData           // inside chunk data
	stDataEnd        // expecting the CRLF after chunk data
	stTrailer        // expecting the trailer section
	stDone
)

// Done reports whether the body ended: the last chunk and the trailer
// section were decoded.
func (d *ChunkedDecoder) Done() bool { return d.state == stDone }

// Reset makes d ready for a new body.
func (d *ChunkedDecoder) Reset() { *d = ChunkedDecoder{Trailers: d.Trailers[:0]} }

// Decode decodes from the start of p. It returns n, how many bytes of p it
// consumed, and data, the body bytes among them (a sub-slice of p, empty
// when the step consumed framing only). n == 0 without an error means p
// does not hold enough to decide the next step: call again with more bytes
// (p starting at the same place). Once Done, Decode consumes nothing.
func (d *ChunkedDecoder) Decode(p []byte) (n int, data []byte, err error) {
	switch d.state {
	case stData:
		k := len(p)
		if int64(k) > d.left {
			k = int(d.left)
		}
		d.left -= int64(k)
		if d.left == 0 {
			d.state = stDataEnd
		}
		return k, p[:k], nil
	case stDataEnd:
		if len(p) < 2 {
			if len(p) == 1 && p[0] != '\r' {
				return 0, nil, ErrChunkEnd
			}
			return 0, nil, nil
		}
		if p[0] != '\r' || p[1] != '\n' {
			return 0, nil, ErrChunkEnd
		}
		d.state = stSize
		return 2, nil, nil
	case stSize:
		return d.sizeLine(p)
	case stTrailer:
		return d.trailer(p)
	}
	return 0, nil, nil
}

// Unread gives back the last n bytes of the data the last Decode returned:
// the next Decode returns them again (at the same offset of its p).
func (d *ChunkedDecoder) Unread(n int) {
	if n <= 0 {
		return
	}
	d.left += int64(n)
	d.state = stData
}

func (d *ChunkedDecoder) sizeLine(p []byte) (int, []byte, error) {
	lf := bytes.IndexByte(p, '\n')
	if lf < 0 || lf > MaxChunkLine+1 { // the same answer however p is cut
		if len(p) > MaxChunkLine+1 {
			return 0, nil, ErrChunkLine
		}
		return 0, nil, nil
	}
	if lf == 0 || p[lf-1] != '\r' {
		return 0, nil, ErrBareLF
	}
	line := p[:lf-1]
	if len(line) > MaxChunkLine {
		return 0, nil, ErrChunkLine
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		v := unhex(line[i])
		if v < 0 {
			break
		}
		if i == 16 || size >= maxChunkSize>>4 {
			return 0, nil, ErrChunkTooLarge // checked before the shift: never overflows
		}
		size = size<<4 | int64(v)
	}
	if i == 0 {
		return 0, nil, ErrChunkSize
	}
	if !validChunkExtensions(line[i:]) {
		if line[i] == ';' {
			return 0, nil, ErrChunkExtension
		}
		return 0, nil, ErrChunkSize
	}
	d.excess += int64(len(line)) + 2 - 16 - 2*size
	if d.excess < 0 {
		d.excess = 0
	}
	if d.excess > maxExcess {
		return 0, nil, ErrChunkOverhead
	}
	if size == 0 {
		d.state = stTrailer
	} else {
		d.state, d.left = stData, size
	}
	return lf + 1, nil, nil
}

// validChunkExtensions reports whether e is *( ";" token [ "=" ( token /
// quoted-string ) ] ), without the whitespace RFC 9112 allows around them.
func validChunkExtensions(e []byte) bool {
	for len(e) > 0 {
		if e[0] != ';' {
			return false
		}
		e = e[1:]
		i := 0
		for i < len(e) && tchar[e[i]] {
			i++
		}
		if i == 0 {
			return false
		}
		e = e[i:]
		if len(e) == 0 || e[0] != '=' {
			continue
		}
		e = e[1:]
		if len(e) > 0 && e[0] == '"' {
			j, ok := quotedStringEnd(e)
			if !ok {
				return false
			}
			e = e[j:]
			continue
		}
		i = 0
		for i < len(e) && tchar[e[i]] {
			i++
		}
		if i == 0 {
			return false
		}
		e = e[i:]
	}
	return true
}

// quotedStringEnd returns the length of the quoted-string at the start of
// e (which starts with '"').
func quotedStringEnd(e []byte) (int, bool) {
	for i := 1; i < len(e); i++ {
		switch c := e[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			i++
			if i >= len(e) || !fieldValueByte[e[i]] {
				return 0, false
			}
		case c == '\t' || c == ' ' || c == 0x21 || 0x23 <= c && c <= 0x5b || 0x5d <= c && c <= 0x7e || c >= 0x80:
		default:
			return 0, false
		}
	}
	return 0, false
}

func (d *ChunkedDecoder) trailer(p []byte) (int, []byte, error) {
	switch {
	case len(p) < 2:
		if len(p) == 1 && p[0] == '\n' {
			return 0, nil, ErrBareLF
		}
		return 0, nil, nil
	case p[0] == '\r' && p[1] == '\n':
		d.state = stDone
		d.Trailers = d.Trailers[:0]
		return 2, nil, nil
	case p[0] == '\r':
		return 0, nil, ErrBareCR
	}
	q := p
	if len(q) > MaxTrailerBytes {
		q = q[:MaxTrailerBytes] // the same answer however p is cut
	}
	end, _, herr := HeadEnd(q, 0)
	if herr != nil {
		return 0, nil, herr
	}
	if end == 0 {
		if len(p) >= MaxTrailerBytes {
			return 0, nil, ErrTrailerTooLong
		}
		return 0, nil, nil
	}
	section := string(p[:end]) // trailers are rare: one copy, owned by d
	fields, n, err := parseFields(section, d.Trailers[:0], MaxFields)
	d.Trailers = fields
	if err != nil {
		return 0, nil, err
	}
	if n != end {
		return 0, nil, ErrFieldName
	}
	d.state = stDone
	return end, nil, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// AppendChunkHeader appends the size line of a chunk of n > 0 bytes; the
// data and then CRLF follow it. It panics when n <= 0: a size line of 0 is
// the last chunk (AppendLastChunk), and a caller passing on an empty read
// would end the body early, the rest of it read as the next request.
func AppendChunkHeader(dst []byte, n int) []byte {
	if n <= 0 {
		panic("wire: AppendChunkHeader of an empty chunk")
	}
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, '\r', '\n')
}

// AppendLastChunk appends the last chunk, the trailer fields (names and
// values as given: validate them first) and the empty line ending the body.
func AppendLastChunk(dst []byte, trailers []Field) []byte {
	dst = append(dst, "0\r\n"...)
	for _, f := range trailers {
		dst = AppendField(dst, f.Name, f.Value)
	}
	return append(dst, '\r', '\n')
}
