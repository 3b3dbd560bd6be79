package tlsconf

// The handshake side of ACME: the certificate an ACME site serves now,
// looked up in certmagic's cache per hello, and the TLS-ALPN-01 challenge
// config State uses.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/caddyserver/certmagic"
)

// acmeCert is the ACME side of a Cert: the site's names.
type acmeCert struct {
	a     *ACME
	names []string // normalized
}

// served returns the certificate for sni (the first name when sni is not
// one of the site's), or nil while none is issued.
func (ac *acmeCert) served(sni string) *Cert {
	return ac.a.lookup(ac.pick(sni))
}

func (ac *acmeCert) pick(sni string) string {
	n := normalizeName(sni)
	if slices.Contains(ac.names, n) || len(ac.names) == 0 {
		return n
	}
	return ac.names[0]
}

// notReady is the handshake error while sni's certificate is not issued.
// It reads only memory: it runs on the handshake path.
func (ac *acmeCert) notReady(sni string) error {
	n := ac.pick(sni)
	ac.a.mu.Lock()
	lastErr := ac.a.lastErr[n]
	ac.a.mu.Unlock()
	if lastErr != "" {
		return fmt.Errorf("acme: no certificate for %q yet (%s; last error: %s)", n, ACMEFailed, lastErr)
	}
	return fmt.Errorf("acme: no certificate for %q yet (%s)", n, ACMEPending)
}

// lookup returns the certificate to serve for name from certmagic's cache:
// the one of the configured key type that expires last, wrapped once per
// certificate in a Cert that carries its OCSP staple.
func (a *ACME) lookup(name string) *Cert {
	var best *certmagic.Certificate
	certs := a.cache.AllMatchingCertificates(name)
	for i := range certs {
		c := &certs[i]
		if c.Leaf == nil || c.PrivateKey == nil || isECDSAKey(c.PrivateKey) != a.ecdsa {
			continue
		}
		if best == nil || c.Leaf.NotAfter.After(best.Leaf.NotAfter) {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	if v, ok := a.servedBy.Load(best.Hash()); ok {
		return v.(*Cert)
	}
	c, err := wrapCertmagic(best)
	if err != nil {
		a.log.Error().Err(err).Str("name", name).Msg("ACME: certificate unusable")
		return nil
	}
	v, loaded := a.servedBy.LoadOrStore(best.Hash(), c)
	if !loaded {
		a.log.Info().Str("name", name).Time("not_after", c.Leaf().NotAfter).Str("serial", c.Leaf().SerialNumber.Text(16)).
			Msg("ACME: serving certificate")
		if a.opts.Staple != nil {
			a.hookStaple(name, c)
		}
	}
	return v.(*Cert)
}

// wrapCertmagic makes a Cert (with a Staple slot) of certmagic's certificate.
func wrapCertmagic(mc *certmagic.Certificate) (*Cert, error) {
	chain := []*x509.Certificate{mc.Leaf}
	for _, der := range mc.Certificate.Certificate[1:] {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("parsing the chain: %w", err)
		}
		chain = append(chain, x)
	}
	signer, ok := mc.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", mc.PrivateKey)
	}
	kt, err := keyType(signer)
	if err != nil {
		return nil, err
	}
	tc := mc.Certificate
	tc.OCSPStaple = nil
	return &Cert{Chain: chain, TLS: tc, KeyType: kt}, nil
}

// hookStaple asks opts.Staple, in the background, for c's staple source.
func (a *ACME) hookStaple(name string, c *Cert) {
	var src atomic.Pointer[func() []byte]
	c.Staple = func() []byte {
		if f := src.Load(); f != nil {
			return (*f)()
		}
		return nil
	}
	a.goBackground(func() {
		if f := a.opts.Staple(name+" (ACME, "+c.KeyType+")", c.Chain); f != nil {
			src.Store(&f)
		}
	})
}

// challengeConfig is the config for TLS-ALPN-01 hellos: our policy, the
// single protocol "acme-tls/1", and certmagic's challenge certificate.
func (a *ACME) challengeConfig(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	cfg.NextProtos = []string{acmeTLS1}
	cfg.GetCertificate = a.cfg.GetCertificate
	return cfg
}

// isACMEChallenge reports whether hello is a TLS-ALPN-01 validation: RFC
// 8737 has the CA offer "acme-tls/1" as its only protocol.
func isACMEChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1
}

// isECDSAKey reports whether a private or public key is ECDSA.
func isECDSAKey(k any) bool {
	if s, ok := k.(crypto.Signer); ok {
		k = s.Public()
	}
	_, ok := k.(*ecdsa.PublicKey)
	return ok
}

func normalizeName(n string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
}
