package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// oidTLSFeature is the TLS Feature extension (RFC 7633).
var oidTLSFeature = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}

// CertInfo describes one served certificate chain.
type CertInfo struct {
	// Subject and Issuer of the leaf.
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	// Names are the leaf's DNS and IP subject alternative names.
	Names []string `json:"names"`
	// SHA256 is the leaf's fingerprint in hex.
	SHA256    string    `json:"sha256"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Key is "RSA 2048", "ECDSA P-256", "Ed25519".
	Key string `json:"key"`
	// KeyBits is the RSA-equivalent strength of the key.
	KeyBits int `json:"key_bits"`
	// Signature is the leaf's signature algorithm.
	Signature  string `json:"signature"`
	MustStaple bool   `json:"must_staple"`
	// Chain lists the served certificates, leaf first.
	Chain []ChainCert `json:"chain"`
	// NameMatch: does the leaf cover the name (SNI, or the target host)?
	NameMatch Check `json:"name_match"`
	// Validity: is now within the leaf's validity period?
	Validity Check `json:"validity"`
	// Trust: does the served chain lead to a trusted root?
	Trust Check `json:"trust"`
	// Order: is every served certificate signed by the next one?
	Order Check `json:"order"`
	// Staple describes the stapled OCSP response.
	Staple Staple `json:"ocsp_staple"`

	// trustProblems are what makes the chain untrusted (grade T).
	trustProblems []string
	rsaBits       int // RSA modulus size; 0 for other keys
}

// ChainCert is one served certificate.
type ChainCert struct {
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	Key        string    `json:"key"`
	Signature  string    `json:"signature"`
	NotAfter   time.Time `json:"not_after"`
	SelfSigned bool      `json:"self_signed"`
}

// Staple describes an OCSP response stapled in the handshake.
type Staple struct {
	// Present: did the server staple a response?
	Present bool `json:"present"`
	// Status is "good", "revoked" or "unknown"; "" when absent or invalid.
	Status string `json:"status,omitempty"`
	// Verified: signed by the leaf's issuer (or its delegate) for this leaf.
	Verified   bool      `json:"verified"`
	ThisUpdate time.Time `json:"this_update,omitzero"`
	NextUpdate time.Time `json:"next_update,omitzero"`
	// Problem says why the staple is not usable; "" when it is.
	Problem string `json:"problem,omitempty"`
}

// describeKey names a public key and its RSA-equivalent strength.
func describeKey(pub any) (string, int, int) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		n := k.N.BitLen()
		return fmt.Sprintf("RSA %d", n), n, n
	case *ecdsa.PublicKey:
		bits := map[int]int{224: 2048, 256: 3072, 384: 7680, 521: 15360}[k.Curve.Params().BitSize]
		return "ECDSA " + k.Curve.Params().Name, bits, 0
	case ed25519.PublicKey:
		return "Ed25519", 3072, 0
	}
	return fmt.Sprintf("%T", pub), 0, 0
}

// selfSigned reports a certificate signed by its own key (CA or not:
// CheckSignatureFrom would insist on a CA).
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func weakSignature(a x509.SignatureAlgorithm) bool {
	switch a {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return true
	}
	return false
}

// checkChain evaluates one served chain against name (the SNI or target
// host), roots (nil: the system's) and the instant now.
func checkChain(raw [][]byte, name string, roots *x509.CertPool, now time.Time, staple []byte) (*CertInfo, []*x509.Certificate, error) {
	if len(raw) == 0 {
		return nil, nil, errors.New("no certificate served")
	}
	var chain []*x509.Certificate
	for i, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing served certificate %d: %w", i, err)
		}
		chain = append(chain, c)
	}
	leaf := chain[0]
	sum := sha256.Sum256(leaf.Raw)
	ci := &CertInfo{
		Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
		SHA256: hex.EncodeToString(sum[:]), NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter,
		Signature: leaf.SignatureAlgorithm.String(),
	}
	ci.Key, ci.KeyBits, ci.rsaBits = describeKey(leaf.PublicKey)
	ci.Names = append(ci.Names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		ci.Names = append(ci.Names, ip.String())
	}
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidTLSFeature) {
			var features []int
			if _, err := asn1.Unmarshal(e.Value, &features); err == nil {
				for _, f := range features {
					ci.MustStaple = ci.MustStaple || f == 5
				}
			}
		}
	}
	for _, c := range chain {
		k, _, _ := describeKey(c.PublicKey)
		ci.Chain = append(ci.Chain, ChainCert{
			Subject: c.Subject.String(), Issuer: c.Issuer.String(), Key: k,
			Signature: c.SignatureAlgorithm.String(), NotAfter: c.NotAfter, SelfSigned: selfSigned(c),
		})
	}

	// Name.
	if err := leaf.VerifyHostname(strings.Trim(name, "[]")); err != nil {
		ci.NameMatch = no("%s is not among the certificate's names %v", name, ci.Names)
	} else {
		ci.NameMatch = yes("%s matches the certificate's names %v", name, ci.Names)
	}

	// Validity.
	switch {
	case now.After(leaf.NotAfter):
		ci.Validity = no("expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
		ci.trustProblems = append(ci.trustProblems, "the certificate expired on "+leaf.NotAfter.UTC().Format("2006-01-02"))
	case now.Before(leaf.NotBefore):
		ci.Validity = no("not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
		ci.trustProblems = append(ci.trustProblems, "the certificate is not valid before "+leaf.NotBefore.UTC().Format("2006-01-02"))
	default:
		days := int(leaf.NotAfter.Sub(now).Hours() / 24)
		ci.Validity = yes("valid from %s to %s (%d days left)", leaf.NotBefore.UTC().Format("2006-01-02"), leaf.NotAfter.UTC().Format("2006-01-02"), days)
	}
	if weakSignature(leaf.SignatureAlgorithm) {
		ci.trustProblems = append(ci.trustProblems, "the certificate is signed with "+leaf.SignatureAlgorithm.String()+", which browsers no longer trust")
	}

	// Order: each certificate signed by the next.
	ci.Order = yes("%d certificates, each signed by the next", len(chain))
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			ci.Order = no("certificate %d (%s) is not signed by certificate %d (%s): wrong order or an unrelated certificate",
				i, chain[i].Subject, i+1, chain[i+1].Subject)
			break
		}
	}
	if len(chain) > 1 && selfSigned(chain[len(chain)-1]) && ci.Order.State == "yes" {
		ci.Order.Evidence += "; the last one is the self-signed root (sending it is unnecessary)"
	}

	// Trust.
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	vtime := now
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		vtime = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2) // judge trust apart from dates
	}
	paths, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: vtime,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	switch {
	case err == nil:
		var names []string
		for _, c := range paths[0] {
			names = append(names, c.Subject.CommonName)
		}
		ci.Trust = yes("trusted path: %s", strings.Join(names, " <- "))
	case selfSigned(leaf):
		ci.Trust = no("self-signed certificate")
		ci.trustProblems = append(ci.trustProblems, "the certificate is self-signed")
	default:
		var ua x509.UnknownAuthorityError
		last := chain[len(chain)-1]
		if errors.As(err, &ua) && !selfSigned(last) {
			ci.Trust = no("no trusted root: the chain ends at %q, issued by %q, which was neither sent nor is a trusted root (incomplete chain or unknown CA)", last.Subject, last.Issuer)
		} else {
			ci.Trust = no("not trusted: %v", err)
		}
		ci.trustProblems = append(ci.trustProblems, "the chain is not trusted: "+ci.Trust.Evidence)
	}

	// OCSP staple.
	var issuer *x509.Certificate
	if len(paths) > 0 && len(paths[0]) > 1 {
		issuer = paths[0][1]
	} else if len(chain) > 1 {
		issuer = chain[1]
	}
	ci.Staple = checkStaple(staple, leaf, issuer, now)
	return ci, chain, nil
}

// checkStaple verifies a stapled OCSP response for leaf.
func checkStaple(staple []byte, leaf, issuer *x509.Certificate, now time.Time) Staple {
	if len(staple) == 0 {
		return Staple{}
	}
	st := Staple{Present: true}
	if issuer == nil {
		st.Problem = "the issuer is unknown, so the response cannot be verified"
		return st
	}
	resp, err := ocsp.ParseResponseForCert(staple, leaf, issuer)
	if err != nil {
		st.Problem = "invalid response: " + err.Error()
		return st
	}
	st.Verified = true
	st.ThisUpdate, st.NextUpdate = resp.ThisUpdate, resp.NextUpdate
	st.Status = map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked", ocsp.Unknown: "unknown"}[resp.Status]
	switch {
	case resp.Status == ocsp.Revoked:
		st.Problem = "the certificate is revoked (since " + resp.RevokedAt.UTC().Format(time.RFC3339) + ")"
	case resp.Status != ocsp.Good:
		st.Problem = "the responder does not know the certificate"
	case now.Before(resp.ThisUpdate):
		st.Problem = "the response is not valid yet (thisUpdate " + resp.ThisUpdate.UTC().Format(time.RFC3339) + ")"
	case !resp.NextUpdate.IsZero() && now.After(resp.NextUpdate):
		st.Problem = "the response expired at nextUpdate " + resp.NextUpdate.UTC().Format(time.RFC3339)
	}
	return st
}

// nameToCheck is the name the certificate must cover: the SNI, or the
// target host (an IP address when no name was given).
func nameToCheck(sni, host string) string {
	if sni != "" {
		return sni
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip.String()
	}
	return host
}
