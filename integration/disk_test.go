package integration

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// goodResponder is an OCSP responder on 127.0.0.1 answering Good for
// leaf, with a fresh response each time.
func goodResponder(t *testing.T, leaf **testca.Leaf) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var der []byte
		var err error
		if r.Method == http.MethodPost {
			der, err = io.ReadAll(r.Body)
		} else {
			der, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(r.URL.Path, "/"))
		}
		if err == nil {
			_, err = ocsp.ParseRequest(der)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		l := *leaf
		now := time.Now().Truncate(time.Second)
		resp, err := ocsp.CreateResponse(l.Issuer(), l.Issuer(), ocsp.Response{
			Status: ocsp.Good, SerialNumber: l.Cert().SerialNumber,
			ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
		}, l.IssuerKey())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// nsFront is a tlsfront running in a private mount namespace whose
// state_dir is a small tmpfs the test can fill or make read-only.
type nsFront struct {
	*itest.Tlsfront
	addr  string
	state string
}

// startInMountNS runs tlsfront with cfg (state_dir = state) under
// `unshare -m`, after mounting a tmpfs of tmpfsSize on state and running
// prepare (a shell snippet, "" for none) in the namespace.
func startInMountNS(t *testing.T, dir, cfg, state, addr, tmpfsSize, prepare string) *nsFront {
	t.Helper()
	unshare := itest.RequireTool(t, "unshare")
	itest.RequireTool(t, "nsenter")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	// unshare and sh exec: the same process ends as tlsfront, so PID is its.
	script := `mount -t tmpfs -o size="$SIZE" tlsfront-state "$STATE" && ` + prepare + ` exec "$@"`
	f := itest.StartTlsfrontWith(t, dir, cfg, itest.TlsfrontOptions{
		Wrap: []string{unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh"},
		Env:  []string{"SIZE=" + tmpfsSize, "STATE=" + state},
	})
	return &nsFront{Tlsfront: f, addr: addr, state: state}
}

// inNS runs a shell snippet in f's mount namespace; STATE is set.
func (f *nsFront) inNS(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("nsenter", "-t", fmt.Sprint(f.PID), "-m", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "STATE="+f.state)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in tlsfront's mount namespace: %s: %v\n%s", script, err, out)
	}
	return string(out)
}

// serves checks that f answers a request and staples an OCSP response.
func (f *nsFront) serves(t *testing.T, when string) {
	t.Helper()
	c, err := tls.Dial("tcp", f.addr, clientTLS("http/1.1"))
	if err != nil {
		t.Fatalf("%s: handshake: %v", when, err)
	}
	defer c.Close()
	if len(c.ConnectionState().OCSPResponse) == 0 {
		t.Errorf("%s: no OCSP staple", when)
	}
	io.WriteString(c, "GET /disk HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 200")) {
		t.Errorf("%s: answered %q, want 200", when, b)
	}
}

// waitOutput waits up to 15 s for s in f's output.
func (f *nsFront) waitOutput(t *testing.T, s, when string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(f.Logs(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: tlsfront did not report %q:\n%s", when, s, f.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStateDirFaults runs tlsfront with its state_dir on a small tmpfs of
// its own and breaks the disk under it: filled to the last byte, then
// remounted read-only, with a reload after each (which fetches and tries
// to cache OCSP responses: the cached file is removed first, as for a new
// certificate), and a start on a read-only state_dir. tlsfront
// keeps serving with staples and logs each problem.
func TestStateDirFaults(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		itest.SkipOrFail(t, "root (for unshare -m and mount)")
	}
	var leaf *testca.Leaf
	responder := goodResponder(t, &leaf)
	ca := testca.New(t)
	leaf = ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}, OCSPServer: []string{responder}})
	backend := startFakeBackend(t, nil)

	config := func(dir, state string) (string, string) {
		leaf.WriteFilesAs(dir, "site")
		addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
		return fmt.Sprintf(`[server]
https = %q
http = ""
state_dir = %q
[ocsp]
prefetch_wait = "5s"
[[site]]
names = ["localhost"]
backend = %q
  [[site.cert]]
  cert = "site.chain.pem"
  key = "site.key"
[log]
format = "json"
`, addr, state, backend.URL()), addr
	}

	t.Run("full, then read-only, while serving", func(t *testing.T) {
		dir := t.TempDir()
		state := filepath.Join(dir, "state")
		cfg, addr := config(dir, state)
		f := startInMountNS(t, dir, cfg, state, addr, "512k", "")
		f.serves(t, "at start")
		if out := f.inNS(t, `ls "$STATE/ocsp"`); !strings.Contains(out, ".ocsp") {
			t.Fatalf("no OCSP cache file after start: %q", out)
		}

		// A reload staples from a cached response without asking the
		// responder; without the file it fetches and must write one (as
		// for a new certificate).
		f.inNS(t, `rm "$STATE"/ocsp/*.ocsp && dd if=/dev/zero of="$STATE/fill" bs=4k 2>/dev/null; df -k "$STATE" | tail -1`)
		f.Signal(syscall.SIGHUP)
		f.waitOutput(t, "reloaded", "disk full")
		f.waitOutput(t, "OCSP response not cached; stapling it anyway", "disk full")
		if !strings.Contains(f.Logs(), "no space left on device") {
			t.Errorf("disk full: the log does not name the error:\n%s", f.Logs())
		}
		f.serves(t, "disk full")

		f.inNS(t, `rm -f "$STATE/fill" "$STATE"/ocsp/*.ocsp && mount -o remount,ro "$STATE"`)
		before := strings.Count(f.Logs(), "OCSP response not cached")
		f.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(15 * time.Second)
		for strings.Count(f.Logs(), "OCSP response not cached") == before {
			if time.Now().After(deadline) {
				t.Fatalf("read-only: no cache failure reported after the reload:\n%s", f.Logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(f.Logs(), "read-only file system") {
			t.Errorf("read-only: the log does not name the error:\n%s", f.Logs())
		}
		f.serves(t, "read-only")
	})

	t.Run("start on a read-only state_dir", func(t *testing.T) {
		dir := t.TempDir()
		state := filepath.Join(dir, "state")
		cfg, addr := config(dir, state)
		f := startInMountNS(t, dir, cfg, state, addr, "512k", `mount -o remount,ro "$STATE" &&`)
		f.waitOutput(t, "OCSP cache unavailable", "read-only at start")
		f.serves(t, "read-only at start")
	})
}
