package integration

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"testing"

	"tlsfront/internal/itest"
)

// legacyCipher lowers the client's OpenSSL security level, without which
// OpenSSL 3.0 refuses TLS 1.0/1.1 itself ("legacy sigalg disallowed").
const legacyCipher = "DEFAULT:@SECLEVEL=0"

// TestProtocolVersions connects with each TLS version under each profile
// and checks who may connect; refusals must come from the server (a
// protocol_version alert), not from the client's own policy.
func TestProtocolVersions(t *testing.T) {
	t.Parallel()
	versions := []string{"1.0", "1.1", "1.2", "1.3"}
	tests := []struct {
		profile string
		accepts map[string]bool
	}{
		{"tutorial", map[string]bool{"1.0": true, "1.1": true, "1.2": true, "1.3": true}},
		{"old", map[string]bool{"1.0": true, "1.1": true, "1.2": true, "1.3": true}},
		{"intermediate", map[string]bool{"1.2": true, "1.3": true}},
		{"modern", map[string]bool{"1.3": true}},
	}
	for _, tc := range tests {
		t.Run(tc.profile, func(t *testing.T) {
			t.Parallel()
			f := startFront(t, frontOptions{Profile: tc.profile, Certs: []string{"ecdsa256"}, NoHTTP: true,
				Backend: "http://127.0.0.1:9"})
			for _, v := range versions {
				t.Run("TLS"+v, func(t *testing.T) {
					o := itest.SClientOptions{Port: f.Front.HTTPSPort, Version: v, ServerName: "localhost"}
					if v == "1.0" || v == "1.1" {
						o.Cipher = legacyCipher
					}
					r := itest.SClient(t, o)
					want := tc.accepts[v]
					if r.Connected != want {
						t.Fatalf("profile %s, TLS %s: connected = %v, want %v\n%s\n%s", tc.profile, v, r.Connected, want, r, r.Output)
					}
					if want && r.Protocol != "TLSv"+v {
						t.Errorf("negotiated %s, want TLSv%s", r.Protocol, v)
					}
					if !want && !r.HasAlert("protocol version") {
						t.Errorf("refusal without the server's protocol_version alert: %s\n%s", r, r.Output)
					}
				})
			}
		})
	}
}

// TestFallbackSCSV proves TLS_FALLBACK_SCSV is honoured (POODLE): a client
// that says it fell back to TLS 1.1 while the server has 1.3 is stopped.
func TestFallbackSCSV(t *testing.T) {
	t.Parallel()
	f := startFront(t, frontOptions{Certs: []string{"ecdsa256"}, NoHTTP: true, Backend: "http://127.0.0.1:9"})
	r := itest.SClient(t, itest.SClientOptions{Port: f.Front.HTTPSPort, Version: "1.1", Cipher: legacyCipher,
		ServerName: "localhost", FallbackSCSV: true})
	if r.Connected || !r.HasAlert("inappropriate fallback") || !containsInt(r.AlertNumbers, 86) {
		t.Errorf("TLS 1.1 with fallback SCSV: %s, want alert 86 inappropriate fallback\n%s", r, r.Output)
	}
	// Control: the same client without the SCSV connects, so the alert above
	// is about the SCSV and not TLS 1.1.
	r = itest.SClient(t, itest.SClientOptions{Port: f.Front.HTTPSPort, Version: "1.1", Cipher: legacyCipher, ServerName: "localhost"})
	if !r.Connected || r.Protocol != "TLSv1.1" {
		t.Errorf("TLS 1.1 without SCSV: %s, want a TLS 1.1 connection\n%s", r, r.Output)
	}
}

// TestServerCipherOrder proves the server's order wins for TLS 1.2 under
// the tutorial profile (SSLHonorCipherOrder on), though Go itself ignores
// the order: the client prefers AES128, the tutorial puts AES256 first.
func TestServerCipherOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cert, clientOrder, want string
	}{
		{"ecdsa", "ecdsa256", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
		{"rsa", "rsa2048", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startFront(t, frontOptions{Profile: "tutorial", Certs: []string{tc.cert}, NoHTTP: true, Backend: "http://127.0.0.1:9"})
			r := itest.SClient(t, itest.SClientOptions{Port: f.Front.HTTPSPort, Version: "1.2", Cipher: tc.clientOrder, ServerName: "localhost"})
			if !r.Connected || r.Cipher != tc.want {
				t.Errorf("client order %s: got %s, want cipher %s\n%s", tc.clientOrder, r, tc.want, r.Output)
			}
		})
	}
}

// TestDualCertificates proves one site serves its RSA certificate to
// RSA-only clients and its ECDSA certificate to the others, and that the
// chain verifies against the CA.
func TestDualCertificates(t *testing.T) {
	t.Parallel()
	f := startFront(t, frontOptions{Certs: []string{"rsa2048", "ecdsa256"}, NoHTTP: true, Backend: "http://127.0.0.1:9"})
	tests := []struct {
		name string
		o    itest.SClientOptions
		want string
	}{
		{"TLS 1.2 RSA suites only", itest.SClientOptions{Version: "1.2", Cipher: "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"}, "rsa2048"},
		{"TLS 1.3 RSA signatures only", itest.SClientOptions{Version: "1.3", Sigalgs: "rsa_pss_rsae_sha256:rsa_pkcs1_sha256"}, "rsa2048"},
		{"TLS 1.2 default client", itest.SClientOptions{Version: "1.2"}, "ecdsa256"},
		{"TLS 1.3 default client", itest.SClientOptions{Version: "1.3"}, "ecdsa256"},
		{"TLS 1.0 legacy client", itest.SClientOptions{Version: "1.0", Cipher: legacyCipher}, "ecdsa256"},
		{"TLS 1.0 RSA-only legacy client", itest.SClientOptions{Version: "1.0", Cipher: "ECDHE-RSA-AES256-SHA:@SECLEVEL=0"}, "rsa2048"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Port, o.ServerName, o.CAFile, o.ShowCerts = f.Front.HTTPSPort, "localhost", f.rootFile(), true
			r := itest.SClient(t, o)
			if !r.Connected {
				t.Fatalf("no connection: %s\n%s", r, r.Output)
			}
			if r.PeerKeyType != tc.want {
				t.Errorf("served a %s certificate, want %s", r.PeerKeyType, tc.want)
			}
			if want := f.Leaves[tc.want].Cert().SerialNumber; r.Peer.SerialNumber.Cmp(want) != 0 {
				t.Errorf("served serial %x, want the configured leaf's %x", r.Peer.SerialNumber, want)
			}
			if r.VerifyCode != 0 || len(r.PeerChain) != 2 {
				t.Errorf("chain of %d certificates, verify code %d: want leaf + intermediate verifying against the root", len(r.PeerChain), r.VerifyCode)
			}
		})
	}
}

// TestNoSNI proves a client without SNI (Windows XP, scanners on an IP)
// gets the first site's certificate.
func TestNoSNI(t *testing.T) {
	t.Parallel()
	f := startFront(t, frontOptions{Certs: []string{"ecdsa256"}, NoHTTP: true, Backend: "http://127.0.0.1:9"})
	r := itest.SClient(t, itest.SClientOptions{Port: f.Front.HTTPSPort, NoServerName: true, CAFile: f.rootFile()})
	if !r.Connected || r.Peer == nil || r.Peer.SerialNumber.Cmp(f.Leaves["ecdsa256"].Cert().SerialNumber) != 0 {
		t.Errorf("no-SNI client: %s, want the site's certificate\n%s", r, r.Output)
	}
}

// TestSessionResumption proves session tickets work for TLS 1.2 and 1.3.
func TestSessionResumption(t *testing.T) {
	t.Parallel()
	f := startFront(t, frontOptions{Certs: []string{"ecdsa256"}, NoHTTP: true})
	for _, v := range []string{"1.2", "1.3"} {
		t.Run("TLS"+v, func(t *testing.T) {
			sess := filepath.Join(t.TempDir(), "sess.pem")
			o := itest.SClientOptions{Port: f.Front.HTTPSPort, Version: v, ServerName: "localhost",
				SessOut: sess, Input: "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"}
			first := itest.SClient(t, o)
			if !first.Connected || first.Reused {
				t.Fatalf("first connection: %s\n%s", first, first.Output)
			}
			o.SessOut, o.SessIn = "", sess
			second := itest.SClient(t, o)
			if !second.Connected || !second.Reused {
				t.Errorf("second connection with the saved session: %s, want Reused\n%s", second, second.Output)
			}
		})
	}
}

// TestNmapCipherOrder checks nmap's view of the tutorial profile: the
// server's order for TLS ≤ 1.2, exactly the tutorial's suites that Go
// implements (as OpenSSL orders them), and nothing weak.
func TestNmapCipherOrder(t *testing.T) {
	t.Parallel()
	f := startFront(t, frontOptions{Profile: "tutorial", Certs: []string{"rsa2048", "ecdsa256"}, NoHTTP: true, Backend: "http://127.0.0.1:9"})
	r := itest.Nmap(t, f.Front.HTTPSPort)
	if _, ok := r.Versions["SSLv3"]; ok {
		t.Errorf("nmap found SSLv3")
	}
	for _, v := range []struct {
		name string
		tls  uint16
	}{{"TLSv1.0", tls.VersionTLS10}, {"TLSv1.1", tls.VersionTLS11}, {"TLSv1.2", tls.VersionTLS12}} {
		t.Run(v.name, func(t *testing.T) {
			got, ok := r.Versions[v.name]
			if !ok {
				t.Fatalf("nmap found no %s\n%s", v.name, r.Output)
			}
			if got.Preference != "server" {
				t.Errorf("%s cipher preference = %q, want server", v.name, got.Preference)
			}
			want := tutorialSuites(t, v.tls)
			if fmt.Sprint(got.Names()) != fmt.Sprint(want) {
				t.Errorf("%s suites in order:\n got  %v\n want %v", v.name, got.Names(), want)
			}
			for _, c := range got.Names() {
				if weakSuite(c) {
					t.Errorf("%s offers weak suite %s", v.name, c)
				}
			}
		})
	}
	if _, ok := r.Versions["TLSv1.3"]; !ok {
		t.Errorf("nmap found no TLSv1.3")
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
