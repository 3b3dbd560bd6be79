package proxy

// Test support for the HTTP/2 server: a handler that proxies to a plain
// HTTP/1.1 backend through net/http's Transport (standing in for the
// engine's request path until integration), and a TLS listener serving
// the server, as the daemon's accept loop will.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/internal/testca"
)

// transportHandler proxies each request to backend with tr.
type transportHandler struct {
	backend *url.URL
	tr      *http.Transport
}

func newTransportHandler(t testing.TB, backend string) *transportHandler {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true, Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &transportHandler{backend: u, tr: tr}
}

func (h *transportHandler) ServeH2(w H2ResponseWriter, r *H2Request) {
	if r.Refuse != 0 {
		h2ErrorPage(w, r.Refuse, r.Reason)
		return
	}
	out := &http.Request{
		Method:        r.Method,
		URL:           &url.URL{Scheme: "http", Host: h.backend.Host, Opaque: r.Path},
		Host:          r.Authority,
		Header:        make(http.Header, len(r.Fields)),
		ContentLength: r.ContentLength,
		Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	for _, f := range r.Fields {
		out.Header[http.CanonicalHeaderKey(f.Name)] = append(out.Header[http.CanonicalHeaderKey(f.Name)], f.Value)
	}
	if r.Body != nil {
		out.Body = io.NopCloser(r.Body)
	}
	out = out.WithContext(r.Context())
	res, err := h.tr.RoundTrip(out)
	if err != nil {
		if errors.Is(err, ErrH2BodyTimeout) {
			h2ErrorPage(w, http.StatusRequestTimeout, "The request body did not arrive in time.")
			return
		}
		h2ErrorPage(w, http.StatusBadGateway, "The backend server is not reachable.")
		return
	}
	defer res.Body.Close()
	fields := make([]H2Field, 0, len(res.Header)+1)
	for k, vs := range res.Header {
		if k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			fields = append(fields, H2Field{k, v})
		}
	}
	if res.ContentLength >= 0 && r.Method != "HEAD" {
		fields = append(fields, H2Field{"content-length", strconv.FormatInt(res.ContentLength, 10)})
	}
	if err := w.WriteHead(res.StatusCode, fields, false); err != nil {
		return
	}
	buf := make([]byte, 32<<10)
	var sent int64
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			sent += int64(n)
			if res.ContentLength < 0 || sent < res.ContentLength {
				_ = w.Flush() // the next read may wait on the backend
			}
		}
		if err == io.EOF {
			_ = w.End(nil)
			return
		}
		if err != nil {
			w.Abort()
			return
		}
	}
}

func h2ErrorPage(w H2ResponseWriter, status int, text string) {
	body := fmt.Sprintf("<!DOCTYPE html>\n<html><head><title>%d %s</title></head><body><p>%s</p></body></html>\n",
		status, http.StatusText(status), text)
	_ = w.WriteHead(status, []H2Field{{"content-type", "text/html; charset=utf-8"},
		{"content-length", strconv.Itoa(len(body))}}, false)
	_, _ = w.Write([]byte(body))
	_ = w.End(nil)
}

// h2Harness is an H2Server on a TLS listener on 127.0.0.1.
type h2Harness struct {
	srv  *H2Server
	addr string
	ca   *testca.CA
	ln   net.Listener
	wg   sync.WaitGroup
}

func startH2(t testing.TB, h H2Handler, o H2Options) *h2Harness {
	t.Helper()
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}})
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, NextProtos: []string{"h2", "http/1.1"}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("H2_LOG") != "" { // H2_LOG=1 go test -run X: the server's debug log on stderr
		o.Logger = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.DebugLevel)
	}
	hs := &h2Harness{srv: NewH2Server(h, o), addr: ln.Addr().String(), ca: ca, ln: ln}
	hs.wg.Add(1)
	go func() {
		defer hs.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hs.wg.Add(1)
			go func() {
				defer hs.wg.Done()
				tc := c.(*tls.Conn)
				_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
				if err := tc.Handshake(); err != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
					tc.Close()
					return
				}
				_ = tc.SetDeadline(time.Time{})
				hs.wg.Add(1)
				go func() { defer hs.wg.Done(); hs.srv.ServeConn(tc) }() // a fresh stack, not the handshake's
			}()
		}
	}()
	t.Cleanup(hs.stop)
	return hs
}

func (hs *h2Harness) stop() {
	hs.ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.srv.Shutdown(ctx)
	hs.wg.Wait()
}

// client returns an HTTP/2-only client trusting the harness's CA.
func (hs *h2Harness) client() *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: hs.ca.Pool(), ServerName: "localhost"},
		ForceAttemptHTTP2: true,
		Protocols:         new(http.Protocols),
	}
	tr.Protocols.SetHTTP2(true)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func (hs *h2Harness) url(path string) string {
	_, port, _ := net.SplitHostPort(hs.addr)
	return "https://localhost:" + port + path
}

// TestH2Serve serves the HTTP/2 server for tools run by hand (h2load,
// nghttp, strace), proxying to H2SERVE_BACKEND:
//
//	H2SERVE_ADDR=127.0.0.1:8443 H2SERVE_BACKEND=http://127.0.0.1:8081 \
//	  go test ./proxy -run TestH2Serve -timeout 0
//
// It serves for H2SERVE_SECONDS (default 600) and is skipped without
// H2SERVE_ADDR.
func TestH2Serve(t *testing.T) {
	addr := os.Getenv("H2SERVE_ADDR")
	if addr == "" {
		t.Skip("H2SERVE_ADDR not set")
	}
	backend := os.Getenv("H2SERVE_BACKEND")
	if backend == "" {
		backend = h2Backend(t).URL
	}
	secs, _ := strconv.Atoi(os.Getenv("H2SERVE_SECONDS"))
	if secs <= 0 {
		secs = 600
	}
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}})
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var h H2Handler = newTransportHandler(t, backend)
	if backend == "inline" { // no backend: 1000 bytes at once, to measure the server alone
		body := bytes.Repeat([]byte("x"), 1000)
		h = H2HandlerFunc(func(w H2ResponseWriter, r *H2Request) {
			_ = w.WriteHead(200, []H2Field{{"content-type", "text/plain"}, {"content-length", "1000"}}, false)
			_, _ = w.Write(body)
			_ = w.End(nil)
		})
	}
	srv := NewH2Server(h, H2Options{SendTimeout: time.Minute, BodyTimeout: time.Minute})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if err := c.(*tls.Conn).Handshake(); err != nil {
					c.Close()
					return
				}
				srv.ServeConn(c)
			}()
		}
	}()
	t.Logf("serving HTTP/2 on %s, backend %s, for %ds", addr, backend, secs)
	time.Sleep(time.Duration(secs) * time.Second)
	t.Logf("%+v", srv.Stats())
}
