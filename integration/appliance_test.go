package integration

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// TestNotifyProtocol drives the sd_notify protocol through a real
// NOTIFY_SOCKET datagram socket: READY=1 once the listener serves,
// RELOADING=1 (with MONOTONIC_USEC, for Type=notify-reload) ... READY=1
// around good and bad reloads with a STATUS saying which, STOPPING=1 on
// SIGTERM, and WATCHDOG=1 pings when WATCHDOG_USEC asks for them.
func TestNotifyProtocol(t *testing.T) {
	t.Parallel()
	sockDir, err := os.MkdirTemp("", "notify") // short: unix socket paths have 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sockPath := filepath.Join(sockDir, "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	var mu sync.Mutex
	var states []string // datagrams other than WATCHDOG=1, in order
	watchdogs := 0
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := sock.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			if s := string(buf[:n]); s == "WATCHDOG=1" {
				watchdogs++
			} else {
				states = append(states, s)
			}
			mu.Unlock()
		}
	}()
	// waitStates waits until n datagrams arrived and returns them.
	waitStates := func(n int, what string) []string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			got := append([]string{}, states...)
			mu.Unlock()
			if len(got) >= n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited 10s for %s; datagrams so far: %q", what, got)
			}
		}
	}

	dir := t.TempDir()
	ca := testca.New(t)
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
	cfg := applianceConfig{HTTPS: loopback(t), Backend: echoBackend(t).URL, Cert: "site.chain.pem", Key: "site.key", Log: "access = false"}
	e := runEnvFront(t, dir, cfg.String(), "NOTIFY_SOCKET="+sockPath, "WATCHDOG_USEC=200000")

	waitStates(1, "READY=1 at start-up")
	// READY means serving: a handshake right now must succeed.
	if c, err := tls.Dial("tcp", cfg.HTTPS, &tls.Config{ServerName: "localhost", RootCAs: ca.Pool()}); err != nil {
		t.Errorf("READY=1 was sent but the listener does not serve: %v", err)
	} else {
		c.Close()
	}
	if ok, problems := hup(t, e); !ok {
		t.Fatalf("reload failed: %q", problems)
	}
	waitStates(4, "RELOADING, STATUS and READY around a good reload")
	if err := os.WriteFile(e.ConfigPath, []byte("[server\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, _ := hup(t, e); ok {
		t.Fatal("a config that is not TOML reloaded")
	}
	waitStates(7, "RELOADING, STATUS and READY around a failed reload")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := watchdogs
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no WATCHDOG=1 within 10s, with WATCHDOG_USEC=200000")
		}
	}
	e.Signal(syscall.SIGTERM)
	if code := e.Wait(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	got := waitStates(8, "STOPPING=1")

	want := []string{
		`READY=1`,
		`RELOADING=1\nMONOTONIC_USEC=\d+`, `STATUS=serving`, `READY=1`,
		`RELOADING=1\nMONOTONIC_USEC=\d+`, `STATUS=reload failed.*`, `READY=1`,
		`STOPPING=1`,
	}
	if len(got) != len(want) {
		t.Fatalf("datagrams %q, want %d matching %q", got, len(want), want)
	}
	for i, w := range want {
		if !regexp.MustCompile(`^` + w + `$`).MatchString(got[i]) {
			t.Errorf("datagram %d = %q, want %q", i, got[i], w)
		}
	}
	// MONOTONIC_USEC is CLOCK_MONOTONIC, the clock systemd compares it with.
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	now := ts.Sec*1_000_000 + ts.Nsec/1_000
	_, v, _ := strings.Cut(got[1], "MONOTONIC_USEC=")
	if usec, _ := strconv.ParseInt(v, 10, 64); usec <= 0 || usec > now || now-usec > 60_000_000 {
		t.Errorf("MONOTONIC_USEC=%s is not CLOCK_MONOTONIC of the reload (now %d)", v, now)
	}
}

// TestApplianceSIGTERMDrain proves SIGTERM's contract: stop accepting,
// let in-flight HTTP/1.1 and HTTP/2 requests finish, exit 0; and when they
// outlast server.shutdown_timeout, exit 0 anyway once it has passed.
func TestApplianceSIGTERMDrain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout string
		finish  bool // the backend answers before the timeout
	}{
		{"in-flight requests finish", "20s", true},
		{"shutdown_timeout bounds the drain", "300ms", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			releaseOnce := sync.OnceFunc(func() { close(release) })
			entered := make(chan struct{}, 4)
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				select {
				case <-release:
				case <-time.After(20 * time.Second):
				}
				io.WriteString(w, "ok "+r.URL.Path)
			}))
			t.Cleanup(backend.Close)
			t.Cleanup(releaseOnce) // before backend.Close, which waits for handlers

			dir := t.TempDir()
			ca := testca.New(t)
			writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
			cfg := applianceConfig{
				HTTPS: loopback(t), HTTP: loopback(t), Backend: backend.URL, Cert: "site.chain.pem", Key: "site.key",
				Server: fmt.Sprintf("shutdown_timeout = %q", tc.timeout), Log: "access = false",
			}
			f := itest.StartTlsfront(t, dir, cfg.String())

			type result struct {
				proto string
				err   error
				body  string
			}
			results := make(chan result, 2)
			for _, h2 := range []bool{false, true} {
				go func() {
					c := &http.Client{Timeout: 30 * time.Second, Transport: transport(ca.Pool(), h2)}
					resp, err := c.Get("https://" + cfg.HTTPS + "/slow")
					if err != nil {
						results <- result{err: err}
						return
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					results <- result{proto: resp.Proto, err: err, body: fmt.Sprintf("%d %s", resp.StatusCode, body)}
				}()
			}
			for range 2 {
				select {
				case <-entered:
				case <-time.After(10 * time.Second):
					t.Fatal("the requests did not reach the backend within 10s")
				}
			}

			mark := markLogs(f)
			f.Signal(syscall.SIGTERM)
			mark.waitMsg(t, "shutting down")
			for _, addr := range []string{cfg.HTTPS, cfg.HTTP} { // stops accepting at once
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
					c, err := net.DialTimeout("tcp", addr, time.Second)
					if err != nil {
						break
					}
					c.Close()
					if time.Now().After(deadline) {
						t.Fatalf("%s still accepts connections 5s after SIGTERM", addr)
					}
				}
			}
			select {
			case r := <-results:
				t.Fatalf("a request ended before the backend answered: %+v", r)
			case <-f.Done():
				if tc.finish {
					t.Fatal("tlsfront exited with requests in flight")
				}
			case <-time.After(200 * time.Millisecond):
				if !tc.finish {
					t.Log("still draining after 200ms; waiting for the 300ms timeout")
				}
			}
			if tc.finish {
				releaseOnce()
				for range 2 {
					if r := <-results; r.err != nil || r.body != "200 ok /slow" {
						t.Errorf("in-flight request during shutdown: %+v, want 200 \"ok /slow\"", r)
					}
				}
			}
			if code := f.Wait(); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0", code)
			}
			if !tc.finish {
				releaseOnce()
				for range 2 {
					if r := <-results; r.err == nil {
						t.Errorf("a request outlasting shutdown_timeout got an answer: %+v", r)
					}
				}
			}
		})
	}
}

// TestApplianceProxyProtocol proves inbound PROXY protocol end to end: an
// L4 balancer (127.0.0.2, trusted) sends a v1 or v2 header, then TLS and a
// request, and Apache sees the client of the header in X-Forwarded-For.
// Peers not trusted are served without a header and cannot forge one; the
// trusted balancer must send one.
func TestApplianceProxyProtocol(t *testing.T) {
	t.Parallel()
	apache := itest.StartApache(t, itest.ApacheOptions{})
	dir := t.TempDir()
	ca := testca.New(t)
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
	cfg := applianceConfig{
		HTTPS: loopback(t), Backend: apache.URL, Cert: "site.chain.pem", Key: "site.key",
		Server: "proxy_protocol = true", Headers: `trusted_proxies = ["127.0.0.2/32"]`, Log: "access = false",
	}
	f := itest.StartTlsfront(t, dir, cfg.String()) // its readiness probe comes from 127.0.0.1, untrusted, without a header
	lb, direct := "127.0.0.2", "127.0.0.1"
	dst := net.IPv4(127, 0, 0, 1)
	for i, tc := range []struct {
		name, from string
		header     string
		extra      string // request headers
		wantXFF    string // "" means the connection must fail
	}{
		{"v1 from the balancer", lb, "PROXY TCP4 203.0.113.7 127.0.0.1 51234 443\r\n", "", "203.0.113.7"},
		{"v1 IPv6 client", lb, "PROXY TCP6 2001:db8::7 ::1 51234 443\r\n", "", "2001:db8::7"},
		{"v2 from the balancer", lb, string(proxyV2(net.IPv4(198, 51, 100, 9), dst, 40000, 443)), "", "198.51.100.9"},
		{"client's X-Forwarded-For behind the balancer is replaced", lb,
			"PROXY TCP4 203.0.113.8 127.0.0.1 51234 443\r\n", "X-Forwarded-For: 10.6.6.6\r\n", "203.0.113.8"},
		{"v2 LOCAL health check keeps the balancer's address", lb, string(proxyV2(nil, nil, 0, 0)), "", lb},
		{"direct client without a header", direct, "", "", direct},
		{"balancer without a header", lb, "", "", ""},
		{"direct client forging a header", direct, "PROXY TCP4 192.0.2.1 127.0.0.1 51234 443\r\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := fmt.Sprintf("/?pp=%d", i)
			resp, err := proxiedGet(cfg.HTTPS, tc.from, []byte(tc.header), target, ca.Pool(), tc.extra)
			if tc.wantXFF == "" {
				if err == nil {
					t.Fatalf("served (%d), want the connection refused", resp.StatusCode)
				}
				return
			}
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET %s: %v %v", target, resp, err)
			}
			if got := apache.WaitTarget(t, target).XForwardedFor; got != tc.wantXFF {
				t.Errorf("Apache saw X-Forwarded-For %q, want %q", got, tc.wantXFF)
			}
		})
	}

	// Switched off by a reload, on the same address: the balancer's
	// connections are plain TLS again, and a header is no longer read.
	off := cfg
	off.Server = "proxy_protocol = false"
	writeAtomic(t, f.ConfigPath, []byte(off.String()))
	if ok, problems := hup(t, f); !ok {
		t.Fatalf("reloading with proxy_protocol = false failed: %q", problems)
	}
	if resp, err := proxiedGet(cfg.HTTPS, lb, nil, "/?pp=off", ca.Pool(), ""); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after proxy_protocol = false the balancer without a header: %v %v", resp, err)
	}
	if got := apache.WaitTarget(t, "/?pp=off").XForwardedFor; got != lb {
		t.Errorf("after proxy_protocol = false Apache saw X-Forwarded-For %q, want the balancer's %q", got, lb)
	}
	if _, err := proxiedGet(cfg.HTTPS, lb, []byte("PROXY TCP4 203.0.113.9 127.0.0.1 1 443\r\n"), "/?pp=off2", ca.Pool(), ""); err == nil {
		t.Error("after proxy_protocol = false a PROXY header is still read")
	}
}

// TestApplianceMetricsAndAccessLog proves the metrics listener and the
// access log: after HTTP/1.1, HTTP/2 and TLS 1.2 requests, a good and a
// failed reload, /metrics has handshakes by version and suite, requests by
// site, status and protocol, the backend latency histogram, active
// connections, certificate expiry and the reload counters, and /healthz is
// ok; the combined access log goes to access_file, and after logrotate's
// rename and SIGUSR1 new lines go to a new file.
func TestApplianceMetricsAndAccessLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testca.New(t)
	roots := ca.Pool()
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}})
	writeLeaf(t, dir, leaf)
	metricsAddr := loopback(t)
	cfg := applianceConfig{
		HTTPS: loopback(t), Backend: echoBackend(t).URL, Cert: "site.chain.pem", Key: "site.key",
		Server: fmt.Sprintf("metrics = %q\nwatch_interval = \"0s\"", metricsAddr),
		Log:    "access = true\naccess_format = \"combined\"\naccess_file = \"access.log\"",
	}
	f := itest.StartTlsfront(t, dir, cfg.String())
	accessPath := filepath.Join(dir, "access.log")

	get := func(c *http.Client, path string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://"+cfg.HTTPS+path, nil)
		req.Header.Set("User-Agent", "itest-agent")
		req.Header.Set("Referer", "https://example.test/from")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	h1 := &http.Client{Timeout: 10 * time.Second, Transport: transport(roots, false)}
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: transport(roots, true)}
	tls12 := transport(roots, false)
	tls12.TLSClientConfig.MaxVersion = tls.VersionTLS12
	for i := range 3 {
		get(h1, fmt.Sprintf("/m/h1/%d", i))
	}
	get(h1, "/m/missing?s=404")
	for i := range 2 {
		get(h2, fmt.Sprintf("/m/h2/%d", i))
	}
	get(&http.Client{Timeout: 10 * time.Second, Transport: tls12}, "/m/tls12")
	// The kept-alive HTTP/1.1 and HTTP/2 connections count as active until
	// the reload below drains them (idle ones close at once).
	if text := scrape(t, metricsAddr); !regexp.MustCompile(`tlsfront_connections_active [1-9]`).MatchString(text) {
		t.Errorf("/metrics before the reload has no active connection:\n%s", text)
	}
	if ok, problems := hup(t, f); !ok {
		t.Fatalf("reload failed: %q", problems)
	}
	good, _ := os.ReadFile(f.ConfigPath)
	writeAtomic(t, f.ConfigPath, []byte("[server\n"))
	if ok, _ := hup(t, f); ok {
		t.Fatal("a config that is not TOML reloaded")
	}
	writeAtomic(t, f.ConfigPath, good)

	want := map[string]float64{
		`tlsfront_http_requests_total{protocol="HTTP/1.1",site="localhost",status="200"}`: 4,
		`tlsfront_http_requests_total{protocol="HTTP/1.1",site="localhost",status="404"}`: 1,
		`tlsfront_http_requests_total{protocol="HTTP/2.0",site="localhost",status="200"}`: 2,
		`tlsfront_backend_duration_seconds_count{site="localhost"}`:                       7,
		`tlsfront_backend_duration_seconds_bucket{site="localhost",le="+Inf"}`:            7,
		`tlsfront_reloads_total{result="success"}`:                                        1,
		`tlsfront_reloads_total{result="failure"}`:                                        1,
		`tlsfront_last_reload_successful`:                                                 0,
	}
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		text = scrape(t, metricsAddr)
		missing := 0
		for series, v := range want {
			if got, ok := metricValue(text, series); !ok || got != v {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			for series, v := range want {
				if got, ok := metricValue(text, series); !ok || got != v {
					t.Errorf("%s = %v (present: %v), want %v", series, got, ok, v)
				}
			}
			t.Fatalf("metrics:\n%s", text)

		}
	}
	for _, re := range []string{
		`tlsfront_tls_handshakes_total\{suite="TLS_AES_128_GCM_SHA256",version="TLS 1.3"\} [1-9]`,
		`tlsfront_tls_handshakes_total\{suite="TLS_ECDHE_ECDSA_WITH_AES_(128|256)_GCM_SHA(256|384)",version="TLS 1.2"\} 1\n`,
		`tlsfront_connections_active \d`,
		`tlsfront_certificate_expiry_seconds\{[^}]*"localhost \(ECDSA P-256\)"[^}]*\} [1-9][0-9.e+]+\n`,
		`tlsfront_backend_duration_seconds_bucket\{site="localhost",le="0.005"\} \d`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("/metrics has no line matching %s", re)
		}
	}
	resp, err := http.Get("http://" + metricsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 \"ok\\n\"", resp.StatusCode, body)
	}

	// The combined format, Apache's: host ident user [time] "request" status bytes "referer" "agent".
	combined := regexp.MustCompile(`(?m)^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] ` +
		`"GET /m/h1/0 HTTP/1\.1" 200 \d+ "https://example\.test/from" "itest-agent"$`)
	waitFile(t, accessPath, func(s string) bool {
		return combined.MatchString(s) && strings.Contains(s, `"GET /m/h2/1 HTTP/2.0" 200 `)
	})
	if strings.Contains(f.Logs(), "/m/h1/0") {
		t.Error("access lines also went to the process log")
	}

	// logrotate: rename, then SIGUSR1 (its postrotate).
	if err := os.Rename(accessPath, accessPath+".1"); err != nil {
		t.Fatal(err)
	}
	get(h1, "/m/before-reopen")
	mark := markLogs(f)
	f.Signal(syscall.SIGUSR1)
	mark.waitMsg(t, "access log reopened")
	get(h2, "/m/after-reopen")
	waitFile(t, accessPath, func(s string) bool { return strings.Contains(s, "/m/after-reopen") })
	waitFile(t, accessPath+".1", func(s string) bool { return strings.Contains(s, "/m/before-reopen") })
	if b, _ := os.ReadFile(accessPath); strings.Contains(string(b), "/m/before-reopen") || strings.Contains(string(b), "/m/h1/0") {
		t.Errorf("the new access log holds lines from before SIGUSR1:\n%s", b)
	}
	if b, _ := os.ReadFile(accessPath + ".1"); strings.Contains(string(b), "/m/after-reopen") {
		t.Errorf("the rotated access log got a line after SIGUSR1:\n%s", b)
	}
}

// TestApplianceEnvOverrides proves that TLSFRONT_SERVER_HTTPS and
// TLSFRONT_SITE_BACKEND win over the file, at start and on reload, and
// that a bad value is reported under the variable's name.
func TestApplianceEnvOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testca.New(t)
	roots := ca.Pool()
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
	backend := echoBackend(t)
	cfg := applianceConfig{
		HTTPS: loopback(t), Backend: fmt.Sprintf("http://127.0.0.1:%d", itest.ClosedPort(t)),
		Cert: "site.chain.pem", Key: "site.key", Server: `watch_interval = "0s"`, Log: "access = false",
	}
	envAddr := loopback(t)
	e := runEnvFront(t, dir, cfg.String(), "TLSFRONT_SERVER_HTTPS="+envAddr, "TLSFRONT_SITE_BACKEND="+backend.URL)
	e.WaitServing(envAddr)
	httpsGet(t, envAddr, "/from-env", roots) // answered by the environment's backend, not the file's dead one
	requireRefused(t, cfg.HTTPS)
	if ok, problems := hup(t, e); !ok {
		t.Fatalf("reload failed: %q", problems)
	}
	httpsGet(t, envAddr, "/after-reload", roots)
	requireRefused(t, cfg.HTTPS)

	for _, tc := range []struct{ env, want string }{
		{"TLSFRONT_SERVER_SHUTDOWN_TIMEOUT=soon", `TLSFRONT_SERVER_SHUTDOWN_TIMEOUT (server.shutdown_timeout): "soon" is not a duration`},
		{"TLSFRONT_HEADER_HSTS=max-age=1", "TLSFRONT_HEADER_HSTS: names no key"}, // a typo is not silence
	} {
		_, stderr, code := itest.RunTlsfrontEnv(t, []string{tc.env}, "-t", "-config", e.ConfigPath)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("tlsfront -t with %s: exit %d\n%s\nwant 1 and %q", tc.env, code, stderr, tc.want)
		}
	}
}

// TestApplianceSignalsDuringStartup proves that a SIGHUP arriving while
// tlsfront starts (here: during the OCSP prefetch, before READY=1) does
// not kill it (SIGHUP's default action) but is handled as a reload once it
// serves: systemd may send one as soon as the unit counts as started.
func TestApplianceSignalsDuringStartup(t *testing.T) {
	t.Parallel()
	asked := make(chan struct{}, 8)
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	responder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}))
	t.Cleanup(responder.Close)
	t.Cleanup(releaseOnce)

	dir := t.TempDir()
	ca := testca.New(t)
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}, OCSPServer: []string{responder.URL}}))
	cfg := applianceConfig{
		HTTPS: loopback(t), Backend: echoBackend(t).URL, Cert: "site.chain.pem", Key: "site.key",
		Log: "access = false",
	}
	src := cfg.String() + "\n[ocsp]\nprefetch_wait = \"5s\"\n"
	e := runEnvFront(t, dir, src)
	select {
	case <-asked: // tlsfront is in its OCSP prefetch: listeners bound, not serving yet
	case <-time.After(15 * time.Second):
		t.Fatalf("tlsfront asked the OCSP responder nothing within 15s; output:\n%s", e.Logs())
	}
	mark := markLogs(e)
	e.Signal(syscall.SIGHUP)
	releaseOnce()
	e.WaitServing(cfg.HTTPS)
	mark.waitMsg(t, "reloaded")
	select {
	case <-e.Done():
		t.Fatalf("tlsfront exited (code %d) after a SIGHUP during start-up", e.ExitCode())
	default:
	}
	httpsGet(t, cfg.HTTPS, "/after-early-hup", ca.Pool())
}
