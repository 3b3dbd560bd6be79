package server

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"tlsfront/config"
	"tlsfront/headers"
)

// TestBuildProblems checks problem merging: config's problems and those
// found while loading what the file names come back together, each once,
// under the key and line it belongs to.
func TestBuildProblems(t *testing.T) {
	f := newFixture(t)
	served := f.leaf(t, "site")
	servedPin := headers.PinSHA256(served.Cert().RawSubjectPublicKeyInfo)
	if err := os.WriteFile(filepath.Join(f.dir, "bad.keys"), []byte("not base64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := siteConfig{HTTPS: "127.0.0.1:1", Backend: "http://127.0.0.1:2", Cert: "site"}
	tests := []struct {
		name string
		cfg  func(c *siteConfig)
		want []string // each a whole problem line: "line N: key: text" (prefix)
	}{
		{"a bad version is one problem, not also a cipher problem", func(c *siteConfig) {
			c.Extra = "[tls]\nmin_version = \"1.4\"\nciphers = \"ECDHE+AESGCM\""
		}, []string{`line 21: tls.min_version: "1.4" is not a TLS version`}},
		{"config and certificate problems at once", func(c *siteConfig) {
			c.Cert = "missing"
			c.Extra = "[tls]\nprofile = \"paranoid\""
		}, []string{`line 21: tls.profile: "paranoid" is not a profile`, "line 17: site[0].cert[0]: "}},
		{"ticket keys", func(c *siteConfig) {
			c.Extra = "[tls]\nticket_keys = \"bad.keys\""
		}, []string{"line 21: tls.ticket_keys: session ticket keys"}},
		{"HPKP without a backup pin", func(c *siteConfig) {
			c.Extra = "[headers.hpkp]\nenabled = true\nbackup_pins = [\"" + servedPin + "\"]"
		}, []string{`line 22: headers.hpkp.backup_pins: site "localhost": `}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.cfg(&c)
			path := filepath.Join(f.dir, "t.toml")
			if err := os.WriteFile(path, []byte(c.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, fromConfig, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			g, err := build(cfg, fromConfig, buildEnv{logger: zerolog.Nop(), now: time.Now(), check: true})
			var ce *config.Error
			if g != nil || !errors.As(err, &ce) {
				t.Fatalf("build = %v, %v; want a *config.Error", g, err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(tt.want), err)
			}
			for _, w := range tt.want {
				found := false
				for _, p := range ce.Problems {
					found = found || strings.HasPrefix(p.String(), w)
				}
				if !found {
					t.Errorf("no problem starting %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestFailedBuildLeaksNothing: a reload that fails, early (a problem in
// the file) or after everything was built (an address it cannot bind),
// leaves no goroutine and no file descriptor behind, and the old
// Generation serving.
func TestFailedBuildLeaksNothing(t *testing.T) {
	f := newFixture(t)
	served := f.leaf(t, "site")
	servedPin := headers.PinSHA256(served.Cert().RawSubjectPublicKeyInfo)
	good := siteConfig{HTTPS: loopback(t), HTTP: loopback(t), Backend: backend(t, "a"), Cert: "site"}
	on := strings.Replace(good.String(), "stapling = false", "stapling = true", 1) // a stapler to close too
	if err := os.WriteFile(f.path, []byte(on), 0o644); err != nil {
		t.Fatal(err)
	}
	d := f.start(t)
	first := d.cur.Load()
	if first.stapler == nil {
		t.Fatal("no stapler: the test would not prove it is closed")
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	breakages := []struct {
		name string
		src  string
		want string
	}{
		{"HPKP problem after the certificates and stapler", strings.Replace(on, "[log]",
			"[headers.hpkp]\nenabled = true\nbackup_pins = [\""+servedPin+"\"]\n[log]", 1), "headers.hpkp.backup_pins"},
		{"https address taken: everything built, then refused", strings.Replace(on, good.HTTPS, busy.Addr().String(), 1), "listening on server.https"},
		{"http address taken after the https one was bound", strings.Replace(strings.Replace(on, good.HTTPS, loopback(t), 1),
			good.HTTP, busy.Addr().String(), 1), "listening on server.http"},
	}
	ignore := goleak.IgnoreCurrent()
	fds := openFDs(t)
	for _, b := range breakages {
		if err := os.WriteFile(f.path, []byte(b.src), 0o644); err != nil {
			t.Fatal(err)
		}
		err := d.Reload()
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Fatalf("%s: reload = %v, want a failure naming %s", b.name, err, b.want)
		}
		if err := goleak.Find(ignore); err != nil {
			t.Errorf("%s: goroutines left behind: %v", b.name, err)
		}
		if n := openFDs(t); n != fds {
			t.Errorf("%s: %d open files after the failed reload, %d before", b.name, n, fds)
		}
		if d.cur.Load() != first {
			t.Fatalf("%s: the failed reload replaced the serving generation", b.name)
		}
	}
	if body, _ := fetch(t, good.HTTPS, "/still", f.ca.Pool()); body != "a /still" {
		t.Errorf("after the failed reloads: %q", body)
	}
}
