package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tlsfront/config"
)

// TestReload: a good reload swaps certificate and backend for new
// connections; each broken one is refused with its reason logged, and
// leaves the previous certificate and backend serving.
func TestReload(t *testing.T) {
	f := newFixture(t)
	first := f.leaf(t, "site")
	cfg := siteConfig{HTTPS: loopback(t), Backend: backend(t, "one"), Cert: "site"}
	f.write(t, cfg)
	d := f.start(t)
	roots := f.ca.Pool()

	second := f.leaf(t, "site")
	cfg.Backend = backend(t, "two")
	f.write(t, cfg)
	if err := d.Reload(); err != nil {
		t.Fatalf("good reload: %v", err)
	}
	want := second.Cert().SerialNumber.String()
	if body, serial := fetch(t, cfg.HTTPS, "/x", roots); body != "two /x" || serial != want {
		t.Fatalf("after a good reload: %q with certificate %s, want %q with %s", body, serial, "two /x", want)
	}
	if first.Cert().SerialNumber.Cmp(second.Cert().SerialNumber) == 0 {
		t.Fatal("the two certificates share a serial: the test proves nothing")
	}

	chain := filepath.Join(f.dir, "site.chain.pem")
	good, _ := os.ReadFile(chain)
	broken := []struct {
		name  string
		apply func()
		want  string // in the error and a logged problem
	}{
		{"certificate file is garbage", func() {
			os.WriteFile(chain, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"), 0o644)
		}, "site[0].cert[0]"},
		{"config is not TOML", func() { os.WriteFile(f.path, []byte("[server\nhttps = "), 0o644) }, "end table name"},
		{"bad value and a backend change", func() {
			c := cfg
			c.Backend = backend(t, "three")
			c.Extra = "[tls]\nmin_version = \"1.4\""
			f.write(t, c)
		}, "tls.min_version"},
		{"config file missing", func() { os.Remove(f.path) }, "reading configuration"},
	}
	for _, b := range broken {
		b.apply()
		before := len(f.logs.Lines())
		err := d.Reload()
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: reload = %v, want a failure naming %s", b.name, err, b.want)
		}
		logged := f.logs.Lines()[before:]
		if !contains(logged, reloadFailed) || !contains(logged, b.want) {
			t.Errorf("%s: logged %q, want %q lines naming %s", b.name, logged, reloadFailed, b.want)
		}
		if body, serial := fetch(t, cfg.HTTPS, "/x", roots); body != "two /x" || serial != want {
			t.Errorf("%s: after the refused reload: %q with certificate %s, want the previous %q with %s", b.name, body, serial, "two /x", want)
		}
		os.WriteFile(chain, good, 0o644)
		f.write(t, cfg)
	}
	if err := d.Reload(); err != nil {
		t.Fatalf("reload with the files repaired: %v", err)
	}
}

// TestRebind: a reload that moves the listeners binds the new addresses
// before giving up the old ones; a request in flight on a connection
// accepted on an old address finishes; an address that cannot be bound
// fails the reload.
func TestRebind(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	started, release := make(chan string, 1), make(chan struct{})
	cfg := siteConfig{HTTPS: loopback(t), HTTP: loopback(t), Backend: slowBackend(t, "b", started, release), Cert: "site"}
	f.write(t, cfg)
	d := f.start(t)
	roots := f.ca.Pool()
	old := dial1(t, cfg.HTTPS, roots)
	old.get(t, "/before")
	old.c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(old.c, "GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
	<-started

	moved := cfg
	moved.HTTPS, moved.HTTP = loopback(t), loopback(t)
	f.write(t, moved)
	if err := d.Reload(); err != nil {
		t.Fatalf("moving the listeners: %v", err)
	}
	if https, http := d.Addrs(); https != moved.HTTPS || http != moved.HTTP {
		t.Errorf("Addrs() = %s, %s; want %s, %s", https, http, moved.HTTPS, moved.HTTP)
	}
	fetch(t, moved.HTTPS, "/moved", roots)
	for _, addr := range []string{cfg.HTTPS, cfg.HTTP} {
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", addr)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: %v, want connection refused", addr, err)
		}
	}
	close(release)
	if resp, err := http.ReadResponse(old.r, nil); err != nil {
		t.Errorf("the request in flight on the old address: %v", err)
	} else if body, _ := io.ReadAll(resp.Body); string(body) != "b /slow" {
		t.Errorf("the request in flight on the old address: %q", body)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout: 5 * time.Second}).Get("http://" + moved.HTTP + "/r?q")
	if err != nil {
		t.Fatalf("the moved plain listener: %v", err)
	}
	resp.Body.Close()
	if want := fmt.Sprintf("https://127.0.0.1:%s/r?q", moved.HTTPS[strings.LastIndex(moved.HTTPS, ":")+1:]); resp.StatusCode != 301 || resp.Header.Get("Location") != want {
		t.Errorf("the moved plain listener answered %d %q, want 301 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := moved
	taken.HTTPS = busy.Addr().String()
	f.write(t, taken)
	if err := d.Reload(); err == nil || !strings.Contains(err.Error(), "listening on server.https "+taken.HTTPS) {
		t.Errorf("reload onto a taken address: %v, want it refused naming the address", err)
	}
	fetch(t, moved.HTTPS, "/still-here", roots)
}

// TestRestartOnly: keys fixed for the process's life are reported at every
// reload whose file differs from what the process started with; the
// others (limits included) take effect.
func TestRestartOnly(t *testing.T) {
	first, _, err := config.Parse("[[site]]\nnames = [\"a.example\"]\nbackend = \"http://127.0.0.1:1\"\n", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := *first
	cfg.Server.Metrics = "127.0.0.1:9"
	cfg.Server.ReadHeaderTimeout.Duration = time.Second
	cfg.Server.MaxConnections = 5
	cfg.Log.Level = "debug"
	if got, want := strings.Join(restartOnly(first, &cfg), ","), "server.metrics,log.level"; got != want {
		t.Errorf("restartOnly = %s, want %s", got, want)
	}
}

// TestLimitsReload: the connection limit and the handshake timeout are
// the Generation's: a reload changes them for new connections.
func TestLimitsReload(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	cfg := siteConfig{HTTPS: loopback(t), Backend: backend(t, "b"), Cert: "site"}
	f.write(t, cfg)
	d := f.start(t)
	if d.limiter.Max() != 0 {
		t.Fatalf("limit %d at start, want none", d.limiter.Max())
	}
	cfg.Extra = "" // server keys are in the template: edit the file
	src := strings.Replace(cfg.String(), "[server]\n", "[server]\nmax_connections = 1\n", 1)
	src = strings.Replace(src, `read_header_timeout = "5s"`, `read_header_timeout = "200ms"`, 1)
	if err := os.WriteFile(f.path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if d.limiter.Max() != 1 {
		t.Errorf("limit %d after the reload, want 1", d.limiter.Max())
	}
	// A client that never sends its ClientHello is cut by the new timeout.
	c, err := net.Dial("tcp", cfg.HTTPS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the silent connection got data, want it closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("the silent connection was not closed within 10s: the reloaded read_header_timeout (200ms) does not apply")
	}
}
