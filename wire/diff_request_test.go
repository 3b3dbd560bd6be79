package wire

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// The differential tests hold wire to net/http's readers, the reference
// every engine of tlsfront replaced: whatever wire accepts, net/http
// accepts with the same method, target, fields and body bytes; whatever
// net/http refuses, wire refuses. Where wire refuses what net/http
// accepts, the refusal must be one listed in stricterRequest (or
// stricterResponse), on purpose and with the reason; the tests check that
// each listed example is indeed accepted by net/http and refused by wire.

// stricter is one way wire is stricter than net/http on purpose.
type stricter struct {
	err     *Error
	why     string
	example string // accepted by net/http, refused by wire with err
}

// stricterRequest lists every error wire may return for a request that
// http.ReadRequest accepts. "net/http's server" marks refusals that Go's
// HTTP server also makes after ReadRequest (tlsfront's old engine): only
// the reader is lenient there.
var stricterRequest = []stricter{
	{ErrBareLF, "RFC 9112 §2.2 lets a recipient accept a bare LF; tlsfront does not (issue 15): Apache 2.2 and tlsfront could split lines differently",
		"GET / HTTP/1.1\nHost: a\n\n"},
	{ErrObsFold, "obs-fold is unfolded by net/http; RFC 9112 §5.2 allows a proxy to reject it, and a fold hides a field from some readers",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"},
	{ErrFieldName, "net/http keeps \"Name :\" as a field named \"Name \" (Go issue 34540); RFC 9112 §5.1 requires 400. (net/http's server refuses it afterwards too.)",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\n"},
	{ErrTooManyFields, "more than MaxFields fields: Apache 2.2 refuses over 100 (LimitRequestFields), so 431 here, not 400 there",
		"GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: a\r\n", MaxFields) + "\r\n"},
	{ErrNoHost, "HTTP/1.1 without Host: 400 by RFC 9112 §3.2 (net/http's server)", "GET / HTTP/1.1\r\n\r\n"},
	{ErrHost, "Host must be one ParseAuthority authority: a DNS name, IPv4 or bracketed IPv6, optional port (issue 13); net/http's reader takes any value, its server most",
		"GET / HTTP/1.1\r\nHost: b.test,a.test\r\n\r\n"},
	{ErrAuthority, "an absolute-form target's authority is held to ParseAuthority too (issue 13: %EF%BD%82.test, userinfo)",
		"GET http://u@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"},
	{ErrAbsoluteScheme, "absolute-form only with http or https", "GET ftp://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"},
	{ErrTarget, "targets: origin-form or absolute-form only (no asterisk-form, no authority-form but for CONNECT), and ValidOriginTarget's rules: no byte above 0x7e, no '#', valid %-escapes in the path",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"},
	{ErrConnectTarget, "CONNECT's target must be host:port (RFC 9110 §9.3.6); tlsfront refuses CONNECT anyway",
		"CONNECT a.test HTTP/1.1\r\nHost: a.test\r\n\r\n"},
	{ErrConnectTarget, "CONNECT with an origin-form or absolute-form target: Apache reads any CONNECT target as host:port (the wire attack review)",
		"CONNECT /x HTTP/1.1\r\nHost: a.test\r\n\r\n"},
	{ErrNoHost, "CONNECT on HTTP/1.1 without Host: 400 by RFC 9112 §3.2; net/http exempts CONNECT (the wire review)",
		"CONNECT a.test:443 HTTP/1.1\r\n\r\n"},
	{ErrVersionNotHTTP1, "HTTP/1 only: 505 for HTTP/2.0, HTTP/0.9 (net/http's server answers 505 to major versions other than 1); HTTP/1.2 and on are read as HTTP/1.1",
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n"},
	{ErrLengthAndTE, "both framings: 400 and close (RFC 9112 §6.1, issue 13); net/http drops Content-Length and keeps the connection",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{ErrTEOnHTTP10, "Transfer-Encoding on HTTP/1.0: 400 (issue 13); net/http ignores it (Go issue 12785), so the chunks become the next request",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{ErrManyLengths, "several Content-Length fields, even equal: nginx refuses them; net/http folds equal ones",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"},
	{ErrChunkSize, "no whitespace after a chunk size (net/http trims it)", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n"},
	{ErrChunkExtension, "chunk extensions must be ;token[=token|quoted-string] (net/http discards anything after ';')",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;=\r\nx\r\n0\r\n\r\n"},
	{ErrChunkLine, "chunk lines of at most MaxChunkLine bytes (net/http: 4 KiB)",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", MaxChunkLine) + "\r\nx\r\n0\r\n\r\n"},
	{ErrRequestLine, "an empty target: net/http accepts one for CONNECT (\"CONNECT  HTTP/1.1\")", "CONNECT  HTTP/1.1\r\nHost: a\r\n\r\n"},
	{ErrChunkTooLarge, "chunk sizes under 2^60 (net/http: 2^64)", ""},
	{ErrTooManyFields, "trailer sections of at most MaxFields fields", ""},
}

// readWire reads one request from data as tlsfront's engine would: the
// head, then the body by its framing.
func readWire(data []byte) (r *Request, body []byte, trailers []Field, err error) {
	end, _, herr := HeadEnd(data, 0)
	if herr != nil {
		return nil, nil, nil, herr
	}
	if end == 0 {
		return nil, nil, nil, errShort
	}
	r = new(Request)
	n, err := r.Parse(string(data[:end]))
	if err != nil {
		return nil, nil, nil, err
	}
	if n != end {
		return nil, nil, nil, ErrFieldName
	}
	rest := data[end:]
	switch {
	case r.Chunked:
		var d ChunkedDecoder
		for !d.Done() {
			n, chunk, err := d.Decode(rest)
			if err != nil {
				return nil, nil, nil, err
			}
			if n == 0 {
				return nil, nil, nil, errShort
			}
			body = append(body, chunk...)
			rest = rest[n:]
		}
		trailers = d.Trailers
	case r.ContentLength > int64(len(rest)):
		return nil, nil, nil, errShort
	default:
		body = rest[:r.ContentLength]
	}
	return r, body, trailers, nil
}

// readGo reads one request from data with net/http. One empty line before
// the request is ignored, as wire does (RFC 9112 §2.2; net/http's server
// discards CR and LF after a POST, its reader does not).
func readGo(data []byte) (*http.Request, []byte, error) {
	data = bytes.TrimPrefix(data, []byte("\r\n"))
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, nil, err
	}
	return req, body, nil
}

// fieldMap groups fields by canonical name, as net/http's Header does.
func fieldMap(fields []Field) map[string][]string {
	m := map[string][]string{}
	for _, f := range fields {
		k := CanonicalName(f.Name)
		m[k] = append(m[k], f.Value)
	}
	return m
}

func isListed(list []stricter, err error) bool {
	for _, s := range list {
		if s.err == err {
			return true
		}
	}
	return false
}

// compareRequest checks one input both ways; it returns what happened, for
// the seed test.
func compareRequest(t *testing.T, data []byte) string {
	r, body, trailers, werr := readWire(data)
	req, goBody, gerr := readGo(data)
	switch {
	case werr != nil && gerr != nil:
		return "both refuse"
	case werr != nil:
		if werr == errShort {
			t.Fatalf("wire wants more bytes of %q, which net/http reads whole", data)
		}
		if !isListed(stricterRequest, werr) {
			t.Fatalf("wire refuses %q (%v), net/http accepts it, and stricterRequest does not list that", data, werr)
		}
		return "stricter"
	case gerr != nil:
		t.Fatalf("wire accepts %q, net/http refuses it: %v", data, gerr)
	}
	// HTTP/1.2 and later minor versions are read as HTTP/1.1 (RFC 9110 §2.5).
	if r.Method != req.Method || r.Target != req.RequestURI || r.Minor != min(req.ProtoMinor, 1) || req.ProtoMajor != 1 {
		t.Fatalf("%q: wire %s %s HTTP/1.%d, net/http %s %s %s", data, r.Method, r.Target, r.Minor, req.Method, req.RequestURI, req.Proto)
	}
	if r.Authority != req.Host {
		t.Fatalf("%q: wire authority %q, net/http Host %q", data, r.Authority, req.Host)
	}
	want := fieldMap(r.Fields)
	delete(want, "Transfer-Encoding") // net/http moves it to TransferEncoding
	delete(want, "Host")              // and this to Host
	if r.Chunked {
		delete(want, "Trailer") // to Request.Trailer's keys
	}
	if p := want["Pragma"]; len(p) > 0 && p[0] == "no-cache" && want["Cache-Control"] == nil {
		want["Cache-Control"] = []string{"no-cache"} // net/http's fixPragmaCacheControl
	}
	if !reflect.DeepEqual(want, map[string][]string(req.Header)) {
		t.Fatalf("%q: wire fields %q, net/http %q", data, want, req.Header)
	}
	if r.ContentLength != req.ContentLength || r.Close != req.Close || !bytes.Equal(body, goBody) {
		t.Fatalf("%q: wire length %d close %v body %q; net/http %d %v %q", data, r.ContentLength, r.Close, body, req.ContentLength, req.Close, goBody)
	}
	got := fieldMap(trailers)
	for k, v := range req.Trailer {
		if v != nil && !reflect.DeepEqual(got[k], v) {
			t.Fatalf("%q: wire trailers %q, net/http %q", data, got, req.Trailer)
		}
	}
	for k := range got {
		if req.Trailer[k] == nil {
			t.Fatalf("%q: wire trailers %q, net/http %q", data, got, req.Trailer)
		}
	}
	return "same"
}

var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /index.php?id=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: text/html\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: a=1; b=2\r\nPragma: no-cache\r\nConnection: keep-alive\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: v\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED",
	"POST /a HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET http://b.test:81/x?y HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\n",
	"GET /\xc3\xa9?q=%zz#f HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
}

// TestRequestDifferential runs the seeds and checks the stricter table's
// examples.
func TestRequestDifferential(t *testing.T) {
	for _, s := range requestSeeds {
		t.Logf("%-12s %q", compareRequest(t, []byte(s)), s)
	}
	checkStricter(t, stricterRequest, func(ex string) (error, error) {
		_, _, werr := readWireErr([]byte(ex))
		_, _, gerr := readGo([]byte(ex))
		return werr, gerr
	})
}

func readWireErr(data []byte) (*Request, []byte, error) {
	r, body, _, err := readWire(data)
	return r, body, err
}

func checkStricter(t *testing.T, list []stricter, run func(string) (wireErr, goErr error)) {
	t.Helper()
	for _, s := range list {
		if s.example == "" {
			continue
		}
		werr, gerr := run(s.example)
		if gerr != nil {
			t.Errorf("stricter example %q: net/http refuses it too (%v): not stricter", s.example, gerr)
		}
		if werr != s.err {
			t.Errorf("stricter example %q: wire says %v, want %v", s.example, werr, s.err)
		}
	}
}

// FuzzRequestDifferential: see the comment at the top of this file.
func FuzzRequestDifferential(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	for _, s := range stricterRequest {
		if s.example != "" {
			f.Add([]byte(s.example))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareRequest(t, data)
	})
}

// FuzzChunkedDifferential holds the chunked decoder to net/http's on
// request bodies, and checks that feeding the decoder in pieces (as a
// connection delivers them) decodes the same as all at once.
func FuzzChunkedDifferential(f *testing.F) {
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n", "3;a=b\r\nabc\r\n2;q=\"x\\\"y\"\r\nde\r\n0\r\nX-T: v\r\nY:\r\n\r\n", "0\r\n\r\n",
		"A\r\n0123456789\r\n0\r\n\r\n", "5 \r\nhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n", "1;\r\nx\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, step uint8) {
		compareRequest(t, append([]byte(head), body...))
		var whole, pieces ChunkedDecoder
		want, _, werr := decodeAll(&whole, string(body), len(body)+1)
		got, _, gerr := decodeAll(&pieces, string(body), int(step%16)+1)
		if want != got || werr != gerr {
			t.Fatalf("%q whole: %q %v; in pieces of %d: %q %v", body, want, werr, step%16+1, got, gerr)
		}
	})
}
