package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// The address-spoofing review cases (issue 13): headers through which a
// client claims another address, scheme, host or path must not reach a
// legacy application, over HTTP/1.1 and HTTP/2, directly or behind a PROXY
// protocol balancer. Two judges: Apache 2.4 with a CGI printing its
// environment (what PHP sees), and a raw backend recording the bytes of
// every request head it receives.

// spoofCase is one header a client sends to tlsfront.
type spoofCase struct {
	name string
	// env is the CGI variable an application reads it as. APACHE22_* are
	// names Apache 2.4 no longer passes to CGI itself but Apache 2.2 did
	// (every non-alphanumeric character as "_"): apache22Env makes Apache
	// 2.4 map them the same way.
	env string
	// fromTrusted: a trusted peer's copy must reach the backend.
	fromTrusted bool
}

var spoofCases = []spoofCase{
	// Names Apache 2.2 folds into a forwarding header.
	{"X.Forwarded.For", "APACHE22_HTTP_X_FORWARDED_FOR", false},
	{"X~Real~IP", "APACHE22_HTTP_X_REAL_IP", false},
	{"X_Forwarded_For", "APACHE22_HTTP_X_FORWARDED_FOR", false},
	{"Client_IP", "APACHE22_HTTP_CLIENT_IP", false},
	// Client claims: generic names, always removed.
	{"Client-IP", "HTTP_CLIENT_IP", false},
	{"X-Client-IP", "HTTP_X_CLIENT_IP", false},
	{"X-Originating-IP", "HTTP_X_ORIGINATING_IP", false},
	{"X-Forwarded", "HTTP_X_FORWARDED", false},
	{"Forwarded-For", "HTTP_FORWARDED_FOR", false},
	{"X-HTTPS", "HTTP_X_HTTPS", false},
	{"X-Host", "HTTP_X_HOST", false},
	{"X-Port", "HTTP_X_PORT", false},
	{"X-Original-URL", "HTTP_X_ORIGINAL_URL", false},
	{"X-Rewrite-URL", "HTTP_X_REWRITE_URL", false},
	// Client claims a CDN or balancer sets: kept from a trusted peer only.
	{"True-Client-IP", "HTTP_TRUE_CLIENT_IP", true},
	{"X-Cluster-Client-IP", "HTTP_X_CLUSTER_CLIENT_IP", true},
	{"CF-Connecting-IP", "HTTP_CF_CONNECTING_IP", true},
	{"Fastly-Client-IP", "HTTP_FASTLY_CLIENT_IP", true},
	{"X-Forwarded-HTTPS", "HTTP_X_FORWARDED_HTTPS", true},
}

// apache22Env maps the invalid names of spoofCases into the CGI
// environment the way Apache 2.2 did, with mod_setenvif (a header-name
// regex as the attribute), since Apache 2.4 drops them from CGI itself.
func apache22Env() string {
	var b strings.Builder
	b.WriteString("LoadModule setenvif_module /usr/lib/apache2/modules/mod_setenvif.so\n")
	sep := regexp.MustCompile(`[^A-Za-z0-9]`)
	for _, c := range spoofCases {
		if !strings.HasPrefix(c.env, "APACHE22_") {
			continue
		}
		re := "^" + sep.ReplaceAllString(c.name, "[^A-Za-z0-9-]") + "$"
		fmt.Fprintf(&b, "SetEnvIfNoCase %q \"^(.+)$\" %s=$1\n", re, c.env)
	}
	return b.String()
}

// rawBackend answers every request with 200 "ok" and records each request
// head exactly as received, by request target.
type rawBackend struct {
	ln    net.Listener
	mu    sync.Mutex
	heads map[string]string
}

func startRawBackend(t *testing.T) *rawBackend {
	t.Helper()
	b := &rawBackend{heads: map[string]string{}}
	b.ln = serveRaw(t, func(c net.Conn, br *bufio.Reader) {
		for {
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" || line == "\n" {
					break
				}
			}
			target := ""
			if f := strings.Fields(strings.SplitN(head.String(), "\n", 2)[0]); len(f) == 3 {
				target = f[1]
			}
			b.mu.Lock()
			b.heads[target] = head.String()
			b.mu.Unlock()
			// Bodiless GETs only: the next bytes are the next request.
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	return b
}

// serveRaw listens on a loopback port and runs handle on each connection
// (closed when handle returns) until the test ends; the raw backends the
// integration tests judge by are built on it.
func serveRaw(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln
}

func (b *rawBackend) head(target string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.heads[target]
	return h, ok
}

// spoofFront is a tlsfront with PROXY protocol on: 127.0.0.2 is the
// balancer, 10.9.9.0/24 a CDN its headers may name; 127.0.0.1 is an
// untrusted client that connects directly.
type spoofFront struct {
	*itest.Tlsfront
	addr, metrics string
	roots         *x509.CertPool
}

const (
	spoofLB  = "127.0.0.2"
	spoofCDN = "10.9.9.9"
)

func startSpoofFront(t *testing.T, backend string, ca *testca.CA, http2 string) *spoofFront {
	t.Helper()
	dir := t.TempDir()
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
	metrics := loopback(t)
	cfg := applianceConfig{
		HTTPS: loopback(t), Backend: backend, Cert: "site.chain.pem", Key: "site.key",
		Server:  fmt.Sprintf("proxy_protocol = true\nmetrics = %q\nhttp2 = %q", metrics, http2),
		Headers: fmt.Sprintf("trusted_proxies = [%q, \"10.9.9.0/24\"]", spoofLB+"/32"),
		Log:     "access = true",
	}
	f := &spoofFront{Tlsfront: itest.StartTlsfront(t, dir, cfg.String()), addr: cfg.HTTPS, metrics: metrics, roots: ca.Pool()}
	requireH2Server(t, f.addr, http2)
	return f
}

// spoofProto is how a spoofing case reaches tlsfront: HTTP/1.1, or HTTP/2
// served by one of the HTTP/2 servers (server.http2).
type spoofProto struct {
	name   string // "h1", "h2-go", "h2-tlsfront"
	h2     bool
	server string // the front's server.http2
}

// spoofProtos are HTTP/1.1 (to the front of the first HTTP/2 server) and
// HTTP/2 to each HTTP/2 server.
func spoofProtos() []spoofProto {
	out := []spoofProto{{"h1", false, h2Servers[0]}}
	for _, s := range h2Servers {
		out = append(out, spoofProto{"h2-" + s, true, s})
	}
	return out
}

// get connects from the local address from, sends pp (a PROXY header, or
// nil), then makes one request over TLS with ALPN h2 or http/1.1, the
// headers set under exactly the names given, and returns the body.
func (f *spoofFront) get(t *testing.T, from string, pp []byte, h2 bool, target string, hdrs map[string]string) string {
	t.Helper()
	proto := "http/1.1"
	if h2 {
		proto = "h2"
	}
	dial := func(ctx context.Context) (net.Conn, error) {
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		raw, err := d.DialContext(ctx, "tcp", f.addr)
		if err != nil {
			return nil, err
		}
		if _, err := raw.Write(pp); err != nil {
			raw.Close()
			return nil, err
		}
		c := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: f.roots, NextProtos: []string{proto}})
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		if got := c.ConnectionState().NegotiatedProtocol; got != proto && !(proto == "http/1.1" && got == "") {
			c.Close()
			return nil, fmt.Errorf("ALPN chose %q, want %q", got, proto)
		}
		return c, nil
	}
	rt := &http.Transport{Protocols: new(http.Protocols),
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}
	rt.Protocols.SetHTTP1(!h2)
	rt.Protocols.SetHTTP2(h2)
	defer rt.CloseIdleConnections()
	req, err := http.NewRequest("GET", "https://localhost"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdrs {
		req.Header[k] = []string{v} // as given: not canonicalised
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := rt.RoundTrip(req.WithContext(ctx))
	if err == nil && res.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
		t.Fatalf("GET %s: answered over %s", target, res.Proto)
	}
	if err != nil {
		t.Fatalf("GET %s from %s (%s): %v", target, from, proto, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s from %s (%s): %d %v %q", target, from, proto, res.StatusCode, err, body)
	}
	return string(body)
}

// cgiEnv parses the output of /cgi-bin/env.
func cgiEnv(body string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// spoofSetup is Apache with the CGI, the raw backend, and, per HTTP/2
// server (server.http2), a tlsfront in front of each.
type spoofSetup struct {
	apache   *itest.Apache
	raw      *rawBackend
	toApache map[string]*spoofFront // by server.http2
	toRaw    map[string]*spoofFront
}

func startSpoofSetup(t *testing.T) *spoofSetup {
	t.Helper()
	s := &spoofSetup{apache: itest.StartApache(t, itest.ApacheOptions{CGI: true, Extra: apache22Env()}), raw: startRawBackend(t),
		toApache: map[string]*spoofFront{}, toRaw: map[string]*spoofFront{}}
	ca := testca.New(t)
	for _, h2 := range h2Servers {
		s.toApache[h2] = startSpoofFront(t, s.apache.URL, ca, h2)
		s.toRaw[h2] = startSpoofFront(t, "http://"+s.raw.ln.Addr().String(), ca, h2)
	}
	return s
}

// both sends the request through both fronts of p.server and returns the
// CGI environment Apache gave it and the head the raw backend received.
func (s *spoofSetup) both(t *testing.T, from string, pp []byte, p spoofProto, id string, hdrs map[string]string) (map[string]string, string) {
	t.Helper()
	env := cgiEnv(s.toApache[p.server].get(t, from, pp, p.h2, "/cgi-bin/env?"+id, hdrs))
	s.toRaw[p.server].get(t, from, pp, p.h2, "/raw?"+id, hdrs)
	head, ok := s.raw.head("/raw?" + id)
	if !ok {
		t.Fatalf("%s: the raw backend got no request", id)
	}
	return env, head
}

// headerLine returns the raw head's value of name (case-insensitive), and
// whether the name is there.
func headerLine(head, name string) (string, bool) {
	for _, line := range strings.Split(head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// TestSpoofedClientHeaders sends each spoofCase from an untrusted client
// (direct) and from a trusted CDN (behind the balancer, its PROXY header
// naming the CDN), over HTTP/1.1 and HTTP/2.
func TestSpoofedClientHeaders(t *testing.T) {
	t.Parallel()
	s := startSpoofSetup(t)
	invalid := 0
	for _, peer := range []struct {
		name, from string
		pp         []byte
		trusted    bool
	}{
		{"untrusted", "127.0.0.1", nil, false},
		{"trusted", spoofLB, []byte("PROXY TCP4 " + spoofCDN + " 127.0.0.1 40000 443\r\n"), true},
	} {
		for _, p := range spoofProtos() {
			proto := p.name
			for i, c := range spoofCases {
				name := fmt.Sprintf("%s/%s/%s", peer.name, proto, c.name)
				t.Run(name, func(t *testing.T) {
					value := fmt.Sprintf("6.6.6.%d", i+1)
					id := fmt.Sprintf("%s-%s-%d", peer.name, proto, i)
					if strings.HasPrefix(c.env, "APACHE22_") {
						invalid++
					}
					env, head := s.both(t, peer.from, peer.pp, p, id, map[string]string{c.name: value})
					want := ""
					if peer.trusted && c.fromTrusted {
						want = value
					}
					if got := env[c.env]; got != want {
						t.Errorf("Apache's CGI got %s=%q, want %q", c.env, got, want)
					}
					if got, ok := headerLine(head, c.name); got != want || ok != (want != "") {
						t.Errorf("the backend got %s: %q (present %v), want %q", c.name, got, ok, want)
					}
					if want == "" && strings.Contains(head, value) {
						t.Errorf("the backend got the spoofed value %q:\n%s", value, head)
					}
					if xff := env["HTTP_X_FORWARDED_FOR"]; peer.trusted && xff != spoofCDN || !peer.trusted && xff != "127.0.0.1" {
						t.Errorf("Apache's CGI got HTTP_X_FORWARDED_FOR=%q", xff)
					}
				})
			}
		}
	}
	if t.Failed() {
		return
	}
	dropped := 0.0
	for _, f := range s.toApache {
		v, _ := metricValue(scrape(t, f.metrics), "tlsfront_request_headers_dropped_total")
		dropped += v
	}
	if dropped != float64(invalid) {
		t.Errorf("tlsfront_request_headers_dropped_total = %v (all fronts), want %d (one per request with an invalid name)", dropped, invalid)
	}
}

// TestPROXYWithoutClientAddress: a trusted balancer's PROXY header that
// names no client leaves the balancer's address as the client, which is
// then untrusted: the end client's X-Forwarded-For, X-Real-IP, Forwarded
// and X-Forwarded-Ssl never reach Apache, only tlsfront's own values. A
// header naming a trusted address extends the chains; one naming another
// address replaces them.
func TestPROXYWithoutClientAddress(t *testing.T) {
	t.Parallel()
	s := startSpoofSetup(t)
	client := map[string]string{
		"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6",
		"Forwarded": "for=6.6.6.6;proto=http", "X-Forwarded-Ssl": "on",
	}
	type want struct{ xff, realIP, fwd, ssl string }
	lbOnly := want{spoofLB, spoofLB, "for=" + spoofLB + ";host=localhost;proto=https", ""}
	unix := make([]byte, 216)
	copy(unix, "/run/lb.sock")
	for i, tc := range []struct {
		name string
		pp   []byte
		want want
	}{
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), lbOnly},
		{"v2 LOCAL", proxyV2(nil, nil, 0, 0), lbOnly},
		{"v2 AF_UNIX", proxyV2Raw(0x21, 0x31, unix), lbOnly},
		{"v2 AF_UNSPEC", proxyV2Raw(0x21, 0x00, nil), lbOnly},
		{"v1 names a trusted address", []byte("PROXY TCP4 " + spoofCDN + " 127.0.0.1 40000 443\r\n"),
			want{"6.6.6.6, " + spoofCDN, "6.6.6.6", "for=6.6.6.6;proto=http, for=" + spoofCDN + ";host=localhost;proto=https", "on"}},
		{"v1 names an untrusted address", []byte("PROXY TCP4 203.0.113.7 127.0.0.1 40000 443\r\n"),
			want{"203.0.113.7", "203.0.113.7", "for=203.0.113.7;host=localhost;proto=https", ""}},
	} {
		for _, p := range spoofProtos() {
			proto, h2 := p.name, p.h2
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				id := fmt.Sprintf("pp-%d-%s", i, proto)
				env, head := s.both(t, spoofLB, tc.pp, p, id, client)
				for _, w := range []struct{ env, header, want string }{
					{"HTTP_X_FORWARDED_FOR", "X-Forwarded-For", tc.want.xff},
					{"HTTP_X_REAL_IP", "X-Real-IP", tc.want.realIP},
					{"HTTP_FORWARDED", "Forwarded", tc.want.fwd},
					{"HTTP_X_FORWARDED_SSL", "X-Forwarded-Ssl", tc.want.ssl},
				} {
					if got := env[w.env]; got != w.want {
						t.Errorf("Apache's CGI got %s=%q, want %q", w.env, got, w.want)
					}
					if got, _ := headerLine(head, w.header); got != w.want {
						t.Errorf("the backend got %s: %q, want %q", w.header, got, w.want)
					}
				}
				if tc.want.xff == spoofLB {
					// The access log names the balancer as the client.
					s.toApache[p.server].WaitLog(t, func(m map[string]any) bool {
						return m["message"] == "request" && m["client"] == spoofLB && m["path"] == "/cgi-bin/env" &&
							strings.HasPrefix(fmt.Sprint(m["proto"]), map[bool]string{false: "HTTP/1", true: "HTTP/2"}[h2])
					})
				}
			})
		}
	}
}

// proxyV2Raw builds a v2 header with a version/command byte, a family byte
// and a body.
func proxyV2Raw(verCmd, family byte, body []byte) []byte {
	h := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), verCmd, family, byte(len(body)>>8), byte(len(body)))
	return append(h, body...)
}
