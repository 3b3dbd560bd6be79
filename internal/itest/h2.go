package itest

import (
	"crypto/tls"
	gobuild "go/build"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// H2SpecResult is h2spec's summary line, parsed.
type H2SpecResult struct {
	Line                           string // "146 tests, 146 passed, 0 skipped, 0 failed"
	Total, Passed, Skipped, Failed int
}

var h2specSummary = regexp.MustCompile(`(?m)^(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed$`)

// ParseH2Spec reads h2spec's summary line from its output.
func ParseH2Spec(out string) (H2SpecResult, bool) {
	m := h2specSummary.FindStringSubmatch(out)
	if m == nil {
		return H2SpecResult{}, false
	}
	r := H2SpecResult{Line: m[0]}
	r.Total, _ = strconv.Atoi(m[1])
	r.Passed, _ = strconv.Atoi(m[2])
	r.Skipped, _ = strconv.Atoi(m[3])
	r.Failed, _ = strconv.Atoi(m[4])
	return r, true
}

// H2Spec runs h2spec (github.com/summerwind/h2spec, which scripts/test.sh
// installs with go install) in strict mode (-S: every case, or the cases
// named) against 127.0.0.1:port over TLS without verifying the test
// certificate, waiting timeout seconds for each answer. It returns the
// summary and the whole output; h2spec missing, the test skips, or fails
// under CI=true.
func H2Spec(t testing.TB, port string, timeout int, cases ...string) (H2SpecResult, string) {
	t.Helper()
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		bin = filepath.Join(gobuild.Default.GOPATH, "bin", "h2spec")
		if _, err := exec.LookPath(bin); err != nil {
			bin = RequireTool(t, "h2spec")
		}
	}
	args := append(append([]string{}, cases...), "-h", "127.0.0.1", "-p", port, "-t", "-k", "-o", strconv.Itoa(timeout), "-S")
	out, err := exec.Command(bin, args...).CombinedOutput()
	r, ok := ParseH2Spec(string(out))
	if !ok {
		t.Fatalf("h2spec printed no summary (%v):\n%s", err, out)
	}
	return r, string(out)
}

// H2SpecFailures returns the part of h2spec's output after "Failures:".
func H2SpecFailures(out string) string {
	if i := strings.Index(out, "Failures:"); i >= 0 {
		return out[i:]
	}
	return out
}

// HTTP2Server tells which of tlsfront's HTTP/2 servers answers on c, a TLS
// connection that negotiated "h2", by its first SETTINGS frame: net/http's
// announces SETTINGS_MAX_FRAME_SIZE (tlsfront configures it at 1 MiB),
// tlsfront's own reads frames of the default 16 KiB and announces none.
// It returns "go" or "tlsfront".
func HTTP2Server(t testing.TB, c *tls.Conn) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatalf("reading the server's SETTINGS: %v", err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("the server's first frame is %v, want SETTINGS", f.Header())
	}
	if _, ok := sf.Value(http2.SettingMaxFrameSize); ok {
		return "go"
	}
	return "tlsfront"
}
