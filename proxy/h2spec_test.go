package proxy

import (
	"go/build"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tlsfront/internal/itest"
)

// h2specSummary matches h2spec's last line: "146 tests, 146 passed, 0
// skipped, 0 failed".
var h2specSummary = regexp.MustCompile(`(?m)^(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed$`)

// TestH2Spec runs h2spec (github.com/summerwind/h2spec v2.2.1, strict mode:
// every case) against the server proxying to a Go backend: no case may
// fail. (Go's own server fails 4 of them, nginx 1.22 fails 25.)
func TestH2Spec(t *testing.T) {
	bin := h2specPath(t)
	verifyNoLeaksH2(t)
	hs := startH2(t, newTransportHandler(t, h2Backend(t).URL), H2Options{})
	_, port, _ := net.SplitHostPort(hs.addr)
	out, err := exec.Command(bin, "-h", "127.0.0.1", "-p", port, "-t", "-k", "-o", "5", "-S").CombinedOutput()
	m := h2specSummary.FindSubmatch(out)
	if m == nil {
		t.Fatalf("h2spec printed no summary (%v):\n%s", err, out)
	}
	total, _ := strconv.Atoi(string(m[1]))
	skipped, _ := strconv.Atoi(string(m[3]))
	failed, _ := strconv.Atoi(string(m[4]))
	t.Logf("h2spec: %s", m[0])
	if testing.Verbose() {
		t.Logf("%s", out)
	}
	if failed > 0 || total < 146 {
		t.Fatalf("h2spec: %s\n%s", m[0], failures(string(out)))
	}
	if skipped > 0 {
		t.Logf("skipped:\n%s", failures(string(out)))
	}
}

// failures returns the part of h2spec's output after "Failures:".
func failures(out string) string {
	if i := strings.Index(out, "Failures:"); i >= 0 {
		return out[i:]
	}
	return out
}

// h2specPath finds h2spec in PATH or where go install puts it (scripts/test.sh
// installs it: go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible).
func h2specPath(t *testing.T) string {
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "h2spec")
	if _, err := exec.LookPath(p); err == nil {
		return p
	}
	return itest.RequireTool(t, "h2spec")
}

// TestH2SpecCanFail runs h2spec's connection-specific header cases against
// Go's own HTTP/2 server, which accepts such headers: the summary parser
// must see the failures, or TestH2Spec could not fail either.
func TestH2SpecCanFail(t *testing.T) {
	bin := h2specPath(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	out, _ := exec.Command(bin, "http2/8.1.2.2", "-h", "127.0.0.1", "-p", port, "-t", "-k", "-o", "2", "-S").CombinedOutput()
	m := h2specSummary.FindSubmatch(out)
	if m == nil {
		t.Fatalf("h2spec printed no summary:\n%s", out)
	}
	if failed, _ := strconv.Atoi(string(m[4])); failed == 0 {
		t.Fatalf("h2spec found no failure in Go's server, which accepts connection-specific headers:\n%s", out)
	}
}
