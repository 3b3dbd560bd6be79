package headers

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/tlsconf"
)

var update = flag.Bool("update", false, "rewrite docs/apache-ssl-variables.conf")

func selfSigned(t *testing.T, key crypto.Signer, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(1)
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func opensslX509(t *testing.T, c *x509.Certificate, args ...string) string {
	t.Helper()
	bin := itest.RequireTool(t, "openssl")
	p := filepath.Join(t.TempDir(), "c.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, append([]string{"x509", "-in", p, "-noout"}, args...)...).Output()
	if err != nil {
		t.Fatalf("openssl x509 %v: %v", args, err)
	}
	return string(out)
}

// TestCertFieldsMatchOpenSSL compares SSL_CLIENT_M_SERIAL, V_START, V_END,
// A_KEY and A_SIG with what openssl prints through the same functions
// mod_ssl calls (i2a_ASN1_INTEGER, ASN1_TIME_print, OBJ_nid2ln).
func TestCertFieldsMatchOpenSSL(t *testing.T) {
	t.Parallel()
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	big20 := new(big.Int).SetBytes([]byte{0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19})
	tests := []struct {
		name string
		key  crypto.Signer
		tmpl x509.Certificate
	}{
		{"ECDSA P-256, serial 1", ec256, x509.Certificate{SerialNumber: big.NewInt(1)}},
		{"ECDSA P-384 SHA-384, serial 0x80", ec384, x509.Certificate{SerialNumber: big.NewInt(0x80), SignatureAlgorithm: x509.ECDSAWithSHA384}},
		{"RSA SHA-256, 20-byte serial", rsaKey, x509.Certificate{SerialNumber: big20}},
		{"RSA-PSS", rsaKey, x509.Certificate{SerialNumber: big.NewInt(0xabcdef), SignatureAlgorithm: x509.SHA256WithRSAPSS}},
		{"RSA SHA-1", rsaKey, x509.Certificate{SerialNumber: big.NewInt(256), SignatureAlgorithm: x509.SHA1WithRSA}},
		{"Ed25519, single-digit day", edKey, x509.Certificate{SerialNumber: big.NewInt(0xff),
			NotBefore: time.Date(2026, 12, 3, 9, 7, 11, 0, time.UTC), NotAfter: time.Date(2051, 1, 12, 23, 0, 0, 0, time.UTC)}},
	}
	sigRE := regexp.MustCompile(`(?m)^\s*Signature Algorithm: (\S+)`)
	keyRE := regexp.MustCompile(`(?m)^\s*Public Key Algorithm: (\S+)`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := selfSigned(t, tc.key, &tc.tmpl)
			if got, want := "serial="+serialHex(c.SerialNumber)+"\n", opensslX509(t, c, "-serial"); got != want {
				t.Errorf("serial %q, openssl %q", got, want)
			}
			if got, want := "notBefore="+asn1TimePrint(c.NotBefore)+"\nnotAfter="+asn1TimePrint(c.NotAfter)+"\n", opensslX509(t, c, "-dates"); got != want {
				t.Errorf("dates %q, openssl %q", got, want)
			}
			text := opensslX509(t, c, "-text")
			if m := sigRE.FindStringSubmatch(text); m == nil || m[1] != signatureAlgorithm(c) {
				t.Errorf("A_SIG %q, openssl %q", signatureAlgorithm(c), m)
			}
			if m := keyRE.FindStringSubmatch(text); m == nil || m[1] != keyAlgorithm(c) {
				t.Errorf("A_KEY %q, openssl %q", keyAlgorithm(c), m)
			}
		})
	}
}

func TestSerialHexEdges(t *testing.T) {
	t.Parallel()
	long := make([]byte, 36)
	for i := range long {
		long[i] = 0xab
	}
	for _, tc := range []struct {
		n    *big.Int
		want string
	}{
		{big.NewInt(0), "00"},
		{big.NewInt(-1), "-01"},
		{big.NewInt(0x1234), "1234"},
		{new(big.Int).SetBytes(long), strings.Repeat("AB", 35) + "\\\nAB"},
	} {
		if got := serialHex(tc.n); got != tc.want {
			t.Errorf("serialHex(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// TestCipherNames checks the OpenSSL names of every suite crypto/tls has
// against tlsconf's table (itself checked against `openssl ciphers`).
func TestCipherNames(t *testing.T) {
	t.Parallel()
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		c, ok := ciphers[s.ID]
		if !ok {
			t.Errorf("%s: not in the table", s.Name)
			continue
		}
		if want := tlsconf.SuiteName(s.ID); want != "" && c.name != want {
			t.Errorf("%s: name %q, tlsconf says %q", s.Name, c.name, want)
		}
		bits := map[bool]int{true: 256, false: 128}[strings.Contains(s.Name, "AES_256") || strings.Contains(s.Name, "CHACHA20")]
		if strings.Contains(s.Name, "3DES") {
			bits = 168
		}
		if c.alg != bits {
			t.Errorf("%s: algorithm key size %d, want %d", s.Name, c.alg, bits)
		}
	}
}

func TestDaysRemaining(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		end  time.Time
		want string
	}{
		{now.Add(30*24*time.Hour + 12*time.Hour), "30"},
		{now.Add(30*24*time.Hour - time.Second), "29"},
		{now.Add(time.Hour), "0"},
		{now.Add(-48 * time.Hour), "0"},
	} {
		if got := daysRemaining(tc.end, now); got != tc.want {
			t.Errorf("daysRemaining(now+%v) = %s, want %s", tc.end.Sub(now), got, tc.want)
		}
	}
}

// TestSSLVarsConnection checks the variables of a client-certificate
// connection end to end: names, SANs in order, chain, PEM, header names
// and header-safe values.
func TestSSLVarsConnection(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// crypto/x509 puts the two OUs into one multi-valued RDN.
	leaf := selfSigned(t, key, &x509.Certificate{
		SerialNumber: big.NewInt(0x6f), Subject: pkix.Name{CommonName: "Alice", Country: []string{"DE"}, OrganizationalUnit: []string{"A", "B"}},
		EmailAddresses: []string{"a@x.example", "b@x.example"}, DNSNames: []string{"alice.example"},
		NotBefore: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC),
	})
	inter := selfSigned(t, key, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "CA"}})
	cs := &tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		ServerName: "www.example", PeerCertificates: []*x509.Certificate{leaf, inter}}
	vars := SSLVars(cs, SSLVarsOptions{Verify: "SUCCESS", Now: time.Date(2030, 1, 11, 0, 0, 0, 0, time.UTC)})
	got := map[string]string{}
	for _, v := range vars {
		if _, dup := got[v.Name]; dup {
			t.Errorf("%s set twice", v.Name)
		}
		got[v.Name] = v.Value
	}
	want := map[string]string{
		"HTTPS": "on", "SSL_TLS_SNI": "www.example", "SSL_PROTOCOL": "TLSv1.2", "SSL_CIPHER": "ECDHE-ECDSA-AES128-GCM-SHA256",
		"SSL_CIPHER_USEKEYSIZE": "128", "SSL_CIPHER_ALGKEYSIZE": "128", "SSL_CIPHER_EXPORT": "false", "SSL_COMPRESS_METHOD": "NULL",
		"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_M_SERIAL": "6F", "SSL_CLIENT_M_VERSION": "3",
		"SSL_CLIENT_V_START": "Jan  1 00:00:00 2030 GMT", "SSL_CLIENT_V_END": "Feb  1 00:00:00 2030 GMT", "SSL_CLIENT_V_REMAIN": "21",
		"SSL_CLIENT_S_DN": "CN=Alice,OU=B+OU=A,C=DE", "SSL_CLIENT_S_DN_CN": "Alice", "SSL_CLIENT_S_DN_OU": "A", "SSL_CLIENT_S_DN_OU_1": "B",
		"SSL_CLIENT_S_DN_C": "DE", "SSL_CLIENT_SAN_Email_0": "a@x.example", "SSL_CLIENT_SAN_Email_1": "b@x.example",
		"SSL_CLIENT_SAN_DNS_0": "alice.example", "SSL_CLIENT_A_KEY": "id-ecPublicKey", "SSL_CLIENT_A_SIG": "ecdsa-with-SHA256",
		"SSL_CLIENT_CERT_RFC4523_CEA": `{ serialNumber 111, issuer rdnSequence:"CN=Alice,OU=B+OU=A,C=DE" }`,
		"SSL_SESSION_RESUMED":         "Initial", "SSL_CLIENT_CERT": certPEM(leaf), "SSL_CLIENT_CERT_CHAIN_0": certPEM(inter),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	legacy := SSLVars(cs, SSLVarsOptions{LegacyDN: true})
	for _, v := range legacy {
		if v.Name == "SSL_CLIENT_S_DN" && v.Value != "/C=DE/OU=A+OU=B/CN=Alice" {
			t.Errorf("legacy S_DN = %q", v.Value)
		}
		if v.Name == "SSL_CLIENT_VERIFY" && v.Value != "NONE" {
			t.Errorf("default verify = %q, want NONE", v.Value)
		}
	}

	h := http.Header{}
	SetSSLHeaders(h, vars)
	if v := h.Values("X-SSL-CLIENT-S-DN-OU-1"); len(v) != 1 || v[0] != "B" {
		t.Errorf("X-SSL-CLIENT-S-DN-OU-1 = %q", v)
	}
	cert := h.Get("X-SSL-CLIENT-CERT")
	if strings.ContainsAny(cert, "\r\n") || !strings.HasPrefix(cert, "-----BEGIN CERTIFICATE-----%0A") || !strings.HasSuffix(cert, "-----END CERTIFICATE-----%0A") {
		t.Errorf("X-SSL-CLIENT-CERT = %q, want the PEM with %%0A for line breaks", cert)
	}
}

func TestRemoveSSLHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"X-Ssl-Client-S-Dn": {"CN=forged"}, "x-ssl-client-verify": {"SUCCESS"}, "X-HTTPS": {"on"}, "X-Https": {"1"},
		"X-Sslish": {"keep"}, "X-Forwarded-Ssl": {"keep"}, "Accept": {"keep"},
	}
	if n := RemoveSSLHeaders(h); n != 4 {
		t.Errorf("removed %d, want 4", n)
	}
	if len(h) != 3 {
		t.Errorf("left %v, want X-Sslish, X-Forwarded-Ssl and Accept", h)
	}
}

func TestHeaderSafe(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":           "plain",
		"100% Corp":       "100%25 Corp",
		"a\nb%c\r":        "a%0Ab%25c%0D",
		"tab\there\x7f":   "tab%09here%7F",
		"Müller, \\ etc.": "Müller, \\ etc.",
		" Team #2 ":       "%20Team #2%20",
		"\t x y  ":        "%09%20x y%20%20",
		"":                "",
	} {
		if got := headerSafe(in); got != want {
			t.Errorf("headerSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestApacheSnippetFile keeps docs/apache-ssl-variables.conf equal to
// ApacheSnippet (go test ./headers -run ApacheSnippetFile -update rewrites
// it), and checks the snippet maps every exported variable's header.
func TestApacheSnippetFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "docs", "apache-ssl-variables.conf")
	if *update {
		if err := os.WriteFile(path, []byte(ApacheSnippet()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != ApacheSnippet() {
		t.Errorf("%s differs from headers.ApacheSnippet(); run go test ./headers -run ApacheSnippetFile -update", path)
	}
	for _, v := range SnippetVars() {
		if !strings.Contains(string(got), SSLHeaderName(v)+"}") && !strings.Contains(string(got), SSLHeaderName(v)+" ") {
			t.Errorf("the snippet does not read %s", SSLHeaderName(v))
		}
	}
}
