package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"strings"
	"testing"

	"tlsfront/internal/testca"
)

// testSite returns a site with an RSA and an ECDSA certificate for names.
func testSite(t *testing.T, ca *testca.CA, names ...string) Site {
	t.Helper()
	var certs []*Cert
	for _, kt := range []string{"rsa2048", "ecdsa256"} {
		l := ca.Leaf(t, testca.LeafOptions{Names: names, KeyType: kt})
		c, err := ParseCert(l.ChainPEM(), l.KeyPEM())
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return Site{Names: names, Certs: certs}
}

// handshake runs a real TLS handshake between client and a Holder serving st,
// over a pipe, and returns what the client saw.
func handshake(t *testing.T, st *State, client *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	srv := tls.Server(c2, NewHolder(st).Config())
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	cli := tls.Client(c1, client)
	err := cli.Handshake()
	if err != nil {
		c1.Close()
		<-errc
		return tls.ConnectionState{}, err
	}
	if err := <-errc; err != nil {
		return tls.ConnectionState{}, err
	}
	return cli.ConnectionState(), nil
}

var tutorialOrder = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
}

func TestServerOrder(t *testing.T) {
	ca := testca.New(t)
	site := testSite(t, ca, "a.example")
	ecdsaOnly := Site{Names: []string{"e.example"}, Certs: []*Cert{site.Certs[1]}}
	rsaOnly := Site{Names: []string{"r.example"}, Certs: []*Cert{site.Certs[0]}}
	st, err := New(Options{
		Policy: &Policy{Profile: "test", MinVersion: tls.VersionTLS10, Suites: tutorialOrder},
		Sites:  []Site{site, ecdsaOnly, rsaOnly},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		sni       string
		max       uint16
		suites    []uint16
		wantSuite uint16
		wantKey   string
	}{
		{"client prefers AES128, server order wins", "a.example", tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ecdsa"},
		{"RSA-only client gets RSA certificate in server order", "a.example", tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "rsa"},
		{"TLS 1.0 client gets a CBC suite", "a.example", tls.VersionTLS10,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ecdsa"},
		{"ECDSA-only site picks its first ECDSA suite", "e.example", tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ecdsa"},
		{"RSA-only site skips ECDSA suites", "r.example", tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "rsa"},
		{"no SNI gets the first site", "", tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ecdsa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := handshake(t, st, &tls.Config{
				ServerName: tt.sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS10,
				MaxVersion: tt.max, CipherSuites: tt.suites,
			})
			if err != nil {
				t.Fatal(err)
			}
			if cs.CipherSuite != tt.wantSuite {
				t.Errorf("suite = %s, want %s", tls.CipherSuiteName(cs.CipherSuite), tls.CipherSuiteName(tt.wantSuite))
			}
			if got := testca.KeyTypeOf(cs.PeerCertificates[0].PublicKey); got[:len(tt.wantKey)] != tt.wantKey {
				t.Errorf("certificate key = %s, want %s", got, tt.wantKey)
			}
		})
	}
}

func TestTLS13CertificateChoice(t *testing.T) {
	ca := testca.New(t)
	st, err := New(Options{
		Policy: &Policy{MinVersion: tls.VersionTLS12, Suites: tutorialOrder},
		Sites:  []Site{testSite(t, ca, "a.example")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := handshake(t, st, &tls.Config{ServerName: "a.example", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if cs.Version != tls.VersionTLS13 {
		t.Fatalf("version = %x", cs.Version)
	}
	if got := testca.KeyTypeOf(cs.PeerCertificates[0].PublicKey); !strings.HasPrefix(got, "ecdsa") {
		t.Errorf("TLS 1.3 client got %s, want the ECDSA certificate", got)
	}
}

func TestMinVersionRefused(t *testing.T) {
	ca := testca.New(t)
	st, err := New(Options{
		Policy: &Policy{MinVersion: tls.VersionTLS12, Suites: tutorialOrder},
		Sites:  []Site{testSite(t, ca, "a.example")},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = handshake(t, st, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.1 client: err = %v, want protocol_version alert", err)
	}
}

func TestSiteLookup(t *testing.T) {
	ca := testca.New(t)
	st, err := New(Options{
		Policy: &Policy{MinVersion: tls.VersionTLS12, Suites: tutorialOrder},
		Sites:  []Site{testSite(t, ca, "a.example"), testSite(t, ca, "B.example", "*.wild.example")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		in    string
		want  int
		known bool
	}{
		{"exact", "a.example", 0, true},
		{"case-insensitive", "b.EXAMPLE", 1, true},
		{"trailing dot", "a.example.", 0, true},
		{"wildcard one label", "x.wild.example", 1, true},
		{"wildcard not two labels", "x.y.wild.example", 0, false},
		{"wildcard not apex", "wild.example", 0, false},
		{"unknown gets first", "c.example", 0, false},
		{"empty", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, known := st.Site(tt.in)
			if got != tt.want || known != tt.known {
				t.Errorf("Site(%q) = %d, %v; want %d, %v", tt.in, got, known, tt.want, tt.known)
			}
		})
	}
}

func TestParseCert(t *testing.T) {
	ca := testca.New(t)
	rsa1 := ca.Leaf(t, testca.LeafOptions{KeyType: "rsa2048", KeyFormat: "pkcs1"})
	ec := ca.Leaf(t, testca.LeafOptions{KeyType: "ecdsa256", KeyFormat: "sec1"})
	ec8 := ca.Leaf(t, testca.LeafOptions{KeyType: "ecdsa384"})
	wrongIssuer := append(append([]byte{}, ec.CertPEM()...), pemOf(testca.New(t, testca.Options{Name: "other"}).Intermediate())...)
	tests := []struct {
		name     string
		cert     []byte
		key      []byte
		wantType string
		wantErr  string
	}{
		{"RSA PKCS#1", rsa1.ChainPEM(), rsa1.KeyPEM(), "RSA 2048", ""},
		{"ECDSA SEC1", ec.ChainPEM(), ec.KeyPEM(), "ECDSA P-256", ""},
		{"ECDSA PKCS#8", ec8.ChainPEM(), ec8.KeyPEM(), "ECDSA P-384", ""},
		{"key does not match", ec.ChainPEM(), rsa1.KeyPEM(), "", "private key does not match"},
		{"chain with a foreign intermediate", wrongIssuer, ec.KeyPEM(), "", "chain order"},
		{"no certificate", []byte("junk"), ec.KeyPEM(), "", "no PEM CERTIFICATE"},
		{"no key", ec.ChainPEM(), []byte("junk"), "", "no PEM private key"},
		{"encrypted key", ec.ChainPEM(), []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), "", "encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCert(tt.cert, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.KeyType != tt.wantType {
				t.Errorf("KeyType = %q, want %q", c.KeyType, tt.wantType)
			}
			if len(c.Chain) != 2 {
				t.Errorf("chain length %d, want 2", len(c.Chain))
			}
		})
	}
}

func TestStapleFollowsSource(t *testing.T) {
	ca := testca.New(t)
	site := testSite(t, ca, "a.example")
	var staple []byte
	for _, c := range site.Certs {
		c.Staple = func() []byte { return staple }
	}
	st, err := New(Options{Policy: &Policy{MinVersion: tls.VersionTLS12, Suites: tutorialOrder}, Sites: []Site{site}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{nil, []byte("first"), []byte("second"), nil} {
		staple = want
		cs, err := handshake(t, st, &tls.Config{ServerName: "a.example", RootCAs: ca.Pool()})
		if err != nil {
			t.Fatal(err)
		}
		if string(cs.OCSPResponse) != string(want) {
			t.Errorf("client got staple %q, want %q", cs.OCSPResponse, want)
		}
	}
}

func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
