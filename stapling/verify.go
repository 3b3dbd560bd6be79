package stapling

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// maxSkew is how far in the future a response's ThisUpdate may lie before
// the response is refused: the responder's clock and ours may differ a little.
const maxSkew = 5 * time.Minute

// Reasons a response is refused. verifyResponse and checkCurrent wrap them
// with details; callers and tests match them with errors.Is.
var (
	errSignature     = errors.New("bad OCSP response signature")
	errBinding       = errors.New("OCSP response is not about this certificate and issuer")
	errDelegate      = errors.New("delegated OCSP responder not authorised")
	errStatusUnknown = errors.New("responder does not know the certificate (status unknown)")
	errNotYetValid   = errors.New("OCSP response ThisUpdate is in the future")
	errNoNextUpdate  = errors.New("OCSP response has no NextUpdate")
	errExpired       = errors.New("OCSP response has expired (NextUpdate passed)")
)

// verifyResponse parses der and checks that it is a response about exactly
// leaf as issued by issuer, signed by issuer or by a responder that issuer
// delegated OCSP signing to (RFC 6960 §4.2.2.2). It does not look at the
// certificate status or the validity window: see checkCurrent.
//
// ParseResponseForCert is called without the issuer on purpose: given one,
// it treats any embedded certificate as a delegated responder and checks
// that the issuer signed it, which rejects the common case of an issuer that
// signs itself and embeds its own certificate (openssl ocsp -rsigner does
// exactly that). It also skips the EKU and validity checks for delegates and
// matches the CertID on the serial number alone. All three are done here.
func verifyResponse(der []byte, leaf, issuer *x509.Certificate, now time.Time) (*ocsp.Response, error) {
	resp, err := ocsp.ParseResponseForCert(der, leaf, nil)
	if err != nil {
		var re ocsp.ResponseError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("responder answered %q: %w", re.Status.String(), err)
		}
		// Classify the library's ParseErrors for callers; the text is
		// all it exposes.
		var pe ocsp.ParseError
		if errors.As(err, &pe) {
			switch msg := string(pe); {
			case strings.Contains(msg, "no response matching"):
				return nil, fmt.Errorf("%w: %w", errBinding, err)
			case strings.Contains(msg, "signature"):
				return nil, fmt.Errorf("%w: %w", errSignature, err)
			}
		}
		return nil, fmt.Errorf("parsing OCSP response: %w", err)
	}
	switch {
	case resp.Certificate == nil:
		if err := resp.CheckSignatureFrom(issuer); err != nil {
			return nil, fmt.Errorf("%w: %w", errSignature, err)
		}
	case resp.Certificate.Equal(issuer):
		// ParseResponseForCert verified the signature with the embedded
		// certificate, which is the issuer itself.
	default:
		if err := checkDelegate(resp.Certificate, issuer, now); err != nil {
			return nil, err
		}
	}
	if err := checkBinding(der, leaf, issuer, resp.IssuerHash); err != nil {
		return nil, err
	}
	return resp, nil
}

// checkDelegate checks that responder may sign OCSP responses for
// certificates of issuer: issuer signed it, it carries the OCSPSigning
// extended key usage, and it is within its validity period at now.
func checkDelegate(responder, issuer *x509.Certificate, now time.Time) error {
	name := responder.Subject.String()
	if err := responder.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("%w: %q is not signed by the issuer: %w", errDelegate, name, err)
	}
	if !slices.Contains(responder.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return fmt.Errorf("%w: %q lacks the OCSPSigning extended key usage", errDelegate, name)
	}
	if now.Before(responder.NotBefore) || now.After(responder.NotAfter) {
		return fmt.Errorf("%w: %q is outside its validity period (%s to %s)", errDelegate, name,
			responder.NotBefore.Format(time.RFC3339), responder.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// checkCurrent reports why resp must not be stapled at now, or nil when it
// is a Good response inside its validity window.
func checkCurrent(resp *ocsp.Response, now time.Time) error {
	switch resp.Status {
	case ocsp.Good:
	case ocsp.Unknown:
		return errStatusUnknown
	default:
		return fmt.Errorf("unexpected OCSP status %d", resp.Status)
	}
	if resp.ThisUpdate.After(now.Add(maxSkew)) {
		return fmt.Errorf("%w: %s", errNotYetValid, resp.ThisUpdate.Format(time.RFC3339))
	}
	if resp.NextUpdate.IsZero() {
		return errNoNextUpdate
	}
	if !now.Before(resp.NextUpdate) {
		return fmt.Errorf("%w: %s", errExpired, resp.NextUpdate.Format(time.RFC3339))
	}
	return nil
}

// The leading fields of an OCSPResponse (RFC 6960 §4.2.1), enough to reach
// the CertIDs. encoding/asn1 ignores trailing SEQUENCE elements that a
// struct does not name.
type (
	rawOCSPResponse struct {
		Status asn1.Enumerated
		Bytes  rawResponseBytes `asn1:"explicit,tag:0,optional"`
	}
	rawResponseBytes struct {
		Type     asn1.ObjectIdentifier
		Response []byte
	}
	rawBasicResponse struct {
		TBS rawResponseData
	}
	rawResponseData struct {
		Version     int `asn1:"optional,explicit,default:0,tag:0"`
		ResponderID asn1.RawValue
		ProducedAt  time.Time `asn1:"generalized"`
		Responses   []rawSingleResponse
	}
	rawSingleResponse struct {
		CertID rawCertID
	}
	rawCertID struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		NameHash      []byte
		IssuerKeyHash []byte
		SerialNumber  *big.Int
	}
)

// checkBinding checks that the SingleResponse that ParseResponseForCert
// chose (the first with leaf's serial) names issuer by its name and key
// hashes, so that a response about another CA's certificate with the same
// serial is refused.
func checkBinding(der []byte, leaf, issuer *x509.Certificate, h crypto.Hash) error {
	var top rawOCSPResponse
	if _, err := asn1.Unmarshal(der, &top); err != nil {
		return fmt.Errorf("%w: %w", errBinding, err)
	}
	var basic rawBasicResponse
	if _, err := asn1.Unmarshal(top.Bytes.Response, &basic); err != nil {
		return fmt.Errorf("%w: %w", errBinding, err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return fmt.Errorf("%w: issuer public key: %w", errBinding, err)
	}
	if !h.Available() {
		return fmt.Errorf("%w: CertID hash %v not available", errBinding, h)
	}
	hash := func(b []byte) []byte {
		hh := h.New()
		hh.Write(b)
		return hh.Sum(nil)
	}
	for _, r := range basic.TBS.Responses {
		if r.CertID.SerialNumber == nil || r.CertID.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			continue
		}
		if !bytes.Equal(r.CertID.NameHash, hash(issuer.RawSubject)) ||
			!bytes.Equal(r.CertID.IssuerKeyHash, hash(spki.PublicKey.RightAlign())) {
			return fmt.Errorf("%w: CertID names a different issuer", errBinding)
		}
		return nil
	}
	return fmt.Errorf("%w: no CertID with serial %X", errBinding, leaf.SerialNumber)
}
