package integration

import (
	"net/http"
	"os"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// TestApplianceSocketActivation runs tlsfront the way tlsfront.socket and
// tlsfront-http.socket do, with systemd's own activator: the sockets named
// "https" and "http" are served whatever the file's addresses say, a
// reload keeps them, and SIGTERM drains and exits 0.
func TestApplianceSocketActivation(t *testing.T) {
	t.Parallel()
	activate := itest.RequireTool(t, "systemd-socket-activate")
	dir := t.TempDir()
	ca := testca.New(t)
	roots := ca.Pool()
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
	cfg := applianceConfig{
		HTTPS: loopback(t), HTTP: loopback(t), Backend: echoBackend(t).URL, Cert: "site.chain.pem", Key: "site.key",
		Server: `watch_interval = "0s"`, Log: "access = false",
	}
	httpsSock, httpSock := loopback(t), loopback(t)
	// The activator binds both, and execs tlsfront (same process) on the
	// first connection: the readiness probe's.
	f := itest.StartTlsfrontWith(t, dir, cfg.String(), itest.TlsfrontOptions{
		Wrap:   []string{activate, "-l", httpsSock, "-l", httpSock, "--fdname=https:http"},
		NoWait: true,
	})
	f.WaitServing(httpsSock)
	httpsGet(t, httpsSock, "/activated", roots)
	requireRefused(t, cfg.HTTPS)

	noFollow := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get("http://" + httpSock + "/x")
	if err != nil {
		t.Fatalf("GET on the activated http socket: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("the activated http socket answered %d, want 301", resp.StatusCode)
	}

	moved := cfg
	moved.HTTPS = loopback(t)
	if err := os.WriteFile(f.ConfigPath, []byte(moved.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, problems := hup(t, f); !ok {
		t.Fatalf("reload: %q", problems)
	}
	httpsGet(t, httpsSock, "/after-reload", roots) // the sockets come from systemd, not the file
	requireRefused(t, moved.HTTPS)

	f.Signal(sigterm)
	if code := f.Wait(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}
