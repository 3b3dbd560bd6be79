package wire

// Response is a parsed response head from a backend. Its strings are
// substrings of the head given to Parse; Fields keeps its capacity across
// Parse calls.
type Response struct {
	Minor  int    // 0 or 1
	Status int    // 100..599
	Reason string // the reason phrase, possibly empty
	// Fields are every field line in order, names as received.
	Fields []Field
	// ContentLength is the declared body length, -1 when none was given.
	ContentLength int64
	Chunked       bool
	// Close reports whether the backend ends the connection after this
	// response: Connection: close, or HTTP/1.0 without keep-alive.
	Close bool
}

// BodyKind is how a response body is delimited (RFC 9112 §6.3).
type BodyKind uint8

const (
	BodyNone    BodyKind = iota // 1xx, 204, 304, or the answer to HEAD
	BodyLength                  // Content-Length bytes
	BodyChunked                 // chunked transfer coding
	BodyClose                   // until the backend closes the connection
)

// Parse parses the response head at the start of s and returns its
// length. Stricter than RFC 9112 requires of a client, on purpose: every
// line ends in CRLF, no obs-fold, a status line "HTTP/1.0" or "HTTP/1.1",
// one space, three digits 100..599, then nothing or a space and a reason;
// at most one Content-Length; Transfer-Encoding only as one "chunked" on
// HTTP/1.1 and never with Content-Length. Anything else is an *Error (the
// client gets 502 and the backend connection is dropped).
func (r *Response) Parse(s string) (int, error) {
	n, err := r.parse(s)
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (r *Response) parse(s string) (int, *Error) {
	fields := r.Fields[:0]
	*r = Response{Fields: fields, ContentLength: -1}
	if len(s) < len("HTTP/1.1 200\r\n") || s[:7] != "HTTP/1." || s[8] != ' ' {
		return 0, ErrStatusLine
	}
	switch s[7] {
	case '1':
		r.Minor = 1
	case '0':
	default:
		return 0, ErrStatusLine
	}
	if !isDigit(s[9]) || !isDigit(s[10]) || !isDigit(s[11]) {
		return 0, ErrStatusLine
	}
	r.Status = int(s[9]-'0')*100 + int(s[10]-'0')*10 + int(s[11]-'0')
	if r.Status < 100 || r.Status > 599 {
		return 0, ErrStatusCode
	}
	i := 12
	switch s[i] {
	case '\r':
	case ' ':
		i++
		start := i
		for i < len(s) && fieldValueByte[s[i]] {
			i++
		}
		r.Reason = s[start:i]
	default:
		return 0, ErrStatusLine
	}
	if i+1 >= len(s) || s[i] != '\r' || s[i+1] != '\n' {
		return 0, ErrStatusLine
	}
	i += 2
	fields, n, err := parseFields(s[i:], fields, MaxResponseFields)
	r.Fields = fields
	if err == ErrTooManyFields {
		return 0, ErrResponseFields
	}
	if err != nil {
		return 0, err
	}
	if err := r.interpret(); err != nil {
		return 0, err
	}
	return i + n, nil
}

func (r *Response) interpret() *Error {
	var lengths, tes int
	var length, te string
	var keepAlive, close bool
	for _, f := range r.Fields {
		switch len(f.Name) {
		case 10:
			if EqualFold(f.Name, "connection") {
				Tokens(f.Value, func(t string) {
					switch {
					case EqualFold(t, "close"):
						close = true
					case EqualFold(t, "keep-alive"):
						keepAlive = true
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
	switch {
	case tes > 0 && (r.Minor == 0 || tes > 1 || !EqualFold(te, "chunked")):
		return ErrResponseTE
	case tes > 0 && lengths > 0, lengths > 1:
		return ErrResponseLength
	case tes == 1:
		r.Chunked = true
	case lengths == 1:
		n, ok := parseLength(length)
		if !ok {
			return ErrResponseLength
		}
		r.ContentLength = n
	}
	r.Close = close || r.Minor == 0 && !keepAlive
	return nil
}

// Body returns how the body of r is delimited when it answers a request
// with the given method, and its length for BodyLength.
func (r *Response) Body(method string) (BodyKind, int64) {
	switch {
	case r.Status < 200 || r.Status == 204 || r.Status == 304 || method == "HEAD":
		return BodyNone, 0
	case r.Chunked:
		return BodyChunked, -1
	case r.ContentLength >= 0:
		return BodyLength, r.ContentLength
	}
	return BodyClose, -1
}
