package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// TestCheckConfig is `apache2ctl -t` for tlsfront: a good file passes, and
// a file with several problems fails naming every one of them.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testca.New(t)
	ca.Leaf(t, testca.LeafOptions{KeyType: "rsa2048"}).WriteFilesAs(dir, "rsa")
	ca.Leaf(t, testca.LeafOptions{}).WriteFilesAs(dir, "ecdsa")

	good := `[server]
https = "127.0.0.1:1"
http = "127.0.0.1:2"
state_dir = "state"
[tls]
profile = "tutorial"
[headers]
hsts = "max-age=63072000; includeSubDomains; preload"
[[site]]
names = ["localhost"]
backend = "http://127.0.0.1:8081"
  [[site.cert]]
  cert = "rsa.chain.pem"
  key = "rsa.key"
  [[site.cert]]
  cert = "ecdsa.chain.pem"
  key = "ecdsa.key"
[log]
level = "info"
format = "json"
`
	bad := strings.NewReplacer(
		"[server]\n", "[server]\nlisten_backlog = 5\n", // unknown key
		`profile = "tutorial"`, `profile = "tutorial"`+"\nmin_version = \"1.4\"", // not a TLS version
		`cert = "ecdsa.chain.pem"`, `cert = "missing.chain.pem"`, // no such file
	).Replace(good)
	if bad == good || strings.Count(bad, "listen_backlog")+strings.Count(bad, `"1.4"`)+strings.Count(bad, "missing.chain") != 3 {
		t.Fatalf("bad config not built as intended:\n%s", bad)
	}

	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("good", func(t *testing.T) {
		stdout, stderr, code := itest.RunTlsfront(t, "-t", "-config", write("good.toml", good))
		if code != 0 || !strings.Contains(stdout, "configuration ok") {
			t.Errorf("exit %d, stdout %q, want 0 and \"configuration ok\"\nstderr:\n%s", code, stdout, stderr)
		}
	})
	t.Run("three problems", func(t *testing.T) {
		stdout, stderr, code := itest.RunTlsfront(t, "-t", "-config", write("bad.toml", bad))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if strings.Contains(stdout, "configuration ok") {
			t.Errorf("stdout says ok: %q", stdout)
		}
		for _, want := range []struct{ problem, text string }{
			{"unknown key", "listen_backlog"},
			{"bad min_version", "min_version"},
			{"bad min_version value", `"1.4"`},
			{"missing cert file", "missing.chain.pem"},
		} {
			if !strings.Contains(stderr, want.text) {
				t.Errorf("stderr does not name the %s (%q):\n%s", want.problem, want.text, stderr)
			}
		}
	})
}

// TestVersion checks the version subcommand.
func TestVersion(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := itest.RunTlsfront(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "tlsfront ") {
		t.Errorf("tlsfront version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestGracefulStop proves SIGTERM ends tlsfront with exit code 0 and a
// self-signed certificate is generated when no [[site.cert]] is given.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	f := startFront(t, frontOptions{NoHTTP: true, Backend: "http://127.0.0.1:9"})
	r := itest.SClient(t, itest.SClientOptions{Port: f.Front.HTTPSPort, ServerName: "localhost"})
	if !r.Connected || r.PeerKeyType != "ecdsa256" {
		t.Errorf("generated certificate: %s, want an ECDSA P-256 certificate", r)
	}
	if entries, err := os.ReadDir(filepath.Join(f.Dir, "state")); err != nil || len(entries) == 0 {
		t.Errorf("state_dir %s is empty or missing (%v): the generated certificate belongs there", filepath.Join(f.Dir, "state"), err)
	}
	f.Front.Signal(sigterm)
	if code := f.Front.Wait(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\n%s", code, f.Front.Logs())
	}
	for _, line := range f.Front.LogLines() {
		if _, ok := line["level"]; !ok {
			t.Errorf("log line without level: %v", line)
		}
	}
	if len(f.Front.LogLines()) == 0 {
		t.Errorf("no JSON log lines on stderr:\n%s", f.Front.Logs())
	}
}
