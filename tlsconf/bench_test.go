package tlsconf

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"net"
	"testing"

	"tlsfront/internal/testca"
)

// benchState is a tutorial-profile State with one site holding an RSA and
// an ECDSA certificate, as most tlsfront installs have.
func benchState(b *testing.B) (*State, Site) {
	b.Helper()
	ca := testca.New(b)
	var certs []*Cert
	for _, kt := range []string{"rsa2048", "ecdsa256"} {
		l := ca.Leaf(b, testca.LeafOptions{Names: []string{"a.example"}, KeyType: kt})
		c, err := ParseCert(l.ChainPEM(), l.KeyPEM())
		if err != nil {
			b.Fatal(err)
		}
		certs = append(certs, c)
	}
	p, err := NewPolicy("tutorial", "", "")
	if err != nil {
		b.Fatal(err)
	}
	site := Site{Names: []string{"a.example", "*.b.example"}, Certs: certs}
	st, err := New(Options{Policy: p, Sites: []Site{site}})
	if err != nil {
		b.Fatal(err)
	}
	return st, site
}

// Hellos as browsers and old clients send them, for the per-hello cipher
// narrowing (ConfigForClient) that enforces the server's order.
var benchHellos = []struct {
	name  string
	hello tls.ClientHelloInfo
}{
	{"tls13 modern browser", tls.ClientHelloInfo{
		ServerName:        "a.example",
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		SupportedCurves:  []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256, tls.PKCS1WithSHA256},
	}},
	{"tls12 rsa-only client", tls.ClientHelloInfo{ // walks past every ECDSA step of the plan
		ServerName:        "x.b.example",
		SupportedVersions: []uint16{tls.VersionTLS12},
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_RSA_WITH_AES_128_CBC_SHA},
		SupportedCurves:  []tls.CurveID{tls.CurveP256, tls.CurveP384},
		SignatureSchemes: []tls.SignatureScheme{tls.PKCS1WithSHA256, tls.PKCS1WithSHA1},
	}},
	{"tls10 no sni", tls.ClientHelloInfo{
		SupportedVersions: []uint16{tls.VersionTLS10},
		CipherSuites:      []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA},
		SupportedCurves:   []tls.CurveID{tls.CurveP256},
	}},
}

func BenchmarkConfigForClient(b *testing.B) {
	st, _ := benchState(b)
	for _, c := range benchHellos {
		b.Run(c.name, func(b *testing.B) {
			hello := c.hello
			if cfg, err := st.ConfigForClient(&hello); err != nil || cfg == nil {
				b.Fatalf("no config: %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = st.ConfigForClient(&hello)
			}
		})
	}
}

// BenchmarkCertificateSelection is the per-handshake certificate lookup:
// site by SNI, then the certificate callback with its staple check.
func BenchmarkCertificateSelection(b *testing.B) {
	st, site := benchState(b)
	staple := []byte("an OCSP response") // the stapler hands out the same slice until it refreshes
	site.Certs[0].Staple = func() []byte { return staple }
	names := []struct{ name, sni string }{{"exact", "a.example"}, {"wildcard", "X.B.example."}, {"unknown", "c.example"}}
	for _, n := range names {
		b.Run(n.name, func(b *testing.B) {
			hello := &tls.ClientHelloInfo{ServerName: n.sni}
			b.ReportAllocs()
			for b.Loop() {
				i, _ := st.Site(hello.ServerName)
				for _, c := range st.sites[i].certs {
					_, _ = c.certFor(hello)
				}
			}
		})
	}
}

// BenchmarkHandshake is a full handshake over a pipe, server and client
// both in this process (so about half the time is the client's), through
// the Holder's GetConfigForClient as the listener does it.
func BenchmarkHandshake(b *testing.B) {
	st, _ := benchState(b)
	cases := []struct {
		name   string
		client *tls.Config
	}{
		{"tls13 ecdsa x25519", &tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}}},
		{"tls13 ecdsa x25519mlkem768", &tls.Config{MinVersion: tls.VersionTLS13}},
		{"tls12 ecdhe-ecdsa", &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}}},
		{"tls12 ecdhe-rsa", &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}},
	}
	holder := NewHolder(st)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			client := c.client.Clone()
			client.ServerName = "a.example"
			client.InsecureSkipVerify = true // verification is the client's cost, not ours
			b.ReportAllocs()
			for b.Loop() {
				c1, c2 := net.Pipe()
				srv := tls.Server(c2, holder.Config())
				errc := make(chan error, 1)
				go func() { errc <- srv.Handshake() }()
				err := tls.Client(c1, client).Handshake()
				if serr := <-errc; err != nil || serr != nil {
					b.Fatalf("handshake: client %v, server %v", err, serr)
				}
				c1.Close()
				c2.Close()
			}
		})
	}
}

// BenchmarkRSASign is RSA-2048 PSS signing, the floor of an RSA full
// handshake (peers.sh compares tlsfront's RSA handshakes to it): "go" is
// Go's crypto/rsa, "tlsfront" the signer loaded certificates use, which is
// OpenSSL's libcrypto in a -tags openssl build and crypto/rsa otherwise.
func BenchmarkRSASign(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("handshake transcript"))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	for _, s := range []struct {
		name string
		key  crypto.Signer
	}{{"go", key}, {"tlsfront", fastSigner(key)}} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.key.Sign(rand.Reader, digest[:], opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
