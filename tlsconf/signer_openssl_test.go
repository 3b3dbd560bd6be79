//go:build openssl && cgo

package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"net"
	"os/exec"
	"strings"
	"testing"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// TestOpenSSLSignerSigns checks every signature crypto/tls asks of an RSA
// key — PSS for TLS 1.3 and 1.2, PKCS #1 v1.5 for TLS 1.2 clients without
// PSS, MD5+SHA1 for TLS 1.0/1.1 — by verifying it with Go's crypto/rsa.
func TestOpenSSLSignerSigns(t *testing.T) {
	for _, bits := range []int{2048, 3072} {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := fastSigner(key).(*opensslRSA)
		if !ok {
			t.Fatalf("fastSigner kept %T for an RSA-%d key: libcrypto did not take it", fastSigner(key), bits)
		}
		if !key.PublicKey.Equal(s.Public()) {
			t.Fatal("Public() is not the key's public half")
		}
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA1, crypto.MD5SHA1} {
			var digest []byte
			if h == crypto.MD5SHA1 { // no hash.Hash of its own: MD5 || SHA-1, as TLS 1.0 signs
				m, s1 := md5.Sum([]byte("transcript")), sha1.Sum([]byte("transcript"))
				digest = append(m[:], s1[:]...)
			} else {
				hh := h.New()
				hh.Write([]byte("transcript"))
				digest = hh.Sum(nil)
			}
			sig, err := s.Sign(rand.Reader, digest, h)
			if err != nil {
				t.Fatalf("RSA-%d PKCS1v15 %v: %v", bits, h, err)
			}
			if err := rsa.VerifyPKCS1v15(&key.PublicKey, h, digest, sig); err != nil {
				t.Errorf("RSA-%d PKCS1v15 %v: Go does not verify it: %v", bits, h, err)
			}
			if h == crypto.SHA1 || h == crypto.MD5SHA1 {
				continue // TLS signs PSS only with SHA-2
			}
			for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto, 20} {
				opts := &rsa.PSSOptions{SaltLength: salt, Hash: h}
				sig, err := s.Sign(rand.Reader, digest, opts)
				if err != nil {
					t.Fatalf("RSA-%d PSS %v salt %d: %v", bits, h, salt, err)
				}
				verify := &rsa.PSSOptions{SaltLength: salt, Hash: h}
				if salt == rsa.PSSSaltLengthAuto {
					verify.SaltLength = rsa.PSSSaltLengthAuto // any length
				}
				if err := rsa.VerifyPSS(&key.PublicKey, h, digest, sig, verify); err != nil {
					t.Errorf("RSA-%d PSS %v salt %d: Go does not verify it: %v", bits, h, salt, err)
				}
				if salt == rsa.PSSSaltLengthEqualsHash {
					// What crypto/tls's client demands: the salt exactly the hash's size.
					if err := rsa.VerifyPSS(&key.PublicKey, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size()}); err != nil {
						t.Errorf("RSA-%d PSS %v: salt is not the hash's length: %v", bits, h, err)
					}
				}
			}
		}
		// A digest of the wrong size, or a salt length crypto/rsa refuses,
		// is refused, not signed.
		if _, err := s.Sign(rand.Reader, []byte("short"), crypto.SHA256); err == nil {
			t.Error("a 5-byte digest for SHA-256 was signed")
		}
		d := sha256.Sum256([]byte("transcript"))
		if _, err := s.Sign(rand.Reader, d[:], &rsa.PSSOptions{SaltLength: -2, Hash: crypto.SHA256}); err == nil {
			t.Error("PSS salt length -2 was accepted")
		}
		// The RSA key exchange decrypts: PKCS #1 v1.5, as a TLS_RSA_* client encrypts.
		//lint:ignore SA1019 the TLS_RSA_* key exchange is PKCS #1 v1.5 encryption; this is its client side
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, &key.PublicKey, []byte("premaster secret"))
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := s.Decrypt(rand.Reader, ct, nil); err != nil || string(pt) != "premaster secret" {
			t.Errorf("Decrypt: %q, %v", pt, err)
		}
	}
	// Other keys stay Go's.
	ec := testca.New(t).Leaf(t, testca.LeafOptions{Names: []string{"a.example"}, KeyType: "ecdsa256"})
	c, err := ParseCert(ec.ChainPEM(), ec.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TLS.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Errorf("ECDSA key became %T", c.TLS.PrivateKey)
	}
}

// rsaSite returns a CA and a Holder for one site, a.example, under
// profile, whose RSA-2048 key (from that CA) signs through libcrypto.
func rsaSite(t *testing.T, profile string) (*testca.CA, *Holder) {
	t.Helper()
	ca := testca.New(t)
	l := ca.Leaf(t, testca.LeafOptions{Names: []string{"a.example"}, KeyType: "rsa2048"})
	c, err := ParseCert(l.ChainPEM(), l.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TLS.PrivateKey.(*opensslRSA); !ok {
		t.Fatalf("loaded RSA key is %T, want the OpenSSL signer", c.TLS.PrivateKey)
	}
	p, err := NewPolicy(profile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(Options{Policy: p, Sites: []Site{{Names: []string{"a.example"}, Certs: []*Cert{c}}}})
	if err != nil {
		t.Fatal(err)
	}
	return ca, NewHolder(st)
}

// TestOpenSSLSignerHandshakes serves an RSA-only site whose key signs
// through libcrypto and completes TLS 1.3, 1.2 and 1.0 handshakes with Go's
// client (which verifies every signature) and TLS 1.2 with openssl
// s_client offering only PKCS #1 v1.5 signature algorithms.
func TestOpenSSLSignerHandshakes(t *testing.T) {
	ca, holder := rsaSite(t, "tutorial")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				srv := tls.Server(conn, holder.Config())
				defer srv.Close() // with close_notify, so s_client exits 0
				if srv.Handshake() == nil {
					srv.Write([]byte("hello\n"))
				}
			}()
		}
	}()

	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12, tls.VersionTLS10} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
			ServerName: "a.example", RootCAs: ca.Pool(), MinVersion: v, MaxVersion: v,
		})
		if err != nil {
			t.Errorf("%s: Go client: %v", tls.VersionName(v), err)
			continue
		}
		if got := conn.ConnectionState().Version; got != v {
			t.Errorf("negotiated %s, want %s", tls.VersionName(got), tls.VersionName(v))
		}
		conn.Close()
	}

	openssl := itest.RequireTool(t, "openssl")
	out, err := exec.Command(openssl, "s_client", "-connect", ln.Addr().String(), "-servername", "a.example",
		"-tls1_2", "-sigalgs", "RSA+SHA256:RSA+SHA384", "-CAfile", ca.RootPath(), "-verify_return_error", "-brief").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\nSignature type: RSA\n") || !strings.Contains(string(out), "\nVerification: OK\n") {
		t.Errorf("openssl s_client, TLS 1.2 with PKCS #1 v1.5 only: %v\n%s", err, out)
	}
}

// TestOpenSSLSignerRSAKeyExchange: the "old" profile's TLS_RSA_WITH_* suites
// (IE8 on XP) still work with the OpenSSL signer: crypto/tls needs a
// crypto.Decrypter for them.
func TestOpenSSLSignerRSAKeyExchange(t *testing.T) {
	ca, holder := rsaSite(t, "old")
	for _, suite := range []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA} {
		c1, c2 := net.Pipe()
		srv := tls.Server(c2, holder.Config())
		errc := make(chan error, 1)
		go func() { errc <- srv.Handshake() }()
		cl := tls.Client(c1, &tls.Config{ServerName: "a.example", RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{suite}})
		err := cl.Handshake()
		if serr := <-errc; err != nil || serr != nil {
			t.Errorf("%s: client %v, server %v", tls.CipherSuiteName(suite), err, serr)
		} else if got := cl.ConnectionState().CipherSuite; got != suite {
			t.Errorf("negotiated %s, want %s", tls.CipherSuiteName(got), tls.CipherSuiteName(suite))
		}
		c1.Close()
		c2.Close()
	}
}
