package server

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// Every test stops what it started: the daemon's goroutines (accept loops,
// ConnServers, watcher, watchdog) end with Shutdown, a replaced
// Generation's with its last connection.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend is a plain HTTP server answering every request with its name,
// the way a site's Apache would answer for that site.
func backend(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+" "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// siteConfig is a tlsfront configuration for one site, localhost, written
// by write.
type siteConfig struct {
	HTTPS, HTTP string // listen addresses; HTTP "" disables the plain listener
	Backend     string
	Cert        string // base name of NAME.chain.pem and NAME.key in the fixture's dir
	HTTP2       string // server.http2; "" leaves the default
	Extra       string // appended TOML (tables after [[site]] must come after [log])
}

func (c siteConfig) String() string {
	http2 := ""
	if c.HTTP2 != "" {
		http2 = fmt.Sprintf("http2 = %q\n", c.HTTP2)
	}
	return fmt.Sprintf(`[server]
%shttps = %q
http = %q
state_dir = "state"
watch_interval = "0s"
shutdown_timeout = "5s"
read_header_timeout = "5s"
[ocsp]
stapling = false
[log]
level = "debug"
format = "json"
access = false
[[site]]
names = ["localhost"]
backend = %q
  [[site.cert]]
  cert = "%s.chain.pem"
  key = "%s.key"
%s
`, http2, c.HTTPS, c.HTTP, c.Backend, c.Cert, c.Cert, c.Extra)
}

// fixture is a daemon under test with its CA, configuration and log.
type fixture struct {
	dir  string
	ca   *testca.CA
	path string
	d    *Daemon
	logs *itest.SyncBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	return &fixture{dir: dir, ca: testca.New(t), path: filepath.Join(dir, "tlsfront.toml"), logs: &itest.SyncBuffer{}}
}

// leaf mints a certificate for localhost and writes it as NAME.chain.pem
// and NAME.key.
func (f *fixture) leaf(t *testing.T, name string) *testca.Leaf {
	t.Helper()
	l := f.ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}})
	l.WriteFilesAs(f.dir, name)
	return l
}

func (f *fixture) write(t *testing.T, cfg siteConfig) {
	t.Helper()
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		t.Fatal(err)
	}
}

// start starts the daemon on the written configuration; it is shut down
// when the test ends.
func (f *fixture) start(t *testing.T) *Daemon {
	t.Helper()
	d, err := Start(Options{ConfigPath: f.path, Version: "test", Stderr: f.logs})
	if err != nil {
		t.Fatalf("Start: %v\nlog:\n%s", err, f.logs)
	}
	f.d = d
	t.Cleanup(func() {
		d.Shutdown()
		if t.Failed() {
			t.Logf("tlsfront log:\n%s", f.logs)
		}
	})
	return d
}

func loopback(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t)) }

// client1 is one HTTP/1.1 connection kept alive for several requests.
type client1 struct {
	c *tls.Conn
	r *bufio.Reader
}

// dial1 connects to addr with HTTP/1.1 (ALPN) and completes the handshake.
func dial1(t *testing.T, addr string, roots *x509.CertPool) *client1 {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &client1{c: c, r: bufio.NewReader(c)}
}

// serial is the serial number of the certificate the connection got.
func (k *client1) serial() string {
	return k.c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// get sends GET path and returns the body of a 200 answer.
func (k *client1) get(t *testing.T, path string) string {
	t.Helper()
	_ = k.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %q", path, resp.StatusCode, body)
	}
	return string(body)
}

// fetch gets path from addr on a fresh connection and returns the body and
// the served certificate's serial.
func fetch(t *testing.T, addr, path string, roots *x509.CertPool) (body, serial string) {
	t.Helper()
	k := dial1(t, addr, roots)
	defer k.c.Close()
	return k.get(t, path), k.serial()
}

// openFDs counts this process's open files.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// waitClosed waits up to 10 s until g has been closed.
func waitClosed(t *testing.T, g *Generation, what string) {
	t.Helper()
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the generation was not closed within 10s (%d references left)", what, g.refs.Load())
	}
}

// contains reports whether one of lines contains s.
func contains(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
