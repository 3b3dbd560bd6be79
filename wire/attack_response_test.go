package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// The response side of a desync is response-queue poisoning: if tlsfront
// ends a backend response earlier or later than the backend meant, the
// rest is taken as the answer to the next request on that backend
// connection. These vectors are backend byte streams answering a GET and
// then a second request (method given); wire must end each response where
// net/http does, or refuse (502 and drop the connection).

type responseVector struct {
	name    string
	methods [2]string // the two requests the stream answers
	data    string
}

const okTail = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

var responseVectors = []responseVector{
	{"baseline CL", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"baseline chunked", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + okTail},
	{"CL and TE", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + okTail},
	{"two CL equal", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"CL 5, 5", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello" + okTail},
	{"CL +5", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello" + okTail},
	{"CL space before colon", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello" + okTail},
	{"TE on HTTP/1.0", [2]string{"GET", "GET"}, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"TE identity", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"TE gzip, chunked", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + okTail},
	{"TE xchunked", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + okTail},
	{"204 with CL and body", [2]string{"GET", "GET"}, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"204 chunked", [2]string{"GET", "GET"}, "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + okTail},
	{"304 with CL", [2]string{"GET", "GET"}, "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n" + okTail},
	{"HEAD answered with CL", [2]string{"HEAD", "GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + okTail},
	{"HEAD answered with a body", [2]string{"HEAD", "GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"100 then 200", [2]string{"POST", "GET"}, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"100 with CL", [2]string{"POST", "GET"}, "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"103 then 200", [2]string{"GET", "GET"}, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"no framing on HTTP/1.1 (until close)", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\n\r\nhello" + okTail},
	{"bare LF status line", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"obs-fold hiding TE", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nX: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"chunk size with space", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n" + okTail},
	{"chunk data bare LF", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n" + okTail},
	{"trailer with Content-Length", [2]string{"GET", "GET"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 9\r\n\r\n" + okTail},
	{"status 2000", [2]string{"GET", "GET"}, "HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\nhello" + okTail},
	{"status line two spaces", [2]string{"GET", "GET"}, "HTTP/1.1  200 OK\r\nContent-Length: 5\r\n\r\nhello" + okTail},
}

// wireResponses reads the responses to methods from the pieces of a
// backend stream as the backend client would, skipping 1xx.
func wireResponses(data []byte, methods []string) (ends []int, bodies [][]byte, err error) {
	off := 0
	for _, method := range methods {
		for {
			rest := data[off:]
			end, _, herr := HeadEnd(rest, 0)
			if herr != nil {
				return ends, bodies, herr
			}
			if end == 0 {
				return ends, bodies, errShort
			}
			var r Response
			if _, err := r.Parse(string(rest[:end])); err != nil {
				return ends, bodies, err
			}
			off += end
			kind, n := r.Body(method)
			var body []byte
			switch kind {
			case BodyLength:
				if n > int64(len(data)-off) {
					return ends, bodies, errShort
				}
				body = data[off : off+int(n)]
			case BodyChunked:
				var d ChunkedDecoder
				for !d.Done() {
					k, chunk, err := d.Decode(data[off:])
					if err != nil {
						return ends, bodies, err
					}
					if k == 0 {
						return ends, bodies, errShort
					}
					body = append(body, chunk...)
					off += k
				}
			case BodyClose:
				body = data[off:]
			}
			if kind != BodyChunked {
				off += len(body)
			}
			if r.Status >= 200 || r.Status == 101 {
				ends, bodies = append(ends, off), append(bodies, body)
				if kind == BodyClose || r.Close {
					return ends, bodies, nil
				}
				break
			}
		}
	}
	return ends, bodies, nil
}

// goResponses reads the same with net/http, as its Transport does.
func goResponses(data []byte, methods []string) (ends []int, bodies [][]byte, err error) {
	src := bytes.NewReader(data)
	br := bufio.NewReader(src)
	for _, method := range methods {
		for {
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				return ends, bodies, err
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return ends, bodies, err
			}
			if resp.StatusCode >= 200 || resp.StatusCode == 101 {
				ends, bodies = append(ends, len(data)-src.Len()-br.Buffered()), append(bodies, body)
				if resp.Close {
					return ends, bodies, nil
				}
				break
			}
		}
	}
	return ends, bodies, nil
}

// TestAttackResponses: wherever wire accepts a response, it ends where
// net/http ends it, with the same body; a refusal is fine (502, the
// backend connection dropped).
func TestAttackResponses(t *testing.T) {
	for _, v := range responseVectors {
		data := []byte(v.data)
		wEnds, wBodies, werr := wireResponses(data, v.methods[:])
		gEnds, gBodies, gerr := goResponses(data, v.methods[:])
		verdict := "same"
		for i := range wEnds {
			if i >= len(gEnds) {
				verdict = "BUG"
				t.Errorf("%s: wire accepts response %d (ending at %d), net/http does not: %v", v.name, i, wEnds[i], gerr)
				break
			}
			if wEnds[i] != gEnds[i] || !bytes.Equal(wBodies[i], gBodies[i]) {
				verdict = "BUG"
				t.Errorf("%s: response %d ends at %d with body %q for wire, at %d with %q for net/http (response-queue desync)",
					v.name, i, wEnds[i], wBodies[i], gEnds[i], gBodies[i])
			}
		}
		var e *Error
		switch {
		case verdict == "BUG":
		case len(wEnds) < len(gEnds) && errors.As(werr, &e):
			verdict = fmt.Sprintf("stricter: %d %s", e.Status, e.Reason)
		case len(wEnds) < len(gEnds):
			verdict = "BUG"
			t.Errorf("%s: wire stops after %d responses (%v), net/http reads %d", v.name, len(wEnds), werr, len(gEnds))
		case werr != nil && gerr != nil:
			verdict = "both refuse"
		}
		t.Logf("%-40s wire %d resp (%v) | net/http %d resp (%v) | %s", v.name, len(wEnds), werr, len(gEnds), gerr, verdict)
	}
}
