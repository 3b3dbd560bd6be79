package integration

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// TestACMEThroughBinary points the tlsfront binary at Pebble: one site gets
// its certificate by HTTP-01, another by TLS-ALPN-01, through tlsfront's own
// listeners; both then serve with the tutorial policy (TLS 1.0 and 1.3), and a
// restart serves the stored certificates without a new order.
func TestACMEThroughBinary(t *testing.T) {
	t.Parallel()
	httpsPort, httpPort := itest.FreePort(t), itest.FreePort(t)
	p := startPebble(t, httpPort, httpsPort)
	defer func() {
		if t.Failed() {
			t.Logf("Pebble log:\n%s", p.log.String())
		}
	}()
	const h01, alpn = "http01.cli.tlsfront.example", "alpn.cli.tlsfront.example"
	dir := t.TempDir()
	config := func(challenges string, withALPNSite bool) string {
		alpnSite := ""
		if withALPNSite {
			alpnSite = fmt.Sprintf("[[site]]\nnames = [%q]\nbackend = \"http://127.0.0.1:%d\"\nacme = true\n", alpn, itest.ClosedPort(t))
		}
		return fmt.Sprintf(`[server]
https = "127.0.0.1:%d"
http = "127.0.0.1:%d"
state_dir = "state"
[acme]
ca = %q
ca_root = %q
agree_tos = true
email = "ops@tlsfront.example"
challenges = [%s]
[[site]]
names = ["localhost"]
backend = "http://127.0.0.1:%d"
[[site]]
names = [%q]
backend = "http://127.0.0.1:%d"
acme = true
%s
[log]
level = "debug"
`, httpsPort, httpPort, p.Directory, p.APIRoot, challenges,
			itest.ClosedPort(t), h01, itest.ClosedPort(t), alpnSite)
	}
	restart := func(front *itest.Tlsfront, cfg string) *itest.Tlsfront {
		front.Signal(syscall.SIGTERM)
		if code := front.Wait(); code != 0 {
			t.Fatalf("tlsfront exited %d on SIGTERM", code)
		}
		return itest.StartTlsfront(t, dir, cfg)
	}

	// HTTP-01 only: Pebble fetches the token from tlsfront's http listener.
	front := itest.StartTlsfront(t, dir, config(`"http-01"`, false))
	leafH := waitACMECert(t, front.HTTPSAddr, h01, p.Roots)
	if !strings.Contains(front.Logs(), "/.well-known/acme-challenge/") {
		t.Errorf("no HTTP-01 challenge request in tlsfront's access log:\n%s", front.Logs())
	}
	// TLS-ALPN-01 only, for a second site: Pebble's validation handshake
	// reaches the https listener; the first site's stored certificate serves.
	front = restart(front, config(`"tls-alpn-01"`, true))
	leafA := waitACMECert(t, front.HTTPSAddr, alpn, p.Roots)
	if got := waitACMECert(t, front.HTTPSAddr, h01, p.Roots); !got.Equal(leafH) {
		t.Errorf("%s after restart: serial %x, want the stored %x", h01, got.SerialNumber, leafH.SerialNumber)
	}
	if n := strings.Count(front.Logs(), "/.well-known/acme-challenge/"); n != 0 {
		t.Errorf("%d HTTP-01 requests with only tls-alpn-01 configured", n)
	}
	for _, name := range []string{h01, alpn} {
		for _, v := range []struct {
			version uint16
			suites  []uint16
		}{
			{tls.VersionTLS10, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}},
			{tls.VersionTLS13, nil},
		} {
			st, err := acmeHandshake(front.HTTPSAddr, name, p.Roots, v.version, v.suites)
			if err != nil {
				t.Fatalf("%s over %s: %v", name, tls.VersionName(v.version), err)
			}
			if st.Version != v.version {
				t.Errorf("%s: negotiated %s, want %s", name, tls.VersionName(st.Version), tls.VersionName(v.version))
			}
		}
	}
	out, errOut, code := itest.RunTlsfront(t, "-t", "-config", filepath.Join(dir, "tlsfront.toml"))
	if code != 0 || !strings.Contains(out, h01+": valid") || !strings.Contains(out, alpn+": valid") {
		t.Errorf("-t: exit %d, want both ACME names valid:\n%s%s", code, out, errOut)
	}
	orders, issued := p.Count("Added order"), p.Count("Issued certificate serial")
	if orders != 2 || issued != 2 {
		t.Fatalf("%d orders, %d certificates issued; want 2 and 2", orders, issued)
	}

	// Restart on the same state_dir: the stored certificates serve at once.
	front = restart(front, config(`"http-01", "tls-alpn-01"`, true))
	if got := waitACMECert(t, front.HTTPSAddr, h01, p.Roots); !got.Equal(leafH) {
		t.Errorf("%s after restart: serial %x, want the stored %x", h01, got.SerialNumber, leafH.SerialNumber)
	}
	if got := waitACMECert(t, front.HTTPSAddr, alpn, p.Roots); !got.Equal(leafA) {
		t.Errorf("%s after restart: serial %x, want the stored %x", alpn, got.SerialNumber, leafA.SerialNumber)
	}
	if o, i := p.Count("Added order"), p.Count("Issued certificate serial"); o != orders || i != issued {
		t.Errorf("restart placed %d new orders and issued %d certificates, want none", o-orders, i-issued)
	}
}

// waitACMECert waits (at most 60 s) until name's handshake presents a
// certificate chaining to Pebble's root, and returns the leaf.
func waitACMECert(t *testing.T, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := acmeHandshake(addr, name, roots, tls.VersionTLS13, nil)
		if err == nil {
			return st.PeerCertificates[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no ACME certificate after 60 s: %v", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func acmeHandshake(addr, name string, roots *x509.CertPool, version uint16, suites []uint16) (*tls.ConnectionState, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{
		ServerName: name, RootCAs: roots, MinVersion: version, MaxVersion: version, CipherSuites: suites,
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st := c.ConnectionState()
	return &st, nil
}
