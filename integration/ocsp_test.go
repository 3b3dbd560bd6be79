package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// ocspNetnsMarker is set in the environment of the copy of this test
// binary that runs inside a private network namespace.
const ocspNetnsMarker = "TLSFRONT_INTEGRATION_OCSP_NETNS"

// ocspResponderPort is where `openssl ocsp` listens inside the namespace,
// which holds nothing else: any port is free there.
const ocspResponderPort = 2560

// ocspResponderDelay is how long the slow proxy in front of the responder
// holds each request in the first phase. Without the prefetch, tlsfront
// would serve its first clients within this window without a staple.
const ocspResponderDelay = 1500 * time.Millisecond

// TestOCSPStapling is the end-to-end proof of OCSP stapling: the real
// tlsfront binary staples responses of the real `openssl ocsp` responder
// for its RSA and its ECDSA certificate, from the very first handshake, in
// TLS 1.0 to 1.3, as testssl.sh sees it, and from the disk cache after a
// restart while the responder is down; `tlsfront -t` describes each case,
// must-staple certificates without a staple are reported, and certificates
// without an OCSP URL are served quietly without one.
//
// `openssl ocsp` binds every interface, so the test re-runs itself inside
// a private network namespace (unshare -n, as root) where only loopback
// exists; responder, tlsfront, s_client and testssl.sh all run there.
func TestOCSPStapling(t *testing.T) {
	if os.Getenv(ocspNetnsMarker) == "1" {
		runOCSPStapling(t)
		return
	}
	t.Parallel()
	if os.Geteuid() != 0 {
		itest.SkipOrFail(t, "root (for unshare -n)")
	}
	unshare := itest.RequireTool(t, "unshare")
	ip := itest.RequireTool(t, "ip")
	for _, tool := range []string{"openssl", "testssl"} {
		itest.RequireTool(t, tool)
	}
	// Build outside the namespace: inside, the harness's build is a cache
	// hit, and GOPROXY=off makes a missing module fail fast, not hang.
	itest.BuildTlsfront(t)

	// testssl.sh spends most of this: its start-up alone took 90 s, and -p -S
	// 2-4 min, on this 2-core machine at load 12; far less when idle.
	ctx, cancel := context.WithTimeout(t.Context(), 9*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "-n", "--", "sh", "-c",
		`"$1" link set lo up && exec "$0" -test.run='^TestOCSPStapling$' -test.v -test.count=1 -test.timeout=8m`,
		os.Args[0], ip)
	cmd.Env = append(os.Environ(), ocspNetnsMarker+"=1", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	t.Logf("inside the network namespace:\n%s", out)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("test inside the network namespace did not finish: %v", ctx.Err())
	case err != nil:
		t.Fatalf("test inside the network namespace: %v", err)
	case bytes.Contains(out, []byte("--- SKIP: TestOCSPStapling (")):
		itest.SkipOrFail(t, "everything the test needs inside the namespace (see its output)")
	case !bytes.Contains(out, []byte("--- PASS: TestOCSPStapling (")):
		t.Fatal("the test did not run inside the network namespace")
	}
}

// runOCSPStapling is the part that runs inside the namespace.
func runOCSPStapling(t *testing.T) {
	ca := testca.New(t)
	responderURL := fmt.Sprintf("http://127.0.0.1:%d/", ocspResponderPort)
	names := []string{"localhost", "127.0.0.1"}
	leaves := map[string]*testca.Leaf{
		"rsa2048":  ca.Leaf(t, testca.LeafOptions{Names: names, KeyType: "rsa2048", OCSPServer: []string{responderURL}}),
		"ecdsa256": ca.Leaf(t, testca.LeafOptions{Names: names, KeyType: "ecdsa256", OCSPServer: []string{responderURL}}),
	}
	responder := startOpenSSLOCSP(t, ca, leaves["rsa2048"], leaves["ecdsa256"])
	slow := startSlowProxy(t, responderURL, ocspResponderDelay)

	dir := t.TempDir()
	for kt, l := range leaves {
		l.WriteFilesAs(dir, kt)
	}
	cfg := ocspFrontConfig(t, []string{"rsa2048", "ecdsa256"}, map[string]string{responderURL: slow.URL + "/"})
	front := itest.StartTlsfront(t, dir, cfg)
	port := front.HTTPSPort

	ok := t.Run("first handshake after ready is stapled", func(t *testing.T) {
		front.WaitLog(t, func(m map[string]any) bool { return m["message"] == "tlsfront serving" })
		r := itest.SClient(t, itest.SClientOptions{Port: port, ServerName: "localhost", Status: true})
		requireGoodStaple(t, r, "")
		if n := slow.Hits(); n < 2 {
			t.Errorf("the slow proxy saw %d requests, want one per certificate: responder_overrides not used", n)
		}
	})
	if !ok {
		return
	}

	t.Run("both certificates in every protocol version", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			o    itest.SClientOptions
			want string // key type served
		}{
			{"TLS 1.2 RSA suite", itest.SClientOptions{Version: "1.2", Cipher: "ECDHE-RSA-AES256-GCM-SHA384"}, "rsa2048"},
			{"TLS 1.2 ECDSA suite", itest.SClientOptions{Version: "1.2", Cipher: "ECDHE-ECDSA-AES256-GCM-SHA384"}, "ecdsa256"},
			{"TLS 1.3 default", itest.SClientOptions{Version: "1.3"}, "ecdsa256"},
			{"TLS 1.3 RSA signatures", itest.SClientOptions{Version: "1.3", Sigalgs: "rsa_pss_rsae_sha256:rsa_pkcs1_sha256"}, "rsa2048"},
			{"TLS 1.0 default", itest.SClientOptions{Version: "1.0", Cipher: legacyCipher}, "ecdsa256"},
			{"TLS 1.0 RSA suite", itest.SClientOptions{Version: "1.0", Cipher: "ECDHE-RSA-AES256-SHA:@SECLEVEL=0"}, "rsa2048"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				o := tc.o
				o.Port, o.ServerName, o.Status = port, "localhost", true
				requireGoodStaple(t, itest.SClient(t, o), tc.want)
			})
		}
	})

	t.Run("testssl reports stapling for each certificate", func(t *testing.T) {
		r := itest.Testssl(t, fmt.Sprintf("https://127.0.0.1:%d/", port), "-p", "-S")
		fs := r.All("OCSP_stapling")
		t.Logf("testssl OCSP_stapling findings: %+v", fs)
		if len(fs) != 2 {
			t.Fatalf("testssl OCSP_stapling findings %v, want one per certificate (2)\n%s", fs, r)
		}
		for _, f := range fs {
			if !strings.HasPrefix(f.Finding, "offered") || f.Severity != "OK" {
				t.Errorf("testssl OCSP_stapling <%s> = [%s] %q, want [OK] offered", f.Cert, f.Severity, f.Finding)
			}
		}
	})

	t.Run("check shows the cached staples", func(t *testing.T) {
		stdout, stderr, code := itest.RunTlsfront(t, "-t", "-config", front.ConfigPath)
		if code != 0 {
			t.Fatalf("tlsfront -t: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		m := regexp.MustCompile(`cached staple good until ([^,\s]+)`).FindAllStringSubmatch(stdout, -1)
		if len(m) != 2 {
			t.Fatalf("tlsfront -t shows %d cached staples, want 2 (RSA and ECDSA):\n%s", len(m), stdout)
		}
		for _, x := range m {
			until, err := time.Parse(time.RFC3339, x[1])
			// openssl ocsp -nmin 60: valid for an hour from the fetch.
			if err != nil || !until.After(time.Now()) || until.After(time.Now().Add(61*time.Minute)) {
				t.Errorf("cached staple good until %q (%v), want within the next hour", x[1], err)
			}
		}
	})

	t.Run("restart with the responder down staples from the disk cache", func(t *testing.T) {
		responder.stop(t)
		hits := slow.Hits()
		front.Signal(sigterm)
		if code := front.Wait(); code != 0 {
			t.Fatalf("tlsfront exited with %d after SIGTERM, want 0\n%s", code, front.Logs())
		}
		cached := ocspCacheFiles(t, filepath.Join(dir, "state", "ocsp"))
		if len(cached) != 2 {
			t.Fatalf("state_dir/ocsp holds %d responses, want 2", len(cached))
		}

		again := itest.StartTlsfront(t, dir, cfg)
		loaded := map[string]bool{}
		for _, m := range again.LogLines() {
			if m["message"] == "OCSP response loaded from cache" {
				loaded[fmt.Sprint(m["cert"])] = true
			}
		}
		if len(loaded) != 2 {
			t.Errorf("certificates whose staple was loaded from the cache: %v, want both\n%s", loaded, again.Logs())
		}
		for _, tc := range []struct {
			kt     string
			cipher string
			suite  uint16
		}{
			{"rsa2048", "ECDHE-RSA-AES256-GCM-SHA384", tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
			{"ecdsa256", "ECDHE-ECDSA-AES256-GCM-SHA384", tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		} {
			r := itest.SClient(t, itest.SClientOptions{Port: again.HTTPSPort, ServerName: "localhost", Status: true,
				Version: "1.2", Cipher: tc.cipher})
			requireGoodStaple(t, r, tc.kt)

			// The exact bytes served are a cached file, and answer for this leaf.
			staple := goStaple(t, again.HTTPSAddr, ca, tc.suite)
			if !cached[string(staple)] {
				t.Errorf("%s: the staple served is not one of the cached responses", tc.kt)
			}
			// Not ParseResponseForCert(…, issuer): x/crypto/ocsp would then
			// check that the certificate openssl embeds (the issuer itself)
			// was signed by the issuer.
			leaf := leaves[tc.kt]
			resp, err := ocsp.ParseResponseForCert(staple, leaf.Cert(), nil)
			if err == nil {
				err = resp.CheckSignatureFrom(leaf.Issuer())
			}
			if err != nil || resp.Status != ocsp.Good {
				t.Errorf("%s: served staple is not a good answer for this leaf signed by its issuer: %v", tc.kt, err)
			}
		}
		if n := slow.Hits(); n != hits {
			t.Errorf("the responder was asked %d more times after the restart; the staples must come from the cache", n-hits)
		}
	})

	t.Run("must-staple certificate without responder or cache", func(t *testing.T) {
		dir := t.TempDir()
		down := fmt.Sprintf("http://127.0.0.1:%d/", itest.ClosedPort(t))
		ca.Leaf(t, testca.LeafOptions{Names: names, MustStaple: true, OCSPServer: []string{down}}).WriteFilesAs(dir, "must")
		cfg := ocspFrontConfig(t, []string{"must"}, nil)
		if err := os.WriteFile(filepath.Join(dir, "check.toml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := itest.RunTlsfront(t, "-t", "-config", filepath.Join(dir, "check.toml"))
		if code != 0 || !strings.Contains(stdout, "MUST-STAPLE (no valid staple held now") {
			t.Errorf("tlsfront -t: exit %d, want 0 and the MUST-STAPLE warning\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}

		f := itest.StartTlsfront(t, dir, cfg)
		line := f.WaitLog(t, func(m map[string]any) bool {
			msg, _ := m["message"].(string)
			return strings.HasPrefix(msg, "MUST-STAPLE certificate has no valid OCSP staple")
		})
		if line["level"] != "error" || !strings.HasPrefix(fmt.Sprint(line["cert"]), "localhost") {
			t.Errorf("must-staple log line %v, want level error naming the certificate", line)
		}
		r := itest.SClient(t, itest.SClientOptions{Port: f.HTTPSPort, ServerName: "localhost", Status: true})
		if !r.Connected || !r.OCSPRequested || r.OCSPStapled || !strings.Contains(r.Output, "OCSP response: no response sent") {
			t.Errorf("must-staple certificate with the responder down: %s, stapled=%v; want served without a staple\n%s", r, r.OCSPStapled, r.Output)
		}
	})

	t.Run("certificate without an OCSP URL", func(t *testing.T) {
		dir := t.TempDir()
		ca.Leaf(t, testca.LeafOptions{Names: names}).WriteFilesAs(dir, "nourl")
		cfg := ocspFrontConfig(t, []string{"nourl"}, nil)
		f := itest.StartTlsfront(t, dir, cfg)
		stdout, stderr, code := itest.RunTlsfront(t, "-t", "-config", f.ConfigPath)
		if code != 0 || !strings.Contains(stdout, "no OCSP URL in the certificate: served without a staple") {
			t.Errorf("tlsfront -t: exit %d, want 0 and \"no OCSP URL\"\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		r := itest.SClient(t, itest.SClientOptions{Port: f.HTTPSPort, ServerName: "localhost", Status: true})
		if !r.Connected || !r.OCSPRequested || r.OCSPStapled {
			t.Errorf("certificate without an OCSP URL: %s, stapled=%v; want served without a staple\n%s", r, r.OCSPStapled, r.Output)
		}
		f.WaitLog(t, func(m map[string]any) bool { return m["message"] == "tlsfront serving" })
		for _, m := range f.LogLines() {
			if m["level"] == "error" || (m["level"] == "warn" && m["component"] == "ocsp") {
				t.Errorf("log line %v: a certificate without an OCSP URL must not log problems", m)
			}
		}
	})
}

// requireGoodStaple fails the test unless s_client connected, got the
// certificate of key type wantKey ("" accepts any) and a stapled,
// successful OCSP response saying good for that very certificate.
func requireGoodStaple(t *testing.T, r itest.SClientResult, wantKey string) {
	t.Helper()
	if !r.Connected {
		t.Fatalf("no connection: %s\n%s", r, r.Output)
	}
	peer := servedCert(t, r)
	if kt := testca.KeyTypeOf(peer.PublicKey); wantKey != "" && kt != wantKey {
		t.Errorf("served a %s certificate, want %s", kt, wantKey)
	}
	if !r.OCSPStapled || r.OCSPCertStatus != "good" || !strings.HasPrefix(r.OCSPResponseStatus, "successful") {
		t.Fatalf("%s (%s): staple %v, response status %q, Cert Status %q; want a successful response saying good\n%s",
			r.Protocol, testca.KeyTypeOf(peer.PublicKey), r.OCSPStapled, r.OCSPResponseStatus, r.OCSPCertStatus, r.Output)
	}
	m := regexp.MustCompile(`Serial Number: ([0-9A-Fa-f]+)`).FindStringSubmatch(r.OCSPText)
	serial, ok := new(big.Int), false
	if m != nil {
		_, ok = serial.SetString(m[1], 16)
	}
	if !ok || serial.Cmp(peer.SerialNumber) != 0 {
		t.Errorf("the staple is not about the served certificate: OCSP %v, certificate serial %X\n%s", m, peer.SerialNumber, r.OCSPText)
	}
}

// servedCert returns the leaf certificate s_client printed. SClientResult.Peer
// cannot be used with -status: it is the first PEM block of the output,
// which is the certificate openssl ocsp embeds in its response (the
// intermediate), printed with the staple before the server's chain.
func servedCert(t *testing.T, r itest.SClientResult) *x509.Certificate {
	t.Helper()
	_, chain, ok := strings.Cut(r.Output, "\nCertificate chain\n")
	if !ok {
		t.Fatalf("s_client printed no certificate chain:\n%s", r.Output)
	}
	rest := []byte(chain)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			t.Fatalf("s_client printed no server certificate:\n%s", r.Output)
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatalf("parsing the server certificate s_client printed: %v", err)
			}
			return c
		}
	}
}

// goStaple makes a TLS 1.2 handshake with only suite offered and returns
// the stapled OCSP response, failing the test when there is none.
func goStaple(t *testing.T, addr string, ca *testca.CA, suite uint16) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: ca.Pool(),
		MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}})
	if err != nil {
		t.Fatalf("TLS 1.2 handshake with %s: %v", tls.CipherSuiteName(suite), err)
	}
	defer c.Close()
	staple := c.ConnectionState().OCSPResponse
	if len(staple) == 0 {
		t.Fatalf("TLS 1.2 handshake with %s: no staple", tls.CipherSuiteName(suite))
	}
	return staple
}

// ocspCacheFiles returns the contents of the files in dir, as a set.
func ocspCacheFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading the OCSP cache: %v", err)
	}
	out := map[string]bool{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[string(b)] = true
		}
	}
	return out
}

// ocspFrontConfig is a tlsfront config with one site "localhost" serving
// the certificates <base>.chain.pem / <base>.key, stapling on with the
// given responder overrides, and no plain listener.
func ocspFrontConfig(t *testing.T, bases []string, overrides map[string]string) string {
	t.Helper()
	var certs, over strings.Builder
	for _, b := range bases {
		fmt.Fprintf(&certs, "  [[site.cert]]\n  cert = %q\n  key = %q\n", b+".chain.pem", b+".key")
	}
	for from, to := range overrides {
		if over.Len() > 0 {
			over.WriteString(", ")
		}
		fmt.Fprintf(&over, "%q = %q", from, to)
	}
	return fmt.Sprintf(`[server]
https = "127.0.0.1:%d"
http = ""
state_dir = "state"

[ocsp]
stapling = true
timeout = "10s"
prefetch_wait = "5s"
responder_overrides = { %s }

[[site]]
names = ["localhost"]
backend = "http://127.0.0.1:9"
%s
[log]
level = "info"
format = "json"
`, itest.FreePort(t), over.String(), certs.String())
}

// opensslOCSP is a running `openssl ocsp` responder.
type opensslOCSP struct {
	cmd    *exec.Cmd
	out    *itest.SyncBuffer
	exited chan error
	once   sync.Once
}

// startOpenSSLOCSP runs `openssl ocsp` on ocspResponderPort, signing with
// the CA's intermediate (the leaves' issuer) that every leaf is good, valid
// for an hour (-nmin 60): tlsfront refreshes at 40-60 % of that, so it asks
// no more during the test, even when testssl.sh takes minutes on a loaded
// machine. It returns once the responder waits for clients.
func startOpenSSLOCSP(t *testing.T, ca *testca.CA, leaves ...*testca.Leaf) *opensslOCSP {
	t.Helper()
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.IntermediateKey())
	if err != nil {
		t.Fatal(err)
	}
	var index strings.Builder
	for _, l := range leaves {
		index.WriteString(ocspIndexLine(l.Cert()))
	}
	for name, data := range map[string][]byte{
		"issuer.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Intermediate().Raw}),
		"issuer.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"index.txt":  []byte(index.String()),
		// The leaves share a subject; openssl refuses the index unless
		// told that subjects need not be unique.
		"index.txt.attr": []byte("unique_subject = no\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The responder serves one connection at a time: -timeout bounds how
	// long a silent client holds it; -ignore_err keeps it up after one.
	r := &opensslOCSP{out: &itest.SyncBuffer{}, exited: make(chan error, 1)}
	r.cmd = exec.Command(itest.RequireTool(t, "openssl"), "ocsp", "-index", "index.txt",
		"-port", fmt.Sprint(ocspResponderPort), "-rsigner", "issuer.pem", "-rkey", "issuer.key",
		"-CA", "issuer.pem", "-nmin", "60", "-ignore_err", "-timeout", "2")
	r.cmd.Dir, r.cmd.Stdout, r.cmd.Stderr = dir, r.out, r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // even if the test panics
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting openssl ocsp: %v", err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("openssl ocsp output:\n%s", r.out.String())
		}
	})
	// Probing the port instead does not work: a connection closed without
	// a request wedges the OpenSSL 3.0 responder.
	deadline := time.After(5 * time.Second)
	for !strings.Contains(r.out.String(), "waiting for OCSP client connections") {
		select {
		case err := <-r.exited:
			r.exited <- err
			t.Fatalf("openssl ocsp exited: %v\n%s", err, r.out.String())
		case <-deadline:
			t.Fatalf("openssl ocsp not ready after 5 s:\n%s", r.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return r
}

// stop kills the responder and waits until it has exited.
func (r *opensslOCSP) stop(t *testing.T) {
	r.once.Do(func() {
		_ = r.cmd.Process.Kill()
		select {
		case err := <-r.exited:
			r.exited <- err
		case <-time.After(5 * time.Second):
			t.Errorf("openssl ocsp did not exit within 5 s of SIGKILL")
		}
	})
}

// ocspIndexLine is the openssl ca database line saying leaf is valid:
// status, expiry, revocation date, serial in upper-case hex of whole
// bytes, file, subject.
func ocspIndexLine(leaf *x509.Certificate) string {
	serial := fmt.Sprintf("%X", leaf.SerialNumber)
	if len(serial)%2 == 1 {
		serial = "0" + serial
	}
	return fmt.Sprintf("V\t%s\t\t%s\tunknown\t/CN=%s\n",
		leaf.NotAfter.UTC().Format("060102150405Z"), serial, leaf.Subject.CommonName)
}

// slowProxy forwards OCSP requests to a responder after a delay.
type slowProxy struct {
	URL  string
	hits atomic.Int32
}

// Hits is the number of requests received so far.
func (p *slowProxy) Hits() int { return int(p.hits.Load()) }

// startSlowProxy serves on 127.0.0.1, holding each request for delay
// before forwarding it to target. It keeps no connection to the target
// open, so the single-connection openssl responder stays free.
func startSlowProxy(t *testing.T, target string, delay time.Duration) *slowProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{DisableKeepAlives: true}
	p := &slowProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}
