package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Cert is one certificate chain with its key, as served to clients.
type Cert struct {
	CertFile, KeyFile string
	Chain             []*x509.Certificate // leaf first
	TLS               tls.Certificate     // Leaf is set
	KeyType           string              // "ECDSA P-256", "RSA 2048", "Ed25519"

	// Staple, when set, returns the current OCSP response for this
	// certificate (nil for none). It is called on every handshake, so it must
	// be cheap and safe for concurrent use.
	Staple func() []byte

	cur atomic.Pointer[stapled]

	// acme is set on a certificate managed by ACME (made by ACME.Cert):
	// Chain and TLS are then empty, and each handshake asks certmagic's
	// cache for the certificate of the hello's name (see certFor).
	acme *acmeCert
}

type stapled struct {
	staple []byte
	cert   *tls.Certificate
}

// Leaf returns the end-entity certificate. For an ACME-managed certificate
// it is the one served now for the site's first name, or nil before the
// first is issued (ACME.Status says why).
func (c *Cert) Leaf() *x509.Certificate {
	if c.acme != nil {
		if s := c.acme.served(""); s != nil {
			return s.Leaf()
		}
		return nil
	}
	return c.Chain[0]
}

// ACME reports whether c is managed by ACME (made by ACME.Cert): its
// Chain, TLS and CertFile are empty and its certificate changes at renewal.
func (c *Cert) ACME() bool { return c.acme != nil }

// IsECDSA reports whether the key is ECDSA or Ed25519 (signed with ECDSA suites).
// For an ACME-managed certificate it follows the configured key type.
func (c *Cert) IsECDSA() bool {
	if c.acme != nil {
		return c.acme.a.ecdsa
	}
	switch c.TLS.PrivateKey.(crypto.Signer).Public().(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// current returns the tls.Certificate to send now, with the current staple.
// A new copy is made only when the staple changes.
func (c *Cert) current() *tls.Certificate {
	if c.Staple == nil {
		return &c.TLS
	}
	s := c.Staple()
	if p := c.cur.Load(); p != nil && sameSlice(p.staple, s) {
		return p.cert
	}
	cp := c.TLS
	cp.OCSPStaple = s
	c.cur.Store(&stapled{staple: s, cert: &cp})
	return &cp
}

// publicKey returns the public key the suite plan matches signatures
// against: the leaf's, or for an ACME-managed certificate a key of the
// configured type (the certificate may not exist yet, and ACME only
// serves certificates of that type).
func (c *Cert) publicKey() crypto.PublicKey {
	if c.acme != nil {
		return c.acme.a.shape
	}
	return c.Leaf().PublicKey
}

// certFor returns the certificate to send to hello: current() for a
// certificate from files; for an ACME-managed one, certmagic's for the
// hello's name, or nil (with the reason) while none is issued.
func (c *Cert) certFor(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c.acme == nil {
		return c.current(), nil
	}
	s := c.acme.served(hello.ServerName)
	if s == nil {
		return nil, c.acme.notReady(hello.ServerName)
	}
	return s.current(), nil
}

func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// LoadCert reads a PEM chain (leaf first) and its PEM private key (PKCS#1,
// PKCS#8 or SEC1), and checks that the key matches the leaf and that each
// certificate is signed by the next.
func LoadCert(certFile, keyFile string) (*Cert, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	c, err := ParseCert(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	c.CertFile, c.KeyFile = certFile, keyFile
	return c, nil
}

// ParseCert is LoadCert for PEM bytes already in memory.
func ParseCert(certPEM, keyPEM []byte) (*Cert, error) {
	var chain []*x509.Certificate
	var der [][]byte
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		x, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d of the chain: %w", len(chain)+1, err)
		}
		chain = append(chain, x)
		der = append(der, b.Bytes)
	}
	if len(chain) == 0 {
		return nil, errors.New("certificate file holds no PEM CERTIFICATE block")
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, fmt.Errorf("private key does not match the certificate %q", chain[0].Subject.CommonName)
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return nil, fmt.Errorf("chain order: certificate %d (%q) is not signed by certificate %d (%q); put the leaf first, then each issuer: %w",
				i+1, chain[i].Subject.CommonName, i+2, chain[i+1].Subject.CommonName, err)
		}
	}
	kt, err := keyType(key)
	if err != nil {
		return nil, err
	}
	return &Cert{
		Chain:   chain,
		KeyType: kt,
		TLS:     tls.Certificate{Certificate: der, PrivateKey: fastSigner(key), Leaf: chain[0]},
	}, nil
}

func parseKey(keyPEM []byte) (crypto.Signer, error) {
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("key file holds no PEM private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
		}
		if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") || b.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("key is encrypted with a passphrase; tlsfront needs an unencrypted key readable only by its user (openssl pkey -in enc.key -out plain.key)")
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue // EC PARAMETERS and the like
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", k)
		}
		return s, nil
	}
}

func keyType(k crypto.Signer) (string, error) {
	switch p := k.Public().(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", p.N.BitLen()), nil
	case *ecdsa.PublicKey:
		return "ECDSA " + p.Curve.Params().Name, nil
	case ed25519.PublicKey:
		return "Ed25519", nil
	}
	return "", fmt.Errorf("unsupported key type %T (want RSA, ECDSA or Ed25519)", k.Public())
}

// Warnings returns what an operator should know about c at time now.
func (c *Cert) Warnings(now time.Time) []string {
	var w []string
	leaf := c.Leaf()
	switch {
	case now.After(leaf.NotAfter):
		w = append(w, fmt.Sprintf("certificate expired on %s", leaf.NotAfter.UTC().Format(time.DateOnly)))
	case now.Add(14 * 24 * time.Hour).After(leaf.NotAfter):
		w = append(w, fmt.Sprintf("certificate expires soon, on %s", leaf.NotAfter.UTC().Format(time.DateOnly)))
	case now.Before(leaf.NotBefore):
		w = append(w, fmt.Sprintf("certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339)))
	}
	if p, ok := c.TLS.PrivateKey.(crypto.Signer).Public().(*rsa.PublicKey); ok && p.N.BitLen() < 2048 {
		w = append(w, fmt.Sprintf("RSA key of %d bits is weak (want 2048 or more)", p.N.BitLen()))
	}
	if len(c.Chain) == 1 && !isSelfSigned(leaf) {
		w = append(w, "chain has only the leaf: add the intermediate certificates after it, or clients will fail to verify")
	}
	return w
}

func isSelfSigned(x *x509.Certificate) bool {
	return bytes.Equal(x.RawIssuer, x.RawSubject) && x.CheckSignature(x.SignatureAlgorithm, x.RawTBSCertificate, x.Signature) == nil
}
