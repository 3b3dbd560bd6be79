package crl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tlsfront/internal/testca"
)

var now0 = time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC)

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "crl.pem")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func otherKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestFileCRLs checks CRLs loaded from files: a listed serial is revoked,
// others are not, and a CRL that is expired, not yet valid, wrongly signed
// or issued by another CA gives no current CRL at all.
func TestFileCRLs(t *testing.T) {
	t.Parallel()
	ca := testca.New(t, testca.Options{Now: now0})
	other := testca.New(t, testca.Options{Now: now0, Name: "other"})
	leaf := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	revoked := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	inter := ca.Intermediate()
	listing := []*big.Int{revoked.Cert().SerialNumber}

	tests := []struct {
		name        string
		crl         []byte
		cert        *testca.Leaf
		wantRevoked bool
		wantNoCRL   bool
	}{
		{name: "good, not listed", crl: ca.CRLPEM(t, testca.CRLOptions{Level: -1, Revoked: listing}), cert: leaf},
		{name: "good, listed", crl: ca.CRLPEM(t, testca.CRLOptions{Level: -1, Revoked: listing}), cert: revoked, wantRevoked: true},
		{name: "DER file", crl: ca.CRL(t, testca.CRLOptions{Level: -1, Revoked: listing}), cert: revoked, wantRevoked: true},
		{name: "expired", crl: ca.CRLPEM(t, testca.CRLOptions{Level: -1, Revoked: listing, ThisUpdate: now0.Add(-48 * time.Hour), NextUpdate: now0.Add(-time.Hour)}), cert: revoked, wantNoCRL: true},
		{name: "not yet valid", crl: ca.CRLPEM(t, testca.CRLOptions{Level: -1, ThisUpdate: now0.Add(time.Hour), NextUpdate: now0.Add(48 * time.Hour)}), cert: leaf, wantNoCRL: true},
		{name: "wrongly signed", crl: ca.CRLPEM(t, testca.CRLOptions{Level: -1, Revoked: listing, Signer: otherKey(t)}), cert: revoked, wantNoCRL: true},
		{name: "root's CRL only", crl: ca.CRLPEM(t, testca.CRLOptions{Level: 0}), cert: leaf, wantNoCRL: true},
		{name: "another CA's CRL", crl: other.CRLPEM(t, testca.CRLOptions{Level: -1}), cert: leaf, wantNoCRL: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{Now: func() time.Time { return now0 }}, []*x509.Certificate{ca.Root(), inter})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.AddFile(writeFile(t, tc.crl)); err != nil {
				t.Fatal(err)
			}
			err = s.Check(tc.cert.Cert(), inter)
			switch {
			case tc.wantRevoked && !errors.Is(err, ErrRevoked):
				t.Errorf("Check = %v, want revoked", err)
			case tc.wantNoCRL && !errors.Is(err, ErrNoCRL):
				t.Errorf("Check = %v, want no current CRL", err)
			case !tc.wantRevoked && !tc.wantNoCRL && err != nil:
				t.Errorf("Check = %v, want nil", err)
			}
		})
	}
}

// TestNewestCRLWins checks that of two current CRLs of one issuer the one
// with the higher number decides: a certificate taken off hold in the newer
// one is no longer revoked.
func TestNewestCRLWins(t *testing.T) {
	t.Parallel()
	ca := testca.New(t, testca.Options{Now: now0})
	leaf := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	older := ca.CRLPEM(t, testca.CRLOptions{Level: -1, Number: big.NewInt(7), Revoked: []*big.Int{leaf.Cert().SerialNumber}})
	newer := ca.CRLPEM(t, testca.CRLOptions{Level: -1, Number: big.NewInt(8)})
	s, err := New(Options{Now: func() time.Time { return now0 }}, []*x509.Certificate{ca.Root(), ca.Intermediate()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddFile(writeFile(t, append(newer, older...))); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(leaf.Cert(), ca.Intermediate()); err != nil {
		t.Errorf("Check = %v, want nil (CRL 8 does not list it)", err)
	}
}

// TestReadFileRefuses checks the files tlsfront refuses to load, each with
// a message naming the problem.
func TestReadFileRefuses(t *testing.T) {
	t.Parallel()
	ca := testca.New(t, testca.Options{Now: now0})
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("not a CRL")},
		{"certificate", ca.RootPEM()},
		{"empty PEM", []byte("-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadFile(writeFile(t, tc.data)); err == nil {
				t.Errorf("ReadFile accepted %q", tc.data)
			}
		})
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Error("ReadFile accepted a missing file")
	}
}
