package config

import (
	"fmt"
	"slices"

	"tlsfront/tlsconf"
)

// ClientAuth is [site.client_auth]: client certificates, verified with
// mod_ssl's SSLVerifyClient semantics, and mod_ssl's SSL_* variables handed
// to the backend. File paths are resolved against the config file's folder.
type ClientAuth struct {
	Verify      string   `toml:"verify"`       // none | optional | require | optional_no_ca (SSLVerifyClient)
	CA          []string `toml:"ca"`           // PEM files of the trusted CA certificates (SSLCACertificateFile)
	VerifyDepth int      `toml:"verify_depth"` // most CA certificates above the client's, the root included (SSLVerifyDepth)
	CRL         []string `toml:"crl"`          // PEM or DER CRL files (SSLCARevocationFile)
	CRLFetch    bool     `toml:"crl_fetch"`    // download CRLs from the distribution points the certificates name
	CRLMissing  string   `toml:"crl_missing"`  // fail | allow: what a certificate without a current CRL gets
	OCSP        bool     `toml:"ocsp"`         // ask the client certificate's OCSP responder (SSLOCSPEnable leaf)
	Export      bool     `toml:"export"`       // send mod_ssl's SSL_* variables as X-SSL-* request headers
	DNFormat    string   `toml:"dn_format"`    // rfc2253 (Apache 2.4) | legacy (/C=../CN=.., Apache 2.2)
}

// siteDefaults is what every [[site]] starts from.
func siteDefaults() Site {
	return Site{ClientAuth: ClientAuth{Verify: "none", VerifyDepth: 1, CRLMissing: "fail", DNFormat: "rfc2253"}}
}

// validateClientAuth checks every site's [site.client_auth].
func (c *Config) validateClientAuth() []Problem {
	var ps []Problem
	for i, s := range c.Sites {
		ca := s.ClientAuth
		key := fmt.Sprintf("site[%d].client_auth", i)
		bad := func(k, format string, args ...any) {
			ps = append(ps, c.Problemf(key+"."+k, format, args...))
		}
		mode, err := tlsconf.ParseVerifyMode(ca.Verify)
		if err != nil {
			bad("verify", "%v", err)
			continue
		}
		if mode == tlsconf.VerifyNone {
			for k, set := range map[string]bool{"ca": len(ca.CA) > 0, "crl": len(ca.CRL) > 0, "crl_fetch": ca.CRLFetch, "ocsp": ca.OCSP} {
				if set {
					bad(k, `is set but verify = "none" asks clients for no certificate (want verify = "optional", "require" or "optional_no_ca", or remove the key)`)
				}
			}
		}
		if len(ca.CA) == 0 && (mode == tlsconf.VerifyOptional || mode == tlsconf.VerifyRequire) {
			bad("ca", "is empty but verify = %s (want the PEM files of the CAs that issue client certificates)", quote(ca.Verify))
		}
		if ca.VerifyDepth < 0 || ca.VerifyDepth > 100 {
			bad("verify_depth", "%d is out of range (want 0..100: 1 accepts certificates a listed root signed, 2 one intermediate more)", ca.VerifyDepth)
		}
		if !slices.Contains([]string{"fail", "allow"}, ca.CRLMissing) {
			bad("crl_missing", `%s is not allowed (want "fail" to refuse a certificate without a current CRL, or "allow")`, quote(ca.CRLMissing))
		}
		if !slices.Contains([]string{"rfc2253", "legacy"}, ca.DNFormat) {
			bad("dn_format", `%s is not a DN format (want "rfc2253", Apache 2.4's, or "legacy", Apache 2.2's /C=../CN=..)`, quote(ca.DNFormat))
		}
		for j, p := range append(append([]string{}, ca.CA...), ca.CRL...) {
			if p == "" {
				k := fmt.Sprintf("ca[%d]", j)
				if j >= len(ca.CA) {
					k = fmt.Sprintf("crl[%d]", j-len(ca.CA))
				}
				bad(k, `"" is not a file name`)
			}
		}
	}
	return ps
}

// resolveClientAuthPaths makes the client_auth file paths absolute.
func (c *Config) resolveClientAuthPaths(abs func(*string)) {
	for i := range c.Sites {
		ca := &c.Sites[i].ClientAuth
		for j := range ca.CA {
			abs(&ca.CA[j])
		}
		for j := range ca.CRL {
			abs(&ca.CRL[j])
		}
	}
}
