package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"tlsfront/internal/testca"
)

// clientOutcome is what one client-certificate handshake gave: the
// client's error (the alert it got, for TLS 1.3 only on its first read),
// and on success the server's ClientVerify.
type clientOutcome struct {
	clientErr error
	verify    string
}

// dialWithCert runs a handshake of a Go client presenting leaf (nil: none)
// against st, then one read: the server writes its ClientVerify verdict.
func dialWithCert(t *testing.T, st *State, leaf *testca.Leaf, maxVersion uint16) clientOutcome {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	srv := tls.Server(c2, NewHolder(st).Config())
	go func() {
		defer c2.Close()
		if err := srv.Handshake(); err != nil {
			return
		}
		cs := srv.ConnectionState()
		_, _ = io.WriteString(srv, st.ClientVerify(&cs)+"\n")
	}()
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: "a.example", MaxVersion: maxVersion}
	if leaf != nil {
		// Like curl and browsers, send the certificate whatever CAs the
		// server names (Go's Certificates would honour the names).
		c := leaf.TLS()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	cli := tls.Client(c1, cfg)
	_ = c1.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(cli)
	if len(b) > 0 {
		return clientOutcome{verify: strings.TrimSpace(string(b))}
	}
	return clientOutcome{clientErr: err}
}

// alertFor picks the TLS 1.2 or 1.3 half of "a|b".
func alertFor(want string, vers uint16) string {
	a, b, ok := strings.Cut(want, "|")
	if ok && vers == tls.VersionTLS13 {
		return b
	}
	return a
}

type crlStub struct {
	revoked map[string]bool // serial (decimal) -> revoked
	missing bool
}

func (s crlStub) check(cert, issuer *x509.Certificate) (Revocation, error) {
	if s.missing {
		return RevocationUnknown, errors.New("no current CRL")
	}
	if s.revoked[cert.SerialNumber.String()] {
		return RevocationRevoked, errors.New("listed")
	}
	return RevocationGood, nil
}

func clientAuthState(t *testing.T, ca *testca.CA, auth ClientAuth) *State {
	t.Helper()
	site := testSite(t, ca, "a.example")
	site.ClientAuth = &auth
	st, err := New(Options{Policy: &Policy{Profile: "test", MinVersion: tls.VersionTLS12, Suites: tutorialOrder}, Sites: []Site{site}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestClientAuthOutcomes drives each kind of client certificate through
// each verify level over TLS 1.2 and 1.3 and checks mod_ssl's outcome (as
// measured against Debian's mod_ssl; see integration/modssl_test.go): the
// verdict, or the alert that ended the handshake.
func TestClientAuthOutcomes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := testca.New(t, testca.Options{Now: now})
	deepCA := testca.New(t, testca.Options{Now: now, Name: "deep", Intermediates: 2})
	other := testca.New(t, testca.Options{Now: now, Name: "other"})
	leaf := func(c *testca.CA, o testca.LeafOptions) *testca.Leaf {
		o.ClientAuth = true
		o.Names = []string{"client"}
		return c.Leaf(t, o)
	}
	valid := leaf(ca, testca.LeafOptions{})
	expired := leaf(ca, testca.LeafOptions{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	notYet := leaf(ca, testca.LeafOptions{NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)})
	revoked := leaf(ca, testca.LeafOptions{})
	unknown := leaf(other, testca.LeafOptions{})
	self := leaf(ca, testca.LeafOptions{SelfSigned: true})
	deep := leaf(deepCA, testca.LeafOptions{})
	serverOnly := ca.Leaf(t, testca.LeafOptions{Names: []string{"server"}})

	cas := []*x509.Certificate{ca.Root(), ca.Intermediate(), deepCA.Root()}
	cas = append(cas, deepCA.Intermediates()...)
	crl := crlStub{revoked: map[string]bool{revoked.Cert().SerialNumber.String(): true}}

	const (
		badCert  = "bad certificate"
		unknCA   = "unknown certificate authority"
		expiredA = "expired certificate"
	)
	type want struct{ verify, alert string }
	tests := []struct {
		name  string
		leaf  *testca.Leaf
		modes map[VerifyMode]want
	}{
		{"valid", valid, map[VerifyMode]want{VerifyOptional: {verify: "SUCCESS"}, VerifyRequire: {verify: "SUCCESS"}, VerifyOptionalNoCA: {verify: "SUCCESS"}}},
		{"none", nil, map[VerifyMode]want{VerifyOptional: {verify: "NONE"}, VerifyRequire: {alert: "handshake failure|certificate required"}, VerifyOptionalNoCA: {verify: "NONE"}}},
		{"expired", expired, map[VerifyMode]want{VerifyOptional: {alert: expiredA}, VerifyRequire: {alert: expiredA}, VerifyOptionalNoCA: {alert: badCert}}},
		{"not yet valid", notYet, map[VerifyMode]want{VerifyOptional: {alert: expiredA}, VerifyRequire: {alert: expiredA}, VerifyOptionalNoCA: {alert: badCert}}},
		{"revoked", revoked, map[VerifyMode]want{VerifyOptional: {alert: badCert}, VerifyRequire: {alert: badCert}, VerifyOptionalNoCA: {alert: badCert}}},
		{"unknown CA", unknown, map[VerifyMode]want{VerifyOptional: {alert: unknCA}, VerifyRequire: {alert: unknCA}, VerifyOptionalNoCA: {verify: "GENEROUS"}}},
		{"self-signed", self, map[VerifyMode]want{VerifyOptional: {alert: unknCA}, VerifyRequire: {alert: unknCA}, VerifyOptionalNoCA: {verify: "GENEROUS"}}},
		{"depth too long", deep, map[VerifyMode]want{VerifyOptional: {alert: badCert}, VerifyRequire: {alert: badCert}, VerifyOptionalNoCA: {alert: badCert}}},
		{"server certificate", serverOnly, map[VerifyMode]want{VerifyOptional: {alert: badCert}, VerifyRequire: {alert: badCert}, VerifyOptionalNoCA: {alert: badCert}}},
	}
	for _, mode := range []VerifyMode{VerifyOptional, VerifyRequire, VerifyOptionalNoCA} {
		var mu sync.Mutex
		results := map[string]int{}
		st := clientAuthState(t, ca, ClientAuth{Verify: mode, CAs: cas, Depth: 2, CRL: crl.check, CRLMissingOK: true,
			Observe: func(r string) { mu.Lock(); results[r]++; mu.Unlock() }})
		for _, tc := range tests {
			for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				name := fmt.Sprintf("%s/%s/%s", mode, tc.name, tls.VersionName(vers))
				t.Run(name, func(t *testing.T) {
					w := tc.modes[mode]
					got := dialWithCert(t, st, tc.leaf, vers)
					switch {
					case w.verify != "" && got.verify != w.verify:
						t.Errorf("verify %q (client error %v), want %q", got.verify, got.clientErr, w.verify)
					case w.alert != "" && (got.clientErr == nil || !strings.Contains(got.clientErr.Error(), alertFor(w.alert, vers))):
						t.Errorf("client error %v (verify %q), want the alert %q", got.clientErr, got.verify, w.alert)
					}
				})
			}
		}
		mu.Lock()
		if results[ResultRevoked] == 0 || results[ResultSuccess] == 0 {
			t.Errorf("%s: Observe saw %v, want revoked and success among them", mode, results)
		}
		mu.Unlock()
	}
}

// TestClientAuthChains covers what OpenSSL does and Go alone would not: a
// client that does not send its intermediate is accepted when the CA file
// has it; a chain must reach a self-signed CA certificate; verify_depth
// counts the trust anchor.
func TestClientAuthChains(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	valid := ca.Leaf(t, testca.LeafOptions{ClientAuth: true, Names: []string{"c"}})
	tests := []struct {
		name    string
		cas     []*x509.Certificate
		depth   int
		leafTLS func() tls.Certificate
		want    string
	}{
		{"chain sent, depth 2", []*x509.Certificate{ca.Root()}, 2, valid.TLS, "SUCCESS"},
		{"depth 1 is too short for root+intermediate", []*x509.Certificate{ca.Root(), ca.Intermediate()}, 1, valid.TLS, "bad certificate"},
		{"intermediate only in the CA file", []*x509.Certificate{ca.Root(), ca.Intermediate()}, 2, func() tls.Certificate {
			c := valid.TLS()
			c.Certificate = c.Certificate[:1]
			return c
		}, "SUCCESS"},
		{"CA file lacks the root", []*x509.Certificate{ca.Intermediate()}, 2, valid.TLS, "bad certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := clientAuthState(t, ca, ClientAuth{Verify: VerifyRequire, CAs: tc.cas, Depth: tc.depth})
			for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				c1, c2 := net.Pipe()
				srv := tls.Server(c2, NewHolder(st).Config())
				go func() {
					defer c2.Close()
					if srv.Handshake() == nil {
						cs := srv.ConnectionState()
						_, _ = io.WriteString(srv, st.ClientVerify(&cs))
					}
				}()
				cli := tls.Client(c1, &tls.Config{InsecureSkipVerify: true, ServerName: "a.example", MaxVersion: vers, Certificates: []tls.Certificate{tc.leafTLS()}})
				b, err := io.ReadAll(cli)
				c1.Close()
				got := string(b)
				if got == "" && err != nil {
					got = err.Error()
				}
				if !strings.Contains(got, tc.want) {
					t.Errorf("%s: got %q, want %q", tls.VersionName(vers), got, tc.want)
				}
			}
		})
	}
}

// TestClientAuthCRLMissing: without a current CRL, crl_missing = "fail"
// refuses the certificate and "allow" accepts it; under optional_no_ca a
// generous chain has no CRL for its unknown issuer, as with mod_ssl.
func TestClientAuthCRLMissing(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	other := testca.New(t, testca.Options{Name: "other"})
	valid := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	unknown := other.Leaf(t, testca.LeafOptions{ClientAuth: true})
	missing := crlStub{missing: true}
	cas := []*x509.Certificate{ca.Root(), ca.Intermediate()}
	for _, tc := range []struct {
		mode   VerifyMode
		ok     bool
		leaf   *testca.Leaf
		want   string
		result string
	}{
		{VerifyRequire, false, valid, "bad certificate", ResultCRLMissing},
		{VerifyRequire, true, valid, "SUCCESS", ResultSuccess},
		{VerifyOptionalNoCA, false, unknown, "bad certificate", ResultCRLMissing},
		{VerifyOptionalNoCA, true, unknown, "GENEROUS", ResultGenerous},
	} {
		var got []string
		st := clientAuthState(t, ca, ClientAuth{Verify: tc.mode, CAs: cas, Depth: 2, CRL: missing.check, CRLMissingOK: tc.ok,
			Observe: func(r string) { got = append(got, r) }})
		out := dialWithCert(t, st, tc.leaf, tls.VersionTLS12)
		s := out.verify
		if s == "" && out.clientErr != nil {
			s = out.clientErr.Error()
		}
		if !strings.Contains(s, tc.want) || len(got) != 1 || got[0] != tc.result {
			t.Errorf("%s, missing OK %v: got %q, results %v; want %q, [%s]", tc.mode, tc.ok, s, got, tc.want, tc.result)
		}
	}
}

// TestClientAuthOCSP: the OCSP hook is asked with the verified issuer; only
// a Good answer passes; a generous chain cannot be checked and fails.
func TestClientAuthOCSP(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	other := testca.New(t, testca.Options{Name: "other"})
	valid := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	unknown := other.Leaf(t, testca.LeafOptions{ClientAuth: true})
	for _, tc := range []struct {
		name  string
		mode  VerifyMode
		leaf  *testca.Leaf
		state Revocation
		want  string
	}{
		{"good", VerifyRequire, valid, RevocationGood, "SUCCESS"},
		{"revoked", VerifyRequire, valid, RevocationRevoked, "bad certificate"},
		{"responder down", VerifyRequire, valid, RevocationUnknown, "bad certificate"},
		{"generous", VerifyOptionalNoCA, unknown, RevocationGood, "bad certificate"},
	} {
		var askedIssuer *x509.Certificate
		st := clientAuthState(t, ca, ClientAuth{Verify: tc.mode, CAs: []*x509.Certificate{ca.Root()}, Depth: 2,
			OCSP: func(leaf, issuer *x509.Certificate) (Revocation, error) { askedIssuer = issuer; return tc.state, nil }})
		out := dialWithCert(t, st, tc.leaf, tls.VersionTLS13)
		s := out.verify
		if s == "" && out.clientErr != nil {
			s = out.clientErr.Error()
		}
		if !strings.Contains(s, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, s, tc.want)
		}
		if tc.mode == VerifyRequire && (askedIssuer == nil || !askedIssuer.Equal(ca.Intermediate())) {
			t.Errorf("%s: OCSP asked with issuer %v, want the intermediate", tc.name, askedIssuer)
		}
	}
}

// TestClientAuthPerSite: the certificate request follows SNI: one site
// requires certificates, the other asks for none.
func TestClientAuthPerSite(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	strict := testSite(t, ca, "a.example")
	strict.ClientAuth = &ClientAuth{Verify: VerifyRequire, CAs: []*x509.Certificate{ca.Root()}, Depth: 2}
	open := testSite(t, ca, "b.example")
	st, err := New(Options{Policy: &Policy{Profile: "test", MinVersion: tls.VersionTLS12, Suites: tutorialOrder}, Sites: []Site{strict, open}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sni     string
		asked   bool
		wantErr bool
	}{{"a.example", true, true}, {"b.example", false, false}} {
		asked := false
		_, err := handshake(t, st, &tls.Config{InsecureSkipVerify: true, ServerName: tc.sni, MaxVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				asked = true
				return &tls.Certificate{}, nil
			}})
		if asked != tc.asked || (err != nil) != tc.wantErr {
			t.Errorf("%s: asked %v err %v; want asked %v, error %v", tc.sni, asked, err, tc.asked, tc.wantErr)
		}
	}
}

// TestVerdictsForgetClosedConnections: the verdict map holds an entry per
// live client certificate and drops it once the certificate is collected.
func TestVerdictsForgetClosedConnections(t *testing.T) {
	vs := verdicts{m: map[weakKey]string{}}
	func() {
		for i := range 100 {
			c := &x509.Certificate{Raw: []byte{byte(i)}, SerialNumber: big.NewInt(int64(i)), Subject: pkix.Name{CommonName: "x"}}
			vs.put(c, "SUCCESS")
			if v, ok := vs.get(c); !ok || v != "SUCCESS" {
				t.Fatalf("get after put = %q, %v", v, ok)
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for vs.len() > 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := vs.len(); n != 0 {
		t.Errorf("%d verdicts left after their certificates were collected", n)
	}
}
