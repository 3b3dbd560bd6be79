package integration

// Helpers shared by the reload and appliance tests: configs, log cursors,
// signals, load clients.

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// applianceConfig renders the single-site configuration of the appliance
// tests. Empty fields leave their keys out (the defaults).
type applianceConfig struct {
	HTTPS, HTTP string // server.https (required) and server.http ("" disables it)
	Backend     string // site backend URL
	Cert, Key   string // [[site.cert]] file names, relative to the config; "" means none
	Server      string // extra [server] lines
	TLS         string // [tls] lines
	Headers     string // [headers] lines
	Log         string // extra [log] lines (level and format are set)
}

func (c applianceConfig) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\nhttps = %q\nhttp = %q\nstate_dir = \"state\"\n%s\n", c.HTTPS, c.HTTP, c.Server)
	fmt.Fprintf(&b, "[tls]\n%s\n[headers]\n%s\n", c.TLS, c.Headers)
	fmt.Fprintf(&b, "[[site]]\nnames = [\"localhost\"]\nbackend = %q\n", c.Backend)
	if c.Cert != "" {
		fmt.Fprintf(&b, "  [[site.cert]]\n  cert = %q\n  key = %q\n", c.Cert, c.Key)
	}
	fmt.Fprintf(&b, "\n[log]\nlevel = \"info\"\nformat = \"json\"\n%s\n", c.Log)
	return b.String()
}

// loopback returns "127.0.0.1:<a free port>".
func loopback(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t)) }

// echoBackend is a plain-HTTP backend on 127.0.0.1 answering "ok <path>"
// after the delay in the query parameter d (a Go duration), with the status
// in the parameter s (default 200).
func echoBackend(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("d")); err == nil {
			time.Sleep(d)
		}
		if s, err := strconv.Atoi(r.URL.Query().Get("s")); err == nil {
			w.WriteHeader(s)
		}
		io.WriteString(w, "ok "+r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

// writeAtomic replaces path with data the way certbot and editors do: a
// new file renamed over the old one.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// writeLeaf installs leaf's chain and key as dir/site.chain.pem and dir/site.key.
func writeLeaf(t *testing.T, dir string, leaf *testca.Leaf) {
	t.Helper()
	writeAtomic(t, filepath.Join(dir, "site.chain.pem"), leaf.ChainPEM())
	writeAtomic(t, filepath.Join(dir, "site.key"), leaf.KeyPEM())
}

// daemon is a running tlsfront whose logs the tests read and that they signal.
type daemon interface {
	Logs() string
	Signal(syscall.Signal)
}

// logCursor reads the JSON log lines a daemon wrote after a point in time.
type logCursor struct {
	d   daemon
	off int
}

// markLogs starts a cursor at the end of what d logged so far.
func markLogs(d daemon) logCursor {
	return logCursor{d: d, off: strings.LastIndexByte(d.Logs(), '\n') + 1}
}

// lines returns the JSON lines written since the mark.
func (c logCursor) lines() []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(c.d.Logs()[c.off:], "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// wait polls for up to 10 s until done accepts the lines since the mark.
func (c logCursor) wait(t testing.TB, what string, done func([]map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !done(c.lines()) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s; log since then:\n%s", what, c.d.Logs()[c.off:])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// msgCount counts the lines whose message starts with prefix.
func msgCount(lines []map[string]any, prefix string) int {
	n := 0
	for _, m := range lines {
		if s, _ := m["message"].(string); strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// waitMsg waits until a line whose message starts with prefix follows the mark.
func (c logCursor) waitMsg(t testing.TB, prefix string) {
	t.Helper()
	c.wait(t, fmt.Sprintf("a log line %q", prefix), func(l []map[string]any) bool { return msgCount(l, prefix) > 0 })
}

const reloadFailedMsg = "reload failed; still serving the previous configuration"

var problemCount = regexp.MustCompile(`: (\d+) problems?$`)

// hup sends SIGHUP and waits for the reload's outcome. It reports whether
// the reload succeeded and, when not, returns every "problem" it logged.
func hup(t testing.TB, d daemon) (ok bool, problems []string) {
	t.Helper()
	c := markLogs(d)
	d.Signal(syscall.SIGHUP)
	c.wait(t, "the outcome of a reload", func(lines []map[string]any) bool {
		problems = nil
		for _, m := range lines {
			switch m["message"] {
			case "reloaded":
				ok = true
				return true
			case reloadFailedMsg:
				p, _ := m["problem"].(string)
				problems = append(problems, p)
			}
		}
		if len(problems) == 0 {
			return false
		}
		// A configuration error is a header line "FILE: N problems" and
		// one line per problem; wait for all of them.
		want := 1
		if m := problemCount.FindStringSubmatch(problems[0]); m != nil {
			n, _ := strconv.Atoi(m[1])
			want = n + 1
		}
		return len(problems) >= want
	})
	if ok && len(problems) > 0 {
		t.Fatalf("one SIGHUP both failed (%q) and reloaded", problems)
	}
	return ok, problems
}

// servedLeaf completes a fresh handshake with addr for "localhost",
// verified against roots, and returns the leaf the server sent.
func servedLeaf(t testing.TB, addr string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "localhost", RootCAs: roots})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// loadClient is one goroutine of the load: its client, the protocol it
// must get, and whether it drops its connections now and then.
type loadClient struct {
	name       string
	client     *http.Client
	protoMajor int
	fresh      func() // called every 10 requests; nil keeps connections
}

// loadResult is what the load saw.
type loadResult struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	maxSpan    map[string]int64 // per client: most reloads one connection lived through
}

func (r *loadResult) fail(format string, args ...any) {
	r.failed.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 10 {
		r.errs = append(r.errs, fmt.Sprintf(format, args...))
	}
}

// run sends requests until stop is closed (or 20000 requests), each
// answered by the backend after a short delay, so that some are in flight
// during every reload. reloads counts the reloads done so far.
func (r *loadResult) run(lc loadClient, base string, stop <-chan struct{}, reloads *atomic.Int64) {
	born := map[string]int64{} // connection -> reload count at its first use
	var span int64
	for i := 0; i < 20000; i++ {
		select {
		case <-stop:
			r.mu.Lock()
			r.maxSpan[lc.name] = span
			r.mu.Unlock()
			return
		default:
		}
		if lc.fresh != nil && i%10 == 9 {
			lc.fresh()
		}
		var conn string
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conn = i.Conn.LocalAddr().String() }}
		path := fmt.Sprintf("/load/%s/%d", lc.name, i)
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s%s?d=%dms", base, path, i%20), nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := lc.client.Do(req)
		if err != nil {
			r.fail("%s: GET %s: %v", lc.name, path, err)
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			r.fail("%s: reading %s: %v", lc.name, path, err)
		case resp.StatusCode != 200 || string(body) != "ok "+path:
			r.fail("%s: GET %s = %d %q", lc.name, path, resp.StatusCode, body)
		case resp.ProtoMajor != lc.protoMajor:
			r.fail("%s: GET %s over %s, want HTTP/%d", lc.name, path, resp.Proto, lc.protoMajor)
		default:
			r.ok.Add(1)
		}
		now := reloads.Load()
		if b, seen := born[conn]; !seen {
			born[conn] = now
		} else if now-b > span {
			span = now - b
		}
	}
}

func transport(roots *x509.CertPool, h2 bool) *http.Transport {
	p := new(http.Protocols)
	if h2 {
		p.SetHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	return &http.Transport{
		TLSClientConfig:     &tls.Config{ServerName: "localhost", RootCAs: roots},
		Protocols:           p,
		MaxIdleConnsPerHost: 4,
	}
}

// keptAlive is one HTTP/1.1 connection used for several requests.
type keptAlive struct {
	c *tls.Conn
	r *bufio.Reader
}

func dialKeptAlive(t *testing.T, addr string, roots *x509.CertPool) *keptAlive {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "localhost", RootCAs: roots})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &keptAlive{c: c, r: bufio.NewReader(c)}
}

// get sends GET path on the connection and fails unless the backend answered.
func (k *keptAlive) get(t *testing.T, path string) {
	t.Helper()
	_ = k.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path); err != nil {
		t.Fatalf("GET %s on the kept-alive connection: %v", path, err)
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		t.Fatalf("GET %s on the kept-alive connection: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok "+path {
		t.Fatalf("GET %s on the kept-alive connection = %d %q", path, resp.StatusCode, body)
	}
}

// requireRefused fails unless TCP connections to addr are refused.
func requireRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		t.Errorf("%s still accepts connections", addr)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connecting to %s: %v, want connection refused", addr, err)
	}
}

// httpsGet fetches path from addr through a fresh client and fails unless
// the backend answered.
func httpsGet(t *testing.T, addr, path string, roots *x509.CertPool) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: transport(roots, false)}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + addr + path)
	if err != nil {
		t.Fatalf("GET https://%s%s: %v", addr, path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok "+path {
		t.Fatalf("GET https://%s%s = %d %q", addr, path, resp.StatusCode, body)
	}
}

func itestPort(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// runEnvFront writes cfg to dir/tlsfront.toml and starts tlsfront on it
// with env added to the environment, without waiting for anything (the
// tests watch the start themselves); it is stopped when the test ends.
func runEnvFront(t *testing.T, dir, cfg string, env ...string) *itest.Tlsfront {
	t.Helper()
	return itest.StartTlsfrontWith(t, dir, cfg, itest.TlsfrontOptions{Env: env, NoWait: true})
}

// proxyV2 returns a PROXY protocol v2 header: PROXY TCP over IPv4 from
// src to dst, or LOCAL (a balancer's own health check) when src is nil.
func proxyV2(src, dst net.IP, srcPort, dstPort uint16) []byte {
	h := []byte("\r\n\r\n\x00\r\nQUIT\n")
	if src == nil {
		return append(h, 0x20, 0x00, 0, 0)
	}
	h = append(h, 0x21, 0x11, 0, 12)
	h = append(h, src.To4()...)
	h = append(h, dst.To4()...)
	h = binary.BigEndian.AppendUint16(h, srcPort)
	return binary.BigEndian.AppendUint16(h, dstPort)
}

// proxiedGet connects to addr from the local address from, sends header,
// then TLS and one request for target with the extra request headers.
func proxiedGet(addr, from string, header []byte, target string, roots *x509.CertPool, extra string) (*http.Response, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := raw.Write(header); err != nil {
		return nil, err
	}
	c := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: roots})
	if err := c.Handshake(); err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n", target, extra)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, err
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, err
}

// scrape returns the metrics text of the listener at addr.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// metricValue returns the value of the sample whose name and labels (as
// Prometheus prints them, sorted) are series, and whether it is present.
func metricValue(text, series string) (float64, bool) {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// waitFile polls path for up to 10 s until done accepts its contents.
func waitFile(t *testing.T, path string, done func(string) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if done(string(b)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after 10s:\n%s", path, b)
		}
	}
}
