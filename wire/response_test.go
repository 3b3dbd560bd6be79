package wire

import (
	"strings"
	"testing"
)

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		method     string
		err        *Error
		kind       BodyKind
		length     int64
		close      bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/html\r\n\r\n", "GET", nil, BodyLength, 12, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", nil, BodyChunked, -1, false},
		{"until close", "HTTP/1.1 200 OK\r\n\r\n", "GET", nil, BodyClose, -1, false},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", "GET", nil, BodyLength, 2, true},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n", "GET", nil, BodyLength, 2, false},
		{"Connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n", "GET", nil, BodyLength, 2, true},
		{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "HEAD", nil, BodyNone, 0, false},
		{"HEAD chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", nil, BodyNone, 0, false},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", "GET", nil, BodyNone, 0, false},
		{"304 with length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", "GET", nil, BodyNone, 0, false},
		{"103", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", "GET", nil, BodyNone, 0, false},
		{"no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", nil, BodyLength, 0, false},
		{"empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", nil, BodyLength, 0, false},

		{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", ErrResponseLength, 0, 0, false},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "GET", ErrResponseLength, 0, 0, false},
		{"two equal lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", "GET", ErrResponseLength, 0, 0, false},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\n", "GET", ErrResponseLength, 0, 0, false},
		{"TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", ErrResponseTE, 0, 0, false},
		{"TE on 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", ErrResponseTE, 0, 0, false},
		{"header without colon", "HTTP/1.1 200 OK\r\nThis is not a header\r\nContent-Length: 2\r\n\r\n", "GET", ErrFieldName, 0, 0, false},
		{"bad status", "HTTP/1.1 abc OK\r\n\r\n", "GET", ErrStatusLine, 0, 0, false},
		{"status 600", "HTTP/1.1 600 X\r\n\r\n", "GET", ErrStatusCode, 0, 0, false},
		{"HTTP/0.9", "hello, this is HTTP/0.9 garbage\n", "GET", ErrStatusLine, 0, 0, false},
		{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", "GET", ErrStatusLine, 0, 0, false},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "GET", ErrStatusLine, 0, 0, false},
		{"bare LF in fields", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", "GET", ErrBareLF, 0, 0, false},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "GET", ErrObsFold, 0, 0, false},
		{"control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", "GET", ErrStatusLine, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			n, err := r.Parse(tc.head)
			if tc.err != nil {
				if err != tc.err {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || n != len(tc.head) {
				t.Fatalf("Parse = %d, %v", n, err)
			}
			kind, length := r.Body(tc.method)
			if kind != tc.kind || length != tc.length || r.Close != tc.close {
				t.Errorf("body %v %d close %v; want %v %d %v", kind, length, r.Close, tc.kind, tc.length, tc.close)
			}
		})
	}
}

// decodeAll runs d over in, fed in pieces of size step, and returns the
// data and the bytes consumed.
func decodeAll(d *ChunkedDecoder, in string, step int) (string, int, error) {
	var out strings.Builder
	buf := []byte{}
	consumed, fed := 0, 0
	for !d.Done() {
		n, data, err := d.Decode(buf)
		if err != nil {
			return out.String(), consumed, err
		}
		out.Write(data)
		buf = buf[n:]
		consumed += n
		if n == 0 {
			if fed == len(in) {
				return out.String(), consumed, errShort
			}
			next := min(fed+step, len(in))
			buf = append(buf, in[fed:next]...)
			fed = next
		}
	}
	return out.String(), consumed, nil
}

var errShort = &Error{Status: 0, Reason: "input ended"}

func TestChunkedDecoder(t *testing.T) {
	for _, tc := range []struct {
		name, in, data string
		err            *Error
		trailers       []Field
	}{
		{"simple", "5\r\nhello\r\n0\r\n\r\n", "hello", nil, nil},
		{"two chunks", "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", "hello", nil, nil},
		{"upper hex, zeros", "000A\r\n0123456789\r\n0000\r\n\r\n", "0123456789", nil, nil},
		{"extensions", "5;a=b;c;d=\"x;y\\\"\"\r\nhello\r\n0;last\r\n\r\n", "hello", nil, nil},
		{"trailers", "5\r\nhello\r\n0\r\nX-T: v\r\nX-U:  w \r\n\r\n", "hello", nil, []Field{{"X-T", "v"}, {"X-U", "w"}}},
		{"empty", "0\r\n\r\n", "", nil, nil},

		{"hex prefix", "0x5\r\nhello\r\n0\r\n\r\n", "", ErrChunkSize, nil},
		{"negative", "-5\r\nhello\r\n0\r\n\r\n", "", ErrChunkSize, nil},
		{"space after size", "5 \r\nhello\r\n0\r\n\r\n", "", ErrChunkSize, nil},
		{"space before extension", "5 ;a\r\nhello\r\n0\r\n\r\n", "", ErrChunkSize, nil},
		{"17 digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", "", ErrChunkTooLarge, nil},
		{"overflow", "fffffffffffffffff1\r\nhello\r\n0\r\n\r\n", "", ErrChunkTooLarge, nil},
		{"16 digits over int64", "8000000000000000\r\n", "", ErrChunkTooLarge, nil}, // found by FuzzChunkedDifferential
		{"too long", "3\r\nhello\r\n0\r\n\r\n", "hel", ErrChunkEnd, nil},
		{"LF in extension", "5;a\nGET /x\r\nhello\r\n0\r\n\r\n", "", ErrBareLF, nil},
		{"bare LF", "5\nhello\n0\n\n", "", ErrBareLF, nil},
		{"bad extension", "5;a=\"x\r\nhello\r\n0\r\n\r\n", "", ErrChunkExtension, nil},
		{"extension NUL", "5;a\x00\r\nhello\r\n0\r\n\r\n", "", ErrChunkExtension, nil},
		{"long line", "5;" + strings.Repeat("a", MaxChunkLine) + "\r\nhello\r\n0\r\n\r\n", "", ErrChunkLine, nil},
		{"trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", "", ErrObsFold, nil},
		{"trailer bare LF", "0\r\nX: a\n\r\n", "", ErrBareLF, nil},
		{"trailer too long", "0\r\nX: " + strings.Repeat("a", MaxTrailerBytes) + "\r\n\r\n", "", ErrTrailerTooLong, nil},
		{"tiny chunks flood", strings.Repeat("1;"+strings.Repeat("e", 100)+"\r\nx\r\n", 200) + "0\r\n\r\n", "", ErrChunkOverhead, nil},
	} {
		for _, step := range []int{1, 3, 1 << 20} {
			var d ChunkedDecoder
			data, n, err := decodeAll(&d, tc.in, step)
			if tc.err != nil {
				if err != tc.err {
					t.Errorf("%s (step %d): error %v, want %v", tc.name, step, err, tc.err)
				}
				continue
			}
			if err != nil || data != tc.data || n != len(tc.in) {
				t.Errorf("%s (step %d): %q, %d, %v; want %q, %d", tc.name, step, data, n, err, tc.data, len(tc.in))
				continue
			}
			if len(d.Trailers) != len(tc.trailers) {
				t.Errorf("%s: trailers %q, want %q", tc.name, d.Trailers, tc.trailers)
				continue
			}
			for i := range tc.trailers {
				if d.Trailers[i] != tc.trailers[i] {
					t.Errorf("%s: trailers %q, want %q", tc.name, d.Trailers, tc.trailers)
				}
			}
		}
	}
}

func TestChunkedEncoder(t *testing.T) {
	b := AppendChunkHeader(nil, 300)
	b = append(b, strings.Repeat("x", 300)...)
	b = append(b, '\r', '\n')
	b = AppendLastChunk(b, []Field{{"X-T", "v"}})
	var d ChunkedDecoder
	data, _, err := decodeAll(&d, string(b), 7)
	if err != nil || data != strings.Repeat("x", 300) || len(d.Trailers) != 1 || d.Trailers[0] != (Field{"X-T", "v"}) {
		t.Errorf("round trip: %q %v %q", data, err, d.Trailers)
	}
	if !strings.HasPrefix(string(b), "12c\r\n") {
		t.Errorf("size line %q", b[:6])
	}
}
