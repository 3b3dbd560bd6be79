// Package crl keeps the certificate revocation lists that client
// certificate verification checks: CRL files named in the configuration,
// and CRLs downloaded from the distribution points named in the trusted CA
// certificates and in verified client certificates, verified, cached on
// disk and refreshed before their nextUpdate.
//
// It sits beside the handshake, like package stapling: tlsconf asks a Set
// for the current CRL of an issuer while it verifies a client certificate
// (Set.Lookup: a map read, plus one bounded download the first time a
// distribution point is seen), and background loops here keep downloaded
// CRLs fresh. A CRL is used only while it verifies with the issuer's key
// and is current (thisUpdate not in the future, nextUpdate not passed); a
// download that does not verify is refused and the last good CRL is kept.
package crl

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"
	"time"
)

// maxSkew is how far in the future a CRL's thisUpdate may lie before it is
// refused: the issuer's clock and ours may differ a little.
const maxSkew = 5 * time.Minute

// maxCRLSize bounds a CRL read from a file or the network.
const maxCRLSize = 32 << 20

// Reasons a CRL is not used; match them with errors.Is.
var (
	ErrNoCRL       = errors.New("no current CRL") // none held for the issuer, or none current
	errSignature   = errors.New("CRL signature does not verify with the issuer's key")
	errIssuerName  = errors.New("CRL issuer name is not the certificate issuer's name")
	errNotYetValid = errors.New("CRL thisUpdate is in the future")
	errExpired     = errors.New("CRL has expired (nextUpdate passed)")
	errCritical    = errors.New("CRL has a critical extension tlsfront does not understand")
	errOlder       = errors.New("CRL is older than the one held")
)

// held is one parsed CRL with the index and verification results tlsfront
// keeps for it while it is in use.
type held struct {
	rl      *x509.RevocationList
	source  string              // file path or URL, for logs and Status
	revoked map[string]struct{} // serial numbers (big-endian magnitude bytes, with sign)
	checked sync.Map            // issuer SPKI DER (string) -> error (nil: signature verified)
}

func newHeld(rl *x509.RevocationList, source string) *held {
	h := &held{rl: rl, source: source, revoked: make(map[string]struct{}, len(rl.RevokedCertificateEntries))}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber != nil {
			h.revoked[serialKey(e.SerialNumber)] = struct{}{}
		}
	}
	return h
}

func serialKey(n *big.Int) string {
	if n.Sign() < 0 {
		return "-" + string(n.Bytes())
	}
	return string(n.Bytes())
}

// verifiedBy checks, once per issuer key, that issuer signed h's CRL.
func (h *held) verifiedBy(issuer *x509.Certificate) error {
	if !bytes.Equal(h.rl.RawIssuer, issuer.RawSubject) {
		return errIssuerName
	}
	key := string(issuer.RawSubjectPublicKeyInfo)
	if v, ok := h.checked.Load(key); ok {
		if v == nil {
			return nil
		}
		return v.(error)
	}
	var err error
	if e := h.rl.CheckSignatureFrom(issuer); e != nil {
		err = fmt.Errorf("%w: %w", errSignature, e)
	}
	if err == nil {
		h.checked.Store(key, nil)
	} else {
		h.checked.Store(key, err)
	}
	return err
}

// current reports why h's CRL must not be used at now, or nil.
func (h *held) current(now time.Time) error {
	return checkTime(h.rl, now)
}

func checkTime(rl *x509.RevocationList, now time.Time) error {
	if rl.ThisUpdate.After(now.Add(maxSkew)) {
		return fmt.Errorf("%w: %s", errNotYetValid, rl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	// A CRL without nextUpdate (RFC 5280 requires one) never expires, as
	// OpenSSL, and so mod_ssl, treats it.
	if !rl.NextUpdate.IsZero() && !now.Before(rl.NextUpdate) {
		return fmt.Errorf("%w: %s", errExpired, rl.NextUpdate.UTC().Format(time.RFC3339))
	}
	return nil
}

// Revoked reports whether serial is listed in h's CRL.
func (h *held) isRevoked(serial *big.Int) bool {
	_, ok := h.revoked[serialKey(serial)]
	return ok
}

// newer reports whether a should replace b: a higher CRL number, or the
// same (or no) number and a later thisUpdate.
func newer(a, b *x509.RevocationList) bool {
	if a.Number != nil && b.Number != nil {
		if c := a.Number.Cmp(b.Number); c != 0 {
			return c > 0
		}
	}
	return a.ThisUpdate.After(b.ThisUpdate)
}

// parse parses one DER CRL and refuses what tlsfront cannot honour: a
// critical extension it does not understand (issuing distribution point,
// delta CRL indicator: their scope rules are not implemented), and critical
// entry extensions (indirect CRLs).
func parse(der []byte) (*x509.RevocationList, error) {
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CRL: %w", err)
	}
	for _, ext := range rl.Extensions {
		if ext.Critical {
			return nil, fmt.Errorf("%w: %s", errCritical, ext.Id)
		}
	}
	for _, e := range rl.RevokedCertificateEntries {
		for _, ext := range e.Extensions {
			if ext.Critical {
				return nil, fmt.Errorf("%w: entry extension %s", errCritical, ext.Id)
			}
		}
	}
	return rl, nil
}

// decode returns the DER CRLs in data: PEM "X509 CRL" blocks (several may
// follow each other, as in mod_ssl's SSLCARevocationFile), or one DER CRL.
func decode(data []byte) ([][]byte, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		return [][]byte{data}, nil
	}
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			return nil, fmt.Errorf("PEM block %q is not a CRL (want \"X509 CRL\")", b.Type)
		}
		out = append(out, b.Bytes)
	}
	if len(out) == 0 {
		return nil, errors.New("no CRL in PEM data")
	}
	return out, nil
}

// ReadFile parses every CRL in the file at path (PEM or DER). It checks
// syntax only: signatures are checked against the issuing certificate when
// a client certificate is verified.
func ReadFile(path string) ([]*x509.RevocationList, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading CRL: %w", err)
	}
	if fi.Size() > maxCRLSize {
		return nil, fmt.Errorf("reading CRL %s: larger than %d bytes", path, maxCRLSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading CRL: %w", err)
	}
	ders, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("reading CRL %s: %w", path, err)
	}
	var out []*x509.RevocationList
	for i, der := range ders {
		rl, err := parse(der)
		if err != nil {
			return nil, fmt.Errorf("reading CRL %s (#%d): %w", path, i+1, err)
		}
		out = append(out, rl)
	}
	return out, nil
}
