package audit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"tlsfront/internal/testca"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func selfSignedDER(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCheckChain(t *testing.T) {
	ca := testca.New(t, testca.Options{Now: now})
	other := testca.New(t, testca.Options{Now: now, Name: "other"})
	leaf := ca.Leaf(t, testca.LeafOptions{})
	inter, root := ca.Intermediate().Raw, ca.Root().Raw
	for _, tc := range []struct {
		name  string
		chain [][]byte
		host  string
		roots *testca.CA
		// states of name, validity, trust, order
		nameOK, valid, trusted, ordered string
		problem                         string // substring of a trust problem
		evidence                        string // substring of Trust or Order evidence
		check                           func(*testing.T, *CertInfo)
	}{
		{name: "valid chain", chain: [][]byte{leaf.Cert().Raw, inter}, host: "localhost", roots: ca,
			nameOK: "yes", valid: "yes", trusted: "yes", ordered: "yes", evidence: "localhost <- tlsfront test intermediate CA <- tlsfront test root CA",
			check: func(t *testing.T, c *CertInfo) {
				if c.Key != "ECDSA P-256" || c.KeyBits != 3072 || c.MustStaple || c.Staple.Present {
					t.Errorf("cert %+v", c)
				}
			}},
		{name: "name mismatch", chain: [][]byte{leaf.Cert().Raw, inter}, host: "other.example", roots: ca,
			nameOK: "no", valid: "yes", trusted: "yes", ordered: "yes"},
		{name: "IP address name", chain: [][]byte{ca.Leaf(t, testca.LeafOptions{Names: []string{"127.0.0.1"}}).Cert().Raw, inter}, host: "127.0.0.1", roots: ca,
			nameOK: "yes", valid: "yes", trusted: "yes", ordered: "yes"},
		{name: "expired", chain: [][]byte{ca.Leaf(t, testca.LeafOptions{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}).Cert().Raw, inter},
			host: "localhost", roots: ca, nameOK: "yes", valid: "no", trusted: "yes", ordered: "yes", problem: "expired"},
		{name: "not yet valid", chain: [][]byte{ca.Leaf(t, testca.LeafOptions{NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)}).Cert().Raw, inter},
			host: "localhost", roots: ca, nameOK: "yes", valid: "no", trusted: "yes", ordered: "yes", problem: "not valid before"},
		{name: "incomplete chain", chain: [][]byte{leaf.Cert().Raw}, host: "localhost", roots: ca,
			nameOK: "yes", valid: "yes", trusted: "no", ordered: "yes", problem: "incomplete chain", evidence: "neither sent nor is a trusted root"},
		{name: "unknown CA", chain: [][]byte{leaf.Cert().Raw, inter}, host: "localhost", roots: other,
			nameOK: "yes", valid: "yes", trusted: "no", ordered: "yes", problem: "not trusted"},
		{name: "self-signed", chain: [][]byte{selfSignedDER(t)}, host: "localhost", roots: ca,
			nameOK: "yes", valid: "yes", trusted: "no", ordered: "yes", problem: "self-signed"},
		{name: "wrong order", chain: [][]byte{leaf.Cert().Raw, root, inter}, host: "localhost", roots: ca,
			nameOK: "yes", valid: "yes", trusted: "yes", ordered: "no", evidence: "wrong order"},
		{name: "root included", chain: [][]byte{leaf.Cert().Raw, inter, root}, host: "localhost", roots: ca,
			nameOK: "yes", valid: "yes", trusted: "yes", ordered: "yes", evidence: "self-signed root"},
		{name: "RSA key and must-staple", chain: [][]byte{ca.Leaf(t, testca.LeafOptions{KeyType: "rsa2048", MustStaple: true}).Cert().Raw, inter},
			host: "localhost", roots: ca, nameOK: "yes", valid: "yes", trusted: "yes", ordered: "yes",
			check: func(t *testing.T, c *CertInfo) {
				if c.Key != "RSA 2048" || c.rsaBits != 2048 || !c.MustStaple {
					t.Errorf("cert %+v", c)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := checkChain(tc.chain, tc.host, tc.roots.Pool(), now, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range []struct {
				what      string
				got, want string
			}{{"name", c.NameMatch.State, tc.nameOK}, {"validity", c.Validity.State, tc.valid}, {"trust", c.Trust.State, tc.trusted}, {"order", c.Order.State, tc.ordered}} {
				if x.got != x.want {
					t.Errorf("%s %s, want %s (trust %q, order %q)", x.what, x.got, x.want, c.Trust.Evidence, c.Order.Evidence)
				}
			}
			probs := strings.Join(c.trustProblems, "; ")
			if (tc.problem == "") != (probs == "") || !strings.Contains(probs, tc.problem) {
				t.Errorf("trust problems %q, want %q", probs, tc.problem)
			}
			if tc.evidence != "" && !strings.Contains(c.Trust.Evidence+c.Order.Evidence, tc.evidence) {
				t.Errorf("evidence %q / %q lacks %q", c.Trust.Evidence, c.Order.Evidence, tc.evidence)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// staple signs an OCSP response for leaf with its issuer.
func staple(t *testing.T, leaf *testca.Leaf, status int, thisUpdate, nextUpdate time.Time) []byte {
	t.Helper()
	tmpl := ocsp.Response{Status: status, SerialNumber: leaf.Cert().SerialNumber, ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	if status == ocsp.Revoked {
		tmpl.RevokedAt, tmpl.RevocationReason = thisUpdate, ocsp.KeyCompromise
	}
	der, err := ocsp.CreateResponse(leaf.Issuer(), leaf.Issuer(), tmpl, leaf.IssuerKey())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCheckStaple(t *testing.T) {
	ca := testca.New(t, testca.Options{Now: now})
	other := testca.New(t, testca.Options{Now: now, Name: "other"})
	leaf := ca.Leaf(t, testca.LeafOptions{})
	stranger := other.Leaf(t, testca.LeafOptions{})
	for _, tc := range []struct {
		name     string
		staple   []byte
		issuer   *x509.Certificate
		status   string
		verified bool
		problem  string
	}{
		{name: "none", staple: nil, issuer: ca.Intermediate()},
		{name: "good", staple: staple(t, leaf, ocsp.Good, now.Add(-time.Hour), now.Add(time.Hour)), issuer: ca.Intermediate(), status: "good", verified: true},
		{name: "good without nextUpdate", staple: staple(t, leaf, ocsp.Good, now.Add(-time.Hour), time.Time{}), issuer: ca.Intermediate(), status: "good", verified: true},
		{name: "revoked", staple: staple(t, leaf, ocsp.Revoked, now.Add(-time.Hour), now.Add(time.Hour)), issuer: ca.Intermediate(), status: "revoked", verified: true, problem: "revoked"},
		{name: "unknown", staple: staple(t, leaf, ocsp.Unknown, now.Add(-time.Hour), now.Add(time.Hour)), issuer: ca.Intermediate(), status: "unknown", verified: true, problem: "does not know"},
		{name: "expired", staple: staple(t, leaf, ocsp.Good, now.Add(-48*time.Hour), now.Add(-time.Hour)), issuer: ca.Intermediate(), status: "good", verified: true, problem: "expired at nextUpdate"},
		{name: "not yet valid", staple: staple(t, leaf, ocsp.Good, now.Add(time.Hour), now.Add(48*time.Hour)), issuer: ca.Intermediate(), status: "good", verified: true, problem: "not valid yet"},
		{name: "for another certificate", staple: staple(t, stranger, ocsp.Good, now.Add(-time.Hour), now.Add(time.Hour)), issuer: ca.Intermediate(), problem: "invalid response"},
		{name: "garbage", staple: []byte("not ocsp"), issuer: ca.Intermediate(), problem: "invalid response"},
		{name: "issuer unknown", staple: staple(t, leaf, ocsp.Good, now.Add(-time.Hour), now.Add(time.Hour)), problem: "issuer is unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := checkStaple(tc.staple, leaf.Cert(), tc.issuer, now)
			if st.Present != (tc.staple != nil) || st.Status != tc.status || st.Verified != tc.verified || !strings.Contains(st.Problem, tc.problem) || (tc.problem == "") != (st.Problem == "") {
				t.Errorf("staple %+v, want status %q verified %v problem %q", st, tc.status, tc.verified, tc.problem)
			}
		})
	}
}

// TestStapling audits Go servers with must-staple certificates: with a
// good staple the grade is A+, without one the warning caps it at A-, and
// a revoked staple makes it T.
func TestStapling(t *testing.T) {
	ca := testca.New(t)
	hsts := http.Header{"Strict-Transport-Security": {"max-age=31536000"}}
	for _, tc := range []struct {
		name   string
		status int // -1: no staple
		grade  string
		rule   string
	}{
		{name: "good staple", status: ocsp.Good, grade: "A+", rule: "plus"},
		{name: "no staple", status: -1, grade: "A-", rule: "ocsp-staple"},
		{name: "revoked", status: ocsp.Revoked, grade: "T", rule: "not-trusted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}, MustStaple: true})
			cert := leaf.TLS()
			if tc.status >= 0 {
				cert.OCSPStaple = staple(t, leaf, tc.status, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
			}
			tg := startGoServer(t, &tls.Config{Certificates: []tls.Certificate{cert}}, hsts)
			rep := auditTarget(t, tg, ca, 5*time.Second)
			if rep.Rating.Grade != tc.grade {
				t.Errorf("grade %s, want %s: %+v", rep.Rating.Grade, tc.grade, rep.Rating)
			}
			found := false
			for _, rs := range [][]Rule{rep.Rating.Caps, rep.Rating.Warnings, rep.Rating.Plus} {
				for _, r := range rs {
					found = found || r.ID == tc.rule
				}
			}
			if !found {
				t.Errorf("rule %s missing: %+v", tc.rule, rep.Rating)
			}
			if c := rep.Certificates[0]; !c.MustStaple || c.Staple.Present != (tc.status >= 0) {
				t.Errorf("certificate %+v", c)
			}
		})
	}
}
