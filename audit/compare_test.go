package audit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// testsslProtocols maps testssl.sh's protocol ids to report names.
var testsslProtocols = map[string]string{
	"SSLv2": "SSLv2", "SSLv3": "SSLv3", "TLS1": "TLS 1.0", "TLS1_1": "TLS 1.1", "TLS1_2": "TLS 1.2", "TLS1_3": "TLS 1.3",
}

// testsslOrderIDs maps the cipherorder_* and cipher-<proto>_x* id parts to
// report names.
var testsslOrderIDs = map[string]string{
	"SSLv3": "SSLv3", "TLSv1": "TLS 1.0", "TLSv1_1": "TLS 1.1", "TLSv1_2": "TLS 1.2", "TLSv1_3": "TLS 1.3",
	"ssl3": "SSLv3", "tls1": "TLS 1.0", "tls1_1": "TLS 1.1", "tls1_2": "TLS 1.2", "tls1_3": "TLS 1.3",
}

// compareTestssl asserts that the report agrees with testssl.sh on the
// protocols, the suites per protocol (in order where the server imposes
// one), the cipher order and the SCSV, compression, heartbeat and
// renegotiation findings.
func compareTestssl(t testing.TB, rep *Report, ts itest.TestsslResult) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("testssl.sh findings:\n%s", ts.String())
		}
	}()
	mine := map[string]ProtocolResult{}
	for _, p := range rep.Protocols {
		mine[p.Name] = p
	}
	for id, name := range testsslProtocols {
		f := ts.Require(t, id).Finding
		var want bool
		switch {
		case strings.HasPrefix(f, "offered"):
			want = true
		case strings.Contains(f, "not offered"):
			// Also "TLSv1.1 is not offered, and downgraded to a weaker protocol".
		default:
			t.Errorf("testssl.sh %s = %q: neither offered nor not offered", id, f)
			continue
		}
		if got := mine[name].Offered; got != want {
			t.Errorf("%s: audit says offered=%v, testssl.sh %q", name, got, f)
		}
	}

	// The server's order, as testssl.sh states it (with -P).
	order := ""
	if f, ok := ts.Get("cipher_order"); ok {
		order = f.Finding
	}
	legacyOrder, tls13Order := "", ""
	switch {
	case order == "":
	case order == "server":
		legacyOrder, tls13Order = "server", "server"
	case strings.HasPrefix(order, "server -- TLS 1.3 client determined"):
		legacyOrder, tls13Order = "server", "client"
	case strings.HasPrefix(order, "not a cipher order for TLS 1.3"):
		tls13Order = "client"
	case strings.HasPrefix(order, "NOT a cipher order"):
		legacyOrder, tls13Order = "client", "client"
	default:
		t.Errorf("unknown testssl.sh cipher_order %q", order)
	}

	theirs := map[string][]uint16{} // protocol -> suites, in server order when listed by cipherorder_*
	ordered := map[string]bool{}
	for _, f := range ts.Findings {
		var proto string
		var ids []uint16
		switch {
		case strings.HasPrefix(f.ID, "cipherorder_"):
			proto = testsslOrderIDs[strings.TrimPrefix(f.ID, "cipherorder_")]
			for _, n := range strings.Fields(f.Finding) {
				id, ok := SuiteByName(n)
				if !ok {
					t.Errorf("testssl.sh suite %q is not in the suite table", n)
				}
				ids = append(ids, id)
			}
			ordered[proto] = true
		case strings.HasPrefix(f.ID, "cipher-"):
			p, hexID, ok := strings.Cut(strings.TrimPrefix(f.ID, "cipher-"), "_x")
			n, err := strconv.ParseUint(hexID, 16, 16)
			if !ok || err != nil {
				continue
			}
			proto = testsslOrderIDs[p]
			ids = []uint16{uint16(n)}
		default:
			continue
		}
		if proto == "" {
			t.Errorf("unknown testssl.sh id %s", f.ID)
			continue
		}
		theirs[proto] = append(theirs[proto], ids...)
	}
	compareSuites := order != "" || len(theirs) > 0
	for _, ps := range rep.Suites {
		if ps.version == VersionSSL2 || !compareSuites {
			continue
		}
		var got []uint16
		for _, s := range ps.Suites {
			got = append(got, uint16(s.code))
		}
		want, listed := theirs[ps.Protocol]
		wantOrder := legacyOrder
		if ps.version == VersionTLS13 {
			wantOrder = tls13Order
		}
		if wantOrder != "" && len(got) > 1 && ps.Order != wantOrder {
			t.Errorf("%s: audit says the %s chooses, testssl.sh cipher_order %q", ps.Protocol, ps.Order, order)
		}
		switch {
		case !listed && (wantOrder == "client" || order == "" && ps.Order == "client"):
			// testssl.sh lists suites with -P only where the server orders
			// them, and with -E otherwise.
			t.Logf("%s: testssl.sh lists no suites (the client chooses); not compared", ps.Protocol)
		case !listed:
			t.Errorf("%s: audit found %v, testssl.sh lists none", ps.Protocol, hexIDs(got))
		case ordered[ps.Protocol] && ps.Order == "server":
			if !slices.Equal(got, want) {
				t.Errorf("%s suites in server order:\n audit    %v\n testssl  %v", ps.Protocol, hexIDs(got), hexIDs(want))
			}
		default:
			if !slices.Equal(sorted(got), sorted(want)) {
				t.Errorf("%s suites:\n audit    %v\n testssl  %v", ps.Protocol, hexIDs(sorted(got)), hexIDs(sorted(want)))
			}
		}
		delete(theirs, ps.Protocol)
	}
	for proto, ids := range theirs {
		t.Errorf("%s: testssl.sh lists %v, the audit nothing", proto, hexIDs(ids))
	}

	f := rep.Features
	scsv := ts.Require(t, "fallback_SCSV").Finding
	compareFeatures(t, f, ts)
	switch {
	case scsv == "supported":
		if f.FallbackSCSV.State != "yes" {
			t.Errorf("fallback SCSV %+v, testssl.sh %q", f.FallbackSCSV, scsv)
		}
	case strings.HasPrefix(scsv, "NOT supported"):
		if f.FallbackSCSV.State != "no" {
			t.Errorf("fallback SCSV %+v, testssl.sh %q", f.FallbackSCSV, scsv)
		}
	case strings.HasPrefix(scsv, "no protocol below"), scsv == "only TLS 1.3 supported":
		// testssl.sh 3.0 only tries fallbacks below TLS 1.2; the audit also
		// tries TLS 1.3 -> TLS 1.2, and is n/a with a single protocol.
		if f.FallbackSCSV.State == "no" || f.FallbackSCSV.State == "yes" && !mine["TLS 1.3"].Offered {
			t.Errorf("fallback SCSV %+v, testssl.sh %q", f.FallbackSCSV, scsv)
		}
	default:
		t.Errorf("unknown testssl.sh fallback_SCSV %q", scsv)
	}

}

// compareFeatures compares compression, heartbeat and renegotiation where
// testssl.sh ran those checks (-C, -H, -R).
func compareFeatures(t testing.TB, f Features, ts itest.TestsslResult) {
	t.Helper()
	notVuln := func(id string) (bool, string, bool) {
		fd, ok := ts.Get(id)
		return strings.HasPrefix(fd.Finding, "not vulnerable") || strings.HasPrefix(fd.Finding, "TLS 1.3 only"), fd.Finding, ok
	}
	if ok, s, ran := notVuln("CRIME_TLS"); ran && ok != (f.Compression.State != "yes") {
		t.Errorf("compression %+v, testssl.sh CRIME_TLS %q", f.Compression, s)
	}
	if ok, s, ran := notVuln("heartbleed"); ran && ok != (f.Heartbleed.State != "yes") {
		t.Errorf("heartbleed %+v, testssl.sh %q", f.Heartbleed, s)
	} else if ran && strings.Contains(s, "no heartbeat extension") && f.Heartbeat.State == "yes" {
		t.Errorf("heartbeat %+v, testssl.sh %q", f.Heartbeat, s)
	}
	rf, ran := ts.Get("secure_renego")
	if !ran {
		return
	}
	reneg := rf.Finding
	switch {
	case reneg == "supported":
		if f.SecureRenegotiation.State != "yes" {
			t.Errorf("secure renegotiation %+v, testssl.sh %q", f.SecureRenegotiation, reneg)
		}
	case strings.Contains(reneg, "TLS 1.3 only"):
		if f.SecureRenegotiation.State != "n/a" {
			t.Errorf("secure renegotiation %+v, testssl.sh %q", f.SecureRenegotiation, reneg)
		}
	default:
		if f.SecureRenegotiation.State != "no" {
			t.Errorf("secure renegotiation %+v, testssl.sh %q", f.SecureRenegotiation, reneg)
		}
	}
}

func sorted(s []uint16) []uint16 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func hexIDs(ids []uint16) []string {
	var out []string
	for _, id := range ids {
		out = append(out, lookupSuite(id).suite().Name)
	}
	return out
}

// testsslScan is one testssl.sh run.
type testsslScan struct {
	result itest.TestsslResult
	err    error
}

// runTestssl runs testssl.sh like itest.Testssl but reports instead of
// failing, so that several scans can run at once from plain goroutines.
// The run is bounded by limit; then its whole process group is killed.
func runTestssl(bin, dir, target string, checks []string, limit time.Duration) testsslScan {
	out := filepath.Join(dir, "out.json")
	args := append([]string{"--quiet", "--color", "0", "--nodns", "none", "--warnings", "batch", "--jsonfile", out}, checks...)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, target)...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	console, runErr := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return testsslScan{err: fmt.Errorf("no result within %v (is the machine overloaded?): %s", limit.Round(time.Second), console)}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return testsslScan{err: fmt.Errorf("no JSON (%v, exit %v): %s", err, runErr, console)}
	}
	r, err := itest.ParseTestssl(data)
	r.Output = string(console)
	if err != nil {
		return testsslScan{result: r, err: err}
	}
	if p, ok := r.Get("scanProblem"); ok || len(r.Findings) < 10 {
		return testsslScan{result: r, err: fmt.Errorf("scan failed (exit %v, %d findings): %v", runErr, len(r.Findings), p)}
	}
	return testsslScan{result: r}
}

// recorder is a testing.TB that records errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}

func (r *recorder) Logf(string, ...any) {}

func (r *recorder) Failed() bool { return len(r.errs) > 0 }

// TestCompareTestssl shows that the comparison with testssl.sh fails when
// the two disagree on protocols, suites, order or features.
func TestCompareTestssl(t *testing.T) {
	rep := &Report{
		Protocols: []ProtocolResult{
			{Name: "SSLv2", version: VersionSSL2}, {Name: "SSLv3", version: VersionSSL3},
			{Name: "TLS 1.0", version: VersionTLS10}, {Name: "TLS 1.1", version: VersionTLS11},
			{Name: "TLS 1.2", version: VersionTLS12, Offered: true}, {Name: "TLS 1.3", version: VersionTLS13},
		},
		Suites: []ProtocolSuites{{Protocol: "TLS 1.2", version: VersionTLS12, Order: "server", Suites: suitesOf([]uint16{0xc02f, 0xc030})}},
		Features: Features{
			FallbackSCSV: na("only one"), Compression: no(""), Heartbeat: no(""), Heartbleed: no(""), SecureRenegotiation: yes(""),
		},
	}
	finding := func(id, f string) string { return fmt.Sprintf(`{"id":%q,"severity":"INFO","finding":%q}`, id, f) }
	base := map[string]string{
		"SSLv2": "not offered", "SSLv3": "not offered", "TLS1": "not offered", "TLS1_1": "not offered",
		"TLS1_2": "offered", "TLS1_3": "not offered", "cipher_order": "server",
		"cipherorder_TLSv1_2": "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384",
		"fallback_SCSV":       "no protocol below TLS 1.2 offered", "CRIME_TLS": "not vulnerable",
		"heartbleed": "not vulnerable, no heartbeat extension", "secure_renego": "supported",
		"a1": "-", "a2": "-", "a3": "-", // testssl runs have at least ten findings
	}
	for _, tc := range []struct {
		name   string
		change map[string]string
		errs   int
	}{
		{name: "agreement", errs: 0},
		{name: "protocol", change: map[string]string{"TLS1_1": "offered"}, errs: 1},
		{name: "suite order", change: map[string]string{"cipherorder_TLSv1_2": "ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-AES128-GCM-SHA256"}, errs: 1},
		{name: "missing suite", change: map[string]string{"cipherorder_TLSv1_2": "ECDHE-RSA-AES128-GCM-SHA256"}, errs: 1},
		{name: "cipher order", change: map[string]string{"cipher_order": "NOT a cipher order configured"}, errs: 1},
		{name: "fallback", change: map[string]string{"fallback_SCSV": "NOT supported"}, errs: 1},
		{name: "compression", change: map[string]string{"CRIME_TLS": "VULNERABLE"}, errs: 1},
		{name: "heartbleed", change: map[string]string{"heartbleed": "VULNERABLE"}, errs: 1},
		{name: "renegotiation", change: map[string]string{"secure_renego": "VULNERABLE"}, errs: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parts []string
			for id, f := range base {
				if c, ok := tc.change[id]; ok {
					f = c
				}
				parts = append(parts, finding(id, f))
			}
			ts, err := itest.ParseTestssl([]byte("[" + strings.Join(parts, ",") + "]"))
			if err != nil {
				t.Fatal(err)
			}
			r := &recorder{TB: t}
			compareTestssl(r, rep, ts)
			if len(r.errs) != tc.errs {
				t.Errorf("%d disagreements, want %d: %q", len(r.errs), tc.errs, r.errs)
			}
		})
	}
}
