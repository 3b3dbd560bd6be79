package stapling

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestVerify checks every acceptance rule on a minted response: what
// verifyResponse lets through and checkCurrent then says about it.
func TestVerify(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCANamed(t, "Other")
	sibling := newTestCANamed(t, "Sibling")
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: "http://ocsp.example.test/"})
	now := time.Now().Truncate(time.Second)
	good := respSpec{status: ocsp.Good, thisUpdate: now.Add(-time.Hour), nextUpdate: now.Add(3 * time.Hour)}
	with := func(f func(*respSpec)) respSpec { s := good; f(&s); return s }

	delegEKU, delegEKUKey := ca.delegate(t, true, nil, nil, time.Time{}, time.Time{})
	delegNoEKU, delegNoEKUKey := ca.delegate(t, false, nil, nil, time.Time{}, time.Time{})
	delegOther, delegOtherKey := ca.delegate(t, true, other.issuer, other.issuerKey, time.Time{}, time.Time{})
	delegOld, delegOldKey := ca.delegate(t, true, nil, nil, now.Add(-48*time.Hour), now.Add(-time.Hour))

	tests := []struct {
		name       string
		der        []byte
		wantVerify error // from verifyResponse; nil = verifies
		wantStatus int
		wantStaple error // from checkCurrent; nil = may be stapled
	}{
		{name: "good", der: ca.response(t, leaf, good)},
		{name: "good signed by issuer embedding itself",
			der: ca.response(t, leaf, with(func(s *respSpec) { s.signer = ca.issuer }))},
		{name: "ThisUpdate within skew",
			der: ca.response(t, leaf, with(func(s *respSpec) { s.thisUpdate = now.Add(maxSkew - time.Minute) }))},
		{name: "revoked", wantStatus: ocsp.Revoked,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.status = ocsp.Revoked; s.revokedAt = now.Add(-2 * time.Hour) }))},
		{name: "unknown", wantStatus: ocsp.Unknown, wantStaple: errStatusUnknown,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.status = ocsp.Unknown }))},
		{name: "wrong serial", wantVerify: errBinding,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.serial = new(big.Int).Add(leaf.SerialNumber, big.NewInt(1)) }))},
		{name: "CertID of another issuer with the same serial", wantVerify: errBinding,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.certIDIssuer = sibling.issuer }))},
		{name: "signed by another CA", wantVerify: errSignature,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.signerKey = other.issuerKey }))},
		{name: "expired", wantStaple: errExpired,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.thisUpdate = now.Add(-5 * time.Hour); s.nextUpdate = now.Add(-time.Second) }))},
		{name: "NextUpdate now", wantStaple: errExpired,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.nextUpdate = now }))},
		{name: "no NextUpdate", wantStaple: errNoNextUpdate,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.nextUpdate = time.Time{} }))},
		{name: "ThisUpdate in the future", wantStaple: errNotYetValid,
			der: ca.response(t, leaf, with(func(s *respSpec) {
				s.thisUpdate = now.Add(maxSkew + time.Minute)
				s.nextUpdate = now.Add(5 * time.Hour)
			}))},
		{name: "delegated responder with OCSPSigning",
			der: ca.response(t, leaf, with(func(s *respSpec) { s.signer, s.signerKey = delegEKU, delegEKUKey }))},
		{name: "delegated responder without OCSPSigning", wantVerify: errDelegate,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.signer, s.signerKey = delegNoEKU, delegNoEKUKey }))},
		{name: "delegated responder of another CA", wantVerify: errDelegate,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.signer, s.signerKey = delegOther, delegOtherKey }))},
		{name: "delegated responder expired", wantVerify: errDelegate,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.signer, s.signerKey = delegOld, delegOldKey }))},
		{name: "embedded certificate did not sign", wantVerify: errSignature,
			der: ca.response(t, leaf, with(func(s *respSpec) { s.signer = delegEKU }))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := verifyResponse(tc.der, leaf, ca.issuer, now)
			if tc.wantVerify != nil {
				if !errors.Is(err, tc.wantVerify) {
					t.Fatalf("verifyResponse: got %v, want %v", err, tc.wantVerify)
				}
				return
			}
			if err != nil {
				t.Fatalf("verifyResponse: %v", err)
			}
			if resp.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.Status, tc.wantStatus)
			}
			if tc.wantStatus == ocsp.Revoked {
				return // refresh handles revoked before checkCurrent
			}
			err = checkCurrent(resp, now)
			if tc.wantStaple == nil && err != nil || tc.wantStaple != nil && !errors.Is(err, tc.wantStaple) {
				t.Fatalf("checkCurrent: got %v, want %v", err, tc.wantStaple)
			}
		})
	}
}

// TestVerifyGarbage checks that undecodable input is refused, not panicked on.
func TestVerifyGarbage(t *testing.T) {
	ca := newTestCA(t)
	leaf := ca.leaf(t, "a.test", leafOpts{})
	for name, der := range map[string][]byte{
		"empty":    nil,
		"text":     []byte("<html>503 Service Unavailable</html>"),
		"tryLater": {0x30, 0x03, 0x0a, 0x01, 0x03},
		"truncated": ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: time.Now(),
			nextUpdate: time.Now().Add(time.Hour)})[:40],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := verifyResponse(der, leaf, ca.issuer, time.Now()); err == nil {
				t.Fatal("accepted garbage")
			}
		})
	}
}

func TestMustStaple(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range []struct {
		name string
		o    leafOpts
		want bool
	}{
		{"plain", leafOpts{}, false},
		{"must-staple", leafOpts{mustStaple: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasMustStaple(ca.leaf(t, "a.test", tc.o)); got != tc.want {
				t.Fatalf("hasMustStaple = %v, want %v", got, tc.want)
			}
		})
	}
}
