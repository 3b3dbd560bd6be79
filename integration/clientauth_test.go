package integration

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// The mod_ssl comparison through the tlsfront binary (issue 18): the same
// clients, once against Apache with mod_ssl, once against tlsfront in front
// of a plain-HTTP Apache that includes docs/apache-ssl-variables.conf, the
// documented snippet turning tlsfront's X-SSL-* headers back into the
// environment. Every SSL_* variable a CGI sees must be byte-identical, and
// the handshake outcome the same, except the differences refExpect lists.

// startSnippetBackend starts the plain-HTTP Apache tlsfront proxies to:
// CGI, mod_rewrite, the documented snippet, and an ErrorDocument that
// makes /missing an internal redirect to the CGI.
func startSnippetBackend(t *testing.T) *itest.Apache {
	t.Helper()
	snippet := filepath.Join(itest.ModuleRoot(t), "docs", "apache-ssl-variables.conf")
	return itest.StartApache(t, itest.ApacheOptions{
		CGI:   true,
		Files: map[string]string{"cgi-bin/sslenv": envScript},
		Extra: fmt.Sprintf("LoadModule rewrite_module /usr/lib/apache2/modules/mod_rewrite.so\n"+
			"ErrorDocument 404 /cgi-bin/sslenv\nInclude %q\n", snippet),
	})
}

// startClientAuthFront runs the tlsfront binary with two sites verifying
// clients as m says and exporting the variables, "localhost" with RFC 2253
// DNs and "legacy.localhost" with legacy ones, both proxying to backend.
func startClientAuthFront(t *testing.T, p *refPKI, m refMode, backend string) (*itest.Tlsfront, int) {
	t.Helper()
	dir := t.TempDir()
	chain, key := p.server.WriteFilesAs(dir, "server")
	auth := fmt.Sprintf("verify = %q\nca = [%q]\nverify_depth = 2\nexport = true\n", m.verify, p.caFile)
	switch m.crl {
	case "strict":
		auth += fmt.Sprintf("crl = [%q]\ncrl_missing = \"fail\"\n", p.crlFile)
	case "allow":
		auth += fmt.Sprintf("crl = [%q]\ncrl_missing = \"allow\"\n", p.crlFile)
	}
	site := func(name, format string) string {
		return fmt.Sprintf("[[site]]\nnames = [%q]\nbackend = %q\n[[site.cert]]\ncert = %q\nkey = %q\n[site.client_auth]\n%sdn_format = %q\n",
			name, backend, chain, key, auth, format)
	}
	metricsPort := itest.FreePort(t)
	cfg := fmt.Sprintf("[server]\nhttps = \"127.0.0.1:%d\"\nhttp = \"\"\nstate_dir = \"state\"\nmetrics = \"127.0.0.1:%d\"\n[tls]\nmin_version = \"1.2\"\n[ocsp]\nstapling = false\n%s%s",
		itest.FreePort(t), metricsPort, site("localhost", "rfc2253"), site("legacy.localhost", "legacy"))
	return itest.StartTlsfront(t, dir, cfg), metricsPort
}

// TestClientAuthThroughTlsfront is the comparison, for every verify level.
func TestClientAuthThroughTlsfront(t *testing.T) {
	itest.RequireTool(t, "apache2")
	p := newRefPKI(t)
	for _, m := range refModes {
		t.Run(m.name, func(t *testing.T) {
			apache := startModSSL(t, p, m)
			backend := startSnippetBackend(t)
			front, metricsPort := startClientAuthFront(t, p, m, backend.URL)
			for _, c := range p.clients {
				for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
					for _, legacy := range []bool{false, true} {
						modPath, sni, format := "/cgi-bin/sslenv", "localhost", "RFC 2253"
						if legacy {
							modPath, sni, format = "/cgi-bin/legacy/sslenv", "legacy.localhost", "legacy DN"
						}
						t.Run(fmt.Sprintf("%s/%s/%s", c.name, tls.VersionName(vers), format), func(t *testing.T) {
							w := refExpect(c, m, vers)
							checkOutcomes(t, w, askSNI(t, apache.Addr, sni, c, vers, modPath), askSNI(t, front.HTTPSAddr, sni, c, vers, "/cgi-bin/sslenv"), true)
						})
					}
				}
			}
			// After an internal redirect (ErrorDocument, mod_rewrite in
			// .htaccess) the variables are set again and kept as REDIRECT_*.
			t.Run("internal redirect", func(t *testing.T) {
				mod := ask(t, apache.Addr, p.clients[0], tls.VersionTLS13, "/missing")
				fr := askSNI(t, front.HTTPSAddr, "localhost", p.clients[0], tls.VersionTLS13, "/missing")
				if mod.env["REDIRECT_SSL_CLIENT_S_DN"] == "" {
					t.Fatalf("mod_ssl set no REDIRECT_SSL_CLIENT_S_DN: %v", mod.env)
				}
				checkOutcomes(t, refWant{verify: "SUCCESS"}, mod, fr, true)
			})
			checkClientAuthLogAndMetrics(t, front, metricsPort, m)
		})
	}
}

// checkClientAuthLogAndMetrics: the access log names the client
// certificate's subject; the metrics count verifications by result.
func checkClientAuthLogAndMetrics(t *testing.T, front *itest.Tlsfront, metricsPort int, m refMode) {
	t.Helper()
	front.WaitLog(t, func(l map[string]any) bool {
		return l["message"] == "request" && strings.HasPrefix(fmt.Sprint(l["client_dn"]), "emailAddress=alice@example.com,UID=alice,")
	})
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := map[string]bool{"success": true}
	if m.verify != "optional_no_ca" {
		want["unknown_ca"] = true // crypto/tls's own refusal, counted from the error log
	}
	if m.crl == "strict" {
		want["revoked"] = true
	}
	for result := range want {
		re := regexp.MustCompile(`(?m)^tlsfront_client_cert_verifications_total\{result="` + result + `"\} (\d+)`)
		mm := re.FindSubmatch(body)
		if mm == nil {
			t.Errorf("no tlsfront_client_cert_verifications_total{result=%q} in\n%s", result, grepLines(string(body), "client_cert"))
			continue
		}
		if n, _ := strconv.Atoi(string(mm[1])); n == 0 {
			t.Errorf("tlsfront_client_cert_verifications_total{result=%q} = 0", result)
		}
	}
	if m.crl != "" && !strings.Contains(string(body), "tlsfront_crl_next_update_seconds{") {
		t.Errorf("no CRL metrics in\n%s", grepLines(string(body), "crl"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestClientAuthCheckSummary: `tlsfront -t` shows the verify level, the CA
// names of the certificate request and the CRLs.
func TestClientAuthCheckSummary(t *testing.T) {
	p := newRefPKI(t)
	dir := t.TempDir()
	chain, key := p.server.WriteFilesAs(dir, "server")
	cfg := fmt.Sprintf("[server]\nstate_dir = \"state\"\n[[site]]\nnames = [\"localhost\"]\nbackend = \"http://127.0.0.1:1\"\n"+
		"[[site.cert]]\ncert = %q\nkey = %q\n[site.client_auth]\nverify = \"require\"\nca = [%q]\nverify_depth = 2\ncrl = [%q]\n",
		chain, key, p.caFile, p.crlFile)
	path := filepath.Join(dir, "tlsfront.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := itest.RunTlsfront(t, "-t", "-config", path)
	if code != 0 {
		t.Fatalf("tlsfront -t exited %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"client certificates: verify require, depth 2", "CA named in the request: CN=Ref Ünïcode\\, Inc. root CA",
		"CRL " + p.crlFile, "next update " + time.Now().Add(24*time.Hour).UTC().Format("2006-01-02")} {
		if !strings.Contains(out, want) {
			t.Errorf("tlsfront -t lacks %q:\n%s", want, out)
		}
	}
}
