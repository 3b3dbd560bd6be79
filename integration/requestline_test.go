package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tlsfront/internal/itest"
)

// Issue 13, "What reaches Apache's request line and Host" and "Framing":
// each case is judged at the backend (Apache's access log and the request
// headers it logged), for HTTP/1.1 and HTTP/2. Each failed on the main
// before tlsfront's own HTTP/1.1 engine and request path.

// hostileApache logs, per request line, the headers that must not pass.
const hostileApache = `
HttpProtocolOptions Unsafe LenientMethods Allow0.9
Header always set X-Target "expr=%{REQUEST_URI}"
LogFormat "%r\t%{Host}i\t%{Upgrade}i\t%{HTTP2-Settings}i\t%{Trailer}i\t%{Connection}i" hostile
CustomLog logs/hostile.log hostile
`

// hostileLog reads logs/hostile.log as request line -> Host, Upgrade,
// HTTP2-Settings, Trailer, Connection ("-" when absent).
func hostileLog(t *testing.T, apache *itest.Apache) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(apache.Dir, "logs", "hostile.log"))
	if err != nil {
		t.Fatalf("reading Apache's log: %v", err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		out[f[0]] = f[1:]
	}
	return out
}

func TestRequestLineAndHost(t *testing.T) {
	t.Parallel()
	apache := itest.StartApache(t, itest.ApacheOptions{Extra: hostileApache})
	// One front per HTTP/2 server (server.http2); the HTTP/1.1 cases go to
	// the first.
	fronts := map[string]*hostileFront{}
	type counts struct{ goroutines, fds int }
	base := map[string]counts{}
	for _, h2 := range h2Servers {
		fr := startHostile(t, hostileOptions{Backend: apache.URL, HTTP2: h2})
		warm := fmt.Sprintf("GET /warm-up HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n", fr.HTTPSPort)
		if r := rawExchange(t, fr.HTTPSAddr, warm); len(r.statuses) != 1 {
			t.Fatalf("warm-up: %v", r.statuses)
		}
		fronts[h2] = fr
		g, fds := settleCounts(t, fr, -1, -1)
		base[h2] = counts{g, fds}
	}
	f := fronts[h2Servers[0]]
	host := fmt.Sprintf("localhost:%d", f.HTTPSPort)

	// Refused outright: 400 and the connection closed, nothing at Apache.
	h1Refused := []struct{ name, req string }{
		{"Host list", "GET /rl/h1/list HTTP/1.1\r\nHost: localhost,evil.example\r\n\r\n"},
		{"Host with two ports", "GET /rl/h1/ports HTTP/1.1\r\nHost: localhost:80:80\r\n\r\n"},
		{"Host with a path", "GET /rl/h1/path HTTP/1.1\r\nHost: localhost/x\r\n\r\n"},
		{"Host with userinfo", "GET /rl/h1/user HTTP/1.1\r\nHost: evil@localhost\r\n\r\n"},
		{"absolute-form, encoded fullwidth host", "GET http://%EF%BD%82.test/rl/h1/idna HTTP/1.1\r\nHost: " + host + "\r\n\r\n"},
		{"absolute-form with userinfo", "GET http://evil@localhost/rl/h1/abs-user HTTP/1.1\r\nHost: " + host + "\r\n\r\n"},
		{"non-ASCII in the query", "GET /rl/h1/query?q=\xc3\xa9 HTTP/1.1\r\nHost: " + host + "\r\n\r\n"},
		{"Content-Length with space before the colon", "POST /rl/h1/cl-space HTTP/1.1\r\nHost: " + host + "\r\nContent-Length : 4\r\n\r\nabcd"},
		{"CL and TE", "POST /rl/h1/clte HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"HTTP/1.0 with TE", "POST /rl/h1/te10 HTTP/1.0\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	}
	for _, c := range h1Refused {
		r := rawExchange(t, f.HTTPSAddr, c.req)
		if len(r.statuses) != 1 || r.statuses[0] != 400 || !r.closed {
			t.Errorf("HTTP/1.1 %s: got %v (closed %v), want one 400 and the connection closed", c.name, r.statuses, r.closed)
		}
	}
	h2Refused := []struct {
		name   string
		fields [][2]string // {host} stands for localhost:PORT
	}{
		{":path with a space (an HTTP/1.0 request line inside)", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "{host}"}, {":path", "/rl/h2/q?a HTTP/1.0 x"}}},
		{":path with non-ASCII", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "{host}"}, {":path", "/rl/h2/\xc3\xa9"}}},
		{":authority fullwidth", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "ｂ.test"}, {":path", "/rl/h2/idna"}}},
		{":authority with a path", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost/x"}, {":path", "/rl/h2/apath"}}},
		{":authority with two ports", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost:80:80"}, {":path", "/rl/h2/ports"}}},
		{":authority list", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost,evil.example"}, {":path", "/rl/h2/list"}}},
	}
	for _, h2 := range h2Servers {
		fr := fronts[h2]
		for _, c := range h2Refused {
			fields := make([][2]string, len(c.fields))
			for i, kv := range c.fields {
				fields[i] = [2]string{kv[0], strings.ReplaceAll(kv[1], "{host}", fmt.Sprintf("localhost:%d", fr.HTTPSPort))}
			}
			if got := h2Exchange(t, fr.HTTPSAddr, fields, nil); got != "status:400" && got != "reset" {
				t.Errorf("HTTP/2 (server.http2 = %q) %s: got %s, want status:400 (or the stream reset)", h2, c.name, got)
			}
		}
	}

	// Forwarded, with what must not pass removed.
	passes := []struct{ name, target, req string }{
		{"h2c upgrade", "/rl/h1/h2c", "GET /rl/h1/h2c HTTP/1.1\r\nHost: " + host +
			"\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"},
		{"Trailer with trailers", "/rl/h1/trailer", "POST /rl/h1/trailer HTTP/1.1\r\nHost: " + host +
			"\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: smuggled\r\n\r\n"},
	}
	for _, c := range passes {
		r := rawExchange(t, f.HTTPSAddr, c.req)
		if len(r.statuses) != 1 || r.statuses[0] != 404 {
			t.Errorf("%s: got %v, want one 404 from Apache", c.name, r.statuses)
		}
	}
	for _, c := range passes {
		apache.WaitTarget(t, c.target)
	}

	for _, r := range apache.Requests(t) {
		if strings.HasPrefix(r.Target, "/rl/") && !strings.HasSuffix(r.Target, "/h2c") && !strings.HasSuffix(r.Target, "/trailer") {
			t.Errorf("Apache got %q, which tlsfront must refuse", r.Line)
		}
	}
	logged := hostileLog(t, apache)
	for _, c := range passes {
		line := ""
		for l := range logged {
			if strings.Contains(l, c.target) {
				line = l
			}
		}
		f := logged[line]
		if len(f) != 5 {
			t.Fatalf("%s: no log line (%q)", c.name, logged)
		}
		if f[0] != host {
			t.Errorf("%s: Apache got Host %q, want %q", c.name, f[0], host)
		}
		for i, name := range []string{"Upgrade", "HTTP2-Settings", "Trailer", "Connection"} {
			if f[i+1] != "-" {
				t.Errorf("%s: Apache got %s %q, want none (only WebSocket upgrades pass; trailers are not forwarded, so neither is Trailer)", c.name, name, f[i+1])
			}
		}
	}
	// Every refused connection was let go: no goroutine or file left behind.
	for _, h2 := range h2Servers {
		b := base[h2]
		if g, fds := settleCounts(t, fronts[h2], b.goroutines, b.fds); g > b.goroutines || fds > b.fds {
			t.Errorf("server.http2 = %q: after the cases tlsfront has %d goroutines and %d open files, before %d and %d", h2, g, fds, b.goroutines, b.fds)
		}
	}
}
