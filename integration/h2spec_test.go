package integration

import (
	"go/build"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tlsfront/internal/itest"
)

// h2specSummary matches h2spec's summary line: "146 tests, 146 passed, 0
// skipped, 0 failed".
var h2specSummary = regexp.MustCompile(`(?m)^(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed$`)

// h2specResult is h2spec's summary.
type h2specResult struct {
	line                           string
	total, passed, skipped, failed int
}

// parseH2spec reads h2spec's summary line from its output.
func parseH2spec(out string) (h2specResult, bool) {
	m := h2specSummary.FindStringSubmatch(out)
	if m == nil {
		return h2specResult{}, false
	}
	r := h2specResult{line: m[0]}
	r.total, _ = strconv.Atoi(m[1])
	r.passed, _ = strconv.Atoi(m[2])
	r.skipped, _ = strconv.Atoi(m[3])
	r.failed, _ = strconv.Atoi(m[4])
	return r, true
}

// h2specBin finds h2spec in PATH or where go install puts it
// (scripts/test.sh installs github.com/summerwind/h2spec/cmd/h2spec
// v2.2.1); missing, the test skips, or fails under CI=true.
func h2specBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "h2spec")
	if _, err := exec.LookPath(p); err == nil {
		return p
	}
	return itest.RequireTool(t, "h2spec")
}

// runH2spec runs h2spec in strict mode (every case, -S) against addr's
// port, with TLS (-t) and without verifying the test certificate (-k).
func runH2spec(t *testing.T, bin, port string, cases ...string) (h2specResult, string) {
	t.Helper()
	args := append(append([]string{}, cases...), "-h", "127.0.0.1", "-p", port, "-t", "-k", "-o", "5", "-S")
	out, err := exec.Command(bin, args...).CombinedOutput()
	r, ok := parseH2spec(string(out))
	if !ok {
		t.Fatalf("h2spec printed no summary (%v):\n%s", err, out)
	}
	return r, string(out)
}

// TestH2SpecThroughBinary is issue 16's conformance proof: h2spec, strict,
// against the tlsfront binary with server.http2 = "tlsfront" proxying to
// Apache: all 146 cases pass. The same run against server.http2 = "go"
// (net/http's server) must find failures, or the summary parser could not
// see any (Go's server fails 4 cases, TESTING.md).
func TestH2SpecThroughBinary(t *testing.T) {
	t.Parallel()
	bin := h2specBin(t)
	apache := itest.StartApache(t, itest.ApacheOptions{})
	for _, h2 := range h2Servers {
		t.Run(h2, func(t *testing.T) {
			f := startHostile(t, hostileOptions{Backend: apache.URL, HTTP2: h2})
			r, out := runH2spec(t, bin, strconv.Itoa(f.HTTPSPort))
			t.Logf("h2spec against server.http2 = %q: %s", h2, r.line)
			switch h2 {
			case "tlsfront":
				if r.failed != 0 || r.total < 146 || r.passed+r.skipped != r.total {
					t.Errorf("h2spec: %s, want 146 tests and 0 failed\n%s", r.line, failuresOf(out))
				}
				if r.skipped > 0 {
					t.Logf("skipped:\n%s", failuresOf(out))
				}
				// The cases reached Apache: h2spec's requests were proxied.
				if n := len(apache.Requests(t)); n < 50 {
					t.Errorf("Apache logged %d requests during h2spec's run, want the requests of its cases", n)
				}
			case "go":
				if r.failed == 0 {
					t.Errorf("h2spec found no failure in net/http's HTTP/2 server (%s): the summary parser sees none", r.line)
				}
				t.Logf("net/http's failures:\n%s", failuresOf(out))
			}
		})
	}
}

// failuresOf returns the part of h2spec's output after "Failures:".
func failuresOf(out string) string {
	if i := strings.Index(out, "Failures:"); i >= 0 {
		return out[i:]
	}
	return out
}
