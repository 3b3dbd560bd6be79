package itest_test

import (
	"crypto/tls"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// TestApacheTLSPeers runs the s_client and nmap parsers against Apache with
// mod_ssl configured like the tutorial, a TLS server whose behaviour is
// known, and checks the harness sees what that server does.
func TestApacheTLSPeers(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	dir := t.TempDir()
	rsaChain, rsaKey := ca.Leaf(t, testca.LeafOptions{KeyType: "rsa2048"}).WriteFiles(dir)
	ecChain, ecKey := ca.Leaf(t, testca.LeafOptions{}).WriteFiles(dir)
	a := itest.StartApache(t, itest.ApacheOptions{
		TLS: &itest.ApacheTLS{
			CertFile: rsaChain, KeyFile: rsaKey,
			CipherSuite:      "ECDH+AESGCM:AES256+EECDH:@SECLEVEL=0",
			HonorCipherOrder: true,
		},
		// A second certificate pair for the same host: mod_ssl picks by
		// the client's capabilities, as tlsfront does.
		Extra: "SSLCertificateFile " + ecChain + "\nSSLCertificateKeyFile " + ecKey + "\n",
	})

	t.Run("https content", func(t *testing.T) {
		r := itest.Curl(t, a.URL+"/?case=tls")
		if r.Status != 200 || !strings.Contains(r.Body, a.Marker) {
			t.Errorf("GET over TLS = %d %q", r.Status, r.Body)
		}
	})
	t.Run("versions", func(t *testing.T) {
		for _, v := range []string{"1.0", "1.1", "1.2", "1.3"} {
			o := itest.SClientOptions{Port: a.Port, Version: v, ServerName: "localhost", CAFile: ca.RootPath()}
			if v < "1.2" {
				o.Cipher = "DEFAULT:@SECLEVEL=0"
			}
			r := itest.SClient(t, o)
			if !r.Connected || r.Protocol != "TLSv"+v || r.VerifyCode != 0 {
				t.Errorf("TLS %s: %s verify=%d\n%s", v, r, r.VerifyCode, r.Output)
			}
		}
	})
	t.Run("fallback SCSV", func(t *testing.T) {
		r := itest.SClient(t, itest.SClientOptions{Port: a.Port, Version: "1.1", Cipher: "DEFAULT:@SECLEVEL=0", FallbackSCSV: true})
		if r.Connected || !r.HasAlert("inappropriate fallback") {
			t.Errorf("got %s\n%s", r, r.Output)
		}
	})
	t.Run("certificate by key type", func(t *testing.T) {
		rsa := itest.SClient(t, itest.SClientOptions{Port: a.Port, Version: "1.2", Cipher: "ECDHE-RSA-AES256-GCM-SHA384"})
		ec := itest.SClient(t, itest.SClientOptions{Port: a.Port, Version: "1.2"})
		if rsa.PeerKeyType != "rsa2048" || ec.PeerKeyType != "ecdsa256" {
			t.Errorf("RSA-only client got %s, default client got %s", rsa.PeerKeyType, ec.PeerKeyType)
		}
	})
	t.Run("server order", func(t *testing.T) {
		r := itest.SClient(t, itest.SClientOptions{Port: a.Port, Version: "1.2",
			Cipher: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"})
		if r.Cipher != "ECDHE-ECDSA-AES256-GCM-SHA384" {
			t.Errorf("got %s", r)
		}
	})
	t.Run("session resumption", func(t *testing.T) {
		sess := t.TempDir() + "/sess.pem"
		o := itest.SClientOptions{Port: a.Port, Version: "1.3", SessOut: sess, Input: "GET / HTTP/1.0\r\n\r\n"}
		if r := itest.SClient(t, o); !r.Connected || r.Reused {
			t.Fatalf("first: %s", r)
		}
		o.SessOut, o.SessIn = "", sess
		if r := itest.SClient(t, o); !r.Reused {
			t.Errorf("second: %s\n%s", r, r.Output)
		}
	})
	t.Run("nmap", func(t *testing.T) {
		r := itest.Nmap(t, a.Port)
		v12, ok := r.Versions["TLSv1.2"]
		if !ok || v12.Preference != "server" {
			t.Fatalf("TLSv1.2 = %+v\n%s", v12, r.Output)
		}
		want := []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
			"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}
		if got := v12.Names(); len(got) < 4 || strings.Join(got[:4], " ") != strings.Join(want, " ") {
			t.Errorf("TLSv1.2 order %v, want it to start %v", got, want)
		}
		if _, ok := r.Versions["TLSv1.0"]; !ok {
			t.Errorf("no TLSv1.0 section")
		}
	})
}

// goTLSServer serves TLS handshakes on 127.0.0.1 with cfg until the test ends.
func goTLSServer(t *testing.T, cfg *tls.Config) int {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				buf := make([]byte, 1)
				_, _ = c.Read(buf)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSClientOCSP checks the -status parsing against a Go server that
// staples a good or revoked response, or none.
func TestSClientOCSP(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{OCSPServer: []string{"http://127.0.0.1:1/"}})
	staple := func(status int) []byte {
		now := time.Now()
		der, err := ocsp.CreateResponse(leaf.Issuer(), leaf.Issuer(), ocsp.Response{
			Status: status, SerialNumber: new(big.Int).Set(leaf.Cert().SerialNumber),
			ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour), RevokedAt: now.Add(-time.Hour),
		}, leaf.IssuerKey())
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name       string
		staple     []byte
		wantStatus string
	}{
		{"none", nil, ""},
		{"good", staple(ocsp.Good), "good"},
		{"revoked", staple(ocsp.Revoked), "revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := leaf.TLS()
			c.OCSPStaple = tc.staple
			port := goTLSServer(t, &tls.Config{Certificates: []tls.Certificate{c}})
			r := itest.SClient(t, itest.SClientOptions{Port: port, Status: true, ServerName: "localhost"})
			if !r.Connected || !r.OCSPRequested {
				t.Fatalf("got %s\n%s", r, r.Output)
			}
			if r.OCSPStapled != (tc.staple != nil) || r.OCSPCertStatus != tc.wantStatus {
				t.Errorf("stapled=%v status=%q, want %v %q\n%s", r.OCSPStapled, r.OCSPCertStatus, tc.staple != nil, tc.wantStatus, r.Output)
			}
			if tc.staple != nil && r.OCSPResponseStatus != "successful (0x0)" {
				t.Errorf("response status %q", r.OCSPResponseStatus)
			}
		})
	}
}

// TestSClientRefusals checks how refusals by the server look: a TLS 1.3-only
// server answers an older client with a protocol_version alert.
func TestSClientRefusals(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	port := goTLSServer(t, &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, testca.LeafOptions{}).TLS()}, MinVersion: tls.VersionTLS13})
	for _, v := range []string{"1.0", "1.2"} {
		r := itest.SClient(t, itest.SClientOptions{Port: port, Version: v, Cipher: "DEFAULT:@SECLEVEL=0"})
		if r.Connected || !r.HasAlert("protocol version") || r.ExitCode == 0 {
			t.Errorf("TLS %s against a 1.3-only server: %s\n%s", v, r, r.Output)
		}
	}
	if r := itest.SClient(t, itest.SClientOptions{Port: port, Version: "1.3"}); !r.Connected || r.Protocol != "TLSv1.3" || r.ExitCode != 0 {
		t.Errorf("TLS 1.3: %s", r)
	}
}
