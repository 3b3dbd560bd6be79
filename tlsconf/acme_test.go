package tlsconf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// closedAddr returns 127.0.0.1:PORT where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// newTestACME returns an ACME whose CA refuses connections, with storage
// in a fresh directory. Fields set in o win.
func newTestACME(t *testing.T, o ACMEOptions) *ACME {
	t.Helper()
	logs := &itest.SyncBuffer{}
	o.AgreeTOS = true
	if o.StorageDir == "" {
		o.StorageDir = t.TempDir()
	}
	if o.CA == "" {
		o.CA = "https://" + closedAddr(t) + "/dir"
	}
	if o.HTTPSAddr == "" {
		o.HTTPSAddr = closedAddr(t)
	}
	o.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
	a, err := NewACME(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		if t.Failed() {
			t.Logf("ACME log:\n%s", logs.String())
		}
	})
	return a
}

// storeCert puts leaf into a's storage as certmagic does after an order.
func storeCert(t *testing.T, a *ACME, name string, leaf *testca.Leaf) {
	t.Helper()
	ctx := context.Background()
	ik := a.issuer.IssuerKey()
	for key, data := range map[string][]byte{
		certmagic.StorageKeys.SiteCert(ik, name):       leaf.ChainPEM(),
		certmagic.StorageKeys.SitePrivateKey(ik, name): leaf.KeyPEM(),
		certmagic.StorageKeys.SiteMeta(ik, name):       fmt.Appendf(nil, `{"sans":[%q]}`, name),
	} {
		if err := a.cfg.Storage.Store(ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds, or fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serverHandshake is handshake that also returns the server's error.
func serverHandshake(t *testing.T, st *State, client *tls.Config) (cs tls.ConnectionState, clientErr, serverErr error) {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	srv := tls.Server(c2, NewHolder(st).Config())
	errc := make(chan error, 1)
	go func() {
		err := srv.Handshake()
		if err != nil {
			c2.Close()
		}
		errc <- err
	}()
	cli := tls.Client(c1, client)
	clientErr = cli.Handshake()
	if clientErr != nil {
		c1.Close()
	}
	serverErr = <-errc
	return cli.ConnectionState(), clientErr, serverErr
}

func acmeState(t *testing.T, a *ACME, sites ...Site) *State {
	t.Helper()
	st, err := New(Options{
		Policy: &Policy{Profile: "tutorial", MinVersion: tls.VersionTLS10, Suites: tutorialOrder},
		Sites:  sites,
		ACME:   a,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestNewACMEOptions(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(root, testca.New(t).RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func(o ACMEOptions) ACMEOptions {
		o.AgreeTOS, o.StorageDir = true, t.TempDir()
		if o.HTTPSAddr == "" {
			o.HTTPSAddr = "127.0.0.1:8443"
		}
		return o
	}
	tests := []struct {
		name     string
		opts     ACMEOptions
		wantErr  string
		wantHTTP int // AltHTTPPort; 0 = http-01 off
		wantTLS  int // AltTLSALPNPort; 0 = tls-alpn-01 off
		wantECDS bool
		wantCA   string
	}{
		{"defaults: both challenges, ECDSA, Let's Encrypt", ok(ACMEOptions{HTTPAddr: "127.0.0.1:8080"}), "", 8080, 8443, true, certmagic.LetsEncryptProductionCA},
		{"no http listener: tls-alpn-01 only", ok(ACMEOptions{}), "", 0, 8443, true, certmagic.LetsEncryptProductionCA},
		{"http-01 only, RSA, private CA", ok(ACMEOptions{HTTPAddr: ":80", Challenges: []string{"http-01"}, KeyType: "rsa2048", CA: "https://ca.internal/acme/dir", CARoot: root}), "", 80, 0, false, "https://ca.internal/acme/dir"},
		{"tls-alpn-01 only", ok(ACMEOptions{HTTPAddr: ":80", Challenges: []string{"tls-alpn-01"}}), "", 0, 8443, true, certmagic.LetsEncryptProductionCA},
		{"terms not agreed", ACMEOptions{StorageDir: t.TempDir(), HTTPSAddr: ":443"}, "agree_tos must be true", 0, 0, false, ""},
		{"no storage", ACMEOptions{AgreeTOS: true, HTTPSAddr: ":443"}, "no storage directory", 0, 0, false, ""},
		{"unknown key type", ok(ACMEOptions{KeyType: "ed25519"}), `key type "ed25519" is not supported`, 0, 0, false, ""},
		{"unknown challenge", ok(ACMEOptions{Challenges: []string{"dns-01"}}), `challenge "dns-01" is not supported`, 0, 0, false, ""},
		{"empty challenge list", ok(ACMEOptions{Challenges: []string{}}), "no challenge type enabled", 0, 0, false, ""},
		{"http-01 without http listener", ok(ACMEOptions{Challenges: []string{"http-01"}}), "http-01 needs the http listener", 0, 0, false, ""},
		{"tls-alpn-01 without https address", ACMEOptions{AgreeTOS: true, StorageDir: t.TempDir()}, "tls-alpn-01 needs the https listener", 0, 0, false, ""},
		{"ca_root missing", ok(ACMEOptions{CARoot: "/nonexistent/root.pem"}), "reading ca_root", 0, 0, false, ""},
		{"ca_root not PEM", ok(ACMEOptions{CARoot: junk}), "holds no PEM certificate", 0, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewACME(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			iss := a.issuer
			if got := map[bool]int{true: 0, false: iss.AltHTTPPort}[iss.DisableHTTPChallenge]; got != tt.wantHTTP {
				t.Errorf("http-01 port = %d (disabled %v), want %d", iss.AltHTTPPort, iss.DisableHTTPChallenge, tt.wantHTTP)
			}
			if got := map[bool]int{true: 0, false: iss.AltTLSALPNPort}[iss.DisableTLSALPNChallenge]; got != tt.wantTLS {
				t.Errorf("tls-alpn-01 port = %d (disabled %v), want %d", iss.AltTLSALPNPort, iss.DisableTLSALPNChallenge, tt.wantTLS)
			}
			if a.ecdsa != tt.wantECDS || iss.CA != tt.wantCA || !iss.Agreed {
				t.Errorf("ecdsa %v CA %q agreed %v; want %v %q true", a.ecdsa, iss.CA, iss.Agreed, tt.wantECDS, tt.wantCA)
			}
			if tt.opts.CARoot != "" && iss.TrustedRoots == nil {
				t.Error("ca_root not used as the CA's trusted roots")
			}
			fs, ok := a.cfg.Storage.(*certmagic.FileStorage)
			if !ok || fs.Path != tt.opts.StorageDir {
				t.Errorf("storage = %#v, want FileStorage at %s", a.cfg.Storage, tt.opts.StorageDir)
			}
			if !a.cfg.OCSP.DisableStapling || len(a.cfg.Issuers) != 1 || a.cfg.Issuers[0] != iss {
				t.Errorf("OCSP stapling disabled %v, issuers %v; want true and only ours", a.cfg.OCSP.DisableStapling, a.cfg.Issuers)
			}
		})
	}
}

// TestACMEContained proves certmagic's package-level defaults are left as
// they were by everything ACME does.
func TestACMEContained(t *testing.T) {
	type defaults struct {
		Storage        certmagic.Storage
		Issuers        []certmagic.Issuer
		KeySource      certmagic.KeyGenerator
		OCSP           certmagic.OCSPConfig
		CA, Email      string
		Agreed         bool
		AltHTTP, AltTL int
		HTTPPort       int
		HTTPSPort      int
	}
	snap := func() defaults {
		return defaults{certmagic.Default.Storage, certmagic.Default.Issuers, certmagic.Default.KeySource, certmagic.Default.OCSP,
			certmagic.DefaultACME.CA, certmagic.DefaultACME.Email, certmagic.DefaultACME.Agreed,
			certmagic.DefaultACME.AltHTTPPort, certmagic.DefaultACME.AltTLSALPNPort, certmagic.HTTPPort, certmagic.HTTPSPort}
	}
	before := snap()
	a := newTestACME(t, ACMEOptions{HTTPAddr: closedAddr(t), Email: "ops@example.org", KeyType: "rsa2048"})
	if err := a.Manage(context.Background(), []string{"a.example"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the order to fail", func() bool { return a.Status([]string{"a.example"})[0].State == ACMEFailed })
	a.Close()
	if after := snap(); !reflect.DeepEqual(before, after) {
		t.Fatalf("certmagic defaults changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestACMEServesStoredCertificate(t *testing.T) {
	ca := testca.New(t)
	leafA := ca.Leaf(t, testca.LeafOptions{Names: []string{"a.example"}})
	leafW := ca.Leaf(t, testca.LeafOptions{Names: []string{"www.a.example"}})
	static := testSite(t, ca, "static.example")
	var (
		mu     sync.Mutex
		labels []string
	)
	a := newTestACME(t, ACMEOptions{Staple: func(label string, chain []*x509.Certificate) func() []byte {
		mu.Lock()
		labels = append(labels, label)
		mu.Unlock()
		staple := []byte("staple for " + chain[0].Subject.CommonName)
		return func() []byte { return staple }
	}})
	storeCert(t, a, "a.example", leafA)
	storeCert(t, a, "www.a.example", leafW)
	names := []string{"a.example", "www.a.example"}
	st := acmeState(t, a, Site{Names: names, Certs: []*Cert{a.Cert(names)}}, static)

	// Before Manage (as for -t): Status reads storage, nothing is served.
	for _, s := range a.Status(names) {
		if s.State != ACMEValid || s.NotAfter.IsZero() {
			t.Errorf("before Manage: %+v, want valid with NotAfter from storage", s)
		}
	}
	if _, _, srvErr := serverHandshake(t, st, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true}); srvErr == nil {
		t.Error("handshake before Manage succeeded; want no certificate until certmagic loads it")
	}

	if err := a.Manage(context.Background(), names); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both certificates to load", func() bool { return a.lookup("a.example") != nil && a.lookup("www.a.example") != nil })
	waitFor(t, "the staple hooks", func() bool {
		return a.lookup("a.example").Staple != nil && a.lookup("a.example").Staple() != nil && a.lookup("www.a.example").Staple() != nil
	})

	tests := []struct {
		name      string
		sni       string
		max       uint16
		suites    []uint16
		want      *testca.Leaf
		wantSuite uint16
	}{
		{"TLS 1.3, first name", "a.example", tls.VersionTLS13, nil, leafA, tls.TLS_AES_128_GCM_SHA256},
		{"TLS 1.3, second name gets its own certificate", "www.a.example", tls.VersionTLS13, nil, leafW, tls.TLS_AES_128_GCM_SHA256},
		{"TLS 1.2, server order over ECDSA suites", "a.example", tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
			leafA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{"TLS 1.0 with a CBC suite (tutorial)", "www.a.example", tls.VersionTLS10,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}, leafW, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
		{"static site beside it", "static.example", tls.VersionTLS13, nil, nil, tls.TLS_AES_128_GCM_SHA256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, cliErr, srvErr := serverHandshake(t, st, &tls.Config{
				ServerName: tt.sni, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: tt.max,
				CipherSuites: tt.suites, CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
			})
			if cliErr != nil || srvErr != nil {
				t.Fatalf("client: %v; server: %v", cliErr, srvErr)
			}
			if cs.CipherSuite != tt.wantSuite {
				t.Errorf("suite %s, want %s", tls.CipherSuiteName(cs.CipherSuite), tls.CipherSuiteName(tt.wantSuite))
			}
			if tt.want == nil {
				if cs.PeerCertificates[0].Subject.CommonName != "static.example" {
					t.Errorf("static site served %q", cs.PeerCertificates[0].Subject.CommonName)
				}
				return
			}
			if !cs.PeerCertificates[0].Equal(tt.want.Cert()) {
				t.Errorf("served %q serial %x, want the stored certificate", cs.PeerCertificates[0].Subject.CommonName, cs.PeerCertificates[0].SerialNumber)
			}
			if want := "staple for " + tt.sni; string(cs.OCSPResponse) != want {
				t.Errorf("staple %q, want %q", cs.OCSPResponse, want)
			}
		})
	}
	st0 := a.Status(names)
	if st0[0].State != ACMEValid || !st0[0].NotAfter.Equal(leafA.Cert().NotAfter) || st0[0].LastError != "" {
		t.Errorf("status %+v, want valid until %v", st0[0], leafA.Cert().NotAfter)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(labels) != 2 || !strings.Contains(labels[0], "ECDSA P-256") {
		t.Errorf("staple hook labels %q, want one per certificate with the key type", labels)
	}
	if w := st.NameWarnings(); len(w) != 0 {
		t.Errorf("name warnings for an ACME site: %q", w)
	}
}

// TestACMEPendingSite proves a site whose order fails refuses handshakes
// with a clear error while the other sites serve.
func TestACMEPendingSite(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		// certmagic's process-wide rate limiter per CA and account, and
		// its lock-file keepers, which notice a released lock within 5 s.
		goleak.IgnoreTopFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.keepLockfileFresh"))
	ca := testca.New(t)
	a := newTestACME(t, ACMEOptions{})
	st := acmeState(t, a, Site{Names: []string{"a.example"}, Certs: []*Cert{a.Cert([]string{"a.example"})}}, testSite(t, ca, "static.example"))
	if s := a.Status([]string{"a.example"})[0]; s.State != ACMEPending {
		t.Errorf("before Manage: %+v, want pending", s)
	}
	if err := a.Manage(context.Background(), []string{"a.example"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the order to fail", func() bool { return a.Status([]string{"a.example"})[0].State == ACMEFailed })
	if s := a.Status([]string{"a.example"})[0]; !strings.Contains(s.LastError, "connection refused") {
		t.Errorf("last error %q, want the CA's refusal", s.LastError)
	}
	for _, max := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		_, cliErr, srvErr := serverHandshake(t, st, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true, MaxVersion: max})
		if cliErr == nil || !strings.Contains(cliErr.Error(), "internal error") {
			t.Errorf("%s client: %v, want an internal_error alert", VersionName(max), cliErr)
		}
		if srvErr == nil || !strings.Contains(srvErr.Error(), `no certificate for "a.example" yet (failed; last error:`) {
			t.Errorf("%s server: %v, want the reason", VersionName(max), srvErr)
		}
	}
	if _, cliErr, srvErr := serverHandshake(t, st, &tls.Config{ServerName: "static.example", RootCAs: ca.Pool()}); cliErr != nil || srvErr != nil {
		t.Errorf("static site beside a failed ACME site: client %v, server %v", cliErr, srvErr)
	}
	a.Close()
}

// TestACMEKeyTypeChanged proves a stored certificate of another key type
// is never served (the suite plan assumes key_type) and is re-ordered.
func TestACMEKeyTypeChanged(t *testing.T) {
	ca := testca.New(t)
	a := newTestACME(t, ACMEOptions{}) // ecdsa256
	rsaLeaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"a.example"}, KeyType: "rsa2048"})
	storeCert(t, a, "a.example", rsaLeaf)
	st := acmeState(t, a, Site{Names: []string{"a.example"}, Certs: []*Cert{a.Cert([]string{"a.example"})}})
	if s := a.Status([]string{"a.example"})[0]; s.State != ACMEPending {
		t.Errorf("before Manage: %+v, want pending (stored RSA certificate unusable)", s)
	}
	if err := a.Manage(context.Background(), []string{"a.example"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the forced renewal to fail", func() bool { return a.Status([]string{"a.example"})[0].State == ACMEFailed })
	// Even in certmagic's cache, the RSA certificate is not served.
	if _, err := a.cfg.CacheUnmanagedTLSCertificate(context.Background(), rsaLeaf.TLS(), nil); err != nil {
		t.Fatal(err)
	}
	if len(a.cache.AllMatchingCertificates("a.example")) != 1 {
		t.Fatal("RSA certificate not in certmagic's cache")
	}
	if _, _, srvErr := serverHandshake(t, st, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true}); srvErr == nil || !strings.Contains(srvErr.Error(), "no certificate") {
		t.Errorf("server: %v, want no certificate (the RSA one must not be served)", srvErr)
	}
	if got := a.storedKeyType("a.example"); got != "rsa2048" {
		t.Errorf("stored key type %q: the old certificate must stay until a new one is issued", got)
	}
}

// TestACMEChallenges answers both challenge types from challenge data in
// storage, where certmagic's distributed solver keeps it.
func TestACMEChallenges(t *testing.T) {
	const keyAuth = "tok3n.thumbprint"
	a := newTestACME(t, ACMEOptions{HTTPAddr: closedAddr(t)})
	chal := fmt.Sprintf(`{"type":"tls-alpn-01","url":"https://ca/chal/1","status":"pending","token":"tok3n","keyAuthorization":%q,"identifier":{"type":"dns","value":"a.example"}}`, keyAuth)
	key := path.Join("acme", certmagic.StorageKeys.Safe(a.issuer.IssuerKey()), "challenge_tokens", "a.example.json")
	if err := a.cfg.Storage.Store(context.Background(), key, []byte(chal)); err != nil {
		t.Fatal(err)
	}
	site := Site{Names: []string{"a.example"}, Certs: []*Cert{a.Cert([]string{"a.example"})}}
	st := acmeState(t, a, site)
	plain := acmeState(t, nil, testSite(t, testca.New(t), "a.example"))

	t.Run("tls-alpn-01", func(t *testing.T) {
		cs, cliErr, srvErr := serverHandshake(t, st, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true, NextProtos: []string{"acme-tls/1"}})
		if cliErr != nil || srvErr != nil {
			t.Fatalf("client %v, server %v", cliErr, srvErr)
		}
		if cs.NegotiatedProtocol != "acme-tls/1" {
			t.Errorf("ALPN %q, want acme-tls/1", cs.NegotiatedProtocol)
		}
		sum := sha256.Sum256([]byte(keyAuth))
		var found bool
		for _, ext := range cs.PeerCertificates[0].Extensions {
			if ext.Id.String() == "1.3.6.1.5.5.7.1.31" && bytes.Contains(ext.Value, sum[:]) {
				found = true
			}
		}
		if !found {
			t.Error("challenge certificate lacks the acmeIdentifier extension with SHA-256(key authorization)")
		}
	})
	t.Run("acme-tls/1 among other protocols is an ordinary hello", func(t *testing.T) {
		_, _, srvErr := serverHandshake(t, st, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true, NextProtos: []string{"h2", "acme-tls/1"}})
		if srvErr == nil || !strings.Contains(srvErr.Error(), "no certificate") {
			t.Errorf("server: %v, want the site's (missing) certificate, not the challenge", srvErr)
		}
	})
	t.Run("without ACME acme-tls/1 is refused", func(t *testing.T) {
		_, cliErr, _ := serverHandshake(t, plain, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true, NextProtos: []string{"acme-tls/1"}})
		if cliErr == nil || !strings.Contains(cliErr.Error(), "no application protocol") {
			t.Errorf("client: %v, want no_application_protocol", cliErr)
		}
	})
	t.Run("without h2 (server.http2 = off)", func(t *testing.T) {
		opts := func(a *ACME, site Site) Options {
			return Options{Policy: &Policy{Profile: "tutorial", MinVersion: tls.VersionTLS10, Suites: tutorialOrder},
				Sites: []Site{site}, ACME: a, NextProtos: []string{"http/1.1"}}
		}
		st, err := New(opts(a, site))
		if err != nil {
			t.Fatal(err)
		}
		cs, cliErr, srvErr := serverHandshake(t, st, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true, NextProtos: []string{"acme-tls/1"}})
		if cliErr != nil || srvErr != nil || cs.NegotiatedProtocol != "acme-tls/1" {
			t.Errorf("acme-tls/1 hello: ALPN %q, client %v, server %v; want the challenge answered", cs.NegotiatedProtocol, cliErr, srvErr)
		}
		if got := NewHolder(st).Config().NextProtos; !reflect.DeepEqual(got, []string{"http/1.1", "acme-tls/1"}) {
			t.Errorf("listener NextProtos %q", got)
		}
		noH2, err := New(opts(nil, testSite(t, testca.New(t), "a.example")))
		if err != nil {
			t.Fatal(err)
		}
		cs, cliErr, srvErr = serverHandshake(t, noH2, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
		if cliErr != nil || srvErr != nil || cs.NegotiatedProtocol != "http/1.1" {
			t.Errorf("browser hello: ALPN %q, client %v, server %v; want http/1.1", cs.NegotiatedProtocol, cliErr, srvErr)
		}
	})
	t.Run("listener NextProtos", func(t *testing.T) {
		if got := NewHolder(st).Config().NextProtos; !reflect.DeepEqual(got, []string{"h2", "http/1.1", "acme-tls/1"}) {
			t.Errorf("with ACME: %q", got)
		}
		if got := NewHolder(plain).Config().NextProtos; !reflect.DeepEqual(got, []string{"h2", "http/1.1"}) {
			t.Errorf("without ACME: %q", got)
		}
	})

	noHTTP := newTestACME(t, ACMEOptions{StorageDir: a.opts.StorageDir, CA: a.opts.CA}) // http-01 off
	tests := []struct {
		name   string
		a      *ACME
		url    string
		want   bool
		method string
	}{
		{"http-01 token presented", a, "http://a.example/.well-known/acme-challenge/tok3n", true, "GET"},
		{"other host (DNS rebinding)", a, "http://b.example/.well-known/acme-challenge/tok3n", false, "GET"},
		{"other token", a, "http://a.example/.well-known/acme-challenge/other", false, "GET"},
		{"not a challenge path", a, "http://a.example/index.html", false, "GET"},
		{"POST", a, "http://a.example/.well-known/acme-challenge/tok3n", false, "POST"},
		{"http-01 disabled", noHTTP, "http://a.example/.well-known/acme-challenge/tok3n", false, "GET"},
		{"nil ACME", nil, "http://a.example/.well-known/acme-challenge/tok3n", false, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			got := tt.a.HandleHTTPChallenge(rec, httptest.NewRequest(tt.method, tt.url, nil))
			if got != tt.want {
				t.Fatalf("handled = %v, want %v", got, tt.want)
			}
			if got && rec.Body.String() != keyAuth {
				t.Errorf("body %q, want the key authorization", rec.Body.String())
			}
		})
	}
}

func TestACMEManageRefusesNames(t *testing.T) {
	a := newTestACME(t, ACMEOptions{})
	tests := []struct{ name, in, wantErr string }{
		{"wildcard", "*.a.example", "dns-01"},
		{"empty", " ", "empty name"},
		{"junk", "a example", "not a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.Manage(context.Background(), []string{tt.in}); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Manage(%q) = %v, want %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestZapToZerolog(t *testing.T) {
	tests := []struct {
		name      string
		ourLevel  zerolog.Level
		log       func(*zap.Logger)
		wantLevel string // "" = nothing written
		wantMsg   string
		wantField [2]string
	}{
		{"info becomes debug", zerolog.DebugLevel, func(l *zap.Logger) { l.Info("lock acquired", zap.String("identifier", "a.example")) }, "debug", "lock acquired", [2]string{"identifier", "a.example"}},
		{"info hidden at info level", zerolog.InfoLevel, func(l *zap.Logger) { l.Info("lock acquired") }, "", "", [2]string{}},
		{"warn", zerolog.InfoLevel, func(l *zap.Logger) { l.Warn("slow", zap.Int("n", 3)) }, "warn", "slow", [2]string{"n", "3"}},
		{"error with error field", zerolog.InfoLevel, func(l *zap.Logger) { l.Error("failed", zap.Error(errors.New("boom"))) }, "error", "failed", [2]string{"error", "boom"}},
		{"named logger with context", zerolog.InfoLevel, func(l *zap.Logger) {
			l.Named("obtain").With(zap.String("ca", "pebble")).Error("x")
		}, "error", "x", [2]string{"ca", "pebble"}},
		{"dpanic does not panic", zerolog.InfoLevel, func(l *zap.Logger) { l.DPanic("odd") }, "error", "odd", [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(newZapLogger(zerolog.New(&buf).Level(tt.ourLevel)))
			if tt.wantLevel == "" {
				if buf.Len() != 0 {
					t.Fatalf("wrote %s, want nothing", buf.String())
				}
				return
			}
			var m map[string]any
			if err := json.NewDecoder(io.MultiReader(&buf)).Decode(&m); err != nil {
				t.Fatalf("%v in %q", err, buf.String())
			}
			if m["level"] != tt.wantLevel || m["message"] != tt.wantMsg || !strings.HasPrefix(fmt.Sprint(m["logger"]), "certmagic") {
				t.Errorf("got %v, want level %s message %q", m, tt.wantLevel, tt.wantMsg)
			}
			if k := tt.wantField[0]; k != "" && fmt.Sprint(m[k]) != tt.wantField[1] {
				t.Errorf("field %s = %v, want %s", k, m[k], tt.wantField[1])
			}
		})
	}
}
