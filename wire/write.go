package wire

import (
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
// line with HTTP/1.1, Host, every User-Agent, the framing, the other
// fields in the order given (see SortFields), the empty line.
//
// length is the body's: > 0 is sent as Content-Length; 0 as
// "Content-Length: 0" for POST, PUT and PATCH only (servers expect one
// there) and not at all otherwise; < 0 as "Transfer-Encoding: chunked".
// fields must hold neither Host, Content-Length nor Transfer-Encoding, and
// every name and value must be valid (ValidToken, ValidFieldValue).
func AppendRequestHead(dst []byte, method, target, host string, fields []Field, length int64) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, '\r', '\n')
	for _, f := range fields {
		if f.Name == "User-Agent" && f.Value != "" {
			dst = AppendField(dst, f.Name, f.Value)
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
