package integration

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tlsfront/internal/itest"
)

// lenientApache makes Apache 2.4 parse requests as leniently as Apache 2.2
// did (HttpProtocolOptions Unsafe: bare LF, odd whitespace, HTTP/0.9), so
// anything tlsfront lets through reaches a parser as forgiving as the
// legacy servers it protects. Every response names the request Apache
// answered (X-Target), so a response handed to the wrong request shows, and
// logs/headers.log records the request headers that must not pass.
const lenientApache = `
HttpProtocolOptions Unsafe LenientMethods Allow0.9
Header always set X-Target "expr=%{REQUEST_URI}"
LogFormat "%r\t%{Forwarded}i\t%{Keep-Alive}i\t%{Upgrade}i\t%{TE}i\t%{Trailer}i\t%{Proxy-Connection}i\t%{X-Secret}i\t%{X-Real-IP}i\t%{X-Forwarded-Port}i\t%{X-Folded}i\t%{X-Forwarded-For}i\t%{X-Forwarded-Host}i\t%{X-Forwarded-Proto}i" hdrs
CustomLog logs/headers.log hdrs
`

// h1Case is one raw HTTP/1.x exchange over TLS.
type h1Case struct {
	name string
	// req is sent as is, after replacing {p} with the case's path prefix
	// ("/c07") and {host} with localhost:PORT.
	req string
	// status lists the acceptable statuses of tlsfront's first response;
	// 0 stands for "connection closed without a response".
	status []int
	// apache lists, in order, the request lines ({p} replaced) Apache must
	// have logged for the case; nil means it must have logged none.
	apache []string
	// note says how tlsfront handles it, for RELIABILITY.md.
	note string
}

// rawResult is what a raw client saw.
type rawResult struct {
	statuses []int // of every response read, in order
	closed   bool  // the server closed the connection (not our read deadline)
}

// rawExchange sends req on a fresh TLS connection (ALPN http/1.1) and reads
// responses until the server closes the connection or is silent for 1.5 s.
func rawExchange(t testing.TB, addr, req string) rawResult {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientTLS("http/1.1"))
	if err != nil {
		t.Fatalf("dialling %s: %v", addr, err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	var r rawResult
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			r.closed = !(errors.As(err, &ne) && ne.Timeout())
			return r
		}
		r.statuses = append(r.statuses, res.StatusCode)
		if _, err := drainBody(res.Body); err != nil {
			r.closed = true
			return r
		}
		res.Body.Close()
	}
}

// h1Cases is the HTTP/1.x battery. Apache's expected lines are what
// tlsfront's own parser made of the bytes: one interpretation.
var h1Cases = []h1Case{
	// CL.TE and TE.CL: both framings is 400 and close (RFC 9112 §6.1,
	// issue 13), as nginx ≥ 1.21.1 does; nothing reaches the backend.
	{"CL.TE", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED",
		[]int{400}, nil, "400 and close (was: TE wins, CL removed, connection kept)"},
	{"TE.CL", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
		[]int{400}, nil, "400 and close (was: TE wins, CL removed)"},
	{"CL.TE with a request inside", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET {p}/inner HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{400}, nil, "400 and close: the inner request is never read (was: forwarded as a pipelined request)"},
	// TE.TE: obfuscated Transfer-Encoding.
	{"TE xchunked", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\nhello",
		[]int{400}, nil, "400: both framings (was 501: only a single 'chunked' is accepted)"},
	{"TE chunked, identity", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
		[]int{400}, nil, "400: chunked is not the final coding, the length is unknown (RFC 9112 §6.3; was 501)"},
	{"TE identity, chunked", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
		[]int{501}, nil, "501: a coding tlsfront does not implement before the final chunked"},
	{"TE twice", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
		[]int{400}, nil, "400: the lines are one list, chunked not final (was 501)"},
	{"TE chunked twice", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		[]int{400}, nil, "400: chunked applied twice (RFC 9112 §7; was 501)"},
	{"TE upper case", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		[]int{404}, []string{"POST {p}/a HTTP/1.1"}, "normalised: case-insensitive token, re-chunked towards Apache"},
	{"TE tab", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding:\tchunked\t\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		[]int{404}, []string{"POST {p}/a HTTP/1.1"}, "normalised: optional whitespace trimmed"},
	{"TE vertical tab", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nTransfer-Encoding:\x0bchunked\r\n\r\nhello",
		[]int{400}, nil, "400: control byte in a value"},
	{"TE space before colon", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\nhello",
		[]int{400}, nil, "400: invalid header name"},
	{"TE folded", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		[]int{400}, nil, "400: obs-fold (was: unfolded, TE chunked won)"},
	{"TE hidden in a fold", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\nhello",
		[]int{400}, nil, "400: obs-fold (was: unfolded into X-Folded's value)"},
	// Content-Length.
	{"CL conflicting", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		[]int{400}, nil, "400"},
	{"CL duplicate equal", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		[]int{400}, nil, "400: one Content-Length only, as nginx (was: folded into one)"},
	{"CL list", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5, 5\r\n\r\nhello",
		[]int{400}, nil, "400"},
	{"CL plus sign", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: +5\r\n\r\nhello",
		[]int{400}, nil, "400"},
	{"CL hex", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0x5\r\n\r\nhello",
		[]int{400}, nil, "400"},
	{"CL negative", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: -1\r\n\r\nhello",
		[]int{400}, nil, "400"},
	{"CL overflow", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: 99999999999999999999\r\n\r\nhello",
		[]int{400}, nil, "400"},
	// Line endings and bytes.
	{"bare LF", "GET {p}/a HTTP/1.1\nHost: {host}\n\n",
		[]int{400}, nil, "400: CRLF only (was: normalised to CRLF)"},
	{"bare CR", "GET {p}/a HTTP/1.1\rHost: {host}\r\r\n\r\n",
		[]int{400}, nil, "400"},
	{"NUL in name", "GET {p}/a HTTP/1.1\r\nHost: {host}\r\nX-A\x00B: c\r\n\r\n",
		[]int{400}, nil, "400"},
	{"NUL in value", "GET {p}/a HTTP/1.1\r\nHost: {host}\r\nX-A: b\x00c\r\n\r\n",
		[]int{400}, nil, "400"},
	{"CR in value", "GET {p}/a HTTP/1.1\r\nHost: {host}\r\nX-A: b\rc\r\n\r\n",
		[]int{400}, nil, "400"},
	{"DEL in value", "GET {p}/a HTTP/1.1\r\nHost: {host}\r\nX-A: b\x7fc\r\n\r\n",
		[]int{400}, nil, "400"},
	{"control byte in name", "GET {p}/a HTTP/1.1\r\nHost: {host}\r\nX\x01: c\r\n\r\n",
		[]int{400}, nil, "400"},
	// Chunked bodies.
	{"chunk size hex prefix", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
		[]int{400}, []string{"POST {p}/a HTTP/1.1?"}, "400; the backend's request, if begun, is aborted mid-body"},
	{"chunk size negative", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
		[]int{400}, []string{"POST {p}/a HTTP/1.1?"}, "400; the backend's request, if begun, is aborted mid-body"},
	{"chunk size overflow", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n",
		[]int{400}, []string{"POST {p}/a HTTP/1.1?"}, "400; the backend's request, if begun, is aborted mid-body"},
	{"chunk too long", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
		[]int{400}, []string{"POST {p}/a HTTP/1.1?"}, "400; the backend's request, if begun, is aborted mid-body"},
	{"chunk extension", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\"\r\nhello\r\n0\r\n\r\n",
		[]int{404}, []string{"POST {p}/a HTTP/1.1"}, "normalised: extensions dropped, re-chunked"},
	{"chunk extension with LF", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nGET /x\r\nhello\r\n0\r\n\r\n",
		[]int{400}, []string{"POST {p}/a HTTP/1.1?"}, "400; the backend's request, if begun, is aborted mid-body"},
	{"chunk bare LF", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
		[]int{400}, []string{"POST {p}/a HTTP/1.1?"}, "400; the backend's request, if begun, is aborted mid-body"},
	{"trailer Content-Length", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n",
		[]int{404}, []string{"POST {p}/a HTTP/1.1"}, "normalised: undeclared trailers are not forwarded"},
	// Targets.
	{"absolute-form", "GET http://{host}{p}/a HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{404}, []string{"GET {p}/a HTTP/1.1"}, "normalised to origin-form"},
	{"absolute-form other host", "GET http://evil.example{p}/a HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{404}, []string{"GET {p}/a HTTP/1.1"}, "normalised: origin-form, Host from the target (RFC 9112 §3.2.2)"},
	{"authority-form CONNECT", "CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{405}, nil, "405: CONNECT is never forwarded (was: forwarded as CONNECT /)"},
	{"authority-form GET", "GET {host} HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{400}, nil, "400 (was: forwarded as GET <port>)"},
	{"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{400}, nil, "400 (was: answered by Go's server itself); never forwarded"},
	{"space in target", "GET {p}/a b HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{400}, nil, "400"},
	{"HTTP/0.9", "GET {p}/a\r\n\r\n",
		[]int{0, 400}, nil, "refused"},
	{"HTTP/2.0 on HTTP/1", "GET {p}/a HTTP/2.0\r\nHost: {host}\r\n\r\n",
		[]int{505}, nil, "505"},
	{"HTTP/1.0 with TE", "POST {p}/a HTTP/1.0\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		[]int{400}, nil, "400 and close (issue 13; was: TE ignored as Go does, the chunks a bad next request)"},
	{"HTTP/1.0 with TE and a request inside", "POST {p}/a HTTP/1.0\r\nHost: {host}\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\nGET {p}/inner HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{400}, nil, "400 and close: the inner request is never read (was: forwarded)"},
	{"HTTP/1.0 with TE and CL", "POST {p}/a HTTP/1.0\r\nHost: {host}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
		[]int{400}, nil, "400 and close (was: Content-Length framing, TE dropped)"},
	{"no Host", "GET {p}/a HTTP/1.1\r\n\r\n",
		[]int{400}, nil, "400"},
	{"CONNECT origin-form", "CONNECT {p}/a HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{400}, nil, "400: CONNECT's target is host:port only; Apache reads any CONNECT target so (was 405)"},
	{"CONNECT without Host", "CONNECT {host} HTTP/1.1\r\n\r\n",
		[]int{400}, nil, "400: HTTP/1.1 without Host, CONNECT too (RFC 9112 §3.2; was 405)"},
	{"Host ending in a number", "GET {p}/a HTTP/1.1\r\nHost: 1.2.3\r\n\r\n",
		[]int{400}, nil, "400: a URL parser reads 1.2.3 as 1.2.0.3; dotted quads only (was: forwarded)"},
	{"Host port 0", "GET {p}/a HTTP/1.1\r\nHost: localhost:0\r\n\r\n",
		[]int{400}, nil, "400 by tlsfront (was: forwarded, 400 by Apache)"},
	{"Expect twice", "POST {p}/a HTTP/1.1\r\nHost: {host}\r\nExpect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
		[]int{417}, nil, "417 and close: the lines are one list, as Apache reads them (was: forwarded as 100-continue)"},
	{"leading empty line", "\r\nGET {p}/a HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{404}, []string{"GET {p}/a HTTP/1.1"}, "normalised: one empty line before the request line is ignored (RFC 9112 §2.2; was 400)"},
	{"two Hosts", "GET {p}/a HTTP/1.1\r\nHost: {host}\r\nHost: evil.example\r\n\r\n",
		[]int{400}, nil, "400"},
	// Sizes (max_header_bytes = 16 KiB in this test).
	{"oversized request line", "GET {p}/" + strings.Repeat("a", 64<<10) + " HTTP/1.1\r\nHost: {host}\r\n\r\n",
		[]int{431}, nil, "431"},
	{"oversized header", "GET {p}/a HTTP/1.1\r\nHost: {host}\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
		[]int{431}, nil, "431"},
	{"many headers", "GET {p}/a HTTP/1.1\r\nHost: {host}\r\n" + strings.Repeat("X-Many: a\r\n", 4000) + "\r\n",
		[]int{431}, nil, "431"},
}

// TestSmugglingHTTP1 sends the HTTP/1.x battery over TLS and checks, in
// Apache's access log, that every request Apache saw is one tlsfront saw
// too, framed one way, and that nothing else reached it; then that the
// backend connections still answer each request with its own response.
func TestSmugglingHTTP1(t *testing.T) {
	t.Parallel()
	apache := itest.StartApache(t, itest.ApacheOptions{Extra: lenientApache})
	f := startHostile(t, hostileOptions{Backend: apache.URL, MaxHeaderBytes: 16 << 10})
	host := fmt.Sprintf("localhost:%d", f.HTTPSPort)

	results := make([]rawResult, len(h1Cases))
	t.Run("cases", func(t *testing.T) {
		for i, c := range h1Cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				p := fmt.Sprintf("/c%02d", i)
				req := strings.NewReplacer("{p}", p, "{host}", host).Replace(c.req)
				results[i] = rawExchange(t, f.HTTPSAddr, req)
			})
		}
	})
	checkAfterBurst(t, f, apache)

	byCase := map[string][]itest.ApacheRequest{}
	for _, r := range apache.Requests(t) {
		if strings.HasPrefix(r.Target, "/?itest-ready") || strings.HasPrefix(r.Target, "/after/") {
			continue
		}
		if r.ContentLength != "" && r.TransferEncoding != "" {
			t.Errorf("Apache got both Content-Length and Transfer-Encoding: %q", r.Line)
		}
		id := ""
		if len(r.Target) >= 4 && strings.HasPrefix(r.Target, "/c") {
			id = r.Target[:4]
		}
		byCase[id] = append(byCase[id], r)
	}
	for _, r := range byCase[""] {
		t.Errorf("Apache logged a request no case sent: %q", r.Line)
	}
	forwarded := forwardedPaths(f)
	for i, c := range h1Cases {
		p := fmt.Sprintf("/c%02d", i)
		got := byCase[p]
		var lines []string
		for _, r := range got {
			lines = append(lines, r.Method+" "+r.Target+" "+r.Proto)
		}
		res := results[i]
		first := 0
		if len(res.statuses) > 0 {
			first = res.statuses[0]
		}
		t.Logf("%-40s client %v closed=%v apache %q", c.name, res.statuses, res.closed, lines)
		if !hasStatus(c.status, first) {
			t.Errorf("%s: tlsfront answered %v (closed %v), want first status in %v", c.name, res.statuses, res.closed, c.status)
		}
		var want []string
		optional := false // the backend's request may have been aborted before Apache logged it
		for _, w := range c.apache {
			optional = optional || strings.HasSuffix(w, "?")
			want = append(want, strings.ReplaceAll(strings.TrimSuffix(w, "?"), "{p}", p))
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") && !(optional && len(lines) == 0) {
			t.Errorf("%s: Apache logged %q, want %q", c.name, lines, want)
		}
		if n := len(forwarded[p]); n < len(lines) || !optional && n != len(lines) {
			t.Errorf("%s: tlsfront's access log shows %d requests sent to the backend (%q), Apache logged %d", c.name, n, forwarded[p], len(lines))
		}
		// How the normalised ones reached Apache.
		for _, r := range got {
			switch c.name {
			case "TE upper case", "TE tab":
				if r.TransferEncoding != "chunked" {
					t.Errorf("%s: Apache got Transfer-Encoding %q, want chunked", c.name, r.TransferEncoding)
				}
			case "absolute-form other host":
				if r.Host != "evil.example" {
					t.Errorf("%s: Apache got Host %q, want the target's evil.example", c.name, r.Host)
				}
			}
		}
		// tlsfront's own refusals end the connection: what followed
		// the refused request has no known framing.
		if first != 404 && first != 0 && !res.closed {
			t.Errorf("%s: tlsfront answered %d and kept the connection open", c.name, first)
		}
	}
}

func hasStatus(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// forwardedPaths returns, by case prefix ("/c07"), the paths of requests
// tlsfront's access log shows it sent to the backend.
func forwardedPaths(f *hostileFront) map[string][]string {
	out := map[string][]string{}
	for _, m := range f.LogLines() {
		if m["message"] != "request" || m["backend_ms"] == nil {
			continue
		}
		p, _ := m["path"].(string)
		if len(p) >= 4 && strings.HasPrefix(p, "/c") {
			out[p[:4]] = append(out[p[:4]], p)
		}
	}
	return out
}

// checkAfterBurst sends 64 requests, 8 at a time, through every pooled
// backend connection after an attack: each must get its own response (a
// request smuggled into a backend connection would shift the answers), and
// Apache must log each once.
func checkAfterBurst(t *testing.T, f *hostileFront, apache *itest.Apache) {
	t.Helper()
	client := f.client(false)
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				target := fmt.Sprintf("/after/%d-%d", w, i)
				res, err := client.Get(f.url(target))
				if err != nil {
					errs <- err
					return
				}
				drainBody(res.Body)
				res.Body.Close()
				if got := res.Header.Get("X-Target"); got != target || res.StatusCode != 404 {
					errs <- fmt.Errorf("GET %s got %d for %q: a response of another request", target, res.StatusCode, got)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := 0
		for _, r := range apache.Requests(t) {
			if strings.HasPrefix(r.Target, "/after/") {
				n++
			}
		}
		if n == 64 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("Apache logged %d of the 64 requests after the attack", n)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// headerLog reads Apache's logs/headers.log (lenientApache) as request line
// -> fields.
func headerLog(t *testing.T, apache *itest.Apache) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(apache.Dir, "logs", "headers.log"))
	if err != nil {
		t.Fatalf("reading Apache's header log: %v", err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		out[f[0]] = f[1:]
	}
	return out
}

// h2Case is one raw HTTP/2 request: header fields written as given (no
// validation by our encoder), then DATA frames, the last ending the stream.
type h2Case struct {
	name    string
	fields  [][2]string // {p} in values is replaced with the case's prefix
	data    []string    // nil: the HEADERS frame ends the stream
	want    []string    // acceptable outcomes: "reset", "status:NNN"
	apache  []string    // as in h1Case, "?" marks a line that may be absent
	comment string
}

func h2Req(method, path string, extra ...[2]string) [][2]string {
	f := [][2]string{{":method", method}, {":scheme", "https"}, {":authority", "localhost"}, {":path", path}}
	return append(f, extra...)
}

var h2Cases = []h2Case{
	{"valid GET", h2Req("GET", "{p}/a"), nil, []string{"status:404"}, []string{"GET {p}/a HTTP/1.1"}, "baseline"},
	{"valid POST", h2Req("POST", "{p}/a", [2]string{"content-length", "5"}), []string{"hello"}, []string{"status:404"}, []string{"POST {p}/a HTTP/1.1"}, "baseline"},
	{"content-length above DATA", h2Req("POST", "{p}/a", [2]string{"content-length", "10"}), []string{"hello"},
		[]string{"reset", "status:400"}, []string{"POST {p}/a HTTP/1.1?"}, "stream reset; a backend request begun is aborted"},
	{"content-length below DATA", h2Req("POST", "{p}/a", [2]string{"content-length", "5"}), []string{"helloworld"},
		[]string{"reset", "status:400"}, []string{"POST {p}/a HTTP/1.1?"}, "stream reset"},
	{"content-length below split DATA", h2Req("POST", "{p}/a", [2]string{"content-length", "5"}), []string{"hello", "world"},
		[]string{"reset", "status:400", "status:404"}, []string{"POST {p}/a HTTP/1.1?"}, "Apache gets at most the declared 5 bytes"},
	{"content-length not a number", h2Req("POST", "{p}/a", [2]string{"content-length", "abc"}), []string{"hello"},
		[]string{"reset", "status:400"}, nil, ""},
	{"content-length twice", h2Req("POST", "{p}/a", [2]string{"content-length", "5"}, [2]string{"content-length", "6"}), []string{"hello"},
		[]string{"reset", "status:400", "status:404"}, []string{"POST {p}/a HTTP/1.1?"}, "normalised: Go frames by the first value, DATA must match it, Apache gets one Content-Length: 5"},
	{"transfer-encoding", h2Req("POST", "{p}/a", [2]string{"transfer-encoding", "chunked"}), []string{"0\r\n\r\n"},
		[]string{"reset", "status:400"}, nil, "connection-specific header: malformed (RFC 9113 §8.2.2)"},
	{"connection", h2Req("GET", "{p}/a", [2]string{"connection", "keep-alive"}), nil, []string{"reset", "status:400"}, nil, ""},
	{"keep-alive", h2Req("GET", "{p}/a", [2]string{"keep-alive", "timeout=5"}), nil, []string{"reset", "status:400"}, nil, ""},
	{"proxy-connection", h2Req("GET", "{p}/a", [2]string{"proxy-connection", "keep-alive"}), nil, []string{"reset", "status:400"}, nil, ""},
	{"upgrade", h2Req("GET", "{p}/a", [2]string{"upgrade", "h2c"}), nil, []string{"reset", "status:400"}, nil, ""},
	{"te gzip", h2Req("GET", "{p}/a", [2]string{"te", "gzip"}), nil, []string{"reset", "status:400"}, nil, ""},
	{"te trailers", h2Req("GET", "{p}/a", [2]string{"te", "trailers"}), nil, []string{"status:404"}, []string{"GET {p}/a HTTP/1.1"}, "allowed"},
	{"CRLF in value", h2Req("GET", "{p}/a", [2]string{"x-test", "a\r\nx-injected: b"}), nil, []string{"reset"}, nil, ""},
	{"LF in value", h2Req("GET", "{p}/a", [2]string{"x-test", "a\nx-injected: b"}), nil, []string{"reset"}, nil, ""},
	{"NUL in value", h2Req("GET", "{p}/a", [2]string{"x-test", "a\x00b"}), nil, []string{"reset"}, nil, ""},
	{"CRLF in path", h2Req("GET", "{p}/a HTTP/1.1\r\nHost: evil\r\n\r\nGET {p}/smuggled"), nil, []string{"reset", "status:400"}, nil, ""},
	{"space in path", h2Req("GET", "{p}/a b"), nil, []string{"reset", "status:400", "status:404"}, []string{"GET {p}/a%20b HTTP/1.1?"}, "normalised: percent-encoded"},
	{"path without slash", h2Req("GET", "h/a"), nil, []string{"reset", "status:400"}, nil, ""},
	{"empty path", h2Req("GET", ""), nil, []string{"reset", "status:400"}, nil, ""},
	{"two paths", h2Req("GET", "{p}/a", [2]string{":path", "{p}/b"}), nil, []string{"reset"}, nil, ""},
	{"no method", [][2]string{{":scheme", "https"}, {":authority", "localhost"}, {":path", "{p}/a"}}, nil, []string{"reset"}, nil, ""},
	{"no path", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}}, nil, []string{"reset"}, nil, ""},
	{"no scheme", [][2]string{{":method", "GET"}, {":authority", "localhost"}, {":path", "{p}/a"}}, nil, []string{"reset"}, nil, ""},
	{"pseudo after regular", [][2]string{{":method", "GET"}, {":scheme", "https"}, {"x-a", "b"}, {":authority", "localhost"}, {":path", "{p}/a"}}, nil, []string{"reset"}, nil, ""},
	{"unknown pseudo", h2Req("GET", "{p}/a", [2]string{":foo", "bar"}), nil, []string{"reset"}, nil, ""},
	{"status in request", h2Req("GET", "{p}/a", [2]string{":status", "200"}), nil, []string{"reset"}, nil, ""},
	{"upper-case name", h2Req("GET", "{p}/a", [2]string{"X-Test", "a"}), nil, []string{"reset"}, nil, ""},
	{"space in name", h2Req("GET", "{p}/a", [2]string{"x test", "a"}), nil, []string{"reset"}, nil, ""},
	{"colon in name", h2Req("GET", "{p}/a", [2]string{"x:test", "a"}), nil, []string{"reset"}, nil, ""},
	{"CONNECT", [][2]string{{":method", "CONNECT"}, {":authority", "localhost:443"}}, nil, []string{"status:405", "reset"}, nil, "never forwarded"},
	{"authority and host differ", h2Req("GET", "{p}/a", [2]string{"host", "evil.example"}), nil, []string{"status:404", "status:400", "reset"}, []string{"GET {p}/a HTTP/1.1?"}, "one Host reaches Apache"},
}

// h2OwnOutcome is what tlsfront's own HTTP/2 server (server.http2 =
// "tlsfront") does with each h2Case, of the outcomes the case accepts:
// everything RFC 9113 calls malformed (connection-specific fields, te other
// than trailers, content-length against DATA, a second content-length, a
// host field naming another authority than :authority) is a stream error,
// as h2spec demands; a well-formed request whose :path tlsfront will not
// forward is answered 400 by the request path; CONNECT is 405.
func h2OwnOutcome(name string) string {
	switch name {
	case "valid GET", "valid POST", "te trailers":
		return "status:404"
	case "space in path", "path without slash":
		return "status:400"
	case "CONNECT":
		return "status:405"
	}
	return "reset"
}

// h2Exchange sends one request on a fresh HTTP/2 connection and returns
// what became of stream 1: "reset" (RST_STREAM, or GOAWAY closing the
// connection), "status:NNN", or "timeout"/"closed".
func h2Exchange(t testing.TB, addr string, fields [][2]string, data []string) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientTLS("h2"))
	if err != nil {
		t.Fatalf("dialling %s: %v", addr, err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = nil // raw frames: we decode the response ourselves
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range fields {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(),
		EndStream: len(data) == 0, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	for i, d := range data {
		if err := fr.WriteData(1, i == len(data)-1, []byte(d)); err != nil {
			return "closed"
		}
	}
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return "timeout"
			}
			return "closed"
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return "reset"
			}
		case *http2.GoAwayFrame:
			return "reset"
		case *http2.HeadersFrame:
			if f.StreamID != 1 {
				continue
			}
			hfs, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatalf("decoding the response headers: %v", err)
			}
			for _, hf := range hfs {
				if hf.Name == ":status" {
					return "status:" + hf.Value
				}
			}
		}
	}
}

// TestSmugglingHTTP2 sends malformed HTTP/2 requests: each is reset or
// refused, or reaches Apache as exactly one HTTP/1.1 request. It runs
// against each HTTP/2 server (server.http2).
func TestSmugglingHTTP2(t *testing.T) {
	t.Parallel()
	for _, h2 := range h2Servers {
		t.Run(h2, func(t *testing.T) {
			t.Parallel()
			smugglingHTTP2(t, h2)
		})
	}
}

func smugglingHTTP2(t *testing.T, http2 string) {
	apache := itest.StartApache(t, itest.ApacheOptions{Extra: lenientApache})
	f := startHostile(t, hostileOptions{Backend: apache.URL, HTTP2: http2, MaxIdleConns: 8})
	defer leakCheck(t, f, 8)()

	results := make([]string, len(h2Cases))
	t.Run("cases", func(t *testing.T) {
		for i, c := range h2Cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				p := fmt.Sprintf("/h%02d", i)
				fields := make([][2]string, len(c.fields))
				for j, kv := range c.fields {
					fields[j] = [2]string{kv[0], strings.ReplaceAll(kv[1], "{p}", p)}
				}
				results[i] = h2Exchange(t, f.HTTPSAddr, fields, c.data)
			})
		}
	})
	checkAfterBurst(t, f, apache)

	byCase := map[string][]itest.ApacheRequest{}
	for _, r := range apache.Requests(t) {
		if strings.HasPrefix(r.Target, "/?itest-ready") || strings.HasPrefix(r.Target, "/after/") {
			continue
		}
		id := ""
		if len(r.Target) >= 4 && strings.HasPrefix(r.Target, "/h") {
			id = r.Target[:4]
		}
		byCase[id] = append(byCase[id], r)
		if r.ContentLength != "" && r.TransferEncoding != "" {
			t.Errorf("Apache got both Content-Length and Transfer-Encoding: %q", r.Line)
		}
	}
	for _, r := range byCase[""] {
		t.Errorf("Apache logged a request no case sent: %q", r.Line)
	}
	for i, c := range h2Cases {
		p := fmt.Sprintf("/h%02d", i)
		var lines []string
		for _, r := range byCase[p] {
			lines = append(lines, r.Method+" "+r.Target+" "+r.Proto)
			if c.name == "authority and host differ" && r.Host != "localhost" {
				t.Errorf("%s: Apache saw Host %q, want the :authority localhost", c.name, r.Host)
			}
			if c.name == "content-length twice" && r.ContentLength != "5" {
				t.Errorf("%s: Apache saw Content-Length %q, want the first value, 5", c.name, r.ContentLength)
			}
		}
		t.Logf("%-8s %-34s %-10s apache %q", http2, c.name, results[i], lines)
		want := c.want
		if http2 == "tlsfront" { // one outcome each: see h2OwnOutcome
			want = []string{h2OwnOutcome(c.name)}
		}
		ok := false
		for _, w := range want {
			ok = ok || results[i] == w
		}
		if !ok {
			t.Errorf("%s: got %s, want one of %v", c.name, results[i], want)
		}
		var wantLines []string
		optional := false
		for _, w := range c.apache {
			optional = optional || strings.HasSuffix(w, "?")
			wantLines = append(wantLines, strings.ReplaceAll(strings.TrimSuffix(w, "?"), "{p}", p))
		}
		if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") && !(optional && len(lines) == 0) {
			t.Errorf("%s: Apache logged %q, want %q", c.name, lines, wantLines)
		}
	}
}

// TestHeadersNotPassed checks what Apache received of the headers a client
// must not pass to it: hop-by-hop and Connection-listed headers never, the
// client's own forwarding claims only from a trusted proxy.
func TestHeadersNotPassed(t *testing.T) {
	t.Parallel()
	apache := itest.StartApache(t, itest.ApacheOptions{Extra: lenientApache})
	untrusted := startHostile(t, hostileOptions{Backend: apache.URL})
	trusted := startHostile(t, hostileOptions{Backend: apache.URL, TrustedProxies: []string{"127.0.0.1/32"}})

	const claims = "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Port: 1\r\nX-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6;proto=http\r\n"
	const hop = "Connection: X-Secret, keep-alive\r\nX-Secret: s3cret\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Connection: keep-alive\r\nTE: gzip\r\nTrailer: X-T\r\nUpgrade: h2c\r\n"
	for _, tc := range []struct {
		name  string
		front *hostileFront
	}{{"untrusted", untrusted}, {"trusted", trusted}} {
		target := "/hop/" + tc.name
		req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: localhost:%d\r\n%s%s\r\n", target, tc.front.HTTPSPort, hop, claims)
		if r := rawExchange(t, tc.front.HTTPSAddr, req); len(r.statuses) != 1 || r.statuses[0] != 404 {
			t.Fatalf("%s: got %v, want one 404 from Apache", tc.name, r.statuses)
		}
	}
	apache.WaitTarget(t, "/hop/untrusted")
	apache.WaitTarget(t, "/hop/trusted")
	logged := headerLog(t, apache)
	names := []string{"Forwarded", "Keep-Alive", "Upgrade", "TE", "Trailer", "Proxy-Connection", "X-Secret",
		"X-Real-IP", "X-Forwarded-Port", "X-Folded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}
	get := func(target string) map[string]string {
		f := logged["GET "+target+" HTTP/1.1"]
		if len(f) != len(names) {
			t.Fatalf("no header log line for %s: %v", target, logged)
		}
		m := map[string]string{}
		for i, n := range names {
			if f[i] != "-" {
				m[n] = f[i]
			}
		}
		return m
	}
	for _, tc := range []struct {
		target string
		front  *hostileFront
		want   map[string]string // header -> value; "" = absent; "~x" = contains x, "!x" = lacks x
	}{
		{"/hop/untrusted", untrusted, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": fmt.Sprintf("localhost:%d", untrusted.HTTPSPort),
			"X-Forwarded-Port": "", "X-Real-IP": "!6.6.6.6", "Forwarded": "!6.6.6.6"}},
		{"/hop/trusted", trusted, map[string]string{
			"X-Forwarded-For": "6.6.6.6, 127.0.0.1", "X-Forwarded-Proto": "https", "Forwarded": "~for=6.6.6.6"}},
	} {
		got := get(tc.target)
		for _, h := range []string{"Keep-Alive", "Upgrade", "TE", "Trailer", "Proxy-Connection", "X-Secret"} {
			if v, ok := got[h]; ok {
				t.Errorf("%s: hop-by-hop %s reached Apache: %q", tc.target, h, v)
			}
		}
		for h, want := range tc.want {
			v := got[h]
			switch {
			case strings.HasPrefix(want, "~"):
				if !strings.Contains(v, want[1:]) {
					t.Errorf("%s: Apache got %s %q, want it to contain %q", tc.target, h, v, want[1:])
				}
			case strings.HasPrefix(want, "!"):
				if strings.Contains(v, want[1:]) {
					t.Errorf("%s: Apache got %s %q, which passes the client's claim %q", tc.target, h, v, want[1:])
				}
			case v != want:
				t.Errorf("%s: Apache got %s %q, want %q", tc.target, h, v, want)
			}
		}
		t.Logf("%s: Apache got %v", tc.target, got)
	}
}
