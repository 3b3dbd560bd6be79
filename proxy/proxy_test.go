package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestProxyHeaders(t *testing.T) {
	var got *http.Request
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		w.Header().Set("Strict-Transport-Security", "max-age=1")
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "hop")
		io.WriteString(w, "apache says hi")
	}))
	defer backend.Close()
	srv, client := serveTLS(t, newHandler(t, backend.URL))
	tr := client.Transport.(*http.Transport).Clone()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true) // HTTP/2 forbids Connection headers; test them over HTTP/1.1
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	client = &http.Client{Transport: tr}

	req, _ := http.NewRequest("GET", srv.URL+"/p?q=1", nil)
	req.Host = "a.example"
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("Connection", "X-Drop")
	req.Header.Set("X-Drop", "1")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "apache says hi" {
		t.Errorf("body = %q", body)
	}
	if v := res.Header.Values("Strict-Transport-Security"); len(v) != 1 || v[0] != hsts {
		t.Errorf("HSTS = %q, want exactly ours", v)
	}
	if res.Header.Get("X-Secret") != "" {
		t.Error("hop-by-hop response header named in Connection was passed to the client")
	}
	checks := map[string]string{
		"Host":              "a.example",
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "a.example",
		"X-Drop":            "",
	}
	for k, want := range checks {
		v := got.Header.Get(k)
		if k == "Host" {
			v = got.Host
		}
		if v != want {
			t.Errorf("backend saw %s = %q, want %q", k, v, want)
		}
	}
	if got.URL.RequestURI() != "/p?q=1" {
		t.Errorf("backend saw %q", got.URL.RequestURI())
	}
}

func TestProxyErrors(t *testing.T) {
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()

	tests := []struct {
		name    string
		backend string
		host    string
		want    int
	}{
		{"refused backend", deadURL, "a.example", http.StatusBadGateway},
		{"silent backend", slow.URL, "a.example", http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, client := serveTLS(t, newHandler(t, tt.backend))
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			req.Host = tt.host
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.want)
			}
			if !strings.Contains(string(body), "<html>") || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Errorf("error page is not HTML: %q", body)
			}
			if res.Header.Get("Strict-Transport-Security") != hsts {
				t.Error("error response lacks HSTS")
			}
		})
	}
}

func TestMisdirected(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	srv, _ := serveTLS(t, newHandler(t, backend.URL, backend.URL))
	tests := []struct {
		name, sni, host string
		want            int
	}{
		{"same site", "a.example", "a.example", 200},
		{"other site", "a.example", "b.example", http.StatusMisdirectedRequest},
		{"unknown host follows SNI", "b.example", "c.example", 200},
		{"no SNI routes by host", "", "b.example", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.TLSClientConfig.ServerName = tt.sni
			tr.TLSClientConfig.InsecureSkipVerify = true
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			req.Host = tt.host
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
}

func TestRedirect(t *testing.T) {
	tests := []struct {
		name, target, host string
		port               int
		want               string
	}{
		{"path and query", "/a/b?c=d&e", "example.com:8080", 8443, "https://example.com:8443/a/b?c=d&e"},
		{"default port omitted", "/", "example.com", 443, "https://example.com/"},
		{"IPv6 host", "/x", "[2001:db8::1]:80", 443, "https://[2001:db8::1]/x"},
		{"escaped path kept", "/a%20b", "h.example", 443, "https://h.example/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", tt.target, nil)
			req.Host = tt.host
			Redirect(tt.port).ServeHTTP(rec, req)
			if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != tt.want {
				t.Errorf("got %d %q, want 301 %q", rec.Code, rec.Header().Get("Location"), tt.want)
			}
			if rec.Header().Get("Strict-Transport-Security") != "" {
				t.Error("HSTS sent on plain HTTP")
			}
		})
	}
}

// TestStreaming checks that a streamed backend response reaches the client
// chunk by chunk, not buffered whole.
func TestStreaming(t *testing.T) {
	next := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "data: two\n\n")
	}))
	defer backend.Close()
	defer close(next)
	srv, client := serveTLS(t, newHandler(t, backend.URL))
	res, err := client.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event = %q, %v", line, err)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	checkWebSocketEcho(t, func(backend string) *Handler { return newHandler(t, backend) })
}

// checkWebSocketEcho starts a backend that answers a WebSocket upgrade and
// echoes one line, puts handler(backend URL) in front of it over TLS, and
// checks that the upgrade comes through (101) and the tunnel carries a
// line both ways.
func checkWebSocketEcho(t *testing.T, handler func(backend string) *Handler) {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "no upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	}))
	defer backend.Close()
	srv, _ := serveTLS(t, handler(backend.URL))
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	io.WriteString(conn, "ping\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "echo ping\n" {
		t.Fatalf("after upgrade got %q, %v", line, err)
	}
}

func TestLegacyBackendHygiene(t *testing.T) {
	var seen http.Header
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("Server", "Apache/2.2.22 (Debian) PHP/5.4.45")
		w.Header().Set("X-Powered-By", "PHP/5.4.45")
		w.Header().Set("X-Frame-Options", "ALLOW")
		w.Header().Set("X-Debug", "1")
		w.Header().Add("Set-Cookie", "a=1; Path=/")
		w.Header().Add("Set-Cookie", "b=2; Secure")
		w.Header().Set("Location", "http://"+r.Host+"/dir/")
		w.Header().Set("Content-Location", "http://elsewhere.example/x")
		w.WriteHeader(http.StatusMovedPermanently)
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	set := http.Header{"X-Frame-Options": {"SAMEORIGIN"}, "Public-Key-Pins-Report-Only": {`pin-sha256="x"; max-age=10`}}
	h, err := New(Options{
		Sites: []Site{{Backend: u, Set: set, Remove: []string{"X-Debug"}}},
		Route: route, HSTS: hsts, HTTPSPort: 8443,
		Trusted:          func(a netip.Addr) bool { return a.IsLoopback() },
		RewriteRedirects: true, SecureCookies: true, HideBackendVersion: true, Logger: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, client := serveTLS(t, h)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", srv.URL+"/dir", nil)
	req.Host = "a.example"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	want := map[string][]string{
		"Location":                    {"https://a.example:8443/dir/"},
		"Content-Location":            {"http://elsewhere.example/x"},
		"Server":                      {"Apache"},
		"X-Powered-By":                nil,
		"X-Debug":                     nil,
		"X-Frame-Options":             {"SAMEORIGIN"},
		"Set-Cookie":                  {"a=1; Path=/; Secure", "b=2; Secure"},
		"Public-Key-Pins-Report-Only": {`pin-sha256="x"; max-age=10`},
		"Strict-Transport-Security":   {hsts},
	}
	for k, v := range want {
		if got := res.Header.Values(k); strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// The test client is on loopback, which this handler trusts.
	if got := seen.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("trusted peer's X-Forwarded-For = %q, want the chain extended", got)
	}
}
