package wire

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// TestResponseHead checks the head sent to clients: what net/http's
// client reads from it is what was meant, framing included.
func TestResponseHead(t *testing.T) {
	date := []byte("Mon, 01 Jan 2024 00:00:00 GMT")
	fields := []Field{{"Content-Type", "text/html"}, {"Set-Cookie", "a=1; Secure"}, {"Set-Cookie", "b=2; Secure"}, {"Trailer", "X-Sum"}}
	for _, tc := range []struct {
		name   string
		h      ResponseHead
		method string
		want   string // the exact bytes, when given
		check  func(*http.Response) string
	}{
		{"length", ResponseHead{Status: 200, Reason: "OK", Date: date, Fields: fields[:1], ContentLength: 3}, "GET",
			"HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 3\r\n\r\n", nil},
		{"chunked keeps Trailer", ResponseHead{Status: 200, Fields: fields, ContentLength: -1, Chunked: true}, "GET", "",
			func(r *http.Response) string {
				if len(r.TransferEncoding) != 1 || r.Trailer == nil || len(r.Header["Set-Cookie"]) != 2 || r.Status != "200 OK" {
					return "framing or fields"
				}
				return ""
			}},
		{"length drops Trailer", ResponseHead{Status: 200, Fields: fields, ContentLength: 0}, "GET", "",
			func(r *http.Response) string {
				if r.Header.Get("Trailer") != "" || r.ContentLength != 0 {
					return "Trailer sent with a length"
				}
				return ""
			}},
		{"close", ResponseHead{Status: 502, Reason: "Bad\x01Gateway", ContentLength: 5, Close: true}, "GET", "",
			func(r *http.Response) string {
				if r.Status != "502 Bad Gateway" || !r.Close {
					return "reason not replaced, or no close"
				}
				return ""
			}},
		{"keep-alive for HTTP/1.0", ResponseHead{Status: 204, ContentLength: -1, KeepAlive: true}, "GET",
			"HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n", nil},
		{"HEAD with a length", ResponseHead{Status: 200, ContentLength: 1234}, "HEAD", "", func(r *http.Response) string {
			if r.ContentLength != 1234 {
				return "length"
			}
			return ""
		}},
	} {
		b := string(tc.h.Append(nil))
		if tc.want != "" && b != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, b, tc.want)
		}
		res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(b+"0\r\n\r\n")), &http.Request{Method: tc.method})
		if err != nil {
			t.Errorf("%s: net/http cannot read %q: %v", tc.name, b, err)
			continue
		}
		if tc.check != nil {
			if msg := tc.check(res); msg != "" {
				t.Errorf("%s: %s: %q", tc.name, msg, b)
			}
		}
	}
	if got := string(AppendInformational(nil, 103, []Field{{"Link", "</a>"}})); got != "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" {
		t.Errorf("103: %q", got)
	}
}
