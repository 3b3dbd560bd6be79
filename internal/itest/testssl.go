package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Finding is one testssl.sh result.
type Finding struct {
	// ID is the finding id without the " <cert#N>" suffix testssl.sh adds
	// when a server has several certificates.
	ID string `json:"id"`
	// Cert is "cert#N" for per-certificate findings of a multi-certificate
	// server; "" otherwise.
	Cert     string `json:"cert,omitempty"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
	CVE      string `json:"cve,omitempty"`
}

// TestsslResult is a testssl.sh run, indexed by finding id. Per-certificate
// ids of a multi-certificate server ("OCSP_stapling <cert#2>") are indexed
// under the bare id, one finding per certificate.
type TestsslResult struct {
	// Findings are all findings in the order testssl.sh wrote them.
	Findings []Finding
	// Output is testssl.sh's terminal output, for failure messages.
	Output string

	byID map[string][]Finding
}

// TestsslDefaultChecks are the check flags Testssl uses when none are given:
// protocols, standard cipher categories (the cipherlist_* ids), server
// preferences, forward secrecy, vulnerabilities, server defaults and
// headers. -p is always needed on Debian (see TESTING.md).
var TestsslDefaultChecks = []string{"-p", "-s", "-P", "-f", "-U", "-S", "-h"}

// Testssl runs testssl.sh against target (e.g. "https://127.0.0.1:8443/")
// with checks (TestsslDefaultChecks when none) and returns its JSON
// findings. It takes about 30-90 s; the run is bounded at 10 minutes.
func Testssl(t testing.TB, target string, checks ...string) TestsslResult {
	t.Helper()
	bin := RequireTool(t, "testssl")
	if len(checks) == 0 {
		checks = TestsslDefaultChecks
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	args := append([]string{"--quiet", "--color", "0", "--nodns", "none", "--warnings", "batch",
		"--jsonfile", out}, checks...)
	args = append(args, target)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var console SyncBuffer
	cmd.Stdout, cmd.Stderr = &console, &console
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("testssl did not finish within 10 minutes; output:\n%s", console.String())
	}
	// testssl.sh exits non-zero for findings too; the JSON is the result.
	data, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("testssl wrote no JSON (%v, exit %v); output:\n%s", rerr, err, console.String())
	}
	r, perr := ParseTestssl(data)
	if perr != nil {
		t.Fatalf("parsing testssl JSON: %v; output:\n%s", perr, console.String())
	}
	r.Output = console.String()
	if _, ok := r.Get("scanProblem"); ok || len(r.Findings) < 10 {
		t.Fatalf("testssl scan failed (exit %v, %d findings): %v\noutput:\n%s", err, len(r.Findings), r.All("scanProblem"), r.Output)
	}
	return r
}

// ParseTestssl parses testssl.sh JSON, flat (--jsonfile, an array) or
// pretty (--jsonfile-pretty, nested sections): every object with an "id"
// is a finding.
func ParseTestssl(data []byte) (TestsslResult, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return TestsslResult{}, err
	}
	r := TestsslResult{byID: map[string][]Finding{}}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if id, ok := x["id"].(string); ok {
				f := Finding{ID: id}
				if base, cert, ok := strings.Cut(id, " <"); ok && strings.HasSuffix(cert, ">") {
					f.ID, f.Cert = base, strings.TrimSuffix(cert, ">")
				}
				f.Severity, _ = x["severity"].(string)
				f.Finding, _ = x["finding"].(string)
				f.CVE, _ = x["cve"].(string)
				r.Findings = append(r.Findings, f)
				r.byID[f.ID] = append(r.byID[f.ID], f)
				return
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys) // deterministic order for pretty JSON
			for _, k := range keys {
				walk(x[k])
			}
		}
	}
	walk(v)
	if len(r.Findings) == 0 {
		return r, fmt.Errorf("no findings in testssl JSON")
	}
	return r, nil
}

// Get returns the first finding with this id.
func (r TestsslResult) Get(id string) (Finding, bool) {
	fs := r.byID[id]
	if len(fs) == 0 {
		return Finding{}, false
	}
	return fs[0], true
}

// All returns every finding with this id.
func (r TestsslResult) All(id string) []Finding { return r.byID[id] }

// IDs returns the distinct ids, sorted.
func (r TestsslResult) IDs() []string {
	out := make([]string, 0, len(r.byID))
	for id := range r.byID {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Require returns the finding with this id, failing the test if absent.
func (r TestsslResult) Require(t testing.TB, id string) Finding {
	t.Helper()
	f, ok := r.Get(id)
	if !ok {
		t.Fatalf("testssl reported no finding %q; ids: %v", id, r.IDs())
	}
	return f
}

// Offered reports whether testssl.sh found the protocol (id "SSLv2",
// "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3") offered. The finding text
// starts with "offered" or "not offered" (possibly with a qualifier).
func (r TestsslResult) Offered(t testing.TB, protocol string) bool {
	t.Helper()
	f := r.Require(t, protocol)
	switch {
	case strings.HasPrefix(f.Finding, "not offered"):
		return false
	case strings.HasPrefix(f.Finding, "offered"):
		return true
	}
	t.Fatalf("testssl finding %s = %q: neither offered nor not offered", protocol, f.Finding)
	return false
}

// ForwardSecrecy returns the forward-secrecy finding: id "FS" in
// testssl.sh 3.1+, "PFS" in 3.0.
func (r TestsslResult) ForwardSecrecy(t testing.TB) Finding {
	t.Helper()
	if f, ok := r.Get("FS"); ok {
		return f
	}
	return r.Require(t, "PFS")
}

// CipherCategoryOffered reports whether a cipher category (id
// "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
// "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE",
// "cipherlist_STRONG") was found offered.
func (r TestsslResult) CipherCategoryOffered(t testing.TB, id string) bool {
	t.Helper()
	return r.Offered(t, id)
}

// NotVulnerable reports whether the vulnerability check id (e.g.
// "heartbleed", "CRIME_TLS", "POODLE_SSL", "FREAK", "LOGJAM", "DROWN",
// "ROBOT") passed: severity OK and a finding starting with "not
// vulnerable" (testssl.sh 3.0 adds the reason, as in "not vulnerable, no
// heartbeat extension").
func (r TestsslResult) NotVulnerable(t testing.TB, id string) bool {
	t.Helper()
	fs := r.All(id)
	if len(fs) == 0 {
		r.Require(t, id)
	}
	for _, f := range fs {
		if f.Severity != "OK" || !strings.HasPrefix(f.Finding, "not vulnerable") {
			return false
		}
	}
	return true
}

// String lists every finding, one per line, for failure messages.
func (r TestsslResult) String() string {
	var b strings.Builder
	for _, f := range r.Findings {
		id := f.ID
		if f.Cert != "" {
			id += " <" + f.Cert + ">"
		}
		fmt.Fprintf(&b, "%s [%s] %s\n", id, f.Severity, f.Finding)
	}
	return b.String()
}
