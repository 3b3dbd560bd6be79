package itest_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"tlsfront/internal/itest"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The testdata outputs were captured from OpenSSL 3.0 against Apache 2.4
// with mod_ssl (tutorial cipher string at SECLEVEL=0, RSA + ECDSA keys).
func TestParseSClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file         string
		connected    bool
		protocol     string
		cipher       string
		reused       bool
		alpn         string
		keyType      string
		ocspAsked    bool
		alerts       []string
		alertNumbers []int
		errors       []string
	}{
		{file: "sclient-tls12-rsa.txt", connected: true, protocol: "TLSv1.2", cipher: "ECDHE-RSA-AES256-GCM-SHA384",
			alpn: "http/1.1", keyType: "rsa2048", ocspAsked: true},
		{file: "sclient-tls10.txt", connected: true, protocol: "TLSv1.0", cipher: "ECDHE-ECDSA-AES256-SHA", keyType: "ecdsa256"},
		// "New, TLSv1.0, Cipher is" names the cipher's version; the session says 1.1.
		{file: "sclient-tls11.txt", connected: true, protocol: "TLSv1.1", cipher: "ECDHE-ECDSA-AES256-SHA", keyType: "ecdsa256"},
		{file: "sclient-tls13-reused.txt", connected: true, protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", reused: true, keyType: "ecdsa256"},
		// The session block says "Protocol : TLSv1.1" although nothing was negotiated.
		{file: "sclient-fallback.txt", alerts: []string{"inappropriate fallback"}, alertNumbers: []int{86},
			errors: []string{"tlsv1 alert inappropriate fallback"}},
		{file: "sclient-legacy-sigalg.txt", keyType: "ecdsa256", errors: []string{"legacy sigalg disallowed or unsupported"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			r := itest.ParseSClient(readTestdata(t, tc.file))
			if r.Connected != tc.connected || r.Protocol != tc.protocol || r.Cipher != tc.cipher || r.Reused != tc.reused || r.ALPN != tc.alpn {
				t.Errorf("got %s", r)
			}
			if r.PeerKeyType != tc.keyType {
				t.Errorf("peer key type = %q, want %q", r.PeerKeyType, tc.keyType)
			}
			if tc.keyType != "" && (r.Peer == nil || r.Peer.Subject.CommonName != "localhost") {
				t.Errorf("peer certificate not parsed: %v", r.Peer)
			}
			if r.OCSPRequested != tc.ocspAsked || r.OCSPStapled {
				t.Errorf("OCSP requested/stapled = %v/%v, want %v/false", r.OCSPRequested, r.OCSPStapled, tc.ocspAsked)
			}
			if !slices.Equal(r.Alerts, tc.alerts) || !slices.Equal(r.AlertNumbers, tc.alertNumbers) || !slices.Equal(r.Errors, tc.errors) {
				t.Errorf("alerts %q %v errors %q, want %q %v %q", r.Alerts, r.AlertNumbers, r.Errors, tc.alerts, tc.alertNumbers, tc.errors)
			}
		})
	}
}

func TestSClientArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    itest.SClientOptions
		want []string
	}{
		{"minimal", itest.SClientOptions{Port: 443}, []string{"s_client", "-connect", "127.0.0.1:443"}},
		{"everything", itest.SClientOptions{Addr: "h:1", Version: "1.1", Cipher: "C", Ciphersuites: "S", Sigalgs: "A",
			Groups: "G", ServerName: "n", SessOut: "o", SessIn: "i", ALPN: "h2", CAFile: "ca", NoServerName: true,
			Status: true, FallbackSCSV: true, ShowCerts: true, Input: "x", Args: []string{"-z"}},
			[]string{"s_client", "-connect", "h:1", "-tls1_1", "-cipher", "C", "-ciphersuites", "S", "-sigalgs", "A",
				"-groups", "G", "-servername", "n", "-sess_out", "o", "-sess_in", "i", "-alpn", "h2",
				"-CAfile", "ca", "-verify_return_error", "-noservername", "-status", "-fallback_scsv", "-showcerts",
				"-ign_eof", "-z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := itest.SClientArgs(tc.o)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %q, %v\nwant %q", got, err, tc.want)
			}
		})
	}
	for _, bad := range []itest.SClientOptions{{}, {Port: 1, Version: "1.4"}} {
		if _, err := itest.SClientArgs(bad); err == nil {
			t.Errorf("SClientArgs(%+v) succeeded", bad)
		}
	}
}

func TestParseNmap(t *testing.T) {
	t.Parallel()
	r, err := itest.ParseNmap(readTestdata(t, "nmap-apache.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r.LeastStrength != "A" || len(r.Versions) != 4 {
		t.Errorf("least strength %q, versions %v", r.LeastStrength, r.Versions)
	}
	v10 := r.Versions["TLSv1.0"]
	want10 := []string{"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"}
	if !slices.Equal(v10.Names(), want10) || v10.Preference != "server" || !slices.Equal(v10.Compressors, []string{"NULL"}) {
		t.Errorf("TLSv1.0 = %+v", v10)
	}
	if c := v10.Ciphers[2]; c.KeyInfo != "dh 2048" || c.Grade != "A" {
		t.Errorf("third TLSv1.0 cipher = %+v", c)
	}
	v12 := r.Versions["TLSv1.2"]
	if len(v12.Ciphers) != 16 || v12.Ciphers[0].Name != "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" || v12.Preference != "server" {
		t.Errorf("TLSv1.2 = %+v", v12)
	}
	if v13 := r.Versions["TLSv1.3"]; len(v13.Ciphers) != 3 || len(v13.Compressors) != 0 {
		t.Errorf("TLSv1.3 = %+v", v13)
	}

	const warned = `| ssl-enum-ciphers: 
|   TLSv1.2: 
|     ciphers: 
|       TLS_RSA_WITH_3DES_EDE_CBC_SHA (rsa 2048) - C
|     compressors: 
|       NULL
|     cipher preference: client
|     warnings: 
|       64-bit block cipher 3DES vulnerable to SWEET32 attack
|_  least strength: C
`
	r, err = itest.ParseNmap(warned)
	if err != nil {
		t.Fatal(err)
	}
	v := r.Versions["TLSv1.2"]
	if v.Preference != "client" || len(v.Warnings) != 1 || v.Ciphers[0].Grade != "C" || r.LeastStrength != "C" {
		t.Errorf("parsed %+v", r)
	}
	if _, err := itest.ParseNmap("PORT STATE\n1/tcp closed\n"); err == nil {
		t.Errorf("output without the script parsed without error")
	}
}
