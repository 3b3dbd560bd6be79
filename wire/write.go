package wire

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// AppendField appends one field line, "name: value" and CRLF.
func AppendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// AppendRequestHead appends the head of a request to a backend, built from
// parsed values, in the order net/http's client writes one (so that what
// reaches Apache is byte for byte what http.Transport sent): the request
// line with HTTP/1.1, Host, the first User-Agent field's value (none when
// it is empty; net/http writes only Header.Get's), the framing, the other
// fields in the order given (see SortFields), the empty line.
//
// length is the body's: > 0 is sent as Content-Length; 0 as
// "Content-Length: 0" for POST, PUT and PATCH only (servers expect one
// there) and not at all otherwise; < 0 as "Transfer-Encoding: chunked".
// fields must hold neither Host, Content-Length nor Transfer-Encoding, and
// every name and value must be valid (ValidToken, ValidFieldValue). host
// must be a valid authority (ParseAuthority): for an HTTP/1.0 request
// without Host, the caller supplies one (tlsfront: the backend's
// host:port, as http.Transport did); AppendRequestHead panics on "", for
// "Host: " is a head Apache and wire refuse.
func AppendRequestHead(dst []byte, method, target, host string, fields []Field, length int64) []byte {
	if host == "" {
		panic("wire: AppendRequestHead without a host")
	}
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, '\r', '\n')
	for _, f := range fields {
		if f.Name == "User-Agent" {
			if f.Value != "" {
				dst = AppendField(dst, f.Name, f.Value)
			}
			break
		}
	}
	switch {
	case length > 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, length, 10)
		dst = append(dst, '\r', '\n')
	case length == 0:
		if method == "POST" || method == "PUT" || method == "PATCH" {
			dst = append(dst, "Content-Length: 0\r\n"...)
		}
	default:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	for _, f := range fields {
		if f.Name != "User-Agent" {
			dst = AppendField(dst, f.Name, f.Value)
		}
	}
	return append(dst, '\r', '\n')
}

// SortFields sorts fields by name, stably (values of one name keep their
// order), as net/http writes a header: give it canonical names
// (CanonicalName) for the same order.
func SortFields(fields []Field) {
	slices.SortStableFunc(fields, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
}

// AppendStatusLine appends "HTTP/1.1 status reason" and CRLF. An empty
// reason is sent as "HTTP/1.1 status " (RFC 9112 §4 keeps the space).
func AppendStatusLine(dst []byte, status int, reason string) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	return append(dst, '\r', '\n')
}

// ResponseHead is the head of a response tlsfront sends a client over
// HTTP/1.1, built from parsed values: the status line, Date, the message's
// fields, then the framing and connection fields tlsfront decides.
type ResponseHead struct {
	Status int
	// Reason is the backend's reason phrase; an empty or invalid one is
	// replaced by the status's standard text.
	Reason string
	Date   []byte // the Date value (http.TimeFormat); nil sends none
	// Fields are the message's fields, names and values as given (valid:
	// they come from a parser). They must not hold framing or connection
	// fields; a Trailer field is left out unless Chunked, since no
	// trailers can follow.
	Fields []Field
	// ContentLength >= 0 is sent as Content-Length; -1 sends none.
	ContentLength int64
	Chunked       bool // Transfer-Encoding: chunked
	Close         bool // Connection: close
	KeepAlive     bool // Connection: keep-alive (to an HTTP/1.0 client that asked)
}

// Append appends the head, its final empty line included, to dst.
func (h *ResponseHead) Append(dst []byte) []byte {
	reason := h.Reason
	if reason == "" || !ValidFieldValue(reason) {
		reason = http.StatusText(h.Status)
	}
	dst = AppendStatusLine(dst, h.Status, reason)
	if h.Date != nil {
		dst = append(dst, "Date: "...)
		dst = append(dst, h.Date...)
		dst = append(dst, '\r', '\n')
	}
	for _, f := range h.Fields {
		if !h.Chunked && len(f.Name) == 7 && EqualFold(f.Name, "trailer") {
			continue
		}
		dst = AppendField(dst, f.Name, f.Value)
	}
	switch {
	case h.ContentLength >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, h.ContentLength, 10)
		dst = append(dst, '\r', '\n')
	case h.Chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	switch {
	case h.Close:
		dst = append(dst, "Connection: close\r\n"...)
	case h.KeepAlive:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, '\r', '\n')
}

// AppendInformational appends a 1xx response head (not 101) with fields.
func AppendInformational(dst []byte, status int, fields []Field) []byte {
	dst = AppendStatusLine(dst, status, http.StatusText(status))
	for _, f := range fields {
		dst = AppendField(dst, f.Name, f.Value)
	}
	return append(dst, '\r', '\n')
}
