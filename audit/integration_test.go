package audit

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// expect is what an audit of one server must find.
type expect struct {
	grade     string
	caps      []string // rule IDs among caps, warnings and plus
	protocols []string // offered, by name
	// suites are the suites expected per protocol, in order when the
	// server imposes its order (OpenSSL or IANA names).
	suites   map[string][]string
	order    map[string]string // protocol -> "server" | "client"
	fallback string
	certs    int
	dhBits   int
	redirect string
	check    func(*testing.T, *Report)
}

// TestAudit audits real servers on 127.0.0.1 and compares the protocols,
// suites and the SCSV, compression, heartbeat and renegotiation findings
// with testssl.sh's for the same server, point by point.
func TestAudit(t *testing.T) {
	ca := testca.New(t)
	tlsfrontCaps := []string{"tls10-tls11"}
	cases := []struct {
		name   string
		start  func(*testing.T) target
		checks []string // testssl.sh checks; nil means the default set
		want   expect
	}{
		{
			name:  "tlsfront tutorial",
			start: func(t *testing.T) target { return startTlsfront(t, ca, "tutorial", []string{"ecdsa256"}, true) },
			want: expect{
				grade: "B", caps: tlsfrontCaps, protocols: []string{"TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"},
				suites: map[string][]string{
					"TLS 1.2": {"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-SHA"},
					"TLS 1.0": {"ECDHE-ECDSA-AES256-SHA"},
				},
				order:    map[string]string{"TLS 1.2": "server", "TLS 1.3": "client"},
				fallback: "yes", certs: 1, redirect: "yes",
				check: func(t *testing.T, r *Report) {
					for _, c := range r.Rating.Caps {
						if c.ID == "tls10-tls11" && (!strings.Contains(c.Reason, "TLS 1.0 and TLS 1.1") || !strings.Contains(c.Tlsfront, "tls.min_version")) {
							t.Errorf("the TLS 1.0/1.1 cap does not explain itself: %+v", c)
						}
					}
				},
			},
		},
		{
			name: "tlsfront intermediate with RSA and ECDSA",
			start: func(t *testing.T) target {
				return startTlsfront(t, ca, "intermediate", []string{"ecdsa256", "rsa2048"}, false)
			},
			want: expect{
				grade: "A+", caps: []string{"plus"}, protocols: []string{"TLS 1.2", "TLS 1.3"},
				order:    map[string]string{"TLS 1.2": "server", "TLS 1.3": "client"},
				fallback: "yes", certs: 2, redirect: "n/a",
			},
		},
		{
			name:  "tlsfront modern",
			start: func(t *testing.T) target { return startTlsfront(t, ca, "modern", []string{"ecdsa256"}, false) },
			// -P lists no suites when the client chooses, as in TLS 1.3
			// with Go; -E lists them.
			checks: []string{"-p", "-E", "-H", "-R", "-C", "-Z"},
			want: expect{
				grade: "A+", caps: []string{"plus"}, protocols: []string{"TLS 1.3"},
				suites:   map[string][]string{"TLS 1.3": {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}},
				order:    map[string]string{"TLS 1.3": "client"},
				fallback: "n/a", certs: 1,
			},
		},
		{
			name:  "weak Go server: TLS 1.0, RC4, 3DES, static RSA",
			start: func(t *testing.T) target { return startGoServer(t, weakConfig(t, ca), nil) },
			want: expect{
				grade: "C", caps: []string{"no-tls12", "tls10-tls11", "rc4", "no-forward-secrecy", "no-aead"},
				protocols: []string{"TLS 1.0"},
				suites:    map[string][]string{"TLS 1.0": {"AES128-SHA", "DES-CBC3-SHA", "RC4-SHA"}},
				order:     map[string]string{"TLS 1.0": "server"},
				fallback:  "n/a", certs: 1,
				check: func(t *testing.T, r *Report) {
					if !r.KeyExchange.StaticRSA {
						t.Error("static RSA key exchange not reported")
					}
				},
			},
		},
		{
			name:   "Go server without TLS_FALLBACK_SCSV",
			checks: []string{"-p", "-Z"},
			start: func(t *testing.T) target {
				return startGoServer(t, noSCSVConfig(t, ca), http.Header{"Strict-Transport-Security": {"max-age=31536000"}})
			},
			want: expect{
				grade: "B", caps: []string{"tls10-tls11", "no-fallback-scsv"}, protocols: []string{"TLS 1.1", "TLS 1.2", "TLS 1.3"},
				fallback: "no", certs: 1,
			},
		},
		{
			name:  "apache mod_ssl with the tutorial's backward-compatible suites",
			start: func(t *testing.T) target { return startApache(t, ca) },
			want: expect{
				grade: "A", caps: []string{"no-hsts"}, protocols: []string{"TLS 1.2", "TLS 1.3"},
				order:    map[string]string{"TLS 1.2": "server", "TLS 1.3": "server"},
				fallback: "yes", certs: 1, dhBits: 2048,
				check: func(t *testing.T, r *Report) {
					var names []string
					for _, ps := range r.Suites {
						for _, s := range ps.Suites {
							names = append(names, s.OpenSSL)
						}
					}
					for _, want := range []string{"DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CAMELLIA256-SHA256", "AES128-SHA256", "ECDHE-ARIA128-GCM-SHA256"} {
						if !slices.Contains(names, want) {
							t.Errorf("suite %s missing from %v", want, names)
						}
					}
					if !slices.ContainsFunc(r.KeyExchange.Groups, func(g Group) bool { return g.Name == "ffdhe2048" }) {
						t.Errorf("ffdhe2048 missing from groups %+v", r.KeyExchange.Groups)
					}
				},
			},
		},
	}
	// The servers live for the whole test; the audits run one by one (each
	// takes a second or two); then the testssl.sh scans, about 30-60 s of
	// CPU each, run all at once whatever -parallel says, and each is
	// compared with its audit.
	targets := make([]target, len(cases))
	reports := make([]*Report, len(cases))
	for i, tc := range cases {
		targets[i] = tc.start(t)
		t.Run(tc.name, func(t *testing.T) {
			reports[i] = auditTarget(t, targets[i], ca, 5*time.Second)
			checkReport(t, reports[i], tc.want)
			if t.Failed() {
				var b strings.Builder
				_ = reports[i].WriteText(&b)
				t.Logf("report:\n%s", b.String())
			}
		})
	}
	if testing.Short() {
		t.Skip("-short: testssl.sh comparisons skipped")
	}
	bin := itest.RequireTool(t, "testssl")
	// Each scan is bounded so that a starved machine fails this test with
	// a message rather than the whole package with go test's timeout.
	budget := 8 * time.Minute
	if d, ok := t.Deadline(); ok && time.Until(d)-30*time.Second < budget {
		budget = time.Until(d) - 30*time.Second
	}
	scans := make([]testsslScan, len(cases))
	var wg sync.WaitGroup
	for i, tc := range cases {
		checks := tc.checks
		if checks == nil {
			checks = []string{"-p", "-P", "-H", "-R", "-C", "-Z"}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			scans[i] = runTestssl(bin, t.TempDir(), targets[i].testssl, checks, budget)
		}()
	}
	wg.Wait()
	for i, tc := range cases {
		t.Run(tc.name+"/testssl", func(t *testing.T) {
			if reports[i] == nil {
				t.Skip("no audit to compare")
			}
			if scans[i].err != nil {
				t.Fatalf("testssl.sh: %v\n%s", scans[i].err, scans[i].result.Output)
			}
			compareTestssl(t, reports[i], scans[i].result)
		})
	}
}

func checkReport(t *testing.T, rep *Report, w expect) {
	t.Helper()
	if rep.Rating.Grade != w.grade {
		t.Errorf("grade %s, want %s; caps %+v warnings %+v plus %+v", rep.Rating.Grade, w.grade, rep.Rating.Caps, rep.Rating.Warnings, rep.Rating.Plus)
	}
	var ids []string
	for _, rs := range [][]Rule{rep.Rating.Caps, rep.Rating.Warnings, rep.Rating.Plus} {
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
	}
	for _, c := range w.caps {
		if !slices.Contains(ids, c) {
			t.Errorf("rule %s missing; have %v", c, ids)
		}
	}
	var offered []string
	for _, p := range rep.Protocols {
		if p.Offered {
			offered = append(offered, p.Name)
		}
	}
	if !slices.Equal(offered, w.protocols) {
		t.Errorf("protocols %v, want %v", offered, w.protocols)
	}
	byProto := map[string]ProtocolSuites{}
	for _, ps := range rep.Suites {
		byProto[ps.Protocol] = ps
	}
	for proto, names := range w.suites {
		var got []string
		for _, s := range byProto[proto].Suites {
			got = append(got, cmpName(s))
		}
		if !slices.Equal(got, names) {
			t.Errorf("%s suites %v, want %v", proto, got, names)
		}
	}
	for proto, order := range w.order {
		if byProto[proto].Order != order {
			t.Errorf("%s order %q, want %q", proto, byProto[proto].Order, order)
		}
	}
	if rep.Features.FallbackSCSV.State != w.fallback {
		t.Errorf("fallback SCSV %+v, want %s", rep.Features.FallbackSCSV, w.fallback)
	}
	if len(rep.Certificates) != w.certs {
		t.Errorf("%d certificates, want %d", len(rep.Certificates), w.certs)
	}
	for _, c := range rep.Certificates {
		if c.Trust.State != "yes" || c.NameMatch.State != "yes" || c.Validity.State != "yes" || c.Order.State != "yes" {
			t.Errorf("certificate %s: trust %+v name %+v validity %+v order %+v", c.Key, c.Trust, c.NameMatch, c.Validity, c.Order)
		}
	}
	if w.dhBits != 0 && (rep.KeyExchange.DHE == nil || rep.KeyExchange.DHE.Bits != w.dhBits) {
		t.Errorf("DHE %+v, want %d bits", rep.KeyExchange.DHE, w.dhBits)
	}
	if w.redirect != "" && rep.HTTP.Redirect.State != w.redirect {
		t.Errorf("redirect %+v, want %s", rep.HTTP.Redirect, w.redirect)
	}
	if rep.Features.SecureRenegotiation.State == "no" || rep.Features.Compression.State == "yes" || rep.Features.Heartbleed.State == "yes" {
		t.Errorf("features %+v", rep.Features)
	}
	for _, f := range rep.Findings {
		if f.ID == "probe-error" || strings.HasSuffix(f.Title, "the test failed") {
			t.Errorf("probe failure: %+v", f)
		}
	}
	if w.check != nil {
		w.check(t, rep)
	}
}

// cmpName is the suite's OpenSSL name, or its IANA name without one.
func cmpName(s Suite) string {
	if s.OpenSSL != "" {
		return s.OpenSSL
	}
	return s.Name
}

// startWeak is used by the CLI tests.
func startWeak(t *testing.T, ca *testca.CA) target {
	return startGoServer(t, weakConfig(t, ca), nil)
}
