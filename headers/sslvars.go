package headers

// mod_ssl's environment variables (SSLOptions +StdEnvVars +ExportCertData),
// computed from a connection's TLS state in mod_ssl's names and formats
// (modules/ssl/ssl_engine_vars.c, ssl_engine_kernel.c's ssl_hook_Fixup),
// and handed to the backend as request headers named "X-" + the variable's
// name with "_" as "-". The Apache-side snippet (ApacheSnippet) turns them
// back into the variables.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SSLVar is one mod_ssl variable.
type SSLVar struct {
	Name  string // as mod_ssl names it: "SSL_CLIENT_S_DN_CN"
	Value string // as mod_ssl formats it; PEM values end in a newline
}

// SSLVarsOptions say how SSLVars formats.
type SSLVarsOptions struct {
	// LegacyDN prints SSL_CLIENT_S_DN and SSL_CLIENT_I_DN in the one-line
	// /C=../CN=.. form of Apache 2.2 (and 2.4's +LegacyDNStringFormat);
	// false prints RFC 2253, Apache 2.4's default.
	LegacyDN bool
	// Verify is SSL_CLIENT_VERIFY as the handshake decided it ("NONE",
	// "SUCCESS", "GENEROUS", "FAILED:reason"); "" means "NONE".
	Verify string
	// Now is the time SSL_CLIENT_V_REMAIN counts from.
	Now time.Time
	// CertVars are ClientCertVars of the connection, computed once for
	// it; nil computes them for this request.
	CertVars []SSLVar
}

// SSLVars returns the variables mod_ssl sets for a request on a connection
// in state cs. Not produced, because they describe Apache's own software or
// cannot be known from Go's connection state: SSL_VERSION_INTERFACE,
// SSL_VERSION_LIBRARY, SSL_SESSION_ID (Go resumes by tickets: no session
// ID), SSL_SECURE_RENEG (Go never renegotiates and does not report whether
// the client offered RFC 5746), SSL_SERVER_* (the certificate tlsfront
// served is not in the connection state) and SRP.
func SSLVars(cs *tls.ConnectionState, o SSLVarsOptions) []SSLVar {
	if cs == nil {
		return nil
	}
	certVars := o.CertVars
	if certVars == nil {
		certVars = ClientCertVars(cs.PeerCertificates, o.LegacyDN)
	}
	vars := make([]SSLVar, 0, 12+len(certVars))
	add := func(name, value string) {
		if value != "" {
			vars = append(vars, SSLVar{Name: name, Value: value})
		}
	}
	add("HTTPS", "on")
	add("SSL_TLS_SNI", cs.ServerName)
	add("SSL_PROTOCOL", protocolName(cs.Version))
	add("SSL_COMPRESS_METHOD", "NULL")
	c := cipherOf(cs.CipherSuite)
	add("SSL_CIPHER", c.name)
	add("SSL_CIPHER_EXPORT", "false")
	add("SSL_CIPHER_USEKEYSIZE", strconv.Itoa(c.use))
	add("SSL_CIPHER_ALGKEYSIZE", strconv.Itoa(c.alg))
	verify := o.Verify
	if verify == "" {
		verify = "NONE"
	}
	add("SSL_CLIENT_VERIFY", verify)
	if cs.DidResume {
		add("SSL_SESSION_RESUMED", "Resumed")
	} else {
		add("SSL_SESSION_RESUMED", "Initial")
	}
	if len(cs.PeerCertificates) > 0 {
		add("SSL_CLIENT_V_REMAIN", daysRemaining(cs.PeerCertificates[0].NotAfter, o.Now))
	}
	return append(vars, certVars...)
}

// ClientCertVars returns the variables that depend only on the client's
// certificates (certs: the client certificate, then the ones it sent
// after it): every SSL_CLIENT_* variable but SSL_CLIENT_VERIFY and
// SSL_CLIENT_V_REMAIN. They are the same for every request of a
// connection, so an engine may compute them once per connection and pass
// them as SSLVarsOptions.CertVars. Nil without a client certificate.
func ClientCertVars(certs []*x509.Certificate, legacyDN bool) []SSLVar {
	if len(certs) == 0 {
		return nil
	}
	leaf := certs[0]
	subject, _ := parseName(leaf.RawSubject)
	issuer, _ := parseName(leaf.RawIssuer)
	vars := make([]SSLVar, 0, 16+len(subject)+len(issuer)+len(certs))
	vars = appendDNComponents(vars, "SSL_CLIENT_S_DN_", subject)
	vars = appendDNComponents(vars, "SSL_CLIENT_I_DN_", issuer)
	vars = appendSANs(vars, leaf)
	add := func(name, value string) {
		if value != "" {
			vars = append(vars, SSLVar{Name: name, Value: value})
		}
	}
	add("SSL_CLIENT_M_VERSION", strconv.Itoa(leaf.Version))
	add("SSL_CLIENT_M_SERIAL", serialHex(leaf.SerialNumber))
	add("SSL_CLIENT_V_START", asn1TimePrint(leaf.NotBefore))
	add("SSL_CLIENT_V_END", asn1TimePrint(leaf.NotAfter))
	if legacyDN {
		add("SSL_CLIENT_S_DN", formatOneline(subject))
		add("SSL_CLIENT_I_DN", formatOneline(issuer))
	} else {
		add("SSL_CLIENT_S_DN", formatRFC2253(subject, false))
		add("SSL_CLIENT_I_DN", formatRFC2253(issuer, false))
	}
	add("SSL_CLIENT_A_KEY", keyAlgorithm(leaf))
	add("SSL_CLIENT_A_SIG", signatureAlgorithm(leaf))
	add("SSL_CLIENT_CERT_RFC4523_CEA", "{ serialNumber "+leaf.SerialNumber.String()+", issuer rdnSequence:\""+formatRFC2253(issuer, true)+"\" }")
	add("SSL_CLIENT_CERT", certPEM(leaf))
	for i, c := range certs[1:] {
		add("SSL_CLIENT_CERT_CHAIN_"+strconv.Itoa(i), certPEM(c))
	}
	return vars
}

// SSLHeaderName is the request header carrying variable name: "X-" + name
// with "_" as "-" (SSL_CLIENT_S_DN -> X-SSL-CLIENT-S-DN, which Apache's CGI
// environment shows as HTTP_X_SSL_CLIENT_S_DN).
func SSLHeaderName(name string) string {
	return "X-" + strings.ReplaceAll(name, "_", "-")
}

// SetSSLHeaders sets one header per variable on h, the request to the
// backend. Values are sent as they are, except that control characters
// (the PEM certificates' line breaks), spaces and tabs at either end
// (which HTTP strips) and "%" are percent-encoded, so that Apache's
// unescape (mod_rewrite's int:unescape, which the snippet applies to every
// variable) gives each value back byte for byte. Header names are
// case-insensitive: the canonical form (X-Ssl-Client-S-Dn) goes on the wire.
func SetSSLHeaders(h http.Header, vars []SSLVar) {
	values := make([]string, len(vars)) // one backing array for every header's value
	for i, v := range vars {
		values[i] = headerSafe(v.Value)
		h[sslHeaderKey(v.Name)] = values[i : i+1 : i+1]
	}
}

// sslHeaderKeys are the canonical header names of the variables the
// snippet knows, computed once.
var sslHeaderKeys = func() map[string]string {
	m := map[string]string{}
	for _, v := range append(SnippetVars(), "SSL_CLIENT_VERIFY", "SSL_CLIENT_V_REMAIN") {
		m[v] = http.CanonicalHeaderKey(SSLHeaderName(v))
	}
	return m
}()

func sslHeaderKey(name string) string {
	if k, ok := sslHeaderKeys[name]; ok {
		return k
	}
	return http.CanonicalHeaderKey(SSLHeaderName(name))
}

// headerSafe percent-encodes what a header value cannot hold and what
// unescaping would change: control characters, spaces and tabs at either
// end, and "%". Values needing none of it are returned as they are.
func headerSafe(v string) string {
	if !needsEscape(v) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + len(v)/16)
	lead := len(v) - len(strings.TrimLeft(v, " \t"))
	trail := len(strings.TrimRight(v, " \t"))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f || c == '%' || i < lead || i >= trail {
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// needsEscape reports whether v holds a control character, starts or ends
// with a space or tab, or holds "%" (which unescape could read as an
// escape).
func needsEscape(v string) bool {
	if v == "" {
		return false
	}
	if first, last := v[0], v[len(v)-1]; first == ' ' || first == '\t' || last == ' ' || last == '\t' {
		return true
	}
	return strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '%' })
}

// RemoveSSLHeaders removes from h, a client's request, every header
// tlsfront sets from SSLVars: X-HTTPS and any name starting with X-SSL-
// (whatever its case). They are claims, like X-Forwarded-For: only
// tlsfront may make them. It returns how many names it removed.
func RemoveSSLHeaders(h http.Header) int {
	n := 0
	for k := range h {
		if isSSLHeader(k) {
			delete(h, k)
			n++
		}
	}
	return n
}

func isSSLHeader(k string) bool {
	return len(k) >= 6 && strings.EqualFold(k[:6], "X-SSL-") || strings.EqualFold(k, "X-HTTPS")
}

func protocolName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return "unknown"
}

// serialHex formats n as OpenSSL's i2a_ASN1_INTEGER: upper-case hex of the
// magnitude's bytes ("00" for zero), "-" first when negative, and a
// backslash-newline after every 35 bytes.
func serialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	mag := n.Bytes()
	if len(mag) == 0 {
		mag = []byte{0}
	}
	var b []byte
	if n.Sign() < 0 {
		b = append(b, '-')
	}
	for i, c := range mag {
		if i != 0 && i%35 == 0 {
			b = append(b, '\\', '\n')
		}
		b = append(b, hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

// asn1TimePrint formats t as OpenSSL's ASN1_TIME_print: "Dec  3 09:07:11 2026 GMT".
func asn1TimePrint(t time.Time) string {
	return t.UTC().Format("Jan _2 15:04:05 2006 GMT")
}

// daysRemaining is SSL_CLIENT_V_REMAIN: whole days from now to end, "0"
// once it has passed.
func daysRemaining(end, now time.Time) string {
	d := int64(end.Sub(now) / time.Second / 86400)
	if d < 0 {
		d = 0
	}
	return strconv.FormatInt(d, 10)
}

// Long names (OBJ_nid2ln) of the key and signature algorithms OpenSSL
// knows; anything else prints as UNKNOWN.
var algorithmNames = map[string]string{
	"1.2.840.113549.1.1.1": "rsaEncryption", "1.2.840.10045.2.1": "id-ecPublicKey",
	"1.3.101.112": "ED25519", "1.3.101.113": "ED448", "1.3.101.110": "X25519", "1.3.101.111": "X448",
	"1.2.840.10040.4.1": "dsaEncryption", "1.2.840.113549.1.3.1": "dhKeyAgreement",
	"1.2.840.113549.1.1.10": "rsassaPss", "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
	"1.2.840.113549.1.1.4": "md5WithRSAEncryption", "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
	"1.2.840.113549.1.1.11": "sha256WithRSAEncryption", "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
	"1.2.840.113549.1.1.13": "sha512WithRSAEncryption", "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
	"1.2.840.10045.4.1": "ecdsa-with-SHA1", "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
	"1.2.840.10045.4.3.2": "ecdsa-with-SHA256", "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
	"1.2.840.10045.4.3.4": "ecdsa-with-SHA512", "1.2.840.10040.4.3": "dsaWithSHA1",
	"2.16.840.1.101.3.4.3.1": "dsa_with_SHA224", "2.16.840.1.101.3.4.3.2": "dsa_with_SHA256",
}

func algorithmName(oid asn1.ObjectIdentifier) string {
	if n, ok := algorithmNames[oid.String()]; ok {
		return n
	}
	return "UNKNOWN"
}

// keyAlgorithm is SSL_CLIENT_A_KEY: the SubjectPublicKeyInfo's algorithm.
func keyAlgorithm(c *x509.Certificate) string {
	in := cryptobyte.String(c.RawSubjectPublicKeyInfo)
	var spki, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&spki, cbasn1.SEQUENCE) || !spki.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return "UNKNOWN"
	}
	return algorithmName(oid)
}

// signatureAlgorithm is SSL_CLIENT_A_SIG: the signature algorithm named
// inside the to-be-signed certificate.
func signatureAlgorithm(c *x509.Certificate) string {
	in := cryptobyte.String(c.RawTBSCertificate)
	var tbs, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || // version
		!tbs.SkipASN1(cbasn1.INTEGER) || // serial
		!tbs.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return "UNKNOWN"
	}
	return algorithmName(oid)
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// cipher is a suite's OpenSSL name and SSL_CIPHER_get_bits sizes.
type cipher struct {
	name     string
	use, alg int
}

func cipherOf(id uint16) cipher {
	if c, ok := ciphers[id]; ok {
		return c
	}
	return cipher{name: tls.CipherSuiteName(id)}
}

// ciphers are the suites crypto/tls implements, by OpenSSL's names.
var ciphers = map[uint16]cipher{
	tls.TLS_AES_128_GCM_SHA256:                        {"TLS_AES_128_GCM_SHA256", 128, 128},
	tls.TLS_AES_256_GCM_SHA384:                        {"TLS_AES_256_GCM_SHA384", 256, 256},
	tls.TLS_CHACHA20_POLY1305_SHA256:                  {"TLS_CHACHA20_POLY1305_SHA256", 256, 256},
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       {"ECDHE-ECDSA-AES128-GCM-SHA256", 128, 128},
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       {"ECDHE-ECDSA-AES256-GCM-SHA384", 256, 256},
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         {"ECDHE-RSA-AES128-GCM-SHA256", 128, 128},
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         {"ECDHE-RSA-AES256-GCM-SHA384", 256, 256},
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: {"ECDHE-ECDSA-CHACHA20-POLY1305", 256, 256},
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   {"ECDHE-RSA-CHACHA20-POLY1305", 256, 256},
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:          {"ECDHE-ECDSA-AES128-SHA", 128, 128},
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:          {"ECDHE-ECDSA-AES256-SHA", 256, 256},
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            {"ECDHE-RSA-AES128-SHA", 128, 128},
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            {"ECDHE-RSA-AES256-SHA", 256, 256},
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256:       {"ECDHE-ECDSA-AES128-SHA256", 128, 128},
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256:         {"ECDHE-RSA-AES128-SHA256", 128, 128},
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256:               {"AES128-GCM-SHA256", 128, 128},
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384:               {"AES256-GCM-SHA384", 256, 256},
	tls.TLS_RSA_WITH_AES_128_CBC_SHA:                  {"AES128-SHA", 128, 128},
	tls.TLS_RSA_WITH_AES_256_CBC_SHA:                  {"AES256-SHA", 256, 256},
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256:               {"AES128-SHA256", 128, 128},
	tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA:              {"ECDHE-ECDSA-RC4-SHA", 128, 128},
	tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA:                {"ECDHE-RSA-RC4-SHA", 128, 128},
	tls.TLS_RSA_WITH_RC4_128_SHA:                      {"RC4-SHA", 128, 128},
	tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA:           {"ECDHE-RSA-DES-CBC3-SHA", 112, 168},
	tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA:                 {"DES-CBC3-SHA", 112, 168},
}

// appendSANs appends SSL_CLIENT_SAN_Email_n, SSL_CLIENT_SAN_DNS_n and
// SSL_CLIENT_SAN_OTHER_msUPN_n in the order the extension lists them.
func appendSANs(vars []SSLVar, c *x509.Certificate) []SSLVar {
	var raw []byte
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			raw = e.Value
			break
		}
	}
	if raw == nil {
		return vars
	}
	in := cryptobyte.String(raw)
	var names cryptobyte.String
	if !in.ReadASN1(&names, cbasn1.SEQUENCE) {
		return vars
	}
	var email, dns, upn int
	for !names.Empty() {
		var gn cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1(&gn, &tag) {
			return vars
		}
		switch tag {
		case cbasn1.Tag(1).ContextSpecific(): // rfc822Name
			vars = append(vars, SSLVar{Name: "SSL_CLIENT_SAN_Email_" + strconv.Itoa(email), Value: ia5Value(gn)})
			email++
		case cbasn1.Tag(2).ContextSpecific(): // dNSName
			vars = append(vars, SSLVar{Name: "SSL_CLIENT_SAN_DNS_" + strconv.Itoa(dns), Value: ia5Value(gn)})
			dns++
		case cbasn1.Tag(0).ContextSpecific().Constructed(): // otherName
			var oid asn1.ObjectIdentifier
			var v, s cryptobyte.String
			if gn.ReadASN1ObjectIdentifier(&oid) && oid.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}) &&
				gn.ReadASN1(&v, cbasn1.Tag(0).ContextSpecific().Constructed()) && v.ReadASN1(&s, cbasn1.UTF8String) {
				vars = append(vars, SSLVar{Name: "SSL_CLIENT_SAN_OTHER_msUPN_" + strconv.Itoa(upn), Value: formatComponent(attribute{tag: tagUTF8, data: s})})
				upn++
			}
		}
	}
	return vars
}

// ia5Value prints an IA5String name as mod_ssl does (Latin-1 to UTF-8,
// control characters as \XX).
func ia5Value(b []byte) string {
	return formatComponent(attribute{tag: tagIA5, data: b})
}
