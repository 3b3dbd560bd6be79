package testca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"testing"

	"tlsfront/internal/testca"
)

// TestIntermediatesAndCRLs: a CA with two intermediates issues client
// certificates that verify through both, names each level's CRL, and
// signs CRLs with the right key (or a wrong one when asked).
func TestIntermediatesAndCRLs(t *testing.T) {
	t.Parallel()
	ca := testca.New(t, testca.Options{Intermediates: 2, CRLURL: "http://crl.example/"})
	leaf := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	if ca.Levels() != 3 || len(ca.Intermediates()) != 2 || len(leaf.TLS().Certificate) != 3 {
		t.Fatalf("levels %d, intermediates %d, chain %d; want 3, 2, 3", ca.Levels(), len(ca.Intermediates()), len(leaf.TLS().Certificate))
	}
	if _, err := leaf.Cert().Verify(x509.VerifyOptions{Roots: ca.Pool(), Intermediates: ca.IntermediatePool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("leaf does not verify for client auth: %v", err)
	}
	if got := leaf.Cert().CRLDistributionPoints; len(got) != 1 || got[0] != "http://crl.example/2.crl" {
		t.Errorf("leaf CDP %v, want the issuing CA's (level 2)", got)
	}
	if got := ca.Intermediates()[1].CRLDistributionPoints; len(got) != 1 || got[0] != "http://crl.example/0.crl" {
		t.Errorf("first intermediate's CDP %v, want the root's", got)
	}
	for level := 0; level < 3; level++ {
		issuer, _ := ca.Level(level)
		rl, err := x509.ParseRevocationList(ca.CRL(t, testca.CRLOptions{Level: level, Revoked: []*big.Int{big.NewInt(7)}}))
		if err != nil || rl.CheckSignatureFrom(issuer) != nil || len(rl.RevokedCertificateEntries) != 1 {
			t.Errorf("level %d CRL: %v", level, err)
		}
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rl, err := x509.ParseRevocationList(ca.CRL(t, testca.CRLOptions{Level: -1, Signer: k}))
	if err != nil {
		t.Fatal(err)
	}
	if rl.CheckSignatureFrom(ca.Intermediate()) == nil {
		t.Error("a CRL signed by another key verifies")
	}
	self := ca.Leaf(t, testca.LeafOptions{SelfSigned: true, ClientAuth: true})
	if self.Cert().CheckSignature(self.Cert().SignatureAlgorithm, self.Cert().RawTBSCertificate, self.Cert().Signature) != nil || len(self.TLS().Certificate) != 1 || self.Issuer() != self.Cert() {
		t.Error("SelfSigned leaf is not self-signed alone")
	}
}
