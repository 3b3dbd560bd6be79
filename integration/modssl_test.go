package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"tlsfront/headers"
	"tlsfront/internal/itest"
	"tlsfront/tlsconf"
)

// The reference proof of issue 18, at the level of tlsfront's packages:
// Debian's Apache with mod_ssl (SSLVerifyClient, SSLCARevocationFile,
// SSLOptions +StdEnvVars +ExportCertData, a CGI printing its environment)
// and tlsconf + headers + crl serving the same server certificate with the
// same CAs and CRLs are asked by the same client, for every client case,
// verify level, TLS 1.2 and 1.3, and both DN formats. The handshake outcome
// and every SSL_* variable must match, except the differences listed in
// refExpect with their reasons. integration/clientauth_test.go repeats the
// comparison through the tlsfront binary and a plain-HTTP Apache with the
// documented snippet.

// pemCert is c in PEM form.
func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Alerts as Go's client reports them.
const (
	alertBad      = "bad certificate"
	alertUnknCA   = "unknown certificate authority"
	alertExpired  = "expired certificate"
	alertRevoked  = "revoked certificate"
	alertInternal = "internal error"
	alertNoCert12 = "handshake failure"
	alertNoCert13 = "certificate required"
)

// refWant is the expected outcome of one client case on both servers: the
// SSL_CLIENT_VERIFY of an accepted connection, or the alerts of a refused
// one. modAlert != frontAlert, and modVerify != frontVerify, are the known
// differences; why says why they cannot be equal.
type refWant struct {
	verify                 string // both accept with this SSL_CLIENT_VERIFY
	modAlert, frontAlert   string // both refuse
	modVerify, frontVerify string // both accept, with different verdicts
	why                    string
}

// refExpect returns the expected outcome of client c under mode m and TLS
// version vers, as measured against Debian's Apache 2.4 with OpenSSL 3.0.
func refExpect(c refClient, m refMode, vers uint16) refWant {
	noCA := m.verify == "optional_no_ca"
	const goAlerts = "crypto/tls sends bad_certificate for every refusal made after its own chain verification (VerifyConnection); it has no way to send another alert"
	switch c.name {
	case "valid", "valid, intermediate not sent", "valid RSA":
		return refWant{verify: "SUCCESS"}
	case "none":
		if m.verify == "require" {
			if vers == tls.VersionTLS13 {
				return refWant{modAlert: alertNoCert13, frontAlert: alertNoCert13}
			}
			return refWant{modAlert: alertNoCert12, frontAlert: alertNoCert12}
		}
		return refWant{verify: "NONE"}
	case "unknown CA", "self-signed":
		switch {
		case !noCA:
			return refWant{modAlert: alertUnknCA, frontAlert: alertUnknCA}
		case m.crl == "strict":
			return refWant{modAlert: alertUnknCA, frontAlert: alertBad, why: "no CRL for an unknown issuer: " + goAlerts}
		case m.crl == "" && vers == tls.VersionTLS13:
			reason := "unable to get local issuer certificate" // the client sent its intermediate, not the unknown root
			if c.name == "self-signed" {
				reason = "self-signed certificate"
			}
			return refWant{modVerify: "FAILED:" + reason, frontVerify: "GENEROUS",
				why: "mod_ssl resets the verify result before each request only on TLS <= 1.2 (ssl_hook_Access), so on TLS 1.3 it reports the forgiven error; tlsfront reports GENEROUS, as mod_ssl documents and does on TLS <= 1.2"}
		}
		return refWant{verify: "GENEROUS"}
	case "revoked":
		if m.crl == "" {
			return refWant{verify: "SUCCESS"}
		}
		return refWant{modAlert: alertRevoked, frontAlert: alertBad, why: goAlerts}
	case "expired":
		if noCA {
			return refWant{modAlert: alertExpired, frontAlert: alertBad, why: "under optional_no_ca tlsfront verifies after the handshake's own verification: " + goAlerts}
		}
		return refWant{modAlert: alertExpired, frontAlert: alertExpired}
	case "not yet valid":
		if noCA {
			return refWant{modAlert: alertBad, frontAlert: alertBad}
		}
		return refWant{modAlert: alertBad, frontAlert: alertExpired, why: "crypto/x509 reports a certificate not yet valid as Expired, and crypto/tls sends certificate_expired for it"}
	case "depth too long":
		return refWant{modAlert: alertInternal, frontAlert: alertBad, why: goAlerts}
	}
	panic("unknown client case " + c.name)
}

// startRefFront serves the server certificate with tlsconf (tutorial
// policy) and a handler printing headers.SSLVars NUL-separated, the way
// the binary computes the headers it sends. It returns the address.
func startRefFront(t *testing.T, p *refPKI, m refMode) string {
	t.Helper()
	cert, err := tlsconf.ParseCert(p.server.ChainPEM(), p.server.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	policy, err := tlsconf.NewPolicy("tutorial", "1.2", "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := tlsconf.New(tlsconf.Options{Policy: policy, Sites: []tlsconf.Site{{Names: []string{"localhost"}, Certs: []*tlsconf.Cert{cert}, ClientAuth: clientAuthFor(t, p, m)}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			vars := headers.SSLVars(r.TLS, headers.SSLVarsOptions{
				LegacyDN: strings.Contains(r.URL.Path, "/legacy/"),
				Verify:   st.ClientVerify(r.TLS),
				Now:      time.Now(),
			})
			for _, v := range vars {
				fmt.Fprintf(w, "%s=%s\x00", v.Name, v.Value)
			}
		}),
	}
	go func() { _ = srv.Serve(tls.NewListener(ln, tlsconf.NewHolder(st).Config())) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// compareEnv returns the differences between mod_ssl's variables and
// tlsfront's, one line each. Unless strict, a variable mod_ssl sets empty
// (SSL_CLIENT_CERT without a certificate) is matched by tlsfront not
// setting it: no header carries it, the Apache snippet sets it empty (the
// comparison through the binary is strict).
func compareEnv(mod, front map[string]string, strict bool) []string {
	var diffs []string
	for k, v := range mod {
		if !comparable(k) {
			continue
		}
		fv, ok := front[k]
		switch {
		case !ok && v == "" && !strict:
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: mod_ssl %q, tlsfront unset", k, v))
		case fv != v:
			diffs = append(diffs, fmt.Sprintf("%s: mod_ssl %q, tlsfront %q", k, v, fv))
		}
	}
	for k, v := range front {
		if _, ok := mod[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: mod_ssl unset, tlsfront %q", k, v))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// checkOutcomes judges one client case: got from mod_ssl and tlsfront.
func checkOutcomes(t *testing.T, w refWant, mod, front outcome, strict bool) {
	t.Helper()
	switch {
	case w.verify != "":
		if mod.err != nil || front.err != nil {
			t.Fatalf("want both to accept with %s; mod_ssl %v, tlsfront %v", w.verify, mod, front)
		}
		if mod.env["SSL_CLIENT_VERIFY"] != w.verify {
			t.Errorf("mod_ssl: SSL_CLIENT_VERIFY=%q, want %q", mod.env["SSL_CLIENT_VERIFY"], w.verify)
		}
		// A comparison of nothing proves nothing: a certificate gives
		// mod_ssl two dozen variables tlsfront must reproduce.
		n := 0
		for k := range mod.env {
			if comparable(k) {
				n++
			}
		}
		if want := map[bool]int{true: 24, false: 10}[w.verify != "NONE"]; n < want || len(front.env) < want {
			t.Errorf("only %d comparable variables from mod_ssl, %d from tlsfront; want at least %d", n, len(front.env), want)
		}
		for _, d := range compareEnv(mod.env, front.env, strict) {
			t.Errorf("%s", d)
		}
	case w.modVerify != "":
		if mod.err != nil || front.err != nil {
			t.Fatalf("want both to accept; mod_ssl %v, tlsfront %v", mod, front)
		}
		if mod.env["SSL_CLIENT_VERIFY"] != w.modVerify || front.env["SSL_CLIENT_VERIFY"] != w.frontVerify {
			t.Errorf("SSL_CLIENT_VERIFY: mod_ssl %q, tlsfront %q; want %q and %q (%s)",
				mod.env["SSL_CLIENT_VERIFY"], front.env["SSL_CLIENT_VERIFY"], w.modVerify, w.frontVerify, w.why)
		}
		mod.env["SSL_CLIENT_VERIFY"] = front.env["SSL_CLIENT_VERIFY"] // the known difference; the rest must match
		for _, d := range compareEnv(mod.env, front.env, strict) {
			t.Errorf("%s", d)
		}
	default:
		if mod.err == nil || !strings.Contains(mod.err.Error(), w.modAlert) {
			t.Errorf("mod_ssl: %v, want the alert %q", mod, w.modAlert)
		}
		if front.err == nil || !strings.Contains(front.err.Error(), w.frontAlert) {
			t.Errorf("tlsfront: %v, want the alert %q", front, w.frontAlert)
		}
	}
}

// TestModSSLParity is the comparison. Each verify level runs its own
// mod_ssl and tlsfront; every client case is asked over TLS 1.2 and 1.3,
// for RFC 2253 and legacy DNs.
func TestModSSLParity(t *testing.T) {
	t.Parallel()
	itest.RequireTool(t, "apache2")
	p := newRefPKI(t)
	for _, m := range refModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			apache := startModSSL(t, p, m)
			front := startRefFront(t, p, m)
			for _, c := range p.clients {
				for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
					for _, path := range []string{"/cgi-bin/sslenv", "/cgi-bin/legacy/sslenv"} {
						format := "RFC 2253"
						if strings.Contains(path, "legacy") {
							format = "legacy DN"
						}
						t.Run(fmt.Sprintf("%s/%s/%s", c.name, tls.VersionName(vers), format), func(t *testing.T) {
							w := refExpect(c, m, vers)
							checkOutcomes(t, w, ask(t, apache.Addr, c, vers, path), ask(t, front, c, vers, path), false)
						})
					}
				}
			}
		})
	}
}
