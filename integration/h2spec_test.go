package integration

import (
	"strconv"
	"testing"

	"tlsfront/internal/itest"
)

// TestH2SpecThroughBinary is issue 16's conformance proof: h2spec, strict,
// against the tlsfront binary with server.http2 = "tlsfront" proxying to
// Apache: all 146 cases pass. The same run against server.http2 = "go"
// (net/http's server) must find failures, or the summary parser could not
// see any (Go's server fails 4 cases, TESTING.md).
func TestH2SpecThroughBinary(t *testing.T) {
	t.Parallel()
	apache := itest.StartApache(t, itest.ApacheOptions{})
	for _, h2 := range h2Servers {
		t.Run(h2, func(t *testing.T) {
			f := startHostile(t, hostileOptions{Backend: apache.URL, HTTP2: h2})
			r, out := itest.H2Spec(t, strconv.Itoa(f.HTTPSPort), 5)
			t.Logf("h2spec against server.http2 = %q: %s", h2, r.Line)
			switch h2 {
			case "tlsfront":
				if r.Failed != 0 || r.Total < 146 || r.Passed+r.Skipped != r.Total {
					t.Errorf("h2spec: %s, want 146 tests and 0 failed\n%s", r.Line, itest.H2SpecFailures(out))
				}
				if r.Skipped > 0 {
					t.Logf("skipped:\n%s", itest.H2SpecFailures(out))
				}
				// The cases reached Apache: h2spec's requests were proxied.
				if n := len(apache.Requests(t)); n < 50 {
					t.Errorf("Apache logged %d requests during h2spec's run, want the requests of its cases", n)
				}
			case "go":
				if r.Failed == 0 {
					t.Errorf("h2spec found no failure in net/http's HTTP/2 server (%s): the summary parser sees none", r.Line)
				}
				t.Logf("net/http's failures:\n%s", itest.H2SpecFailures(out))
			}
		})
	}
}
