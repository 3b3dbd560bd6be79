package tlsconf

// Client-certificate verification per site, with mod_ssl's SSLVerifyClient
// semantics. The certificate request follows SNI: ConfigForClient picks the
// site, and the site's configs carry its ClientAuth, ClientCAs and
// VerifyConnection. Go cannot renegotiate or ask for a certificate after the
// handshake, so mod_ssl's per-<Location> SSLVerifyClient has no equivalent:
// a path that needs a certificate gets its own name (a separate site).

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// VerifyMode is mod_ssl's SSLVerifyClient level.
type VerifyMode int

// The levels, in mod_ssl's order: none << optional_no_ca << optional << require.
const (
	// VerifyNone asks for no certificate.
	VerifyNone VerifyMode = iota
	// VerifyOptionalNoCA asks for a certificate and accepts one whose
	// issuer cannot be verified (SSL_CLIENT_VERIFY=GENEROUS); every other
	// verification failure ends the handshake.
	VerifyOptionalNoCA
	// VerifyOptional asks for a certificate; none is fine (NONE), one that
	// fails verification ends the handshake.
	VerifyOptional
	// VerifyRequire ends the handshake without a valid certificate.
	VerifyRequire
)

var verifyNames = []string{"none", "optional_no_ca", "optional", "require"}

func (m VerifyMode) String() string {
	if m >= 0 && int(m) < len(verifyNames) {
		return verifyNames[m]
	}
	return fmt.Sprintf("VerifyMode(%d)", int(m))
}

// ParseVerifyMode parses an SSLVerifyClient value.
func ParseVerifyMode(s string) (VerifyMode, error) {
	for i, n := range verifyNames {
		if s == n {
			return VerifyMode(i), nil
		}
	}
	return VerifyNone, fmt.Errorf("%q is not a verify level (want none, optional, require or optional_no_ca)", s)
}

// Revocation is the state a revocation source reports for one certificate.
type Revocation int

const (
	// RevocationGood: a current, verified CRL or OCSP response does not
	// list the certificate as revoked.
	RevocationGood Revocation = iota
	// RevocationRevoked: it does.
	RevocationRevoked
	// RevocationUnknown: no current CRL or response is available.
	RevocationUnknown
)

// ClientAuth configures client-certificate verification for one site.
type ClientAuth struct {
	// Verify is the level; VerifyNone turns the rest off.
	Verify VerifyMode

	// CAs are the trusted CA certificates (mod_ssl's SSLCACertificateFile):
	// self-signed ones are trust anchors, the others intermediates that
	// clients need not send. Every one is named in the certificate request.
	// Empty is allowed only with VerifyOptionalNoCA (every certificate is
	// then GENEROUS at best).
	CAs []*x509.Certificate

	// Depth is SSLVerifyDepth: the most CA certificates above the client
	// certificate, the trust anchor included (0 accepts only self-signed
	// certificates, 1 certificates a trusted root signed directly).
	Depth int

	// CRL, when set, is asked about every certificate of the chain (the
	// trust anchor included, as OpenSSL's CRL_CHECK_ALL does) with its
	// issuer. Nil checks no CRLs.
	CRL func(cert, issuer *x509.Certificate) (Revocation, error)
	// CRLMissingOK accepts a certificate for which CRL reports
	// RevocationUnknown (mod_ssl's "SSLCARevocationCheck chain
	// no_crl_for_cert_ok"); false refuses it (the default, like mod_ssl
	// and nginx). Either way it is logged.
	CRLMissingOK bool

	// OCSP, when set, is asked about the client certificate (not the CAs)
	// with its verified issuer; only RevocationGood passes (mod_ssl's
	// "SSLOCSPEnable leaf"). Nil asks no responder.
	OCSP func(leaf, issuer *x509.Certificate) (Revocation, error)

	// Observe, when set, is called once per handshake that reaches the
	// verification with its result: one of the Result constants.
	Observe func(result string)

	// Logger receives refusals (info) and missing CRLs (warn, at most once
	// a minute per issuer). The zero Logger discards.
	Logger zerolog.Logger

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Results of a client-certificate verification, the values Observe gets
// (and the metric's result label).
const (
	ResultSuccess      = "success"        // SSL_CLIENT_VERIFY=SUCCESS
	ResultGenerous     = "generous"       // SSL_CLIENT_VERIFY=GENEROUS
	ResultNone         = "none"           // no certificate sent (optional levels)
	ResultUnknownCA    = "unknown_ca"     // no chain to a trusted CA
	ResultExpired      = "expired"        // a certificate of the chain has expired
	ResultNotYetValid  = "not_yet_valid"  // a certificate of the chain is not valid yet
	ResultRevoked      = "revoked"        // a CRL or the OCSP responder lists it as revoked
	ResultCRLMissing   = "crl_missing"    // no current CRL for a certificate and crl_missing = "fail"
	ResultOCSPFailed   = "ocsp_failed"    // no definite OCSP answer
	ResultChainTooLong = "chain_too_long" // more CA certificates than verify_depth
	ResultPurpose      = "purpose"        // key usage or extended key usage does not allow client authentication
	ResultBad          = "bad_certificate"
)

// Results lists every result value, for metrics.
var Results = []string{
	ResultSuccess, ResultGenerous, ResultNone, ResultUnknownCA, ResultExpired, ResultNotYetValid,
	ResultRevoked, ResultCRLMissing, ResultOCSPFailed, ResultChainTooLong, ResultPurpose, ResultBad,
}

// ClientCertError is why a client certificate was refused; the handshake
// error is (or wraps) one. Reason is OpenSSL's text for the same failure
// (X509_verify_cert_error_string), the words mod_ssl logs.
type ClientCertError struct {
	Result  string // one of the Result constants
	Reason  string
	Subject string // the client certificate's subject, RFC 2253
	Detail  string // more context for the log; may be empty
}

func (e *ClientCertError) Error() string {
	msg := "client certificate refused: " + e.Reason
	if e.Subject != "" {
		msg += " (subject " + e.Subject + ")"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// LoadCAs reads the PEM certificates of every file in paths, in order.
func LoadCAs(paths []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading CA certificates: %w", err)
		}
		n := 0
		for {
			var b *pem.Block
			b, data = pem.Decode(data)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue // mod_ssl's CA files may hold CRLs or keys too; skip them like OpenSSL does
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing CA certificate #%d in %s: %w", n+1, p, err)
			}
			out = append(out, c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s holds no PEM certificate", p)
		}
	}
	return out, nil
}

// validate checks a ClientAuth before use.
func (ca *ClientAuth) validate() error {
	switch {
	case ca.Verify < VerifyNone || ca.Verify > VerifyRequire:
		return fmt.Errorf("client auth: unknown verify level %d", ca.Verify)
	case ca.Verify == VerifyNone:
		return nil
	case len(ca.CAs) == 0 && ca.Verify != VerifyOptionalNoCA:
		return fmt.Errorf("client auth: verify = %q needs CA certificates to verify against", ca.Verify)
	case ca.Depth < 0:
		return fmt.Errorf("client auth: verify depth %d is negative", ca.Depth)
	}
	return nil
}

// apply sets the client-certificate fields of cfg for v (nil: none).
func (v *clientVerifier) apply(cfg *tls.Config) {
	if v == nil {
		return
	}
	switch v.opts.Verify {
	case VerifyOptional:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case VerifyRequire:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case VerifyOptionalNoCA:
		cfg.ClientAuth = tls.RequestClientCert
	}
	cfg.ClientCAs = v.named
	cfg.VerifyConnection = v.verifyConnection
}

// ClientVerify returns SSL_CLIENT_VERIFY for a connection this State (or
// an earlier one) completed: "NONE" without a client certificate,
// "SUCCESS" or "GENEROUS" as the handshake's verification decided, and
// "FAILED:<reason>" for a connection an earlier configuration accepted
// whose certificate this one refuses. Its cost is a map read; a
// connection this State did not verify is verified again.
func (st *State) ClientVerify(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return "NONE"
	}
	i, _ := st.Site(cs.ServerName)
	v := st.sites[i].client
	if v == nil {
		return "NONE" // not asked for; cannot happen on this State
	}
	if verdict, ok := v.verdicts.get(cs.PeerCertificates[0]); ok {
		return verdict
	}
	res, err := v.verify(cs, false)
	if err != nil {
		var ce *ClientCertError
		if errors.As(err, &ce) {
			return "FAILED:" + ce.Reason
		}
		return "FAILED:" + err.Error()
	}
	return verdictOf(res)
}

// ClientAuthNames returns, per site, the verify level and the subjects of
// the CAs named in its certificate request, for `tlsfront -t`.
func (st *State) ClientAuthNames(site int) (VerifyMode, []string) {
	v := st.sites[site].client
	if v == nil {
		return VerifyNone, nil
	}
	var names []string
	for _, c := range v.opts.CAs {
		names = append(names, c.Subject.String())
	}
	return v.opts.Verify, names
}

func verdictOf(result string) string {
	switch result {
	case ResultSuccess:
		return "SUCCESS"
	case ResultGenerous:
		return "GENEROUS"
	}
	return "NONE"
}

func subjectOf(c *x509.Certificate) string {
	return strings.TrimSpace(c.Subject.String())
}
