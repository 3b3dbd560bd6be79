package headers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

func atv(oid asn1.ObjectIdentifier, tag int, val string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: asn1.RawValue{Tag: tag, Bytes: []byte(val)}}
}

var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidC     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// rawSubjectCert returns a self-signed certificate whose subject is rdns,
// encoded as given (string types, multi-valued RDNs and all). Some of them
// crypto/x509 refuses to parse (so crypto/tls refuses such a client
// certificate before tlsfront sees it): only Raw and RawSubject are set.
func rawSubjectCert(t *testing.T, rdns pkix.RDNSequence) *x509.Certificate {
	t.Helper()
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), RawSubject: raw, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := x509.ParseCertificate(der); err == nil {
		return c
	}
	return &x509.Certificate{Raw: der, RawSubject: raw}
}

// opensslSubject prints c's subject with `openssl x509 -nameopt opt`.
func opensslSubject(t *testing.T, c *x509.Certificate, opt string) string {
	t.Helper()
	bin := itest.RequireTool(t, "openssl")
	p := filepath.Join(t.TempDir(), "c.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "x509", "-in", p, "-noout", "-subject", "-nameopt", opt).Output()
	if err != nil {
		t.Fatalf("openssl x509: %v", err)
	}
	s := strings.TrimSuffix(string(out), "\n")
	return strings.TrimPrefix(s, "subject=")
}

// dnCases are subjects exercising every rule of the two formats.
func dnCases() map[string]pkix.RDNSequence {
	return map[string]pkix.RDNSequence{
		"plain": {{atv(oidC, 19, "DE")}, {atv(oidO, 19, "Example GmbH")}, {atv(oidCN, 12, "Alice")}},
		"RFC 2253 specials": {
			{atv(oidO, 12, `A, B+C "q" <x>;y=z\w`)},
			{atv(oidOU, 12, " lead#/slash+plus ")}, {atv(oidOU, 12, "#hash")}, {atv(oidOU, 12, "tail#")},
		},
		"multi-valued RDN":   {{atv(oidOU, 12, "Dev"), atv(oidCN, 12, "multi")}, {atv(oidCN, 12, "last")}},
		"control characters": {{atv(oidOU, 12, "ctl\x01\x7f tab\t nl\n")}},
		"UTF-8":              {{atv(oidOU, 12, "Ünïcödé €")}, {atv(oidCN, 12, "Alice Müller")}},
		"BMPString":          {{atv(oidOU, 30, "\x00B\x00\xfc\x20\xac")}},
		"UniversalString":    {{atv(oidOU, 28, "\x00\x00\x00U\x00\x01\xf6\x00")}},
		"T61String Latin-1":  {{atv(oidOU, 20, "T61 \xe9")}},
		"IA5 high bytes":     {{atv(oidEmail, 22, "a\xe9@b.c")}},
		"unknown OID":        {{atv(asn1.ObjectIdentifier{1, 2, 3, 4, 5}, 12, "unknown oid")}},
		"unknown type":       {{atv(oidOU, 3, "\x00bits")}},
		"empty value":        {{atv(oidOU, 12, "")}, {atv(oidCN, 12, "x")}},
		"attribute names": {
			{atv(asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, 12, "uid1")},
			{atv(asn1.ObjectIdentifier{2, 5, 4, 12}, 12, "title")}, {atv(asn1.ObjectIdentifier{2, 5, 4, 42}, 12, "given")},
			{atv(asn1.ObjectIdentifier{2, 5, 4, 4}, 12, "sur")}, {atv(asn1.ObjectIdentifier{2, 5, 4, 43}, 12, "ini")},
			{atv(asn1.ObjectIdentifier{2, 5, 4, 13}, 12, "desc")}, {atv(asn1.ObjectIdentifier{2, 5, 4, 5}, 19, "SN123")},
			{atv(asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, 22, "example")},
			{atv(oidEmail, 22, "a@b.c")}, {atv(asn1.ObjectIdentifier{2, 5, 4, 7}, 12, "Berlin")},
			{atv(asn1.ObjectIdentifier{2, 5, 4, 8}, 12, "BE")}, {atv(asn1.ObjectIdentifier{2, 5, 4, 9}, 12, "street 1")},
			{atv(asn1.ObjectIdentifier{2, 5, 4, 17}, 12, "10115")}, {atv(asn1.ObjectIdentifier{2, 5, 4, 15}, 12, "Private Organization")},
			{atv(asn1.ObjectIdentifier{2, 5, 4, 97}, 12, "VATDE-123")}, {atv(asn1.ObjectIdentifier{2, 5, 4, 46}, 12, "q")},
			{atv(asn1.ObjectIdentifier{2, 5, 4, 65}, 12, "pseudo")}, {atv(asn1.ObjectIdentifier{2, 5, 4, 44}, 12, "Jr")},
			{atv(asn1.ObjectIdentifier{2, 5, 4, 41}, 12, "name")}, {atv(asn1.ObjectIdentifier{2, 5, 4, 72}, 12, "role")},
			{atv(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3}, 19, "DE")},
			{atv(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 2}, 12, "Berlin")},
			{atv(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 1}, 12, "Berlin")},
			{atv(asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 3}, 22, "m@x")},
			{atv(asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 44}, 12, "u")},
			{atv(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 2}, 22, "un")},
		},
	}
}

// TestFormatDNMatchesOpenSSL compares both DN formats, and the escaped
// form of SSL_CLIENT_CERT_RFC4523_CEA, with what openssl prints for the
// same certificates. mod_ssl calls the same OpenSSL functions with the
// same flags (integration/modssl_test.go checks that against Apache).
func TestFormatDNMatchesOpenSSL(t *testing.T) {
	t.Parallel()
	for name, rdns := range dnCases() {
		t.Run(name, func(t *testing.T) {
			c := rawSubjectCert(t, rdns)
			attrs, err := parseName(c.RawSubject)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				opt string
				got string
			}{
				{"RFC2253,-esc_msb", formatRFC2253(attrs, false)},
				{"RFC2253", formatRFC2253(attrs, true)},
				{"compat", formatOneline(attrs)},
			} {
				if want := opensslSubject(t, c, f.opt); f.got != want {
					t.Errorf("-nameopt %s:\n got %q\nwant %q", f.opt, f.got, want)
				}
			}
			if got, want := FormatDN(c.RawSubject, false), formatRFC2253(attrs, false); got != want {
				t.Errorf("FormatDN = %q, want %q", got, want)
			}
		})
	}
}

// TestDNComponents checks SSL_CLIENT_S_DN_x: mod_ssl's names, _N for
// repeats, values with control characters escaped and backslashes doubled.
func TestDNComponents(t *testing.T) {
	t.Parallel()
	c := rawSubjectCert(t, pkix.RDNSequence{
		{atv(oidC, 19, "DE")}, {atv(oidOU, 12, "Dev")}, {atv(oidOU, 12, `a\b`)}, {atv(oidOU, 12, "c\x01")},
		{atv(oidCN, 12, "Müller")}, {atv(oidEmail, 22, "a@b.c")},
		{atv(asn1.ObjectIdentifier{2, 5, 4, 5}, 19, "not exported")},
	})
	attrs, _ := parseName(c.RawSubject)
	got := appendDNComponents(nil, "SSL_CLIENT_S_DN_", attrs)
	want := []SSLVar{
		{"SSL_CLIENT_S_DN_C", "DE"}, {"SSL_CLIENT_S_DN_OU", "Dev"}, {"SSL_CLIENT_S_DN_OU_1", `a\\b`},
		{"SSL_CLIENT_S_DN_OU_2", `c\01`}, {"SSL_CLIENT_S_DN_CN", "Müller"}, {"SSL_CLIENT_S_DN_Email", "a@b.c"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}

// FuzzFormatDN: any DER parses or is refused without panicking, and the
// outputs never hold a byte a header value cannot (CR, LF, NUL).
func FuzzFormatDN(f *testing.F) {
	for _, rdns := range dnCases() {
		raw, _ := asn1.Marshal(rdns)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		for _, legacy := range []bool{false, true} {
			s := FormatDN(der, legacy)
			if strings.ContainsAny(s, "\r\n\x00") {
				t.Fatalf("FormatDN(%x, %v) = %q holds a control character", der, legacy, s)
			}
		}
	})
}
