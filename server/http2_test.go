package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tlsfront/internal/itest"
)

// h2Probe is what one connection offering "h2" and "http/1.1" found: the
// protocol ALPN chose, and for "h2" whether the server's first SETTINGS
// frame was tlsfront's own (no SETTINGS_MAX_FRAME_SIZE: tlsfront reads
// frames of the default 16 KiB; net/http's server announces 1 MiB).
type h2Probe struct {
	alpn   string
	server string // "tlsfront", "go", or "" without h2
}

func probeHTTP2(t *testing.T, addr string, roots *x509.CertPool) h2Probe {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	p := h2Probe{alpn: c.ConnectionState().NegotiatedProtocol}
	if p.alpn != "h2" {
		return p
	}
	p.server = itest.HTTP2Server(t, c)
	return p
}

// TestHTTP2Choice: server.http2 picks the server of the connections that
// negotiate "h2": tlsfront's own, net/http's, or none ("h2" is not offered
// in ALPN, so a browser speaks HTTP/1.1). A reload switching between the
// three gives new connections the new choice; a connection opened before
// keeps being served by the server it started with until it drains.
func TestHTTP2Choice(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	cfg := siteConfig{HTTPS: loopback(t), Backend: backend(t, "be"), Cert: "site", HTTP2: "go"}
	f.write(t, cfg)
	d := f.start(t)
	roots := f.ca.Pool()

	for i, step := range []struct {
		http2, alpn, server string
	}{
		{"go", "h2", "go"},
		{"tlsfront", "h2", "tlsfront"},
		{"off", "http/1.1", ""},
		{"go", "h2", "go"},
		{"off", "http/1.1", ""},
		{"tlsfront", "h2", "tlsfront"},
	} {
		if i > 0 {
			cfg.HTTP2 = step.http2
			f.write(t, cfg)
			if err := d.Reload(); err != nil {
				t.Fatalf("reload to http2 = %q: %v", step.http2, err)
			}
		}
		before := d.http2.Connections()
		got := probeHTTP2(t, cfg.HTTPS, roots)
		if got.alpn != step.alpn || got.server != step.server {
			t.Errorf("http2 = %q: ALPN %q served by %q, want %q by %q", step.http2, got.alpn, got.server, step.alpn, step.server)
		}
		// A real client's request.
		tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{ServerName: "localhost", RootCAs: roots}}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + cfg.HTTPS + "/x")
		if err != nil {
			t.Fatalf("http2 = %q: GET: %v", step.http2, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		wantProto := map[bool]string{true: "HTTP/2.0", false: "HTTP/1.1"}[step.alpn == "h2"]
		if string(body) != "be /x" || resp.Proto != wantProto {
			t.Errorf("http2 = %q: GET answered %q over %s, want %q over %s", step.http2, body, resp.Proto, "be /x", wantProto)
		}
		// The daemon's counters see tlsfront's connections, the probe's
		// and the client's, across reloads.
		n := d.http2.Connections() - before
		if want := map[bool]uint64{true: 2, false: 0}[step.server == "tlsfront"]; n != want {
			t.Errorf("http2 = %q: the daemon's HTTP/2 counters saw %d connections, want %d", step.http2, n, want)
		}
	}

	// The metrics export the daemon's counters (read at scrape time).
	rec := httptest.NewRecorder()
	d.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, name := range []string{"tlsfront_http2_glitches_total 0", "tlsfront_http2_glitch_closes_total 0"} {
		if !strings.Contains(rec.Body.String(), name) {
			t.Errorf("metrics lack %q", name)
		}
	}
}

// TestHTTP2ShutdownDrains: at SIGTERM a stream in flight on tlsfront's
// HTTP/2 server finishes with its answer, after a GOAWAY that tells the
// client not to open another on that connection.
func TestHTTP2ShutdownDrains(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	started, release := make(chan struct{}), make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	}))
	defer be.Close()
	cfg := siteConfig{HTTPS: loopback(t), Backend: be.URL, Cert: "site", HTTP2: "tlsfront"}
	f.write(t, cfg)
	d, err := Start(Options{ConfigPath: f.path, Stderr: f.logs})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", cfg.HTTPS, &tls.Config{ServerName: "localhost", RootCAs: f.ca.Pool(), NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
		BlockFragment: hpackGET(t, "/slow")})
	<-started
	stopped := make(chan struct{})
	go func() { d.Shutdown(); close(stopped) }()

	var goAway *http2.GoAwayFrame
	var body strings.Builder
	for ended := false; !ended; {
		fm, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading: %v (GOAWAY %v, body %q)", err, goAway, body.String())
		}
		switch fm := fm.(type) {
		case *http2.SettingsFrame:
			if !fm.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			goAway = fm
			select {
			case <-stopped:
				t.Fatal("Shutdown returned with a stream in flight")
			default:
			}
			close(release)
		case *http2.DataFrame:
			body.Write(fm.Data())
			ended = fm.StreamEnded()
		case *http2.RSTStreamFrame:
			t.Fatalf("the stream in flight was reset (%v)", fm.ErrCode)
		}
	}
	if goAway == nil || goAway.ErrCode != http2.ErrCodeNo || goAway.LastStreamID != 1 {
		t.Errorf("GOAWAY %v, want NO_ERROR naming stream 1 before the answer", goAway)
	}
	if body.String() != "finished" {
		t.Errorf("the stream in flight at shutdown got %q, want its answer", body.String())
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the last stream ended")
	}
}

// hpackGET encodes a GET request for path on localhost.
func hpackGET(t *testing.T, path string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", path}} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}
