package audit

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// target is a server under audit.
type target struct {
	// addr is "127.0.0.1:port".
	addr string
	// httpPort is the plain-HTTP port to check; -1 skips the check.
	httpPort int
	// testssl is the URL testssl.sh scans; "" when it is not compared.
	testssl string
}

// tutorialCiphers is the tutorial's backward-compatible SSLCipherSuite.
const tutorialCiphers = "ECDH+AESGCM:EDH+AESGCM:AES256+EECDH:ECDHE-RSA-AES128-SHA:DHE-RSA-AES128-GCM-SHA256:AES256+EDH:" +
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-SHA384:" +
	"ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA:DHE-RSA-AES256-SHA256:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA:" +
	"DHE-RSA-AES128-SHA:ECDHE-RSA-DES-CBC3-SHA:EDH-RSA-DES-CBC3-SHA:AES256-GCM-SHA384:AES128-GCM-SHA256:AES256-SHA256:" +
	"AES128-SHA256:AES256-SHA:AES128-SHA:DES-CBC3-SHA:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!MD5:!PSK:!RC4"

// startTlsfront runs the tlsfront binary with a profile, a backend that
// answers 200 and the given certificates; httpRedirect enables its plain
// listener.
func startTlsfront(t *testing.T, ca *testca.CA, profile string, keyTypes []string, httpRedirect bool) target {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "backend")
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	certs := ""
	for _, kt := range keyTypes {
		chain, key := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}, KeyType: kt}).WriteFiles(dir)
		certs += fmt.Sprintf("  [[site.cert]]\n  cert = %q\n  key = %q\n", chain, key)
	}
	httpsPort := itest.FreePort(t)
	httpAddr, httpPort := "", -1
	if httpRedirect {
		httpPort = itest.FreePort(t)
		httpAddr = fmt.Sprintf("127.0.0.1:%d", httpPort)
	}
	cfg := fmt.Sprintf(`[server]
https = "127.0.0.1:%d"
http = %q
state_dir = "state"
[tls]
profile = %q
[headers]
hsts = "max-age=63072000; includeSubDomains; preload"
[[site]]
names = ["localhost"]
backend = %q
%s
[log]
level = "warn"
`, httpsPort, httpAddr, profile, backend.URL, certs)
	f := itest.StartTlsfront(t, dir, cfg)
	return target{addr: f.HTTPSAddr, httpPort: httpPort, testssl: "https://" + f.HTTPSAddr + "/"}
}

// startGoServer serves HTTPS with cfg on 127.0.0.1 from this process.
func startGoServer(t *testing.T, cfg *tls.Config, header http.Header) target {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			for k, v := range header {
				w.Header()[k] = v
			}
			fmt.Fprintln(w, "go")
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the probes fail handshakes on purpose
	}
	go func() { _ = srv.Serve(tls.NewListener(l, cfg)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return target{addr: l.Addr().String(), httpPort: -1, testssl: "https://" + l.Addr().String() + "/"}
}

// weakConfig is a deliberately weak Go server: TLS 1.0 only, RC4 and 3DES
// with static RSA key exchange, plus AES128-SHA (static RSA too) so that
// testssl.sh's OpenSSL, which has neither RC4 nor 3DES, can connect.
func weakConfig(t *testing.T, ca *testca.CA) *tls.Config {
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}, KeyType: "rsa2048"})
	return &tls.Config{
		Certificates: []tls.Certificate{leaf.TLS()},
		MinVersion:   tls.VersionTLS10,
		MaxVersion:   tls.VersionTLS10,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_RC4_128_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA},
	}
}

// noSCSVConfig offers TLS 1.1 to 1.3 but lowers its maximum to each
// client's, so TLS_FALLBACK_SCSV can never be refused.
func noSCSVConfig(t *testing.T, ca *testca.CA) *tls.Config {
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}})
	base := &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, MinVersion: tls.VersionTLS11}
	return &tls.Config{
		Certificates: base.Certificates,
		MinVersion:   tls.VersionTLS11,
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			c := base.Clone()
			c.MaxVersion = slices.Max(h.SupportedVersions)
			return c, nil
		},
	}
}

// startApache runs Debian's apache2 with mod_ssl and the tutorial's
// backward-compatible cipher string.
func startApache(t *testing.T, ca *testca.CA) target {
	t.Helper()
	chain, key := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}, KeyType: "rsa2048"}).WriteFiles(t.TempDir())
	a := itest.StartApache(t, itest.ApacheOptions{TLS: &itest.ApacheTLS{
		CertFile: chain, KeyFile: key, CipherSuite: tutorialCiphers, HonorCipherOrder: true,
	}})
	return target{addr: a.Addr, httpPort: -1, testssl: a.URL + "/"}
}

// hostile is a TCP server on 127.0.0.1 that answers every connection
// with handle.
func hostile(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				stop := context.AfterFunc(contextOf(done), func() { c.Close() })
				defer stop()
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

func contextOf(done chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-done
		cancel()
	}()
	return ctx
}

// readHello reads whatever the client sent first.
func readHello(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	_, _ = c.Read(buf)
}

// auditTarget runs Run against tg with the CA trusted and SNI localhost,
// and checks that every connection went to tg's address or its HTTP port.
func auditTarget(t *testing.T, tg target, roots *testca.CA, timeout time.Duration) *Report {
	t.Helper()
	host, _, _ := net.SplitHostPort(tg.addr)
	allowed := []string{tg.addr}
	if tg.httpPort > 0 {
		allowed = append(allowed, net.JoinHostPort(host, strconv.Itoa(tg.httpPort)))
	}
	var mu sync.Mutex
	var dialed []string
	o := Options{
		Target: tg.addr, SNI: "localhost", Timeout: timeout, HTTPPort: tg.httpPort,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	if roots != nil {
		o.Roots = roots.Pool()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard, not a timing assertion
	defer cancel()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run(%s): %v", tg.addr, err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Run(%s) did not finish within 2 minutes", tg.addr)
	}
	for _, d := range dialed {
		if !slices.Contains(allowed, d) {
			t.Errorf("the audit dialled %s, beyond the target %v", d, allowed)
		}
	}
	if int64(len(dialed)) != rep.Connections {
		t.Errorf("report counts %d connections, the dialer saw %d", rep.Connections, len(dialed))
	}
	return rep
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
