package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"weak"
)

// clientVerifier verifies one site's client certificates.
//
// For optional and require, Go's own verification runs first against every
// CA certificate (so that a certificate from an unknown CA gets the
// unknown_ca alert and an expired one certificate_expired, as with
// mod_ssl); verifyConnection then applies what Go does not: a chain must
// end at a self-signed CA certificate (OpenSSL without partial chains), the
// depth limit, key usage, CRLs and OCSP. Those refusals get the
// bad_certificate alert, the only one crypto/tls sends for them. For
// optional_no_ca Go verifies nothing and verifyConnection does it all.
type clientVerifier struct {
	opts     ClientAuth
	named    *x509.CertPool // every CA: Go's verification, and the names in the request
	roots    *x509.CertPool // self-signed CAs: the trust anchors
	inters   []*x509.Certificate
	verdicts verdicts
	crlLog   logLimiter
}

func newClientVerifier(o ClientAuth) (*clientVerifier, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Verify == VerifyNone {
		return nil, nil
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	v := &clientVerifier{opts: o, roots: x509.NewCertPool(), verdicts: verdicts{m: map[weakKey]string{}}}
	if len(o.CAs) > 0 {
		v.named = x509.NewCertPool()
	}
	for _, c := range o.CAs {
		v.named.AddCert(c)
		if selfSigned(c) {
			v.roots.AddCert(c)
		} else {
			v.inters = append(v.inters, c)
		}
	}
	return v, nil
}

// selfSigned reports whether c names itself as issuer and its own key
// signed it (CheckSignatureFrom would also want c to be a CA).
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// verifyConnection is the site configs' VerifyConnection: it runs after
// every full or resumed handshake (a resumed session is checked against
// the CRLs again) and records the verdict for ClientVerify.
func (v *clientVerifier) verifyConnection(cs tls.ConnectionState) error {
	res, err := v.verify(&cs, true)
	if v.opts.Observe != nil {
		v.opts.Observe(res)
	}
	if err != nil {
		v.opts.Logger.Info().Str("sni", cs.ServerName).Err(err).Msg("client certificate refused")
		return err
	}
	if len(cs.PeerCertificates) > 0 {
		v.verdicts.put(cs.PeerCertificates[0], verdictOf(res))
	}
	return nil
}

// verify decides about cs's client certificate and returns the result (a
// Result constant) and, for a refusal, a *ClientCertError. live is false
// when ClientVerify re-checks an established connection: nothing is logged.
func (v *clientVerifier) verify(cs *tls.ConnectionState, live bool) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		if v.opts.Verify == VerifyRequire {
			// Go refused the handshake already; keep the rule here too.
			return ResultBad, &ClientCertError{Result: ResultBad, Reason: "peer did not return a certificate"}
		}
		return ResultNone, nil
	}
	now := v.opts.Now()
	leaf := cs.PeerCertificates[0]
	refuse := func(result, reason, detail string) (string, error) {
		return result, &ClientCertError{Result: result, Reason: reason, Subject: subjectOf(leaf), Detail: detail}
	}
	chain, generous, err := v.chain(cs, now)
	if err != nil {
		var ce *ClientCertError
		if errors.As(err, &ce) {
			ce.Subject = subjectOf(leaf)
			return ce.Result, ce
		}
		return refuse(ResultBad, "certificate verify failed", err.Error())
	}
	// OpenSSL's "sslclient" purpose: a key usage extension must allow
	// digitalSignature or keyAgreement.
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageKeyAgreement) == 0 {
		return refuse(ResultPurpose, "unsupported certificate purpose", "key usage lacks digitalSignature")
	}
	if d := len(chain) - 1; d > v.opts.Depth {
		return refuse(ResultChainTooLong, "certificate chain too long",
			fmt.Sprintf("chain has %d certificates, but maximum allowed are only %d", d, v.opts.Depth))
	}
	if v.opts.CRL != nil {
		for i, c := range chain {
			issuer := c
			if i+1 < len(chain) {
				issuer = chain[i+1]
			} else if !selfSigned(c) {
				issuer = nil // generous chain: its issuer is unknown
			}
			state, err := RevocationUnknown, error(errors.New("issuer unknown"))
			if issuer != nil {
				state, err = v.opts.CRL(c, issuer)
			}
			switch state {
			case RevocationRevoked:
				return refuse(ResultRevoked, "certificate revoked", fmt.Sprintf("%s: %v", subjectOf(c), err))
			case RevocationUnknown:
				if live {
					v.logMissingCRL(c, err)
				}
				if !v.opts.CRLMissingOK {
					return refuse(ResultCRLMissing, "unable to get certificate CRL", fmt.Sprintf("%s: %v", subjectOf(c), err))
				}
			}
		}
	}
	if v.opts.OCSP != nil {
		if generous || len(chain) < 2 {
			return refuse(ResultOCSPFailed, "application verification failure", "cannot perform OCSP validation for a certificate whose issuer has not been verified")
		}
		switch state, err := v.opts.OCSP(leaf, chain[1]); state {
		case RevocationRevoked:
			return refuse(ResultRevoked, "certificate revoked", fmt.Sprintf("OCSP: %v", err))
		case RevocationUnknown:
			return refuse(ResultOCSPFailed, "application verification failure", fmt.Sprintf("OCSP: %v", err))
		}
	}
	if generous {
		return ResultGenerous, nil
	}
	return ResultSuccess, nil
}

// chain returns the chain the client certificate is judged by, leaf
// first: a verified chain ending at a trusted self-signed CA, or, under
// optional_no_ca when no such chain exists, the chain built from what the
// client sent and the configured CAs (generous). An error is a
// *ClientCertError.
func (v *clientVerifier) chain(cs *tls.ConnectionState, now time.Time) ([]*x509.Certificate, bool, error) {
	// Go's verification (optional, require) or a resumed session already
	// found chains: use one that ends at a trust anchor.
	for _, c := range cs.VerifiedChains {
		if last := c[len(c)-1]; selfSigned(last) && v.configured(last) && validAt(c, now) {
			return c, false, nil
		}
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range v.inters {
		inter.AddCert(c)
	}
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err == nil {
		best := chains[0]
		for _, c := range chains[1:] {
			if len(c) < len(best) {
				best = c
			}
		}
		return best, false, nil
	}
	built := v.untrustedChain(leaf, cs.PeerCertificates[1:])
	if e := checkTimes(built, now); e != nil {
		return nil, false, e
	}
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		last := built[len(built)-1]
		if !selfSigned(last) && v.configured(last) {
			// The chain reached a configured intermediate whose issuer is
			// missing: not one of the errors optional_no_ca forgives.
			return nil, false, &ClientCertError{Result: ResultUnknownCA, Reason: "unable to get issuer certificate", Detail: "the issuer of " + subjectOf(last) + " is not among the CA certificates"}
		}
		reason := issuerReason(built)
		if v.opts.Verify == VerifyOptionalNoCA {
			for i := 0; i+1 < len(built); i++ {
				if err := built[i].CheckSignatureFrom(built[i+1]); err != nil {
					return nil, false, &ClientCertError{Result: ResultBad, Reason: "certificate signature failure", Detail: err.Error()}
				}
			}
			return built, true, nil
		}
		return nil, false, &ClientCertError{Result: ResultUnknownCA, Reason: reason, Detail: err.Error()}
	case errors.As(err, &ci) && ci.Reason == x509.IncompatibleUsage:
		return nil, false, &ClientCertError{Result: ResultPurpose, Reason: "unsupported certificate purpose", Detail: err.Error()}
	}
	return nil, false, &ClientCertError{Result: ResultBad, Reason: "certificate verify failed", Detail: err.Error()}
}

// issuerReason is OpenSSL's error for a chain that reaches no trust anchor.
func issuerReason(built []*x509.Certificate) string {
	last := built[len(built)-1]
	switch {
	case len(built) == 1 && selfSigned(last):
		return "self-signed certificate"
	case selfSigned(last):
		return "self-signed certificate in certificate chain"
	case len(built) == 1:
		return "unable to verify the first certificate"
	}
	return "unable to get local issuer certificate"
}

// untrustedChain follows issuers from leaf through sent and the configured
// intermediates, as OpenSSL builds the chain it reports errors on.
func (v *clientVerifier) untrustedChain(leaf *x509.Certificate, sent []*x509.Certificate) []*x509.Certificate {
	pool := append(append([]*x509.Certificate(nil), sent...), v.inters...)
	chain := []*x509.Certificate{leaf}
	for cur := leaf; !selfSigned(cur) && len(chain) <= len(pool); {
		var next *x509.Certificate
		for _, c := range pool {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil && !contains(chain, c) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}

func contains(chain []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range chain {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// configured reports whether c is one of the CA certificates.
func (v *clientVerifier) configured(c *x509.Certificate) bool {
	for _, r := range v.opts.CAs {
		if r.Equal(c) {
			return true
		}
	}
	return false
}

func validAt(chain []*x509.Certificate, now time.Time) bool { return checkTimes(chain, now) == nil }

// checkTimes refuses a chain with a certificate outside its validity period.
func checkTimes(chain []*x509.Certificate, now time.Time) error {
	for _, c := range chain {
		switch {
		case now.Before(c.NotBefore):
			return &ClientCertError{Result: ResultNotYetValid, Reason: "certificate is not yet valid", Detail: subjectOf(c) + " is valid from " + c.NotBefore.UTC().Format(time.RFC3339)}
		case now.After(c.NotAfter):
			return &ClientCertError{Result: ResultExpired, Reason: "certificate has expired", Detail: subjectOf(c) + " expired " + c.NotAfter.UTC().Format(time.RFC3339)}
		}
	}
	return nil
}

// logMissingCRL logs, at most once a minute per issuer, that no current
// CRL covers c, and what crl_missing does about it.
func (v *clientVerifier) logMissingCRL(c *x509.Certificate, err error) {
	key := string(c.RawIssuer)
	if !v.crlLog.allow(key, v.opts.Now()) {
		return
	}
	action := "refusing client certificates it issued (crl_missing = \"fail\")"
	if v.opts.CRLMissingOK {
		action = "accepting client certificates it issued unchecked (crl_missing = \"allow\")"
	}
	v.opts.Logger.Warn().Str("issuer", c.Issuer.String()).AnErr("why", err).Msg("no current CRL for a certificate's issuer; " + action)
}

// logLimiter allows one event per key a minute.
type logLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *logLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if t, ok := l.last[key]; ok && now.Sub(t) < time.Minute {
		return false
	}
	if len(l.last) > 1024 {
		clear(l.last)
	}
	l.last[key] = now
	return true
}

// verdicts maps a connection's client certificate (the *x509.Certificate
// crypto/tls keeps for the connection, the one ConnectionState hands out)
// to the SSL_CLIENT_VERIFY its handshake earned. Entries go away with the
// certificate, so the map holds only live connections.
type verdicts struct {
	mu sync.Mutex
	m  map[weakKey]string
}

type weakKey = weak.Pointer[x509.Certificate]

func (vs *verdicts) put(leaf *x509.Certificate, verdict string) {
	wp := weak.Make(leaf)
	vs.mu.Lock()
	_, had := vs.m[wp]
	vs.m[wp] = verdict
	vs.mu.Unlock()
	if !had {
		runtime.AddCleanup(leaf, func(wp weakKey) {
			vs.mu.Lock()
			delete(vs.m, wp)
			vs.mu.Unlock()
		}, wp)
	}
}

func (vs *verdicts) get(leaf *x509.Certificate) (string, bool) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	v, ok := vs.m[weak.Make(leaf)]
	return v, ok
}

func (vs *verdicts) len() int {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return len(vs.m)
}
