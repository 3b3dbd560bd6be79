package wire

import (
	"strings"
	"testing"
)

// parseRequest parses a whole head, checking that Parse consumed all of it.
func parseRequest(t *testing.T, head string) (*Request, error) {
	t.Helper()
	var r Request
	n, err := r.Parse(head)
	if err == nil && n != len(head) {
		t.Fatalf("Parse(%q) consumed %d of %d bytes", head, n, len(head))
	}
	return &r, err
}

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		err        *Error
		check      func(*Request) string // "" when fine
	}{
		{"browser GET", "GET /index.php?id=1 HTTP/1.1\r\nHost: a.test\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n", nil, func(r *Request) string {
			if r.Method != "GET" || r.Target != "/index.php?id=1" || r.Path != r.Target || r.Authority != "a.test" ||
				r.Minor != 1 || r.Form != FormOrigin || r.ContentLength != 0 || r.Chunked || r.Close || len(r.Fields) != 3 {
				return "wrong parse"
			}
			if r.Fields[1] != (Field{"User-Agent", "x"}) {
				return "fields"
			}
			return ""
		}},
		{"values trimmed, case kept", "GET / HTTP/1.1\r\nhost:\t a.test \t\r\nX-A:\r\n\r\n", nil, func(r *Request) string {
			if r.Fields[0] != (Field{"host", "a.test"}) || r.Fields[1] != (Field{"X-A", ""}) || r.Authority != "a.test" {
				return "trim"
			}
			return ""
		}},
		{"obs-text value", "GET / HTTP/1.1\r\nHost: a\r\nReferer: /\xc3\xa9\r\n\r\n", nil, nil},
		{"content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0005\r\n\r\n", nil, func(r *Request) string {
			if r.ContentLength != 5 || r.Chunked {
				return "length"
			}
			return ""
		}},
		{"chunked upper case", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n", nil, func(r *Request) string {
			if r.ContentLength != -1 || !r.Chunked {
				return "chunked"
			}
			return ""
		}},
		{"HTTP/1.0 closes", "GET / HTTP/1.0\r\n\r\n", nil, func(r *Request) string {
			if !r.Close || r.Minor != 0 || r.Authority != "" {
				return "close"
			}
			return ""
		}},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: a\r\n\r\n", nil, func(r *Request) string {
			if r.Close {
				return "keep-alive"
			}
			return ""
		}},
		{"HTTP/1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", nil, func(r *Request) string {
			if !r.Close {
				return "close"
			}
			return ""
		}},
		{"absolute-form", "GET http://b.test:8080/x?y HTTP/1.1\r\nHost: a.test\r\n\r\n", nil, func(r *Request) string {
			if r.Form != FormAbsolute || r.Path != "/x?y" || r.Authority != "b.test:8080" {
				return "absolute"
			}
			return ""
		}},
		{"absolute-form, no path", "GET HTTPS://b.test HTTP/1.1\r\nHost: a.test\r\n\r\n", nil, func(r *Request) string {
			if r.Path != "/" || r.Authority != "b.test" {
				return "absolute"
			}
			return ""
		}},
		{"absolute-form, query only", "GET http://b.test?q HTTP/1.1\r\nHost: b.test\r\n\r\n", nil, func(r *Request) string {
			if r.Path != "/?q" {
				return "absolute"
			}
			return ""
		}},
		{"CONNECT", "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n", nil, func(r *Request) string {
			if r.Form != FormAuthority || r.Authority != "a.test:443" || r.Path != "" {
				return "connect"
			}
			return ""
		}},
		{"websocket", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", nil, func(r *Request) string {
			if r.Upgrade != "websocket" {
				return "upgrade"
			}
			return ""
		}},
		{"upgrade not in Connection", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n", nil, func(r *Request) string {
			if r.Upgrade != "" {
				return "upgrade"
			}
			return ""
		}},
		{"expect 100", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", nil, func(r *Request) string {
			if r.Expect != ExpectContinue {
				return "expect"
			}
			return ""
		}},
		{"expect other", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n", nil, func(r *Request) string {
			if r.Expect != ExpectOther {
				return "expect"
			}
			return ""
		}},
		{"expect 100 twice", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", nil, func(r *Request) string {
			if r.Expect != ExpectOther { // one list: "100-continue, 100-continue", as Apache reads it
				return "expect"
			}
			return ""
		}},
		{"expect 100 and other in one list", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n", nil, func(r *Request) string {
			if r.Expect != ExpectOther {
				return "expect"
			}
			return ""
		}},
		{"expect empty", "PUT / HTTP/1.1\r\nHost: a\r\nExpect:\r\nExpect: ,\r\n\r\n", nil, func(r *Request) string {
			if r.Expect != ExpectNone { // no member: nothing is expected
				return "expect"
			}
			return ""
		}},
		{"leading CRLF ignored", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", nil, func(r *Request) string {
			if r.Method != "GET" || r.Path != "/" { // RFC 9112 §2.2
				return "request"
			}
			return ""
		}},
		{"HTTP/1.2 read as HTTP/1.1", "GET / HTTP/1.2\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", nil, func(r *Request) string {
			if r.Minor != 1 || r.Close { // RFC 9110 §2.5
				return "version"
			}
			return ""
		}},
		{"upgrade lines joined", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\nUpgrade: websocket\r\n\r\n", nil, func(r *Request) string {
			if r.Upgrade != "h2c, websocket" { // one list (RFC 9110 §5.3)
				return "upgrade"
			}
			return ""
		}},
		{"upgrade on HTTP/1.0 ignored", "GET / HTTP/1.0\r\nConnection: keep-alive, upgrade\r\nUpgrade: websocket\r\n\r\n", nil, func(r *Request) string {
			if r.Upgrade != "" { // RFC 9110 §7.8
				return "upgrade"
			}
			return ""
		}},
		{"expect 100 on HTTP/1.0 ignored", "PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", nil, func(r *Request) string {
			if r.Expect != ExpectNone {
				return "expect"
			}
			return ""
		}},

		// Refusals: issue 13 and 15's list.
		{"bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n", ErrBareLF, nil},
		{"bare LF in fields", "GET / HTTP/1.1\r\nHost: a\n\r\n", ErrBareLF, nil},
		{"bare CR", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", ErrBareCR, nil},
		{"bare CR in request line", "GET / HTTP/1.1\rHost: a\r\r\n\r\n", ErrBareCR, nil},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", ErrObsFold, nil},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\n", ErrFieldName, nil},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", ErrFieldName, nil},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", ErrFieldName, nil},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", ErrFieldValue, nil},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", ErrFieldValue, nil},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", ErrLengthAndTE, nil},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTEOnHTTP10, nil},
		// RFC 9112 §6.3: 400 when the length cannot be known; 501 (§6.1)
		// for a coding tlsfront does not implement before a final chunked.
		{"TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTransferEncoding, nil},
		{"TE chunked twice in a list", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", ErrTransferEncoding, nil},
		{"TE list", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ErrTransferCoding, nil},
		{"TE lines", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTransferCoding, nil},
		{"TE chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", ErrTransferEncoding, nil},
		{"TE chunked line not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", ErrTransferEncoding, nil},
		{"TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", ErrTransferEncoding, nil},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", ErrTransferEncoding, nil},
		{"TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", ErrTransferEncoding, nil},
		{"TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", ErrTransferEncoding, nil},
		{"TE empty element", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", ErrTransferEncoding, nil},
		{"CL twice equal", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", ErrManyLengths, nil},
		{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", ErrContentLength, nil},
		{"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", ErrContentLength, nil},
		{"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", ErrContentLength, nil},
		{"CL overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", ErrContentLength, nil},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", ErrNoHost, nil},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", ErrManyHosts, nil},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", ErrHost, nil},
		{"Host list", "GET / HTTP/1.1\r\nHost: b.test,a.test\r\n\r\n", ErrHost, nil},
		{"Host with path", "GET / HTTP/1.1\r\nHost: b.test/x\r\n\r\n", ErrHost, nil},
		{"Host two ports", "GET / HTTP/1.1\r\nHost: b.test:80:80\r\n\r\n", ErrHost, nil},
		{"absolute-form fullwidth", "GET http://%EF%BD%82.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", ErrAuthority, nil},
		{"absolute-form userinfo", "GET http://u@b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", ErrAuthority, nil},
		{"absolute-form ftp", "GET ftp://b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", ErrAbsoluteScheme, nil},
		{"absolute-form bad Host", "GET http://b.test/ HTTP/1.1\r\nHost: a b\r\n\r\n", ErrHost, nil},
		{"authority-form GET", "GET a.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n", ErrTarget, nil},
		{"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n", ErrTarget, nil},
		{"CONNECT without port", "CONNECT a.test HTTP/1.1\r\nHost: a.test\r\n\r\n", ErrConnectTarget, nil},
		{"CONNECT origin-form", "CONNECT /x HTTP/1.1\r\nHost: a.test\r\n\r\n", ErrConnectTarget, nil},
		{"CONNECT absolute-form", "CONNECT http://a.test:443/ HTTP/1.1\r\nHost: a.test\r\n\r\n", ErrConnectTarget, nil},
		{"CONNECT without Host", "CONNECT a.test:443 HTTP/1.1\r\n\r\n", ErrNoHost, nil},
		{"fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", ErrTarget, nil},
		{"non-ASCII target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", ErrTarget, nil},
		{"bad escape", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", ErrTarget, nil},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", ErrVersion, nil},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLine, nil},
		{"HTTP/0.9", "GET /\r\n\r\n", ErrRequestLine, nil},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", ErrVersionNotHTTP1, nil},
		{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", ErrVersionNotHTTP1, nil},
		{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", ErrVersion, nil},
		{"method not a token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", ErrMethod, nil},
		{"two leading CRLFs", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLine, nil},
		{"leading LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLine, nil},
		{"trailer names Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTrailerField, nil},
		{"cut short", "GET / HTTP/1.1\r\nHost: a\r\n", ErrFieldName, nil},
		{"too many fields", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: a\r\n", MaxFields) + "\r\n", ErrTooManyFields, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRequest(t, tc.head)
			if tc.err != nil {
				if err != tc.err {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if tc.check != nil {
				if msg := tc.check(r); msg != "" {
					t.Errorf("%s: %+v", msg, r)
				}
			}
		})
	}
}

func TestHeadEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		end  int
		err  *Error
		desc string
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", 27, nil, "complete"},
		{"GET / HTTP/1.1\r\nHost: a\r\n", 0, nil, "incomplete"},
		{"\r\n", 0, nil, "empty first line (ignored by Parse)"},
		{"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 29, nil, "empty first line, then a head"},
		{"\r\n\r\n", 4, nil, "two empty lines"},
		{"GET / HTTP/1.1\nHost: a\r\n\r\n", 0, ErrBareLF, "bare LF"},
		{"\n", 0, ErrBareLF, "bare LF first"},
	} {
		// All at once, and byte by byte with the returned resume point.
		end, _, err := HeadEnd([]byte(tc.in), 0)
		if end != tc.end || err != tc.err {
			t.Errorf("%s: HeadEnd = %d, %v; want %d, %v", tc.desc, end, err, tc.end, tc.err)
		}
		next := 0
		end, err = 0, nil
		for i := 1; i <= len(tc.in) && end == 0 && err == nil; i++ {
			end, next, err = HeadEnd([]byte(tc.in[:i]), next)
		}
		if end != tc.end || err != tc.err {
			t.Errorf("%s, byte by byte: HeadEnd = %d, %v; want %d, %v", tc.desc, end, err, tc.end, tc.err)
		}
	}
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"content-type": "Content-Type", "Content-Type": "Content-Type", "X-FORWARDED-FOR": "X-Forwarded-For",
		"x_y-z": "X_y-Z", "te": "Te", "x-custom-thing": "X-Custom-Thing",
	} {
		if got := CanonicalName(in); got != want {
			t.Errorf("CanonicalName(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = CanonicalName("accept-encoding") }); n != 0 {
		t.Errorf("CanonicalName of a common name allocates %v times", n)
	}
}

func TestHasToken(t *testing.T) {
	for _, tc := range []struct {
		v, tok string
		want   bool
	}{
		{"close", "close", true}, {"Keep-Alive, Upgrade", "upgrade", true}, {" a ,\tclose\t", "close", true},
		{"closed", "close", false}, {"", "close", false}, {"a,,b", "b", true},
	} {
		if got := HasToken(tc.v, tc.tok); got != tc.want {
			t.Errorf("HasToken(%q, %q) = %v", tc.v, tc.tok, got)
		}
	}
}

func TestAppendRequestHead(t *testing.T) {
	fields := []Field{{"X-B", "2"}, {"Accept", "*/*"}, {"User-Agent", "ua"}, {"X-A", "1"}, {"X-B", "1"}}
	SortFields(fields)
	got := string(AppendRequestHead(nil, "POST", "/p?q", "a.test", fields, -1))
	want := "POST /p?q HTTP/1.1\r\nHost: a.test\r\nUser-Agent: ua\r\nTransfer-Encoding: chunked\r\n" +
		"Accept: */*\r\nX-A: 1\r\nX-B: 2\r\nX-B: 1\r\n\r\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	for _, tc := range []struct {
		method string
		length int64
		want   string
	}{
		{"GET", 0, ""}, {"OPTIONS", 0, ""}, {"POST", 0, "Content-Length: 0\r\n"}, {"PUT", 7, "Content-Length: 7\r\n"},
	} {
		head := string(AppendRequestHead(nil, tc.method, "/", "h", nil, tc.length))
		if !strings.Contains(head, "\r\nHost: h\r\n"+tc.want+"\r\n") {
			t.Errorf("%s length %d: %q", tc.method, tc.length, head)
		}
	}
}
