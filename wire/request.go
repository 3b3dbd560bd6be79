package wire

import "bytes"

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

const (
	FormOrigin    TargetForm = iota // "/path?query"
	FormAbsolute                    // "http://host/path?query"
	FormAuthority                   // "host:port", CONNECT only
)

// Expectation is what a request's Expect fields ask for.
type Expectation uint8

const (
	ExpectNone     Expectation = iota
	ExpectContinue             // "100-continue" on HTTP/1.1: the client waits for 100 Continue before its body
	ExpectOther                // anything else: answer 417 (RFC 9110 §10.1.1)
)

// Request is a parsed request head. Its strings are substrings of the head
// given to Parse. A Request is reused across Parse calls: Fields keeps its
// capacity, so parsing allocates nothing once it is large enough.
type Request struct {
	Method string
	Target string     // the request-target as received
	Form   TargetForm // the form Target has
	// Path is the origin-form target to send on: Target itself, or the
	// path and query of an absolute-form target ("/" when it has no path).
	// "" for CONNECT's authority-form.
	Path string
	// Authority is the validated host[:port] the request is for (see
	// ParseAuthority): an absolute-form target's, else the Host field's
	// (RFC 9112 §3.2.2), else CONNECT's target. "" only when an HTTP/1.0
	// request has neither.
	Authority string
	Minor     int // 0 or 1: HTTP/1.0 or HTTP/1.1

	// Fields are every field line in order, with names as received, Host,
	// Content-Length, Transfer-Encoding and Connection included.
	Fields []Field

	// ContentLength is the body's length: 0 when there is none, -1 when it
	// is chunked.
	ContentLength int64
	Chunked       bool
	// Close reports whether the connection ends after this request: HTTP/1.1
	// with Connection: close, HTTP/1.0 without Connection: keep-alive.
	Close bool
	// Upgrade is the Upgrade field's value (several lines joined with
	// ", ") when Connection lists "upgrade" on HTTP/1.1 (a protocol switch
	// the client asks for), else "".
	Upgrade string
	Expect  Expectation
}

// HeadEnd finds the end of a message head in b: the index just past the
// empty line ending it, or 0 if b does not hold the whole head yet. Pass
// the returned next as from in the following call with the same, longer b:
// bytes already scanned are not scanned again. A line ending in a bare LF
// is refused (ErrBareLF) as soon as it is seen. One empty line (CRLF) at
// the very start belongs to the head: Request.Parse ignores it (RFC 9112
// §2.2; clients that add CRLF after a POST body).
func HeadEnd(b []byte, from int) (end, next int, err *Error) {
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0, len(b), nil
		}
		k := i + j
		if k == 0 || b[k-1] != '\r' {
			return 0, k, ErrBareLF
		}
		if k > 1 && b[k-2] == '\n' { // an empty line, not the leading one
			return k + 1, k + 1, nil
		}
		i = k + 1
	}
	return 0, len(b), nil
}

// Parse parses the request head at the start of s (request line, field
// lines, empty line) into r and returns its length. It refuses, with the
// *Error to answer, anything RFC 9112 does not allow and what two readers
// could read two ways: bare CR or LF, obs-fold, whitespace before a colon,
// a target that is not origin-form or absolute-form (CONNECT: authority-form
// only), a missing, repeated or malformed Host, a Content-Length that is
// not one number, Transfer-Encoding other than one "chunked" on HTTP/1.1,
// and both framings at once. One empty line before the request line is
// ignored (RFC 9112 §2.2). HTTP/1.2 to HTTP/1.9 are read as HTTP/1.1 (RFC
// 9110 §2.5); other versions get 505, or 400 when malformed.
func (r *Request) Parse(s string) (int, error) {
	n, err := r.parse(s)
	if err != nil {
		return 0, err // a typed nil would not compare equal to nil
	}
	return n, nil
}

func (r *Request) parse(s string) (int, *Error) {
	skip := 0
	if len(s) >= 2 && s[0] == '\r' && s[1] == '\n' {
		skip = 2 // one empty line before the request line
	}
	n, err := r.parseHead(s[skip:])
	if err != nil {
		return 0, err
	}
	return skip + n, nil
}

func (r *Request) parseHead(s string) (int, *Error) {
	fields := r.Fields[:0]
	*r = Request{Fields: fields}

	// Request line: method SP request-target SP HTTP-version CRLF.
	i := 0
	for i < len(s) && tchar[s[i]] {
		i++
	}
	switch {
	case i == 0 || i >= len(s) || s[i] == '\r' || s[i] == '\n':
		return 0, ErrRequestLine
	case s[i] != ' ':
		return 0, ErrMethod
	}
	r.Method = s[:i]
	i++
	start := i
	for i < len(s) && s[i] > ' ' && s[i] != 0x7f {
		i++
	}
	if i == start || i >= len(s) || s[i] != ' ' {
		return 0, ErrRequestLine
	}
	r.Target = s[start:i]
	i++
	if len(s)-i < len("HTTP/1.1\r\n") || s[i+8] != '\r' || s[i+9] != '\n' {
		return 0, lineEndError(s, i)
	}
	switch v := s[i : i+8]; v {
	case "HTTP/1.1":
		r.Minor = 1
	case "HTTP/1.0":
		r.Minor = 0
	default:
		if v[:5] == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7]) {
			if v[5] == '1' { // a later HTTP/1 minor version: read as HTTP/1.1
				r.Minor = 1
				break
			}
			return 0, ErrVersionNotHTTP1
		}
		return 0, ErrVersion
	}
	i += 10

	fields, n, err := parseFields(s[i:], fields, MaxFields)
	r.Fields = fields
	if err != nil {
		return 0, err
	}
	if err := r.interpret(); err != nil {
		return 0, err
	}
	return i + n, nil
}

// lineEndError classifies a request line whose version is not followed by
// CRLF.
func lineEndError(s string, i int) *Error {
	for ; i < len(s); i++ {
		switch s[i] {
		case '\n':
			return ErrBareLF
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				return ErrVersion
			}
			return ErrBareCR
		}
	}
	return ErrVersion
}

// interpret derives the target form, authority and framing from the
// parsed line and fields.
func (r *Request) interpret() *Error {
	var host, length, te, upgrade string
	var hosts, lengths, tes, upgrades, expects int
	var keepAlive, close, upgradeListed, badTrailer, expectOther bool
	for _, f := range r.Fields {
		switch len(f.Name) {
		case 4:
			if EqualFold(f.Name, "host") {
				hosts++
				host = f.Value
			}
		case 6:
			if EqualFold(f.Name, "expect") {
				Tokens(f.Value, func(t string) {
					expects++
					expectOther = expectOther || !EqualFold(t, "100-continue")
				})
			}
		case 7:
			if EqualFold(f.Name, "upgrade") {
				upgrades++
				if upgrades == 1 {
					upgrade = f.Value
				} else { // one list (RFC 9110 §5.3); rare enough to allocate
					upgrade += ", " + f.Value
				}
			} else if EqualFold(f.Name, "trailer") {
				badTrailer = badTrailer || forbiddenTrailerList(f.Value)
			}
		case 10:
			if EqualFold(f.Name, "connection") {
				Tokens(f.Value, func(t string) {
					switch {
					case EqualFold(t, "close"):
						close = true
					case EqualFold(t, "keep-alive"):
						keepAlive = true
					case EqualFold(t, "upgrade"):
						upgradeListed = true
					}
				})
			}
		case 14:
			if EqualFold(f.Name, "content-length") {
				lengths++
				length = f.Value
			}
		case 17:
			if EqualFold(f.Name, "transfer-encoding") {
				tes++
				te = f.Value
			}
		}
	}
	if err := r.interpretTarget(); err != nil {
		return err
	}

	// Host (RFC 9112 §3.2).
	switch {
	case hosts > 1:
		return ErrManyHosts
	case hosts == 1:
		if _, _, ok := ParseAuthority(host); !ok {
			return ErrHost
		}
		if r.Authority == "" {
			r.Authority = host
		}
	case r.Minor == 1:
		return ErrNoHost // CONNECT too (RFC 9112 §3.2)
	}

	// Framing (RFC 9112 §6).
	switch {
	case tes > 0 && r.Minor == 0:
		return ErrTEOnHTTP10
	case tes > 0 && lengths > 0:
		return ErrLengthAndTE
	case tes > 1 || tes == 1 && !EqualFold(te, "chunked"):
		return r.transferCodingError()
	case tes == 1:
		r.Chunked, r.ContentLength = true, -1
		if badTrailer { // checked only now: net/http ignores Trailer on other bodies
			return ErrTrailerField
		}
	case lengths > 1:
		return ErrManyLengths
	case lengths == 1:
		n, ok := parseLength(length)
		if !ok {
			return ErrContentLength
		}
		r.ContentLength = n
	}

	// Expectations (RFC 9110 §10.1.1): the lines are one list, whose only
	// member tlsfront meets is one "100-continue" (Apache reads any other
	// value as an expectation it cannot meet). An HTTP/1.0 client's
	// 100-continue is ignored; an empty list asks nothing.
	switch {
	case expectOther || expects > 1:
		r.Expect = ExpectOther
	case expects == 1 && r.Minor == 1:
		r.Expect = ExpectContinue
	}

	// Persistence (RFC 9112 §9.3) and protocol switches: an HTTP/1.0
	// request's Upgrade is ignored (RFC 9110 §7.8).
	r.Close = close || r.Minor == 0 && !keepAlive
	if upgradeListed && upgrade != "" && r.Minor == 1 {
		r.Upgrade = upgrade
	}
	return nil
}

// transferCodingError classifies a Transfer-Encoding other than one
// "chunked" (RFC 9112 §6.1, §6.3): 501 for a coding tlsfront does not
// implement before a final chunked, once; 400 when the body's length
// cannot be known (chunked not final, chunked twice, an empty list).
func (r *Request) transferCodingError() *Error {
	codings, chunked, empty := 0, 0, false
	last := ""
	for _, f := range r.Fields {
		if len(f.Name) != 17 || !EqualFold(f.Name, "transfer-encoding") {
			continue
		}
		for v := f.Value; ; {
			elem := v
			i := indexByte(v, ',')
			if i >= 0 {
				elem = v[:i]
			}
			if elem = trimOWS(elem); elem == "" {
				empty = true
			} else {
				codings++
				last = elem
				if EqualFold(elem, "chunked") {
					chunked++
				}
			}
			if i < 0 {
				break
			}
			v = v[i+1:]
		}
	}
	if empty || codings == 0 || chunked != 1 || !EqualFold(last, "chunked") {
		return ErrTransferEncoding
	}
	return ErrTransferCoding
}

// interpretTarget sets Form, Path and, for absolute-form and CONNECT,
// Authority.
func (r *Request) interpretTarget() *Error {
	t := r.Target
	if r.Method == "CONNECT" { // authority-form only (RFC 9110 §9.3.6)
		if _, port, ok := ParseAuthority(t); !ok || port == "" {
			return ErrConnectTarget
		}
		r.Form, r.Authority = FormAuthority, t
		return nil
	}
	if t[0] == '/' {
		if !ValidOriginTarget(t) {
			return ErrTarget
		}
		r.Form, r.Path = FormOrigin, t
		return nil
	}
	var rest string
	switch {
	case len(t) > 7 && EqualFold(t[:7], "http://"):
		rest = t[7:]
	case len(t) > 8 && EqualFold(t[:8], "https://"):
		rest = t[8:]
	default:
		if i := indexByte(t, ':'); i > 0 && len(t) > i+2 && t[i+1] == '/' && t[i+2] == '/' {
			return ErrAbsoluteScheme
		}
		return ErrTarget
	}
	end := len(rest)
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
	}
	auth := rest[:end]
	if _, _, ok := ParseAuthority(auth); !ok {
		return ErrAuthority
	}
	path := rest[end:]
	switch {
	case path == "":
		path = "/"
	case path[0] == '?':
		path = "/" + path // "http://host?q" is "/?q" (RFC 9110 §4.2.3)
	}
	if !ValidOriginTarget(path) {
		return ErrTarget
	}
	r.Form, r.Path, r.Authority = FormAbsolute, path, auth
	return nil
}

// forbiddenTrailerList reports whether a Trailer field value names a field
// that may not be sent as a trailer: net/http refuses a chunked request
// announcing Content-Length, Transfer-Encoding or Trailer as trailers.
func forbiddenTrailerList(v string) bool {
	bad := false
	Tokens(v, func(t string) {
		if EqualFold(t, "content-length") || EqualFold(t, "transfer-encoding") || EqualFold(t, "trailer") {
			bad = true
		}
	})
	return bad
}

// parseLength parses a Content-Length value: decimal digits only, at most
// 2^63-1.
func parseLength(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isDigit(c) {
			return 0, false
		}
		if n > (1<<63-1)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63-1 {
			return 0, false
		}
	}
	return int64(n), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
