package itest_test

import (
	"testing"

	"tlsfront/internal/itest"
)

// testssl-apache-pretty.json is testssl.sh 3.0.8's --jsonfile-pretty output
// for Apache 2.4 + mod_ssl with the tutorial cipher string and RSA + ECDSA
// certificates (-p -P -f -U -S -h).
func TestParseTestsslPretty(t *testing.T) {
	t.Parallel()
	r, err := itest.ParseTestssl([]byte(readTestdata(t, "testssl-apache-pretty.json")))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"SSLv2": false, "SSLv3": false, "TLS1": true, "TLS1_1": true, "TLS1_2": true, "TLS1_3": true} {
		if got := r.Offered(t, id); got != want {
			t.Errorf("%s offered = %v, want %v", id, got, want)
		}
	}
	for _, id := range []string{"heartbleed", "CCS", "ticketbleed", "ROBOT", "CRIME_TLS", "POODLE_SSL", "FREAK", "LOGJAM", "DROWN", "SWEET32", "RC4"} {
		if !r.NotVulnerable(t, id) {
			t.Errorf("%s: %v, want not vulnerable", id, r.All(id))
		}
	}
	for _, id := range []string{"BEAST", "LUCKY13"} {
		if r.NotVulnerable(t, id) {
			t.Errorf("%s: %v counted as not vulnerable", id, r.All(id))
		}
	}
	if f := r.ForwardSecrecy(t); f.Severity != "OK" || f.Finding != "offered" {
		t.Errorf("forward secrecy = %+v", f)
	}
	if f := r.Require(t, "cipher_order"); f.Finding != "server" {
		t.Errorf("cipher_order = %+v", f)
	}
	if f := r.Require(t, "fallback_SCSV"); f.Finding != "supported" || f.Severity != "OK" {
		t.Errorf("fallback_SCSV = %+v", f)
	}
	if f := r.Require(t, "HSTS_time"); f.Finding != "730 days (=63072000 seconds) > 15552000 seconds" {
		t.Errorf("HSTS_time = %+v", f)
	}
	// Two certificates: per-certificate ids come once per certificate.
	if n := r.Require(t, "cert_numbers"); n.Finding != "2" {
		t.Errorf("cert_numbers = %+v", n)
	}
	staples := r.All("OCSP_stapling")
	if len(staples) != 2 || staples[0].Cert != "cert#1" || staples[1].Cert != "cert#2" || staples[0].Finding != "not offered" {
		t.Errorf("OCSP_stapling = %+v", staples)
	}
	if _, ok := r.Get("cipherlist_NULL"); ok {
		t.Errorf("cipherlist_NULL present although the run had no -s")
	}
}

func TestParseTestsslFlat(t *testing.T) {
	t.Parallel()
	const flat = `[
  {"id":"TLS1","ip":"127.0.0.1/127.0.0.1","port":"1","severity":"LOW","finding":"offered (deprecated)"},
  {"id":"SSLv3","ip":"127.0.0.1/127.0.0.1","port":"1","severity":"OK","finding":"not offered"},
  {"id":"cipherlist_3DES_IDEA","ip":"127.0.0.1/127.0.0.1","port":"1","severity":"INFO","finding":"not offered","cwe":"CWE-310"},
  {"id":"cipherlist_STRONG","ip":"127.0.0.1/127.0.0.1","port":"1","severity":"OK","finding":"offered"},
  {"id":"FS","ip":"127.0.0.1/127.0.0.1","port":"1","severity":"OK","finding":"offered"},
  {"id":"heartbleed","ip":"127.0.0.1/127.0.0.1","port":"1","severity":"HIGH","finding":"VULNERABLE","cve":"CVE-2014-0160"},
  {"id":"OCSP_stapling","ip":"127.0.0.1/127.0.0.1","port":"1","severity":"OK","finding":"offered"}
]`
	r, err := itest.ParseTestssl([]byte(flat))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Offered(t, "TLS1") || r.Offered(t, "SSLv3") || r.CipherCategoryOffered(t, "cipherlist_3DES_IDEA") || !r.CipherCategoryOffered(t, "cipherlist_STRONG") {
		t.Errorf("offered flags wrong: %s", r)
	}
	if r.NotVulnerable(t, "heartbleed") {
		t.Errorf("VULNERABLE heartbleed counted as not vulnerable")
	}
	if f := r.ForwardSecrecy(t); f.ID != "FS" {
		t.Errorf("forward secrecy id %q, want FS (testssl 3.1+)", f.ID)
	}
	if f, ok := r.Get("heartbleed"); !ok || f.CVE != "CVE-2014-0160" {
		t.Errorf("heartbleed = %+v", f)
	}
	if _, err := itest.ParseTestssl([]byte(`[]`)); err == nil {
		t.Errorf("empty result parsed without error")
	}
}
