package stapling

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// testCA is a two-level test PKI minted per test: a root and an
// intermediate issuer that signs the leaves and, by default, the OCSP
// responses. No key material is ever written to the repository.
type testCA struct {
	root, issuer       *x509.Certificate
	rootKey, issuerKey crypto.Signer
}

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

// sharedRSAKey returns one RSA key for all RSA leaves: generating a fresh
// 2048-bit key per test would dominate the run time.
func sharedRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func randSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

// mint signs tmpl with parent/parentKey (self-signed when parent is nil).
func mint(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// caValidity gives every test certificate a window around the real clock
// wide enough for fake clocks that move days ahead.
func caValidity() (time.Time, time.Time) {
	now := time.Now()
	return now.Add(-24 * time.Hour), now.Add(365 * 24 * time.Hour)
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	return newTestCANamed(t, "Test")
}

func newTestCANamed(t testing.TB, name string) *testCA {
	t.Helper()
	nb, na := caValidity()
	ca := &testCA{rootKey: newECKey(t), issuerKey: newECKey(t)}
	ca.root = mint(t, &x509.Certificate{
		SerialNumber:          randSerial(t),
		Subject:               pkix.Name{CommonName: name + " Root CA"},
		NotBefore:             nb,
		NotAfter:              na,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, ca.rootKey.Public(), ca.rootKey)
	ca.issuer = mint(t, &x509.Certificate{
		SerialNumber:          randSerial(t),
		Subject:               pkix.Name{CommonName: name + " Issuing CA"},
		NotBefore:             nb,
		NotAfter:              na,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}, ca.root, ca.issuerKey.Public(), ca.rootKey)
	return ca
}

// leafOpts describe a leaf certificate; the zero value is an ECDSA leaf
// without responder URL.
type leafOpts struct {
	rsa        bool
	ocspURL    string
	mustStaple bool
}

func (ca *testCA) leaf(t testing.TB, cn string, o leafOpts) *x509.Certificate {
	t.Helper()
	nb, na := caValidity()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(t),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.ocspURL != "" {
		tmpl.OCSPServer = []string{o.ocspURL}
	}
	if o.mustStaple {
		v, err := asn1.Marshal([]int{statusRequest})
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidTLSFeature, Value: v}}
	}
	var pub crypto.PublicKey = newECKey(t).Public()
	if o.rsa {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		pub = sharedRSAKey(t).Public()
	}
	return mint(t, tmpl, ca.issuer, pub, ca.issuerKey)
}

// delegate mints an OCSP responder certificate signed by signer/signerKey
// (the issuer when nil), with the OCSPSigning EKU when eku is set, valid
// from nb to na (the CA window when zero).
func (ca *testCA) delegate(t testing.TB, eku bool, signer *x509.Certificate, signerKey crypto.Signer, nb, na time.Time) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	if signer == nil {
		signer, signerKey = ca.issuer, ca.issuerKey
	}
	if nb.IsZero() {
		nb, na = caValidity()
	}
	key := newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(t),
		Subject:      pkix.Name{CommonName: "Test OCSP Responder"},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if eku {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	return mint(t, tmpl, signer, key.Public(), signerKey), key
}

// respSpec describes an OCSP response to mint. Zero fields take defaults:
// signed by the issuer without embedded certificate, CertID of the issuer
// and the leaf's serial.
type respSpec struct {
	status       int
	thisUpdate   time.Time
	nextUpdate   time.Time // zero: no NextUpdate
	revokedAt    time.Time
	serial       *big.Int          // CertID serial; default the leaf's
	certIDIssuer *x509.Certificate // CertID issuer; default ca.issuer
	signer       *x509.Certificate // embedded responder cert; nil = none
	signerKey    crypto.Signer     // default ca.issuerKey
}

func (ca *testCA) response(t testing.TB, leaf *x509.Certificate, s respSpec) []byte {
	t.Helper()
	tmpl := ocsp.Response{
		Status:       s.status,
		SerialNumber: leaf.SerialNumber,
		ThisUpdate:   s.thisUpdate,
		NextUpdate:   s.nextUpdate,
		RevokedAt:    s.revokedAt,
		Certificate:  s.signer,
	}
	if s.serial != nil {
		tmpl.SerialNumber = s.serial
	}
	idIssuer := ca.issuer
	if s.certIDIssuer != nil {
		idIssuer = s.certIDIssuer
	}
	key := crypto.Signer(ca.issuerKey)
	if s.signerKey != nil {
		key = s.signerKey
	}
	responderCert := ca.issuer
	if s.signer != nil {
		responderCert = s.signer
	}
	der, err := ocsp.CreateResponse(idIssuer, responderCert, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
