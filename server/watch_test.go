package server

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tlsfront/config"
)

// TestFingerprint: what a certbot renewal does to a file changes the
// fingerprint (new contents, a file renamed over another with the same
// size and modification time, a file removed); reading the files does not.
func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem")
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "one")
	write(b, "two")
	files := []string{a, b}
	sum := fingerprint(files)
	if _, err := os.ReadFile(a); err != nil {
		t.Fatal(err)
	}
	if fingerprint(files) != sum {
		t.Fatal("reading a file changed the fingerprint: every reload would trigger another")
	}
	steps := []struct {
		name string
		do   func()
	}{
		{"new contents", func() { write(a, "ONE") }},
		{"renamed over with the same size and mtime", func() {
			tmp := filepath.Join(dir, "tmp")
			write(tmp, "TWO")
			fi, _ := os.Stat(b)
			os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
			if err := os.Rename(tmp, b); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed", func() { os.Remove(a) }},
	}
	for _, s := range steps {
		s.do()
		now := fingerprint(files)
		if now == sum {
			t.Errorf("%s: the fingerprint did not change", s.name)
		}
		sum = now
	}
}

// TestWatchList: certificates, keys, issuers and the ticket key file are
// watched, nothing else.
func TestWatchList(t *testing.T) {
	cfg, ps, err := config.Parse(`[tls]
ticket_keys = "/k/tickets"
[[site]]
names = ["a.example"]
backend = "http://127.0.0.1:1"
  [[site.cert]]
  cert = "/c/a.pem"
  key = "/c/a.key"
  issuer = "/c/ca.pem"
[[site]]
names = ["b.example"]
backend = "http://127.0.0.1:2"
`, "")
	if err != nil || len(ps) > 0 {
		t.Fatal(err, ps)
	}
	want := []string{"/c/a.pem", "/c/a.key", "/c/ca.pem", "/k/tickets"}
	if got := watchList(cfg); !slices.Equal(got, want) {
		t.Errorf("watchList = %v, want %v", got, want)
	}
}

// TestWatchFiles: with watch_interval set, a certificate replaced on disk
// is reported, and nothing when nothing changes.
func TestWatchFiles(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	cfg := siteConfig{HTTPS: loopback(t), Backend: backend(t, "b"), Cert: "site"}
	src := strings.Replace(cfg.String(), `watch_interval = "0s"`, `watch_interval = "20ms"`, 1)
	if err := os.WriteFile(f.path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	d := f.start(t)
	select {
	case <-d.changed:
		t.Fatal("a change was reported with no file changed")
	case <-time.After(200 * time.Millisecond):
	}
	f.leaf(t, "site") // the renewal
	select {
	case <-d.changed:
	case <-time.After(10 * time.Second):
		t.Fatal("the renewed certificate was not noticed within 10s")
	}
	time.Sleep(100 * time.Millisecond) // the key may have been written one check after the certificate
	select {
	case <-d.changed:
	default:
	}
	select {
	case <-d.changed:
		t.Error("a change was reported again with no file changed since")
	case <-time.After(200 * time.Millisecond):
	}
}

// TestReadAlready: a renewal writes the certificate and the key one after
// the other, and the watcher may report each; once a reload has read the
// files as they are, the second report causes no second reload.
func TestReadAlready(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	f.write(t, siteConfig{HTTPS: loopback(t), Backend: backend(t, "b"), Cert: "site"})
	d := f.start(t)
	if !d.readAlready() {
		t.Fatal("right after the start, the files are not those it read")
	}
	f.leaf(t, "site")
	if d.readAlready() {
		t.Fatal("a renewed certificate counts as read")
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if !d.readAlready() {
		t.Error("after the reload read the renewed files, a report of them would reload again")
	}
	os.WriteFile(filepath.Join(f.dir, "site.key"), []byte("half a renewal"), 0o600)
	if err := d.Reload(); err == nil {
		t.Fatal("a reload with a broken key succeeded")
	}
	if !d.readAlready() {
		t.Error("after a failed reload, the same broken files would be reloaded again")
	}
}
