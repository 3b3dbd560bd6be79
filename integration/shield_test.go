package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// The shield's proofs (issue 17): access rules and rate limits in front of
// a real Apache, with the client address supplied by the PROXY protocol
// from a trusted balancer (127.0.0.2), over HTTP/1.1 and HTTP/2.

// balancer is the trusted L4 balancer's address: connections from it carry
// a PROXY header naming the client.
const balancer = "127.0.0.2"

// proxiedClient returns an HTTPS client for addr whose connections come
// from the balancer with a PROXY v1 header naming client, speaking HTTP/2
// or HTTP/1.1 (keep-alive). Its requests go out with their targets as
// written: Go's client cleans no path.
func proxiedClient(t *testing.T, addr, client string, h2 bool, roots *x509.CertPool) *http.Client {
	t.Helper()
	protos := []string{"http/1.1"}
	if h2 {
		protos = []string{"h2"}
	}
	tr := &http.Transport{
		ForceAttemptHTTP2: h2,
		TLSClientConfig:   &tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: protos},
		DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(balancer)}}
			raw, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			if _, err := fmt.Fprintf(raw, "PROXY TCP4 %s 127.0.0.1 40000 443\r\n", client); err != nil {
				raw.Close()
				return nil, err
			}
			c := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: protos})
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return c, nil
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// get requests target (sent as written) and returns the status, the body
// and the response's Retry-After; the test fails if the request fails or
// was not spoken in HTTP/2 (h2) or HTTP/1.1.
func get(t *testing.T, c *http.Client, addr, target string, h2 bool) (int, string, string) {
	t.Helper()
	status, body, retry, err := fetch(c, addr, target, h2)
	if err != nil {
		t.Fatal(err)
	}
	return status, body, retry
}

// fetch is get for other goroutines than the test's.
func fetch(c *http.Client, addr, target string, h2 bool) (status int, body, retry string, err error) {
	res, err := c.Get("https://" + addr + target)
	if err != nil {
		return 0, "", "", fmt.Errorf("GET %s: %w", target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", "", fmt.Errorf("GET %s: reading the body: %w", target, err)
	}
	if want := map[bool]int{false: 1, true: 2}[h2]; res.ProtoMajor != want {
		return 0, "", "", fmt.Errorf("GET %s spoke %s, want HTTP/%d", target, res.Proto, want)
	}
	return res.StatusCode, string(b), res.Header.Get("Retry-After"), nil
}

// statusApache is a private Apache serving mod_status at /server-status,
// the classic page a legacy host must not show the world, and /limited/
// and /slow.
func statusApache(t *testing.T) *itest.Apache {
	return itest.StartApache(t, itest.ApacheOptions{Files: map[string]string{"limited/index.html": "limited\n", "slow": "slow\n"}, Extra: "LoadModule status_module /usr/lib/apache2/modules/mod_status.so\n" +
		"<Location /server-status>\n  SetHandler server-status\n</Location>\n"})
}

// TestShieldAccessRules proves the access rule on /server-status: an
// allowed client reaches Apache's status page, a refused one gets 403 from
// tlsfront; every disguise of the path (each of which Apache itself maps
// to the status page) is refused for HTTP/1.1 and HTTP/2; an encoded slash
// is refused as ambiguous; and Apache's access log shows none of the
// refused requests, while the allowed ones reach it with their request
// line unchanged.
func TestShieldAccessRules(t *testing.T) {
	t.Parallel()
	apache := statusApache(t)
	dir := t.TempDir()
	ca := testca.New(t)
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
	https := loopback(t)
	cfg := func(http2 string) string {
		return applianceConfig{
			HTTPS: https, Backend: apache.URL, Cert: "site.chain.pem", Key: "site.key",
			Server:  "proxy_protocol = true\nwatch_interval = \"0s\"\nhttp2 = " + strconv.Quote(http2),
			Headers: `trusted_proxies = ["127.0.0.2/32"]`, Log: "access = true",
		}.String() + `
[[site.rule]]
path = "/server-status"
allow = ["10.0.0.0/8"]
deny = ["all"]
case_insensitive = true
`
	}
	server := h2Servers[0]
	f := itest.StartTlsfront(t, dir, cfg(server))
	addr := f.HTTPSAddr
	const allowed, refused = "10.1.2.3", "203.0.113.5"

	type trick struct {
		target      string
		apacheShows bool // Apache maps it to mod_status (not /SERVER-STATUS: Apache on Linux is case-sensitive)
	}
	tricks := []trick{
		{"/server-status", true},
		{"/%73erver-status", true},
		{"//server-status", true},
		{"/x/../server-status", true},
		{"/SERVER-STATUS", false},
	}
	var proto string
	for _, p := range spoofProtos() {
		// Each HTTP/2 server in turn (server.http2, switched by a reload).
		if p.server != server {
			server = p.server
			switchHTTP2(t, f, cfg(server), server)
		}
		proto = p.name
		h2 := p.h2
		t.Run(proto, func(t *testing.T) {
			in, out := proxiedClient(t, addr, allowed, h2, ca.Pool()), proxiedClient(t, addr, refused, h2, ca.Pool())
			for i, tr := range tricks {
				refusedTarget := fmt.Sprintf("%s?%s-refused-%d", tr.target, proto, i)
				status, body, _ := get(t, out, addr, refusedTarget, h2)
				if status != 403 || !strings.Contains(body, "<address>tlsfront</address>") {
					t.Errorf("%s from %s: %d %.80q, want tlsfront's 403 page", refusedTarget, refused, status, body)
				}
				allowedTarget := fmt.Sprintf("%s?%s-allowed-%d", tr.target, proto, i)
				status, body, _ = get(t, in, addr, allowedTarget, h2)
				if tr.apacheShows && (status != 200 || !strings.Contains(body, "Apache Server Status")) {
					t.Errorf("%s from %s: %d, want Apache's status page (the disguise works on Apache)", allowedTarget, allowed, status)
				}
				if got := apache.WaitTarget(t, allowedTarget); got.Target != allowedTarget {
					t.Errorf("Apache got %q, want the client's target %q unchanged", got.Target, allowedTarget)
				}
			}
			// An encoded slash: Apache 2.2 reads it three ways (404, a
			// separator, a literal), so tlsfront refuses it for everyone.
			for _, c := range []*http.Client{in, out} {
				status, body, _ := get(t, c, addr, fmt.Sprintf("/x%%2F..%%2Fserver-status?%s-refused-slash", proto), h2)
				if status != 400 || !strings.Contains(body, "encoded slash") {
					t.Errorf("encoded slash: %d %.80q, want tlsfront's 400 page", status, body)
				}
			}
		})
	}

	// The allowed requests above were waited for in Apache's log, and each
	// refused one was answered before the next allowed one was sent: had
	// any reached Apache, it would be logged by now.
	apache.WaitTarget(t, "/server-status?"+proto+"-allowed-0")
	for _, r := range apache.Requests(t) {
		if strings.Contains(r.Target, "-refused-") {
			t.Errorf("Apache logged a refused request: %s", r.Line)
		}
	}
	e := f.WaitLog(t, func(m map[string]any) bool {
		return m["message"] == "request" && m["path"] == "/x/../server-status" && m["refused"] == "denied"
	})
	if e["rule"] != "/server-status" || e["status"] != 403.0 {
		t.Errorf("access log entry of a refused request: %v, want rule /server-status, status 403", e)
	}
}

// TestShieldRateLimit proves the rate limit against Apache: a client
// sending at five times the rate gets 429s within nginx's burst arithmetic
// while a second client at the allowed rate sees only 200s; the state
// survives a reload; max_conns_per_client refuses a third connection of
// one client; the metrics count it all. Every assertion is on counts that
// hold for any scheduling: see the comments.
func TestShieldRateLimit(t *testing.T) {
	t.Parallel()
	apache := statusApache(t)
	dir := t.TempDir()
	ca := testca.New(t)
	roots := ca.Pool()
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
	metricsAddr, https := loopback(t), loopback(t)
	baseFor := func(http2 string) string {
		return applianceConfig{
			HTTPS: https, Backend: apache.URL, Cert: "site.chain.pem", Key: "site.key",
			Server: fmt.Sprintf("proxy_protocol = true\nmetrics = %q\nmax_conns_per_client = 2\nwatch_interval = \"0s\"\nhttp2 = %q",
				metricsAddr, http2),
			Headers: `trusted_proxies = ["127.0.0.2/32"]`, Log: "access = true",
		}.String()
	}
	server := h2Servers[0]
	const (
		rate  = 5 // requests per second
		burst = 3
	)
	rules := fmt.Sprintf(`
[[site.rule]]
path = "/limited"
rate = "%dr/s"
burst = %d
[[site.rule]]
path = "/slow"
rate = "1r/m"
`, rate, burst)
	f := itest.StartTlsfront(t, dir, baseFor(server)+rules)
	addr := f.HTTPSAddr
	limitedTotal := 0 // 429s the fast clients got, for the metrics

	protos := spoofProtos()
	for k, p := range protos {
		// Each HTTP/2 server in turn (server.http2, switched by a reload:
		// the rate-limit state is the process's).
		if p.server != server {
			server = p.server
			switchHTTP2(t, f, baseFor(server)+rules, server)
		}
		proto, h2 := p.name, p.h2
		t.Run(proto, func(t *testing.T) {
			// One client pair per protocol: their own rate-limit state.
			fast, steady := fmt.Sprintf("203.0.113.%d", 10+10*k), fmt.Sprintf("203.0.113.%d", 11+10*k)
			fc, sc := proxiedClient(t, addr, fast, h2, roots), proxiedClient(t, addr, steady, h2, roots)
			period := time.Second / rate
			const steadyN, fastN = 8, 40 // over 8 periods: the fast client sends 5 a period
			done := make(chan []string)
			go func() { // the steady client: one request, then a full period, sequentially
				var results []string
				for i := range steadyN {
					status, _, _, err := fetch(sc, addr, fmt.Sprintf("/limited/?%s-steady-%d", proto, i), h2)
					results = append(results, fmt.Sprint(status, err))
					time.Sleep(period)
				}
				done <- results
			}()
			start := time.Now()
			accepted, limited, badRetry := 0, 0, 0
			for i := range fastN {
				status, _, retry := get(t, fc, addr, fmt.Sprintf("/limited/?%s-fast-%d", proto, i), h2)
				switch status {
				case 200:
					accepted++
				case 429:
					limited++
					if retry != "1" { // at 5r/s a slot frees within 200 ms: rounded up, 1 s
						badRetry++
					}
				default:
					t.Fatalf("fast client got %d", status)
				}
				if i < burst+1 && status != 200 {
					t.Errorf("fast client's request %d got %d: a fresh client's first burst+1 = %d requests pass", i, status, burst+1)
				}
				time.Sleep(period / 5)
			}
			elapsed := time.Since(start)
			// nginx's limit_req accepts at most burst+1 requests, then one per
			// 1/rate of the time between the first and the last check; that
			// time is less than elapsed, whatever the scheduling.
			bound := burst + 1 + int(float64(rate)*elapsed.Seconds())
			if accepted > bound || accepted+limited != fastN || badRetry > 0 {
				t.Errorf("fast client: %d accepted, %d limited (%d with a Retry-After other than 1) in %v; want at most %d accepted",
					accepted, limited, badRetry, elapsed, bound)
			}
			limitedTotal += limited
			t.Logf("fast client: %d of %d accepted (bound %d over %v), %d refused with 429", accepted, fastN, bound, elapsed, limited)
			// The steady client leaves a full period between a response and
			// its next request, so between two of its checks at least 1/rate
			// passes and its excess is back to 0: it is never limited.
			for i, s := range <-done {
				if s != "200 <nil>" {
					t.Errorf("steady client's request %d got %s, want 200 (it keeps to the rate)", i, s)
				}
			}
			// What tlsfront limited never reached Apache.
			apache.WaitTarget(t, fmt.Sprintf("/limited/?%s-steady-%d", proto, steadyN-1))
			reached := 0
			for _, r := range apache.Requests(t) {
				if strings.Contains(r.Target, proto+"-fast-") {
					reached++
				}
			}
			if reached != accepted {
				t.Errorf("Apache logged %d of the fast client's requests, want the %d tlsfront accepted", reached, accepted)
			}
		})
	}

	// The rate-limit state survives a reload (1r/m: a slot frees after
	// 62.5 s, far longer than a reload takes).
	slow := proxiedClient(t, addr, "198.51.100.7", false, roots)
	if s, _, _ := get(t, slow, addr, "/slow", false); s != 200 {
		t.Fatalf("first /slow: %d, want 200", s)
	}
	if s, _, retry := get(t, slow, addr, "/slow", false); s != 429 || retry != "63" {
		t.Fatalf("second /slow: %d Retry-After %q, want 429 and 63", s, retry)
	}
	writeAtomic(t, f.ConfigPath, []byte(baseFor(server)+rules+"[[site.rule]]\npath = \"/new\"\ndeny = [\"all\"]\n"))
	if ok, problems := hup(t, f); !ok {
		t.Fatalf("reload failed: %q", problems)
	}
	if s, _, _ := get(t, slow, addr, "/new", false); s != 403 {
		t.Errorf("/new after the reload: %d, want 403 (the new rule applies)", s)
	}
	if s, _, _ := get(t, slow, addr, "/slow", false); s != 429 {
		t.Errorf("/slow after the reload: %d, want 429 (the client's excess survived)", s)
	}
	slow.CloseIdleConnections()

	// server.max_conns_per_client = 2: a third connection of one client is
	// closed at accept (after its PROXY header); another client's is not.
	hold := func(client string) error {
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(balancer)}}
		raw, err := d.Dial("tcp", addr)
		if err != nil {
			return err
		}
		t.Cleanup(func() { raw.Close() })
		fmt.Fprintf(raw, "PROXY TCP4 %s 127.0.0.1 40000 443\r\n", client)
		c := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: roots})
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c.Handshake()
	}
	for i, want := range []bool{true, true, false} {
		if err := hold("192.0.2.50"); (err == nil) != want {
			t.Errorf("connection %d of one client: handshake error %v, want success %v", i+1, err, want)
		}
	}
	if err := hold("192.0.2.51"); err != nil {
		t.Errorf("another client's connection: %v, want it served", err)
	}

	text := scrape(t, metricsAddr)
	for _, tt := range []struct {
		series string
		want   float64
	}{
		{`tlsfront_shield_refusals_total{reason="rate_limited",rule="/limited",site="localhost"}`, float64(limitedTotal)},
		{`tlsfront_shield_refusals_total{reason="rate_limited",rule="/slow",site="localhost"}`, 2},
		{`tlsfront_shield_refusals_total{reason="denied",rule="/new",site="localhost"}`, 1},
		{`tlsfront_shield_connections_refused_total`, 1},
		{`tlsfront_shield_table_entries`, float64(2*len(protos) + 1)}, // the clients of /limited and the one of /slow
		{`tlsfront_shield_table_size`, 100000},
	} {
		if v, ok := metricValue(text, tt.series); !ok || v != tt.want {
			t.Errorf("%s = %v (present %v), want %v", tt.series, v, ok, tt.want)
		}
	}
}

// switchHTTP2 writes cfg (whose server.http2 is http2) and reloads f with
// it: new connections are served by that HTTP/2 server.
func switchHTTP2(t *testing.T, f *itest.Tlsfront, cfg, http2 string) {
	t.Helper()
	writeAtomic(t, f.ConfigPath, []byte(cfg))
	if ok, problems := hup(t, f); !ok {
		t.Fatalf("reload to server.http2 = %q failed: %q", http2, problems)
	}
	requireH2Server(t, f.HTTPSAddr, http2)
}
