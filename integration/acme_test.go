package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
	"tlsfront/tlsconf"
)

// pebbleVersion is the Pebble release the ACME test runs against.
const pebbleVersion = "v2.10.1"

// pebbleBinaries returns pebble and pebble-challtestsrv, installed with
// `go install` into os.UserCacheDir()/tlsfront-test/pebble-VERSION once
// per machine. When that fails the test is skipped, or fails under CI=true.
func pebbleBinaries(t *testing.T) (pebble, challtestsrv string) {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		itest.SkipOrFail(t, "Pebble: "+format, args...)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		unavailable("no cache directory: %v", err)
	}
	dir := filepath.Join(cache, "tlsfront-test", "pebble-"+pebbleVersion)
	pebble, challtestsrv = filepath.Join(dir, "pebble"), filepath.Join(dir, "pebble-challtestsrv")
	for _, bin := range []string{pebble, challtestsrv} {
		if _, err := os.Stat(bin); err == nil {
			continue
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			unavailable("no go command to install it: %v", err)
		}
		cmd := exec.Command(goBin, "install", "github.com/letsencrypt/pebble/v2/cmd/"+filepath.Base(bin)+"@"+pebbleVersion)
		cmd.Dir = t.TempDir()                                    // outside this module: go install pkg@version ignores it anyway
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=") // the module's own flags do not apply
		if out, err := cmd.CombinedOutput(); err != nil {
			unavailable("go install %s@%s: %v\n%s", filepath.Base(bin), pebbleVersion, err, out)
		}
	}
	return pebble, challtestsrv
}

// startProcess runs bin with args and env until the test ends; its output
// goes to out.
func startProcess(t *testing.T, out io.Writer, env []string, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// pebble is a running Pebble ACME CA with its DNS server.
type pebble struct {
	Directory string         // ACME directory URL
	APIRoot   string         // PEM file trusted for the API (our minted CA)
	Roots     *x509.CertPool // Pebble's issuance root, from /roots/0
	log       *itest.SyncBuffer
}

// Count returns how many lines of Pebble's log contain s.
func (p *pebble) Count(s string) int { return strings.Count(p.log.String(), s) }

// startPebble starts pebble-challtestsrv (answering 127.0.0.1 for every
// name) and Pebble validating challenges on httpPort and tlsPort of
// 127.0.0.1, and waits until its directory answers.
func startPebble(t *testing.T, httpPort, tlsPort int) *pebble {
	t.Helper()
	pebbleBin, challBin := pebbleBinaries(t)
	dir := t.TempDir()
	ca := testca.New(t)
	api := ca.Leaf(t, testca.LeafOptions{Names: []string{"127.0.0.1", "localhost"}})
	certFile, keyFile := api.WriteFiles(dir)
	dns := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	p := &pebble{APIRoot: ca.RootPath(), log: &itest.SyncBuffer{}}
	startProcess(t, p.log, nil, challBin, "-dnsserver", dns,
		"-management", fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t)),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")

	listen, mgmt := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	cfg, err := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": certFile, "privateKey": keyFile,
		"httpPort": httpPort, "tlsPort": tlsPort,
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
		"retryAfter":   map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm": "ecdsa",
		// One profile: Pebble picks a random one per order otherwise.
		"profiles": map[string]any{"default": map[string]any{"description": "90 days", "validityPeriod": 7776000}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, p.log, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"},
		pebbleBin, "-config", cfgFile, "-dnsserver", dns)

	p.Directory = "https://" + listen + "/dir"
	cli := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer cli.CloseIdleConnections()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := cli.Get("https://" + mgmt + "/roots/0")
		if err == nil {
			pemBytes, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			p.Roots = x509.NewCertPool()
			if resp.StatusCode == http.StatusOK && p.Roots.AppendCertsFromPEM(pemBytes) {
				if r, err := cli.Get(p.Directory); err == nil {
					r.Body.Close()
					if r.StatusCode == http.StatusOK {
						return p
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Pebble did not come up: %v\n%s", err, p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// acmeFront is tlsfront's serving side driven in-process (the CLI wiring
// comes later): a Holder on an HTTPS listener and a plain listener that
// answers HTTP-01 challenges before redirecting.
type acmeFront struct {
	HTTPAddr, HTTPSAddr string
	holder              *tlsconf.Holder
	acme                atomic.Pointer[tlsconf.ACME]
	httpChallenges      atomic.Int32 // HTTP-01 requests answered
	alpnChallenges      atomic.Int32 // hellos offering only acme-tls/1
	policy              *tlsconf.Policy
	storage             string
	log                 *itest.SyncBuffer
}

func startACMEFront(t *testing.T) *acmeFront {
	t.Helper()
	policy, err := tlsconf.NewPolicy("tutorial", "", "")
	if err != nil {
		t.Fatal(err)
	}
	f := &acmeFront{policy: policy, storage: filepath.Join(t.TempDir(), "acme"), log: &itest.SyncBuffer{}}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.HTTPAddr, f.HTTPSAddr = httpLn.Addr().String(), httpsLn.Addr().String()
	// The Holder needs a State before the first handshake; an ACME-less
	// placeholder (a self-signed site) serves until the first swap.
	self, _, err := tlsconf.SelfSigned(t.TempDir(), []string{"placeholder.invalid"}, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := tlsconf.New(tlsconf.Options{Policy: policy, Sites: []tlsconf.Site{{Names: []string{"placeholder.invalid"}, Certs: []*tlsconf.Cert{self}}}})
	if err != nil {
		t.Fatal(err)
	}
	f.holder = tlsconf.NewHolder(st)
	errLog := log.New(f.log, "http: ", 0)
	plain := &http.Server{ErrorLog: errLog, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.acme.Load().HandleHTTPChallenge(w, r) {
			f.httpChallenges.Add(1)
			return
		}
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})}
	secure := &http.Server{ErrorLog: errLog, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s over %s", r.Host, tls.VersionName(r.TLS.Version))
	})}
	go func() { _ = plain.Serve(httpLn) }()
	tlsCfg := f.holder.Config().Clone()
	getConfig := tlsCfg.GetConfigForClient
	tlsCfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == "acme-tls/1" {
			f.alpnChallenges.Add(1)
		}
		return getConfig(hello)
	}
	go func() { _ = secure.Serve(tls.NewListener(httpsLn, tlsCfg)) }()
	t.Cleanup(func() {
		_ = plain.Close()
		_ = secure.Close()
		if a := f.acme.Load(); a != nil {
			a.Close()
		}
		if t.Failed() {
			t.Logf("tlsfront side log:\n%s", f.log.String())
		}
	})
	return f
}

// use builds an ACME on the front's storage with challenges and keyType, a State
// serving sites (one per name) from it, swaps both in and closes the
// previous ACME, as a reload or restart would.
func (f *acmeFront) use(t *testing.T, p *pebble, keyType string, challenges []string, names ...string) *tlsconf.ACME {
	t.Helper()
	a, err := tlsconf.NewACME(tlsconf.ACMEOptions{
		Email: "ops@tlsfront.example", CA: p.Directory, CARoot: p.APIRoot, AgreeTOS: true,
		KeyType: keyType, Challenges: challenges, HTTPAddr: f.HTTPAddr, HTTPSAddr: f.HTTPSAddr, StorageDir: f.storage,
		Logger: zerolog.New(f.log).Level(zerolog.DebugLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	var sites []tlsconf.Site
	for _, n := range names {
		sites = append(sites, tlsconf.Site{Names: []string{n}, Certs: []*tlsconf.Cert{a.Cert([]string{n})}})
	}
	st, err := tlsconf.New(tlsconf.Options{Policy: f.policy, Sites: sites, ACME: a})
	if err != nil {
		t.Fatal(err)
	}
	f.holder.Swap(st)
	if old := f.acme.Swap(a); old != nil {
		old.Close()
	}
	// Manage only now that both listeners are bound (see HTTPAddr).
	if err := a.Manage(context.Background(), names); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		waitACMEValid(t, a, n)
	}
	return a
}

// waitACMEValid waits until name has a valid certificate, failing at once
// when its order failed (certmagic would retry only a minute later).
func waitACMEValid(t *testing.T, a *tlsconf.ACME, name string) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		s := a.Status([]string{name})[0]
		switch {
		case s.State == tlsconf.ACMEValid:
			return
		case s.State == tlsconf.ACMEFailed:
			t.Fatalf("ordering %s failed: %s", name, s.LastError)
		case time.Now().After(deadline):
			t.Fatalf("no certificate for %s after 40 s: %+v", name, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches https://name/ from the front with a client limited to
// version (and suites, for TLS ≤ 1.2) that verifies against roots, and
// returns the TLS state.
func (f *acmeFront) get(t *testing.T, roots *x509.CertPool, name string, version uint16, suites ...uint16) *tls.ConnectionState {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: version, MaxVersion: version, CipherSuites: suites},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, f.HTTPSAddr)
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + name + "/")
	if err != nil {
		t.Fatalf("GET https://%s/ over %s: %v", name, tls.VersionName(version), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := fmt.Sprintf("hello %s over %s", name, tls.VersionName(version)); string(body) != want {
		t.Fatalf("body %q, want %q", body, want)
	}
	if len(resp.TLS.VerifiedChains) == 0 {
		t.Fatal("no verified chain")
	}
	return resp.TLS
}

// checkServed proves name is served with the tutorial policy by a
// certificate chaining to Pebble's root, and returns the leaf.
func (f *acmeFront) checkServed(t *testing.T, p *pebble, name string, ecdsaKey bool) *x509.Certificate {
	t.Helper()
	cbc := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
	gcm := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	if !ecdsaKey {
		cbc = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}
		gcm = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}
	}
	cs13 := f.get(t, p.Roots, name, tls.VersionTLS13)
	cs10 := f.get(t, p.Roots, name, tls.VersionTLS10, cbc...)
	if cs10.CipherSuite != cbc[1] {
		t.Errorf("TLS 1.0 suite %s, want the tutorial's first CBC suite", tls.CipherSuiteName(cs10.CipherSuite))
	}
	cs12 := f.get(t, p.Roots, name, tls.VersionTLS12, gcm...)
	if cs12.CipherSuite != gcm[1] {
		t.Errorf("TLS 1.2 suite %s, want the server's order (AES-256-GCM first)", tls.CipherSuiteName(cs12.CipherSuite))
	}
	leaf := cs13.PeerCertificates[0]
	if !leaf.Equal(cs10.PeerCertificates[0]) {
		t.Error("TLS 1.0 and 1.3 clients got different certificates")
	}
	if err := leaf.VerifyHostname(name); err != nil {
		t.Error(err)
	}
	return leaf
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	n, err2 := strconv.Atoi(port)
	if err != nil || err2 != nil {
		t.Fatalf("no port in %q", addr)
	}
	return n
}

// TestACME obtains certificates from Pebble with HTTP-01 and with
// TLS-ALPN-01 through our own listeners, serves them with the tutorial
// policy, and proves a restart serves the stored certificates without a
// new order.
func TestACME(t *testing.T) {
	f := startACMEFront(t)
	p := startPebble(t, portOf(t, f.HTTPAddr), portOf(t, f.HTTPSAddr))
	defer func() {
		if t.Failed() {
			t.Logf("Pebble log:\n%s", p.log.String())
		}
	}()
	const h01, alpn = "http01.tlsfront.example", "alpn.tlsfront.example"

	// HTTP-01 only: the challenge reaches the http listener's handler.
	f.use(t, p, "", []string{tlsconf.ChallengeHTTP01}, h01)
	if f.httpChallenges.Load() == 0 || f.alpnChallenges.Load() != 0 {
		t.Fatalf("HTTP-01: %d challenge requests answered, %d TLS-ALPN hellos; want some and none",
			f.httpChallenges.Load(), f.alpnChallenges.Load())
	}
	leafH := f.checkServed(t, p, h01, true)

	// Any other plain request is redirected to HTTPS.
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		Get("http://" + f.HTTPAddr + "/.well-known/acme-challenge/unknown")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(resp.Header.Get("Location"), "https://") {
		t.Errorf("unknown challenge token: %d %q, want a redirect to https", resp.StatusCode, resp.Header.Get("Location"))
	}

	// TLS-ALPN-01 only: the challenge handshake reaches the https listener.
	hits := f.httpChallenges.Load()
	f.use(t, p, "", []string{tlsconf.ChallengeTLSALPN01}, alpn)
	if f.httpChallenges.Load() != hits || f.alpnChallenges.Load() == 0 {
		t.Fatalf("TLS-ALPN-01: HTTP challenges %d -> %d, %d TLS-ALPN hellos; want no new HTTP ones and some TLS-ALPN",
			hits, f.httpChallenges.Load(), f.alpnChallenges.Load())
	}
	leafA := f.checkServed(t, p, alpn, true)
	orders, issued := p.Count("Added order"), p.Count("Issued certificate serial")
	if orders != 2 || issued != 2 {
		t.Fatalf("%d orders and %d certificates after two names, want 2 and 2", orders, issued)
	}

	// Restart: a new ACME on the same storage, both challenges enabled,
	// serves both stored certificates without ordering.
	f.use(t, p, "ecdsa256", nil, h01, alpn)
	if got := f.checkServed(t, p, h01, true); !got.Equal(leafH) {
		t.Errorf("%s after restart: serial %x, want the stored %x", h01, got.SerialNumber, leafH.SerialNumber)
	}
	if got := f.checkServed(t, p, alpn, true); !got.Equal(leafA) {
		t.Errorf("%s after restart: serial %x, want the stored %x", alpn, got.SerialNumber, leafA.SerialNumber)
	}
	if o, i := p.Count("Added order"), p.Count("Issued certificate serial"); o != orders || i != issued {
		t.Errorf("restart placed %d new orders and issued %d certificates, want none", o-orders, i-issued)
	}

	// key_type changed to rsa2048: the stored ECDSA certificate is
	// replaced by a new order, and the RSA one serves RSA suites.
	f.use(t, p, "rsa2048", nil, h01)
	if o := p.Count("Added order"); o != orders+1 {
		t.Errorf("key type change placed %d orders, want 1", o-orders)
	}
	if got := f.checkServed(t, p, h01, false); got.PublicKeyAlgorithm != x509.RSA || got.Equal(leafH) {
		t.Errorf("after key_type rsa2048: %s key, same certificate %v", got.PublicKeyAlgorithm, got.Equal(leafH))
	}
}
