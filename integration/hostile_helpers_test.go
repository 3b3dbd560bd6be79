package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// The hostile suite (adversarial_test.go, smuggling_test.go, faults_test.go,
// disk_test.go, soak_test.go) attacks a real tlsfront process. Its CI sizes
// are small; the full sizes run with TLSFRONT_STRESS=1, the soak with
// TLSFRONT_SOAK=<duration>. RELIABILITY.md records both.

// stressOn reports whether the full-size runs were asked for.
func stressOn() bool { return os.Getenv("TLSFRONT_STRESS") == "1" }

// size returns full under TLSFRONT_STRESS=1, else ci.
func stressSize(ci, full int) int {
	if stressOn() {
		return full
	}
	return ci
}

// hostileOptions are the knobs of a tlsfront under attack. Zero values omit
// the key (the default applies) unless said otherwise.
type hostileOptions struct {
	Backend               string // required
	ReadHeaderTimeout     string
	IdleTimeout           string
	MaxConnections        int
	MaxBodyBytes          int64
	ReadTimeout           string
	ClientBodyTimeout     string
	SendTimeout           string
	ResponseHeaderTimeout string
	MaxBackendConns       int    // proxy.max_backend_conns
	MaxIdleConns          int    // proxy.max_idle_conns
	QueueTimeout          string // proxy.queue_timeout
	MaxHeaderBytes        int
	TrustedProxies        []string
	HTTP2                 string // server.http2; when set, the server answering "h2" is checked to be that one
	MaxConcurrentStreams  int    // server.max_concurrent_streams
	HTTP2Glitches         int    // server.http2_glitches
	NoAccessLog           bool
	Extra                 string // appended TOML (after [log])
}

// hostileFront is a running tlsfront (PID included) with its metrics.
type hostileFront struct {
	*itest.Tlsfront
	Metrics string // http://127.0.0.1:PORT/metrics
	Leaf    *testca.Leaf
	CA      *testca.CA
}

// startHostile starts tlsfront for o with an ECDSA certificate for
// localhost, HTTP/2 on, the plain listener off and metrics on.
func startHostile(t testing.TB, o hostileOptions) *hostileFront {
	t.Helper()
	dir := t.TempDir()
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}, KeyType: "ecdsa256"})
	leaf.WriteFilesAs(dir, "site")
	var server, proxy, headers strings.Builder
	kv := func(b *strings.Builder, key, val string) {
		if val != "" && val != "0" {
			fmt.Fprintf(b, "%s = %s\n", key, val)
		}
	}
	q := strconv.Quote
	if o.ReadHeaderTimeout != "" {
		kv(&server, "read_header_timeout", q(o.ReadHeaderTimeout))
	}
	if o.IdleTimeout != "" {
		kv(&server, "idle_timeout", q(o.IdleTimeout))
	}
	kv(&server, "max_connections", strconv.Itoa(o.MaxConnections))
	kv(&server, "max_header_bytes", strconv.Itoa(o.MaxHeaderBytes))
	if o.HTTP2 != "" {
		kv(&server, "http2", q(o.HTTP2))
	}
	kv(&server, "max_concurrent_streams", strconv.Itoa(o.MaxConcurrentStreams))
	kv(&server, "http2_glitches", strconv.Itoa(o.HTTP2Glitches))
	kv(&proxy, "max_body_bytes", strconv.FormatInt(o.MaxBodyBytes, 10))
	if o.ReadTimeout != "" {
		kv(&proxy, "read_timeout", q(o.ReadTimeout))
	}
	if o.SendTimeout != "" {
		kv(&proxy, "send_timeout", q(o.SendTimeout))
	}
	if o.ClientBodyTimeout != "" {
		kv(&proxy, "client_body_timeout", q(o.ClientBodyTimeout))
	}
	if o.ResponseHeaderTimeout != "" {
		kv(&proxy, "response_header_timeout", q(o.ResponseHeaderTimeout))
	}
	kv(&proxy, "max_backend_conns", strconv.Itoa(o.MaxBackendConns))
	kv(&proxy, "max_idle_conns", strconv.Itoa(o.MaxIdleConns))
	if o.QueueTimeout != "" {
		kv(&proxy, "queue_timeout", q(o.QueueTimeout))
	}
	if len(o.TrustedProxies) > 0 {
		fmt.Fprintf(&headers, "trusted_proxies = [%q]\n", strings.Join(o.TrustedProxies, `", "`))
	}
	metricsPort := itest.FreePort(t)
	cfg := fmt.Sprintf(`[server]
https = "127.0.0.1:%d"
http = ""
state_dir = "state"
metrics = "127.0.0.1:%d"
%s
[proxy]
%s
[headers]
hsts = %q
%s
[ocsp]
stapling = false

[[site]]
names = ["localhost"]
backend = %q
  [[site.cert]]
  cert = "site.chain.pem"
  key = "site.key"

[log]
level = "info"
format = "json"
access = %v
%s
`, itest.FreePort(t), metricsPort, server.String(), proxy.String(), hstsValue, headers.String(), o.Backend, !o.NoAccessLog, o.Extra)
	f := itest.StartTlsfront(t, dir, cfg)
	if o.HTTP2 != "" {
		requireH2Server(t, f.HTTPSAddr, o.HTTP2)
	}
	return &hostileFront{
		Tlsfront: f,
		Metrics:  fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
		Leaf:     leaf,
		CA:       ca,
	}
}

// rssKB returns a process's resident set size in KiB.
func rssKB(t testing.TB, pid int) int {
	t.Helper()
	return procStatusKB(t, pid, "VmRSS:")
}

func procStatusKB(t testing.TB, pid int, field string) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the status of process %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// openFDs returns how many files process pid has open.
func openFDs(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("listing the files of process %d: %v", pid, err)
	}
	return len(ents)
}

// cpuTicks returns the user+system CPU time process pid used, in clock
// ticks (1/100 s on Linux).
func cpuTicks(t testing.TB, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("reading the stat of process %d: %v", pid, err)
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // field 3 onwards
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return utime + stime
}

// metric returns the sum of the samples of the named metric (any labels)
// in the Prometheus text exposition at url, and whether it was present.
func scrapeMetric(t testing.TB, url, name string) (float64, bool) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer res.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	return sum, found
}

// raiseNoFile lifts this process's open-file limit to its hard limit, so
// the test and the tlsfront it starts afterwards (which inherits it) can
// hold many connections. It returns the new soft limit.
func raiseNoFile(t testing.TB) uint64 {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatalf("setrlimit NOFILE to %d: %v", lim.Max, err)
		}
	}
	return lim.Cur
}

// clientTLS is the TLS config of test clients: tlsfront's certificate is
// minted per test, so it is not verified here.
func clientTLS(protos ...string) *tls.Config {
	return &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, NextProtos: protos}
}

// httpClient returns a client for f speaking HTTP/1.1, or HTTP/2 with h2.
func hostileHTTPClient(h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: clientTLS(), ForceAttemptHTTP2: h2, MaxIdleConnsPerHost: 16}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// url returns https://localhost:PORT + path for f.
func (f *hostileFront) url(path string) string {
	return fmt.Sprintf("https://localhost:%d%s", f.HTTPSPort, path)
}

// client returns an HTTP/1.1 (or with h2, HTTP/2) client whose every
// connection goes to f, whatever the URL's host.
func (f *hostileFront) client(h2 bool) *http.Client {
	c := hostileHTTPClient(h2)
	addr := f.HTTPSAddr
	c.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return c
}

// percentile returns the p-th percentile (0..100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// drain reads r to its end.
func drainBody(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }
