package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// TestAttackVectorsApache holds what wire sends on to a real lenient
// parser: Debian's Apache 2.4 with "HttpProtocolOptions Unsafe" (the
// leniency of Apache 2.2, tlsfront's backend) and a CGI that answers every
// request with the body Apache read and the Host it saw. For each vector
// wire accepts, the re-serialised requests are sent on one connection,
// followed by a sentinel request; Apache must log exactly those requests
// and then the sentinel, with the same methods, targets and Hosts, and
// hand the CGI the same bodies.
//
// Each vector is also sent raw to Apache, for the table only: what a
// lenient backend does with the bytes tlsfront refuses or rebuilds.
func TestAttackVectorsApache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache")
	}
	a := startReflector(t)
	rows := [][]string{
		{"vector", "wire", "net/http", "Apache (wire's bytes)", "Apache (raw bytes)", "verdict"},
		{"---", "---", "---", "---", "---", "---"},
	}
	for i, v := range attackVectors {
		c := classify([]byte(v.data))
		raw := a.exchange(t, []byte(v.data), nil, fmt.Sprintf("raw%d", i))
		fwd, verdict := "not sent", c.verdict
		if n := forwardable(c.w.Msgs); n > 0 {
			var stream []byte
			for _, b := range c.forward[:n] {
				stream = append(stream, b...)
			}
			got := a.exchange(t, stream, c.w.Msgs[:n], fmt.Sprintf("fwd%d", i))
			fwd = got.String()
			refused, d := got.matches(c.w.Msgs[:n])
			switch why, listed := apacheRefuses[v.name]; {
			case d == "":
			case refused && listed:
				verdict += "; Apache refuses: " + why
			default:
				verdict = "BUG (Apache): " + d
				t.Errorf("%s: Apache reads wire's bytes %.300q differently: %s", v.name, stream, d)
			}
		}
		if len(c.bugs) > 0 {
			verdict = "BUG: " + strings.Join(c.bugs, "; ")
		}
		rows = append(rows, []string{v.name, c.wire, c.goRes, fwd, raw.String(), verdict})
	}
	t.Logf("\n%s", attackTable(rows))
}

// forwardable is how many of the requests wire accepted the engine sends
// on: up to the first whose Expect it answers with 417 itself.
func forwardable(msgs []message) int {
	for i, m := range msgs {
		if m.Expect == ExpectOther {
			return i
		}
	}
	return len(msgs)
}

// reflectorCGI answers every request but StartApache's readiness probe
// with the body Apache passed it (dechunked) and the Host it saw.
const reflectorCGI = `#!/bin/sh
printf 'Content-Type: application/octet-stream\r\nX-Seen-Host: %s\r\n\r\n' "$HTTP_HOST"
exec cat
`

// reflectorConfig: Unsafe is Apache 2.2's leniency (bare LF, any method
// and version, no Host checks); Timeout bounds the raw vectors whose body
// never ends. /deny is refused (403) before any body is read.
const reflectorConfig = `
LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
LoadModule rewrite_module /usr/lib/apache2/modules/mod_rewrite.so
HttpProtocolOptions Unsafe
LimitRequestBody 0
Timeout 5
RewriteEngine On
RewriteCond %{QUERY_STRING} !^itest-ready$
RewriteCond %{REQUEST_URI} !^/deny
RewriteRule ^ /reflect.cgi [PT]
<Location "/deny">
  Require all denied
</Location>
<Files "reflect.cgi">
  Options +ExecCGI
  SetHandler cgi-script
</Files>
`

type reflector struct{ *itest.Apache }

func startReflector(t *testing.T) reflector {
	a := itest.StartApache(t, itest.ApacheOptions{
		Files: map[string]string{"reflect.cgi": reflectorCGI},
		Extra: reflectorConfig,
	})
	if err := os.Chmod(filepath.Join(a.Dir, "htdocs", "reflect.cgi"), 0o755); err != nil {
		t.Fatal(err)
	}
	return reflector{a}
}

// apacheSaw is what Apache made of one connection: its access-log lines
// and the final responses it sent.
type apacheSaw struct {
	log   []itest.ApacheRequest
	resps []apacheResp
	extra string // bytes after the responses that are not a response
}

type apacheResp struct {
	status int
	body   []byte
	host   string
}

func (s apacheSaw) String() string {
	var parts []string
	for i, l := range s.log {
		p := fmt.Sprintf("%s %.40s %d", l.Method, l.Target, l.Status)
		if i < len(s.resps) && s.resps[i].status == 200 {
			p += fmt.Sprintf(" body=%d", len(s.resps[i].body))
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "nothing logged"
	}
	out := fmt.Sprintf("%d req: %s", len(s.log), strings.Join(parts, ", "))
	if s.extra != "" {
		out += fmt.Sprintf(" (then %.40q)", s.extra)
	}
	return out
}

// matches reports how Apache's reading of the forwarded msgs and the
// sentinel differs from wire's ("" when it does not). refused reports the
// one difference that is not a desync: Apache refused one of the requests
// (logged with an error status, the last thing it read) and closed the
// connection.
func (s apacheSaw) matches(msgs []message) (refused bool, diff string) {
	for i, m := range msgs {
		if i >= len(s.log) {
			return false, fmt.Sprintf("Apache logged %d of wire's %d requests: %v", len(s.log), len(msgs), s)
		}
		l := s.log[i]
		target := m.req.Path
		if m.req.Form == FormAuthority {
			target = m.req.Target
		}
		if l.Method != m.Method || l.Target != target {
			return false, fmt.Sprintf("request %d: Apache saw %s %.40s, wire %s %.40s", i, l.Method, l.Target, m.Method, target)
		}
		if i == len(s.log)-1 && l.Status >= 400 {
			return true, fmt.Sprintf("Apache refused request %d (%d) and closed the connection: %v", i, l.Status, s)
		}
		host := m.Host
		if host == "" { // HTTP/1.0 without Host: sent with the backend's (reserialise)
			host = backendHost
		}
		if l.Host != host {
			return false, fmt.Sprintf("request %d: Apache saw Host %q, wire %q", i, l.Host, host)
		}
		if i >= len(s.resps) {
			return false, fmt.Sprintf("no response to request %d: %v", i, s)
		}
		if r := s.resps[i]; r.status == 200 && (r.host != host || m.Method != "HEAD" && !bytes.Equal(r.body, m.Body)) {
			return false, fmt.Sprintf("request %d: Apache gave the CGI a body of %d bytes and Host %q, wire read %d bytes and Host %q",
				i, len(r.body), r.host, len(m.Body), host)
		}
	}
	if len(s.log) != len(msgs)+1 || !strings.HasPrefix(s.log[len(msgs)].Target, "/sentinel-") {
		return false, fmt.Sprintf("want %d requests and the sentinel, Apache logged %v", len(msgs), s)
	}
	return false, ""
}

// apacheRefuses lists the vectors wire accepts and Apache refuses, then
// closes the connection (no desync: nothing of the stream is read as
// another request), with why that is accepted.
var apacheRefuses = map[string]string{
	"field value 64 KiB": "Apache's LimitRequestFieldSize is 8190 bytes; wire has no per-field limit (the engine's " +
		"server.max_header_bytes, 64 KiB by default, bounds the head), so the client gets Apache's 400",
	"early 403 with Expect and a body": "Apache answers an Expect: 100-continue request it denies without " +
		"reading the body, and closes: the body is never read as a request",
}

// exchange sends stream and a sentinel request on one connection, reads
// every response until Apache closes, and collects the connection's
// access-log lines. msgs, when known, give the methods of the requests
// (HEAD responses have no body).
func (a reflector) exchange(t *testing.T, stream []byte, msgs []message, tag string) apacheSaw {
	t.Helper()
	before := len(a.Requests(t)) // ports are reused: only lines logged from now on
	conn, err := net.Dial("tcp", a.Addr)
	if err != nil {
		t.Fatalf("dialling Apache: %v", err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.TCPAddr).Port
	sentinel := "/sentinel-" + tag
	req := "GET " + sentinel + " HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write(append(append([]byte{}, stream...), req...)); err != nil {
		t.Fatalf("writing to Apache: %v", err)
	}
	// An I/O deadline, not a timing assertion: a raw vector whose body
	// never ends leaves Apache waiting for more.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	var saw apacheSaw
	br := bufio.NewReader(conn)
	for i := 0; ; i++ {
		method := "GET"
		if i < len(msgs) {
			method = msgs[i].Method
		}
		resp, err := readFinalResponse(br, method)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rest, _ := io.ReadAll(io.LimitReader(br, 200))
				saw.extra = string(rest)
			}
			break
		}
		saw.resps = append(saw.resps, resp)
	}
	saw.log = a.connLog(t, before, port, sentinel)
	return saw
}

func readFinalResponse(br *bufio.Reader, method string) (apacheResp, error) {
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return apacheResp{}, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return apacheResp{}, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			continue // 100 Continue
		}
		return apacheResp{status: resp.StatusCode, body: body, host: resp.Header.Get("X-Seen-Host")}, nil
	}
}

// connLog returns the access-log lines of the connection from port logged
// after the first before lines. Apache logs a request before it closes the
// connection, so the lines are there once it has closed; the sentinel's
// line is waited for briefly in case a log write is still in flight.
func (a reflector) connLog(t *testing.T, before, port int, sentinel string) []itest.ApacheRequest {
	t.Helper()
	var lines []itest.ApacheRequest
	for try := 0; try < 4; try++ {
		lines = lines[:0]
		done := false
		for _, r := range a.Requests(t)[before:] {
			if r.RemotePort == port {
				lines = append(lines, r)
				done = done || r.Target == sentinel
			}
		}
		if done {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	return lines
}
