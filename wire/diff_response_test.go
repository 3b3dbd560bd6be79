package wire

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// stricterResponse lists every error wire may return for a response that
// http.ReadResponse accepts. Each costs the client a 502, so each is
// something Apache (which writes its own status line and framing) never
// sends; a CGI or nph- script that does is refused rather than guessed at.
var stricterResponse = []stricter{
	{ErrStatusLine, "status line exactly \"HTTP/1.0\" or \"HTTP/1.1\", one SP, three digits, then CRLF or SP reason CRLF; net/http takes any HTTP/d.d, spaces before the code, and a bare LF",
		"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n"},
	{ErrStatusCode, "status codes 100..599 (net/http: 000..999)", "HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n"},
	{ErrBareLF, "CRLF line endings only", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\n"},
	{ErrObsFold, "no obs-fold (RFC 9112 §5.2: a proxy rejects or replaces it)", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n"},
	{ErrFieldName, "no whitespace before a colon", "HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n"},
	{ErrResponseLength, "one Content-Length only, and never with Transfer-Encoding (issue 15: 502 and the connection dropped); net/http folds equal values and lets chunked win",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
	{ErrResponseTE, "Transfer-Encoding on an HTTP/1.0 response (net/http ignores it and reads to the close)",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nx"},
	{ErrChunkSize, "as for requests", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\t\r\nx\r\n0\r\n\r\n"},
	{ErrChunkExtension, "as for requests", ""},
	{ErrChunkLine, "as for requests", ""},
	{ErrChunkTooLarge, "as for requests", ""},
	{ErrTooManyFields, "as for requests (trailers)", ""},
	{ErrResponseFields, "at most MaxResponseFields fields in a response head (net/http: bytes only); the wire review",
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X: a\r\n", MaxResponseFields) + "Content-Length: 0\r\n\r\n"},
}

var responseMethods = []string{"GET", "HEAD", "POST"}

// readWireResponse reads one response as the backend client would.
func readWireResponse(data []byte, method string) (r *Response, body []byte, trailers []Field, err error) {
	end, _, herr := HeadEnd(data, 0)
	if herr != nil {
		return nil, nil, nil, herr
	}
	if end == 0 {
		return nil, nil, nil, errShort
	}
	r = new(Response)
	if _, err := r.Parse(string(data[:end])); err != nil {
		return nil, nil, nil, err
	}
	rest := data[end:]
	kind, n := r.Body(method)
	switch kind {
	case BodyChunked:
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
	case BodyLength:
		if n > int64(len(rest)) {
			return nil, nil, nil, errShort
		}
		body = rest[:n]
	case BodyClose:
		body = rest
	}
	return r, body, trailers, nil
}

func compareResponse(t *testing.T, data []byte, method string) string {
	r, body, trailers, werr := readWireResponse(data, method)
	res, gerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), &http.Request{Method: method})
	var goBody []byte
	if gerr == nil {
		goBody, gerr = io.ReadAll(res.Body)
	}
	switch {
	case werr != nil && gerr != nil:
		return "both refuse"
	case werr != nil:
		if werr == errShort {
			t.Fatalf("%s: wire wants more bytes of %q, which net/http reads whole", method, data)
		}
		if !isListed(stricterResponse, werr) {
			t.Fatalf("%s: wire refuses %q (%v), net/http accepts it, and stricterResponse does not list that", method, data, werr)
		}
		return "stricter"
	case gerr != nil:
		t.Fatalf("%s: wire accepts %q, net/http refuses it: %v", method, data, gerr)
	}
	status := strconv.Itoa(r.Status)
	if res.StatusCode != r.Status || res.ProtoMinor != r.Minor || strings.TrimPrefix(strings.TrimPrefix(res.Status, status), " ") != r.Reason {
		t.Fatalf("%s %q: wire %d %q HTTP/1.%d, net/http %q HTTP/1.%d", method, data, r.Status, r.Reason, r.Minor, res.Status, res.ProtoMinor)
	}
	want := fieldMap(r.Fields)
	delete(want, "Transfer-Encoding")
	if r.Chunked {
		delete(want, "Trailer")
	}
	if r.Minor == 1 && r.Close {
		delete(want, "Connection") // net/http removes it once it has read "close"
	}
	if !reflect.DeepEqual(want, map[string][]string(res.Header)) {
		t.Fatalf("%s %q: wire fields %q, net/http %q", method, data, want, res.Header)
	}
	kind, _ := r.Body(method)
	if !bytes.Equal(body, goBody) || res.Close != (r.Close || kind == BodyClose) {
		t.Fatalf("%s %q: wire body %q close %v (%v); net/http %q %v", method, data, body, r.Close, kind, goBody, res.Close)
	}
	got := fieldMap(trailers)
	for k, v := range res.Trailer {
		if v != nil && !reflect.DeepEqual(got[k], v) {
			t.Fatalf("%q: wire trailers %q, net/http %q", data, got, res.Trailer)
		}
	}
	for k := range got {
		if res.Trailer[k] == nil {
			t.Fatalf("%q: wire trailers %q, net/http %q", data, got, res.Trailer)
		}
	}
	return "same"
}

var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: Apache/2.2.22 (Debian)\r\nX-Powered-By: PHP/5.4.45\r\nSet-Cookie: PHPSESSID=0123; path=/\r\nContent-Length: 3\r\nKeep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\nContent-Type: text/html\r\n\r\nok\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n0\r\nX-T: v\r\n\r\n",
	"HTTP/1.1 301 Moved Permanently\r\nLocation: http://a/dir/\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.0 200 OK\r\n\r\nuntil-eof",
	"HTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 9\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest",
	"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"hello, this is HTTP/0.9 garbage\n",
}

func TestResponseDifferential(t *testing.T) {
	for _, s := range responseSeeds {
		for _, m := range responseMethods {
			t.Logf("%-12s %s %q", compareResponse(t, []byte(s), m), m, s)
		}
	}
	checkStricter(t, stricterResponse, func(ex string) (error, error) {
		_, _, _, werr := readWireResponse([]byte(ex), "GET")
		res, gerr := http.ReadResponse(bufio.NewReader(strings.NewReader(ex)), &http.Request{Method: "GET"})
		if gerr == nil {
			_, gerr = io.ReadAll(res.Body)
		}
		return werr, gerr
	})
}

// FuzzResponseDifferential holds the response parser to http.ReadResponse
// as FuzzRequestDifferential does the request parser to ReadRequest. The
// first byte picks the request method (GET, HEAD or POST).
func FuzzResponseDifferential(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte("\x00" + s))
		f.Add([]byte("\x01" + s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		compareResponse(t, data[1:], responseMethods[int(data[0])%len(responseMethods)])
	})
}
