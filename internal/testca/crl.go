package testca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// CRLOptions describes a certificate revocation list. The zero value is an
// empty CRL of the issuer of leaves, valid from an hour before the CA's Now
// for a day.
type CRLOptions struct {
	// Level is the issuing CA: 0 is the root, 1 the intermediate it
	// signed, and so on. Negative means the issuer of leaves.
	Level int
	// Revoked are the serial numbers listed as revoked.
	Revoked []*big.Int
	// ThisUpdate and NextUpdate bound the CRL's validity. Zero means an
	// hour before the CA's Now, and a day after it.
	ThisUpdate, NextUpdate time.Time
	// Number is the CRL number. Nil means 1.
	Number *big.Int
	// Signer signs the CRL instead of the issuer's key (a wrongly signed
	// CRL). Nil means the issuer's key.
	Signer crypto.Signer
}

// CRL returns a DER CRL issued by the CA at o.Level.
func (ca *CA) CRL(t testing.TB, o CRLOptions) []byte {
	t.Helper()
	level := o.Level
	if level < 0 || level >= len(ca.levels) {
		level = len(ca.levels) - 1
	}
	if o.ThisUpdate.IsZero() {
		o.ThisUpdate = ca.now.Add(-time.Hour)
	}
	if o.NextUpdate.IsZero() {
		o.NextUpdate = ca.now.Add(24 * time.Hour)
	}
	if o.Number == nil {
		o.Number = big.NewInt(1)
	}
	signer := ca.keys[level]
	if o.Signer != nil {
		signer = o.Signer
	}
	tmpl := &x509.RevocationList{Number: o.Number, ThisUpdate: o.ThisUpdate, NextUpdate: o.NextUpdate}
	for _, s := range o.Revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: o.ThisUpdate})
	}
	issuer := ca.levels[level]
	if o.Signer != nil {
		// x509 refuses a signer whose key is not the issuer's: sign with a
		// look-alike issuer carrying the signer's key.
		fake := *issuer
		fake.PublicKey = o.Signer.Public()
		issuer = &fake
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, signer)
	if err != nil {
		t.Fatalf("testca: creating CRL: %v", err)
	}
	return der
}

// CRLPEM is CRL in PEM form ("X509 CRL"), as openssl and Apache read it.
func (ca *CA) CRLPEM(t testing.TB, o CRLOptions) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: ca.CRL(t, o)})
}

// Level returns the CA certificate at level (0 is the root) and its key.
func (ca *CA) Level(level int) (*x509.Certificate, crypto.Signer) {
	return ca.levels[level], ca.keys[level]
}

// Levels is the number of CA certificates: the root and the intermediates.
func (ca *CA) Levels() int { return len(ca.levels) }
