package testca_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

func TestLeaf(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	ca := testca.New(t, testca.Options{Now: now})
	rsaCA := testca.New(t, testca.Options{KeyType: "rsa2048", Name: "other"})

	tests := []struct {
		name      string
		ca        *testca.CA
		opts      testca.LeafOptions
		keyType   string
		pemType   string
		wantDNS   []string
		wantIPs   int
		notBefore time.Time
		notAfter  time.Time
	}{
		{
			name: "defaults", ca: ca, keyType: "ecdsa256", pemType: "PRIVATE KEY",
			wantDNS: []string{"localhost"}, notBefore: now.Add(-time.Hour), notAfter: now.Add(90 * 24 * time.Hour),
		},
		{
			name: "rsa2048 pkcs1 with IP", ca: ca,
			opts:    testca.LeafOptions{Names: []string{"a.example", "127.0.0.1", "::1"}, KeyType: "rsa2048", KeyFormat: "pkcs1"},
			keyType: "rsa2048", pemType: "RSA PRIVATE KEY", wantDNS: []string{"a.example"}, wantIPs: 2,
		},
		{
			name: "ecdsa sec1", ca: ca, opts: testca.LeafOptions{KeyFormat: "sec1"},
			keyType: "ecdsa256", pemType: "EC PRIVATE KEY", wantDNS: []string{"localhost"},
		},
		{
			name: "rsa4096 pkcs8 under an RSA CA", ca: rsaCA,
			opts:    testca.LeafOptions{KeyType: "rsa4096", Names: []string{"b.example", "c.example"}},
			keyType: "rsa4096", pemType: "PRIVATE KEY", wantDNS: []string{"b.example", "c.example"},
		},
		{
			name: "expired window", ca: ca,
			opts: testca.LeafOptions{
				NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour),
			},
			keyType: "ecdsa256", pemType: "PRIVATE KEY", wantDNS: []string{"localhost"},
			notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-24 * time.Hour),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := tc.ca.Leaf(t, tc.opts)
			dir := t.TempDir()
			chainPath, keyPath := l.WriteFiles(dir)

			if got := testca.KeyTypeOf(l.Cert().PublicKey); got != tc.keyType {
				t.Errorf("key type = %s, want %s", got, tc.keyType)
			}
			keyPEM, err := os.ReadFile(keyPath)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := pem.Decode(keyPEM); b == nil || b.Type != tc.pemType {
				t.Errorf("key PEM block = %v, want type %q", b, tc.pemType)
			}
			if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode = %v (%v), want 0600", fi.Mode().Perm(), err)
			}
			pair, err := tls.LoadX509KeyPair(chainPath, keyPath)
			if err != nil {
				t.Fatalf("written files do not load as a key pair: %v", err)
			}
			if len(pair.Certificate) != 2 || !bytes.Equal(pair.Certificate[1], l.Issuer().Raw) {
				t.Errorf("chain file holds %d certificates, want leaf + intermediate", len(pair.Certificate))
			}
			if !slices.Equal(l.Cert().DNSNames, tc.wantDNS) || len(l.Cert().IPAddresses) != tc.wantIPs {
				t.Errorf("SANs = %v %v, want DNS %v and %d IPs", l.Cert().DNSNames, l.Cert().IPAddresses, tc.wantDNS, tc.wantIPs)
			}
			if !tc.notBefore.IsZero() && (!l.Cert().NotBefore.Equal(tc.notBefore) || !l.Cert().NotAfter.Equal(tc.notAfter)) {
				t.Errorf("validity = %v..%v, want %v..%v", l.Cert().NotBefore, l.Cert().NotAfter, tc.notBefore, tc.notAfter)
			}
			at := l.Cert().NotBefore.Add(time.Minute)
			_, err = l.Cert().Verify(x509.VerifyOptions{
				Roots: tc.ca.Pool(), Intermediates: tc.ca.IntermediatePool(), CurrentTime: at,
				DNSName: tc.wantDNS[0],
			})
			if err != nil {
				t.Errorf("leaf does not verify against the CA: %v", err)
			}
			if tc.ca.Intermediate().CheckSignatureFrom(tc.ca.Root()) != nil || l.Cert().CheckSignatureFrom(l.Issuer()) != nil {
				t.Errorf("signature chain broken")
			}
		})
	}
}

func TestLeafExtensions(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	l := ca.Leaf(t, testca.LeafOptions{OCSPServer: []string{"http://127.0.0.1:1/ocsp"}, MustStaple: true})
	if got := l.Cert().OCSPServer; len(got) != 1 || got[0] != "http://127.0.0.1:1/ocsp" {
		t.Errorf("OCSPServer = %v", got)
	}
	found := false
	for _, e := range l.Cert().Extensions {
		if e.Id.Equal(testca.OIDTLSFeature) {
			found = true
			if !bytes.Equal(e.Value, []byte{0x30, 0x03, 0x02, 0x01, 0x05}) {
				t.Errorf("TLS feature value = % x, want SEQUENCE { INTEGER 5 }", e.Value)
			}
		}
	}
	if !found {
		t.Errorf("must-staple extension missing")
	}
	plain := ca.Leaf(t, testca.LeafOptions{})
	for _, e := range plain.Cert().Extensions {
		if e.Id.Equal(testca.OIDTLSFeature) {
			t.Errorf("must-staple extension present without MustStaple")
		}
	}
	if plain.Cert().SerialNumber.Cmp(l.Cert().SerialNumber) == 0 {
		t.Errorf("two leaves share serial %v", l.Cert().SerialNumber)
	}
}

// TestOpenSSLAccepts proves the files are what OpenSSL tools read: the key
// parses in every format and the chain verifies against the root file.
func TestOpenSSLAccepts(t *testing.T) {
	t.Parallel()
	openssl := itest.RequireTool(t, "openssl")
	ca := testca.New(t)
	for _, o := range []testca.LeafOptions{
		{KeyType: "rsa2048", KeyFormat: "pkcs1"},
		{KeyType: "ecdsa256", KeyFormat: "sec1"},
		{KeyType: "ecdsa256", KeyFormat: "pkcs8", MustStaple: true},
	} {
		t.Run(o.KeyType+"-"+o.KeyFormat, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			chain, key := ca.Leaf(t, o).WriteFiles(dir)
			leafPath := filepath.Join(dir, "leaf.pem")
			b, _ := os.ReadFile(chain)
			blk, _ := pem.Decode(b)
			if err := os.WriteFile(leafPath, pem.EncodeToMemory(blk), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(openssl, "verify", "-CAfile", ca.RootPath(), "-untrusted", chain, leafPath).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ": OK") {
				t.Errorf("openssl verify: %v\n%s", err, out)
			}
			out, err = exec.Command(openssl, "pkey", "-in", key, "-noout").CombinedOutput()
			if err != nil {
				t.Errorf("openssl pkey: %v\n%s", err, out)
			}
			if o.MustStaple {
				out, _ := exec.Command(openssl, "x509", "-in", leafPath, "-noout", "-text").CombinedOutput()
				if !strings.Contains(string(out), "TLS Feature") || !strings.Contains(string(out), "status_request") {
					t.Errorf("openssl does not see must-staple:\n%s", out)
				}
			}
		})
	}
}

// fatalRecorder is a testing.TB whose Fatal stops only the goroutine it runs
// in, so that failure paths can be observed.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.msg = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func TestBadOptionsFail(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	tests := []struct {
		name string
		opts testca.LeafOptions
		want string
	}{
		{"pkcs1 with ecdsa", testca.LeafOptions{KeyFormat: "pkcs1"}, "needs an RSA key"},
		{"sec1 with rsa", testca.LeafOptions{KeyType: "rsa2048", KeyFormat: "sec1"}, "needs an ECDSA key"},
		{"unknown key type", testca.LeafOptions{KeyType: "dsa1024"}, "not supported"},
		{"unknown format", testca.LeafOptions{KeyFormat: "der"}, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &fatalRecorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				ca.Leaf(r, tc.opts)
			}()
			<-done
			if !strings.Contains(r.msg, tc.want) {
				t.Errorf("failure message = %q, want it to contain %q", r.msg, tc.want)
			}
		})
	}
}
