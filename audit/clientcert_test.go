package audit

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// TestClientAuthProbe: whether a server asks for client certificates, for
// which CAs, and whether it refuses clients without one, against Go
// servers over TLS 1.2 and 1.3 and Debian's Apache with mod_ssl.
func TestClientAuthProbe(t *testing.T) {
	t.Parallel()
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}})
	rootDN := "CN=tlsfront test root CA,O=tlsfront tests"
	interDN := "CN=tlsfront test intermediate CA,O=tlsfront tests"
	goServer := func(auth tls.ClientAuthType, names bool, maxVersion uint16) func(*testing.T) string {
		return func(t *testing.T) string {
			cfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, ClientAuth: auth, MaxVersion: maxVersion}
			if names {
				cfg.ClientCAs = ca.Pool()
				cfg.ClientCAs.AddCert(ca.Intermediate())
			}
			return startGoServer(t, cfg, nil).addr
		}
	}
	modSSL := func(verify string) func(*testing.T) string {
		return func(t *testing.T) string {
			dir := t.TempDir()
			chain, key := leaf.WriteFiles(dir)
			caFile := filepath.Join(dir, "ca.pem")
			if err := os.WriteFile(caFile, append(ca.RootPEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Intermediate().Raw})...), 0o644); err != nil {
				t.Fatal(err)
			}
			client := ca.Leaf(t, testca.LeafOptions{ClientAuth: true}).TLS()
			a := itest.StartApache(t, itest.ApacheOptions{
				TLS:   &itest.ApacheTLS{CertFile: chain, KeyFile: key, ReadyCert: &client},
				Extra: fmt.Sprintf("SSLCACertificateFile %q\nSSLVerifyClient %s\nSSLVerifyDepth 2\n", caFile, verify),
			})
			return a.Addr
		}
	}
	tests := []struct {
		name                string
		start               func(*testing.T) string
		requested, required bool
		cas                 []string
	}{
		{"Go, none", goServer(tls.NoClientCert, false, 0), false, false, nil},
		{"Go TLS 1.2, require", goServer(tls.RequireAndVerifyClientCert, true, tls.VersionTLS12), true, true, []string{rootDN, interDN}},
		{"Go TLS 1.3, require", goServer(tls.RequireAndVerifyClientCert, true, tls.VersionTLS13), true, true, []string{rootDN, interDN}},
		{"Go TLS 1.3, optional without names", goServer(tls.RequestClientCert, false, 0), true, false, nil},
		{"mod_ssl, require", modSSL("require"), true, true, []string{rootDN, interDN}},
		{"mod_ssl, optional", modSSL("optional"), true, false, []string{rootDN, interDN}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.start(t)
			a, err := newAuditor(context.Background(), Options{Target: addr, SNI: "localhost", Timeout: 5 * time.Second, HTTPPort: -1})
			if err != nil {
				t.Fatal(err)
			}
			got := a.probeClientAuth(context.Background())
			slices.Sort(got.CAs)
			want := slices.Clone(tc.cas)
			slices.Sort(want)
			if got.Requested != tc.requested || got.Required != tc.required || !slices.Equal(got.CAs, want) || got.State == "error" {
				t.Errorf("got %+v; want requested %v, required %v, CAs %q", got, tc.requested, tc.required, tc.cas)
			}
		})
	}
}
