// Package testca mints certificates for tests: a root CA, one intermediate
// and any number of leaf certificates issued by the intermediate. It sits
// outside the request path; tests of every layer (tlsconf, stapling,
// integration) use it so that no key material is ever committed.
//
// Every failure is reported to the testing.TB given to New or Leaf, so the
// functions return values, not errors.
package testca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Options configures a CA. The zero value is a valid configuration.
type Options struct {
	// KeyType is the key type of the root and the intermediate:
	// "ecdsa256" (zero value), "rsa2048" or "rsa4096".
	KeyType string
	// Now is the instant the CA treats as the present; certificate
	// validity defaults are computed from it. Zero means time.Now().
	Now time.Time
	// Name is put in the CAs' subject common names so that several CAs in
	// one test can be told apart. Empty means "tlsfront test".
	Name string
	// Intermediates is the number of intermediate CAs between the root and
	// the leaves, each signed by the one above. Zero means one.
	Intermediates int
	// CRLURL, when set, is the base of the CRL distribution points the CA
	// certificates and leaves name: a certificate issued at level n (0 is
	// the root, then the intermediates from the top) names CRLURL(n), the
	// CRL its issuer publishes. Empty means no distribution points.
	CRLURL string
}

// CA is a root certificate authority with one intermediate. Leaves are
// issued by the intermediate.
type CA struct {
	now      time.Time
	root     *x509.Certificate
	rootKey  crypto.Signer
	inter    *x509.Certificate // the last intermediate: the issuer of leaves
	interKey crypto.Signer
	levels   []*x509.Certificate // root, then the intermediates from the top
	keys     []crypto.Signer     // the keys of levels
	crlURL   string
	rootPath string
	seq      atomic.Int64
}

// caValidity is how far around Now the CA certificates are valid, wide
// enough for leaves that are expired or not yet valid by years.
const caValidity = 20 * 365 * 24 * time.Hour

// New creates a root CA and an intermediate CA signed by it. Only the first
// Options value is used; none means the defaults.
func New(t testing.TB, opts ...Options) *CA {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.KeyType == "" {
		o.KeyType = "ecdsa256"
	}
	if o.Name == "" {
		o.Name = "tlsfront test"
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	ca := &CA{now: now}

	rootKey := newKey(t, o.KeyType)
	rootTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(t),
		Subject:               pkix.Name{CommonName: o.Name + " root CA", Organization: []string{"tlsfront tests"}},
		NotBefore:             now.Add(-caValidity),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	ca.root, _ = sign(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	ca.rootKey = rootKey

	ca.crlURL = o.CRLURL
	ca.levels, ca.keys = []*x509.Certificate{ca.root}, []crypto.Signer{rootKey}
	n := o.Intermediates
	if n <= 0 {
		n = 1
	}
	for i := 1; i <= n; i++ {
		name := o.Name + " intermediate CA"
		if n > 1 {
			name = fmt.Sprintf("%s intermediate CA %d", o.Name, i)
		}
		interKey := newKey(t, o.KeyType)
		interTmpl := &x509.Certificate{
			SerialNumber:          randomSerial(t),
			Subject:               pkix.Name{CommonName: name, Organization: []string{"tlsfront tests"}},
			NotBefore:             now.Add(-caValidity),
			NotAfter:              now.Add(caValidity),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLen:            n - i,
			MaxPathLenZero:        n == i,
			CRLDistributionPoints: ca.crlPoints(i - 1),
		}
		cert, _ := sign(t, interTmpl, ca.levels[i-1], interKey.Public(), ca.keys[i-1])
		ca.levels, ca.keys = append(ca.levels, cert), append(ca.keys, interKey)
	}
	ca.inter, ca.interKey = ca.levels[n], ca.keys[n]

	ca.rootPath = filepath.Join(t.TempDir(), "root.pem")
	writeFile(t, ca.rootPath, ca.RootPEM(), 0o644)
	return ca
}

// Root returns the self-signed root certificate.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// RootKey returns the root's private key.
func (ca *CA) RootKey() crypto.Signer { return ca.rootKey }

// Intermediate returns the intermediate certificate, the issuer of leaves.
func (ca *CA) Intermediate() *x509.Certificate { return ca.inter }

// IntermediateKey returns the intermediate's private key, the key that
// signs leaves and may sign OCSP responses for them.
func (ca *CA) IntermediateKey() crypto.Signer { return ca.interKey }

// RootPEM returns the root certificate in PEM form.
func (ca *CA) RootPEM() []byte { return certPEM(ca.root) }

// RootPath returns the path of a file holding RootPEM, for tools such as
// curl --cacert or openssl -CAfile.
func (ca *CA) RootPath() string { return ca.rootPath }

// Pool returns a pool holding only the root, for tls.Config.RootCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// IntermediatePool returns a pool holding the intermediate, for
// x509.VerifyOptions.Intermediates.
func (ca *CA) IntermediatePool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range ca.levels[1:] {
		p.AddCert(c)
	}
	return p
}

// Intermediates returns the intermediate CAs from the issuer of leaves up to
// the one the root signed: the order a client sends them in.
func (ca *CA) Intermediates() []*x509.Certificate {
	var out []*x509.Certificate
	for i := len(ca.levels) - 1; i >= 1; i-- {
		out = append(out, ca.levels[i])
	}
	return out
}

// crlPoints returns the distribution points of certificates issued at
// level (nil without Options.CRLURL).
func (ca *CA) crlPoints(level int) []string {
	if ca.crlURL == "" {
		return nil
	}
	return []string{ca.CRLURL(level)}
}

// CRLURL returns the distribution point of the CRL that the CA at level
// publishes (0 is the root): Options.CRLURL + "/<level>.crl".
func (ca *CA) CRLURL(level int) string {
	return fmt.Sprintf("%s/%d.crl", strings.TrimSuffix(ca.crlURL, "/"), level)
}

// LeafOptions describes a leaf certificate. The zero value is a valid
// ECDSA P-256 certificate for "localhost".
type LeafOptions struct {
	// Names are the subject alternative names; entries that parse as an IP
	// address become IP SANs, the rest DNS SANs. The first is also the
	// subject common name. Empty means ["localhost"].
	Names []string
	// KeyType is "ecdsa256" (zero value), "ecdsa384", "rsa2048" or "rsa4096".
	KeyType string
	// OCSPServer is the Authority Information Access OCSP responder URL
	// list. Empty means no OCSP responder.
	OCSPServer []string
	// IssuingCertificateURL is the AIA caIssuers URL list. Empty means none.
	IssuingCertificateURL []string
	// MustStaple adds the TLS Feature extension status_request (RFC 7633).
	MustStaple bool
	// NotBefore is the start of validity. Zero means one hour before the
	// CA's Now.
	NotBefore time.Time
	// NotAfter is the end of validity. Zero means 90 days after the CA's Now.
	NotAfter time.Time
	// KeyFormat is the PEM encoding of the private key: "pkcs8" (zero
	// value, "PRIVATE KEY"), "pkcs1" (RSA only, "RSA PRIVATE KEY") or
	// "sec1" (ECDSA only, "EC PRIVATE KEY").
	KeyFormat string
	// SerialNumber is the certificate serial. Nil means a random 128-bit one.
	SerialNumber *big.Int
	// Subject replaces the subject name. Nil means CommonName: Names[0].
	Subject *pkix.Name
	// ClientAuth makes a client certificate: extended key usage clientAuth
	// instead of serverAuth.
	ClientAuth bool
	// Emails are rfc822Name subject alternative names.
	Emails []string
	// CRLDistributionPoints replaces the distribution points of
	// Options.CRLURL. Nil means those.
	CRLDistributionPoints []string
	// SelfSigned makes the leaf sign itself instead of the intermediate.
	SelfSigned bool
	// SignatureAlgorithm is the signature algorithm of the issuer. Zero
	// means crypto/x509's default for the issuer's key.
	SignatureAlgorithm x509.SignatureAlgorithm
}

// Leaf is an end-entity certificate with its key and chain.
type Leaf struct {
	t        testing.TB
	ca       *CA
	self     bool // self-signed: no chain
	cert     *x509.Certificate
	der      []byte
	key      crypto.Signer
	keyPEM   []byte
	keyType  string
	sequence int64
}

// Leaf issues a certificate signed by the intermediate.
func (ca *CA) Leaf(t testing.TB, o LeafOptions) *Leaf {
	t.Helper()
	if len(o.Names) == 0 {
		o.Names = []string{"localhost"}
	}
	if o.KeyType == "" {
		o.KeyType = "ecdsa256"
	}
	if o.KeyFormat == "" {
		o.KeyFormat = "pkcs8"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = ca.now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = ca.now.Add(90 * 24 * time.Hour)
	}
	if o.SerialNumber == nil {
		o.SerialNumber = randomSerial(t)
	}
	key := newKey(t, o.KeyType)
	keyPEM := encodeKey(t, key, o.KeyFormat)

	tmpl := &x509.Certificate{
		SerialNumber:          o.SerialNumber,
		Subject:               pkix.Name{CommonName: o.Names[0]},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		OCSPServer:            o.OCSPServer,
		IssuingCertificateURL: o.IssuingCertificateURL,
		EmailAddresses:        o.Emails,
		CRLDistributionPoints: o.CRLDistributionPoints,
		SignatureAlgorithm:    o.SignatureAlgorithm,
	}
	if o.Subject != nil {
		tmpl.Subject = *o.Subject
	}
	if o.ClientAuth {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if tmpl.CRLDistributionPoints == nil && !o.SelfSigned {
		tmpl.CRLDistributionPoints = ca.crlPoints(len(ca.levels) - 1)
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		// Static RSA key exchange (TLS_RSA_* suites) needs keyEncipherment.
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for _, n := range o.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if o.MustStaple {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, MustStapleExtension())
	}
	parent, signer := ca.inter, ca.interKey
	if o.SelfSigned {
		parent, signer = tmpl, key
	}
	cert, der := sign(t, tmpl, parent, key.Public(), signer)
	return &Leaf{
		t: t, ca: ca, self: o.SelfSigned, cert: cert, der: der, key: key, keyPEM: keyPEM,
		keyType: o.KeyType, sequence: ca.seq.Add(1),
	}
}

// OIDTLSFeature is the TLS Feature extension (RFC 7633), "must-staple"
// when it lists status_request (5).
var OIDTLSFeature = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}

// MustStapleExtension returns the TLS Feature extension requesting
// status_request.
func MustStapleExtension() pkix.Extension {
	v, err := asn1.Marshal([]int{5})
	if err != nil {
		panic(fmt.Sprintf("testca: marshalling TLS feature: %v", err))
	}
	return pkix.Extension{Id: OIDTLSFeature, Value: v}
}

// Cert returns the parsed leaf certificate.
func (l *Leaf) Cert() *x509.Certificate { return l.cert }

// Key returns the leaf's private key.
func (l *Leaf) Key() crypto.Signer { return l.key }

// Issuer returns the certificate that signed the leaf (the intermediate).
func (l *Leaf) Issuer() *x509.Certificate {
	if l.self {
		return l.cert
	}
	return l.ca.inter
}

// IssuerKey returns the issuer's private key, for signing OCSP responses.
func (l *Leaf) IssuerKey() crypto.Signer {
	if l.self {
		return l.key
	}
	return l.ca.interKey
}

// CA returns the authority that issued the leaf.
func (l *Leaf) CA() *CA { return l.ca }

// TLS returns the certificate as served: leaf then intermediates, with the
// private key and Leaf set. A self-signed leaf comes alone.
func (l *Leaf) TLS() tls.Certificate {
	chain := [][]byte{l.der}
	for _, c := range l.chain() {
		chain = append(chain, c.Raw)
	}
	return tls.Certificate{
		Certificate: chain,
		PrivateKey:  l.key,
		Leaf:        l.cert,
	}
}

// chain returns the intermediates sent with the leaf.
func (l *Leaf) chain() []*x509.Certificate {
	if l.self {
		return nil
	}
	return l.ca.Intermediates()
}

// CertPEM returns the leaf certificate alone in PEM form.
func (l *Leaf) CertPEM() []byte { return certPEM(l.cert) }

// ChainPEM returns the leaf followed by the intermediates, in PEM form.
func (l *Leaf) ChainPEM() []byte {
	b := certPEM(l.cert)
	for _, c := range l.chain() {
		b = append(b, certPEM(c)...)
	}
	return b
}

// KeyPEM returns the private key in the PEM encoding asked for by
// LeafOptions.KeyFormat.
func (l *Leaf) KeyPEM() []byte { return l.keyPEM }

// WriteFiles writes ChainPEM and KeyPEM into dir as
// "<keytype>-<n>.chain.pem" and "<keytype>-<n>.key", where n counts the
// CA's leaves, and returns both paths. The key file has mode 0600.
func (l *Leaf) WriteFiles(dir string) (chainPath, keyPath string) {
	l.t.Helper()
	return l.WriteFilesAs(dir, fmt.Sprintf("%s-%d", l.keyType, l.sequence))
}

// WriteFilesAs is WriteFiles with an explicit base name:
// "<base>.chain.pem" and "<base>.key".
func (l *Leaf) WriteFilesAs(dir, base string) (chainPath, keyPath string) {
	l.t.Helper()
	chainPath = filepath.Join(dir, base+".chain.pem")
	keyPath = filepath.Join(dir, base+".key")
	writeFile(l.t, chainPath, l.ChainPEM(), 0o644)
	writeFile(l.t, keyPath, l.keyPEM, 0o600)
	return chainPath, keyPath
}

func newKey(t testing.TB, keyType string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch keyType {
	case "ecdsa256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa4096":
		k, err = rsa.GenerateKey(rand.Reader, 4096)
	default:
		t.Fatalf("testca: key type %q is not supported (want ecdsa256, ecdsa384, rsa2048 or rsa4096)", keyType)
		return nil
	}
	if err != nil {
		t.Fatalf("testca: generating %s key: %v", keyType, err)
	}
	return k
}

func encodeKey(t testing.TB, key crypto.Signer, format string) []byte {
	t.Helper()
	var block *pem.Block
	switch format {
	case "pkcs8":
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("testca: encoding key as PKCS#8: %v", err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	case "pkcs1":
		rk, ok := key.(*rsa.PrivateKey)
		if !ok {
			t.Fatalf("testca: key format pkcs1 needs an RSA key, have %T", key)
			return nil
		}
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}
	case "sec1":
		ek, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			t.Fatalf("testca: key format sec1 needs an ECDSA key, have %T", key)
			return nil
		}
		der, err := x509.MarshalECPrivateKey(ek)
		if err != nil {
			t.Fatalf("testca: encoding key as SEC 1: %v", err)
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		t.Fatalf("testca: key format %q is not supported (want pkcs8, pkcs1 or sec1)", format)
		return nil
	}
	return pem.EncodeToMemory(block)
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, []byte) {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("testca: signing %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testca: parsing %q: %v", tmpl.Subject.CommonName, err)
	}
	return cert, der
}

func randomSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("testca: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1)) // never zero
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatalf("testca: writing %s: %v", path, err)
	}
}

// KeyTypeOf names the key type of a public key as LeafOptions.KeyType
// does ("ecdsa256", "rsa2048", ...), or describes it when unknown.
func KeyTypeOf(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ecdsa" + strings.TrimPrefix(k.Curve.Params().Name, "P-")
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa%d", k.N.BitLen())
	default:
		return fmt.Sprintf("%T", pub)
	}
}
