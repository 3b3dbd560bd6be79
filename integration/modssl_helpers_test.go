package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tlsfront/crl"
	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
	"tlsfront/tlsconf"
)

// The fixtures of the mod_ssl comparison (modssl_test.go, clientauth_test.go):
// one PKI, the client certificates, a mod_ssl Apache and the way both are
// asked for their SSL_* variables.

// refPKI is every CA, the server certificate and the client certificates.
type refPKI struct {
	dir     string
	ca      *testca.CA // ECDSA root and intermediate: most clients
	rsaCA   *testca.CA // RSA: rsaEncryption / sha256WithRSAEncryption
	deepCA  *testca.CA // two intermediates: the chain too long for verify_depth 2
	server  *testca.Leaf
	caFile  string // every root and intermediate, as SSLCACertificateFile
	crlFile string // a current CRL of every CA, the ECDSA intermediate's revoking "revoked"
	clients []refClient
}

// refClient is one client case.
type refClient struct {
	name string
	leaf *testca.Leaf // nil: no certificate
	// bare sends the leaf without its intermediate (the server has it).
	bare bool
}

// cert returns what the client presents.
func (c refClient) cert() *tls.Certificate {
	if c.leaf == nil {
		return nil
	}
	tc := c.leaf.TLS()
	if c.bare {
		tc.Certificate = tc.Certificate[:1]
	}
	return &tc
}

var (
	oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidUID   = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// newRefPKI mints everything; notAfter of accepted clients lies at half a
// day past a whole number of days, so SSL_CLIENT_V_REMAIN cannot differ
// between two servers asked seconds apart.
func newRefPKI(t *testing.T) *refPKI {
	t.Helper()
	now := time.Now()
	day := 24 * time.Hour
	p := &refPKI{
		dir:    t.TempDir(),
		ca:     testca.New(t, testca.Options{Now: now, Name: "Ref Ünïcode, Inc."}),
		rsaCA:  testca.New(t, testca.Options{Now: now, Name: "ref RSA", KeyType: "rsa2048"}),
		deepCA: testca.New(t, testca.Options{Now: now, Name: "ref deep", Intermediates: 2}),
	}
	other := testca.New(t, testca.Options{Now: now, Name: "unknown"})
	p.server = p.ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}})
	rich := &pkix.Name{
		Country: []string{"DE"}, Province: []string{"Berlin"}, Locality: []string{"Berlin"},
		Organization: []string{`Example, "Söhne" + Töchter <GmbH>; a\b`}, CommonName: "Alice Müller",
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidOU, Value: "R&D/Ops"}, {Type: oidOU, Value: " Team #2 "}, {Type: oidUID, Value: "alice"},
			{Type: oidEmail, Value: "alice@example.com"},
		},
	}
	valid := testca.LeafOptions{ClientAuth: true, Subject: rich, Names: []string{"alice.example.com"},
		Emails: []string{"alice@example.com", "a.mueller@example.org"}, NotAfter: now.Add(30*day + 12*time.Hour),
		SerialNumber: new(big.Int).SetBytes([]byte{0x00, 0xd4, 0x12, 0x00, 0x7f})}
	simple := func(cn string) testca.LeafOptions {
		return testca.LeafOptions{ClientAuth: true, Names: []string{cn}, NotAfter: now.Add(60*day + 12*time.Hour)}
	}
	rsaOpts := simple("rsa client")
	rsaOpts.KeyType = "rsa2048"
	revoked := p.ca.Leaf(t, simple("revoked client"))
	expired := simple("expired client")
	expired.NotBefore, expired.NotAfter = now.Add(-40*day), now.Add(-2*day)
	notYet := simple("future client")
	notYet.NotBefore, notYet.NotAfter = now.Add(2*day), now.Add(40*day)
	self := simple("self-signed client")
	self.SelfSigned = true
	p.clients = []refClient{
		{name: "valid", leaf: p.ca.Leaf(t, valid)},
		{name: "valid, intermediate not sent", leaf: p.ca.Leaf(t, simple("bare client")), bare: true},
		{name: "valid RSA", leaf: p.rsaCA.Leaf(t, rsaOpts)},
		{name: "none"},
		{name: "unknown CA", leaf: other.Leaf(t, simple("stranger"))},
		{name: "self-signed", leaf: p.ca.Leaf(t, self)},
		{name: "revoked", leaf: revoked},
		{name: "expired", leaf: p.ca.Leaf(t, expired)},
		{name: "not yet valid", leaf: p.ca.Leaf(t, notYet)},
		{name: "depth too long", leaf: p.deepCA.Leaf(t, simple("deep client"))},
	}

	var cas, crls []byte
	for _, ca := range []*testca.CA{p.ca, p.rsaCA, p.deepCA} {
		for level := 0; level < ca.Levels(); level++ {
			c, _ := ca.Level(level)
			cas = append(cas, pemCert(c)...)
			o := testca.CRLOptions{Level: level}
			if ca == p.ca && level == 1 {
				o.Revoked = []*big.Int{revoked.Cert().SerialNumber}
			}
			crls = append(crls, ca.CRLPEM(t, o)...)
		}
	}
	p.caFile = writeTemp(t, p.dir, "ca.pem", cas)
	p.crlFile = writeTemp(t, p.dir, "crl.pem", crls)
	return p
}

// cas returns the certificates of caFile.
func (p *refPKI) cas(t *testing.T) []*x509.Certificate {
	t.Helper()
	cs, err := tlsconf.LoadCAs([]string{p.caFile})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// refMode is one SSLVerifyClient configuration of both servers.
type refMode struct {
	name   string
	verify string // SSLVerifyClient and client_auth.verify
	crl    string // "strict", "allow" (no_crl_for_cert_ok) or "" (no CRL checking)
}

var refModes = []refMode{
	{"optional", "optional", "strict"},
	{"require", "require", "strict"},
	{"optional_no_ca, crl_missing allow", "optional_no_ca", "allow"},
	{"optional_no_ca, no CRL", "optional_no_ca", ""},
}

// The CGI printing its environment NUL-separated (values may hold newlines).
const envScript = "#!/bin/sh\necho 'Content-Type: application/octet-stream'\necho\nexec env -0\n"

// startModSSL starts Apache with mod_ssl, the server certificate, the
// tutorial's ciphers in server order (as tlsfront), and m's verification;
// /cgi-bin/sslenv prints RFC 2253 DNs, /cgi-bin/legacy/sslenv legacy ones.
func startModSSL(t *testing.T, p *refPKI, m refMode) *itest.Apache {
	t.Helper()
	chain, key := p.server.WriteFilesAs(p.dir, "server-"+strings.ReplaceAll(m.name, " ", "_"))
	extra := fmt.Sprintf("SSLCACertificateFile %q\nSSLVerifyClient %s\nSSLVerifyDepth 2\n", p.caFile, m.verify)
	switch m.crl {
	case "strict":
		extra += fmt.Sprintf("SSLCARevocationFile %q\nSSLCARevocationCheck chain\n", p.crlFile)
	case "allow":
		extra += fmt.Sprintf("SSLCARevocationFile %q\nSSLCARevocationCheck chain no_crl_for_cert_ok\n", p.crlFile)
	}
	// Go's server picks TLS 1.3 suites in this order; OpenSSL's default
	// puts AES-256 first.
	extra += "SSLCipherSuite TLSv1.3 TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256\n"
	extra += "SSLOptions +StdEnvVars +ExportCertData\n<Location /cgi-bin/legacy>\n  SSLOptions +LegacyDNStringFormat\n</Location>\n"
	extra += "ErrorDocument 404 /cgi-bin/sslenv\n" // /missing: an internal redirect
	ready := p.clients[0].cert()
	return itest.StartApache(t, itest.ApacheOptions{
		CGI:   true,
		Files: map[string]string{"cgi-bin/sslenv": envScript, "cgi-bin/legacy/sslenv": envScript},
		TLS: &itest.ApacheTLS{CertFile: chain, KeyFile: key, Protocol: "-all +TLSv1.2 +TLSv1.3",
			CipherSuite: "ECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH", HonorCipherOrder: true, ReadyCert: ready},
		Extra: extra,
	})
}

// clientAuthFor builds tlsfront's verification for m, as cmd/tlsfront
// maps [site.client_auth] onto it.
func clientAuthFor(t *testing.T, p *refPKI, m refMode) *tlsconf.ClientAuth {
	t.Helper()
	mode, err := tlsconf.ParseVerifyMode(m.verify)
	if err != nil {
		t.Fatal(err)
	}
	ca := &tlsconf.ClientAuth{Verify: mode, CAs: p.cas(t), Depth: 2, CRLMissingOK: m.crl == "allow"}
	if m.crl != "" {
		set, err := crl.New(crl.Options{}, ca.CAs)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(set.Close)
		if err := set.AddFile(p.crlFile); err != nil {
			t.Fatal(err)
		}
		ca.CRL = func(cert, issuer *x509.Certificate) (tlsconf.Revocation, error) {
			err := set.Check(cert, issuer)
			switch {
			case err == nil:
				return tlsconf.RevocationGood, nil
			case errors.Is(err, crl.ErrRevoked):
				return tlsconf.RevocationRevoked, err
			}
			return tlsconf.RevocationUnknown, err
		}
	}
	return ca
}

// outcome is what a server made of one client: its SSL_* environment, or
// the error (alert) the client got.
type outcome struct {
	env map[string]string
	err error
}

func (o outcome) String() string {
	if o.err != nil {
		return "refused: " + o.err.Error()
	}
	return fmt.Sprintf("accepted, SSL_CLIENT_VERIFY=%q", o.env["SSL_CLIENT_VERIFY"])
}

// ask connects to addr as c with exactly TLS version vers (SNI
// "localhost"), GETs path and parses the NUL-separated environment,
// keeping HTTPS and SSL_*.
func ask(t *testing.T, addr string, c refClient, vers uint16, path string) outcome {
	t.Helper()
	return askSNI(t, addr, "localhost", c, vers, path)
}

// askSNI is ask with another SNI. A path starting with /missing is
// answered 404 through ErrorDocument (an internal redirect): its
// REDIRECT_* variables are kept too.
func askSNI(t *testing.T, addr, sni string, c refClient, vers uint16, path string) outcome {
	t.Helper()
	cert := c.cert()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			ServerName: sni, InsecureSkipVerify: true, MinVersion: vers, MaxVersion: vers,
			// Send the certificate whatever CAs the server names, like curl.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if cert == nil {
					return &tls.Certificate{}, nil
				}
				return cert, nil
			},
		},
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+path, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{err: err}
	}
	want := http.StatusOK
	if strings.HasPrefix(path, "/missing") {
		want = http.StatusNotFound
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s from %s: %s\n%s", path, addr, resp.Status, body)
	}
	return outcome{env: parseEnv(body)}
}

// parseEnv splits `env -0` output and keeps HTTPS and SSL_*, and their
// REDIRECT_ copies after an internal redirect.
func parseEnv(body []byte) map[string]string {
	env := map[string]string{}
	for _, kv := range bytes.Split(body, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		if b := strings.TrimPrefix(k, "REDIRECT_"); b == "HTTPS" || strings.HasPrefix(b, "SSL_") {
			env[k] = v
		}
	}
	return env
}

// notExported are the variables mod_ssl sets that tlsfront does not, with
// the reason (headers.SSLVars says the same).
var notExported = map[string]string{
	"SSL_VERSION_INTERFACE": "names Apache's mod_ssl version",
	"SSL_VERSION_LIBRARY":   "names Apache's OpenSSL version",
	"SSL_SESSION_ID":        "Go resumes by session tickets and has no session ID",
	"SSL_SECURE_RENEG":      "Go never renegotiates and does not say whether the client offered RFC 5746",
}

// comparable reports whether mod_ssl's variable k is one tlsfront must
// reproduce: not in notExported, not about the server's own certificate
// (SSL_SERVER_*: Go's connection state does not say which of a site's
// certificates was served).
func comparable(k string) bool {
	k = strings.TrimPrefix(k, "REDIRECT_")
	_, skip := notExported[k]
	return !skip && !strings.HasPrefix(k, "SSL_SERVER_")
}
