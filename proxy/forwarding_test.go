package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/headers"
	"tlsfront/internal/testca"
)

// TestNamedClient: every header that parses either names the client
// (RemoteAddr is its source) or does not, and ProxyHeader finds that out
// through the TLS connection wrapping it.
func TestNamedClient(t *testing.T) {
	for _, tc := range ppCases {
		if tc.wantErr != "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			go func() { _, _ = b.Write(append(append([]byte{}, tc.in...), "rest"...)) }()
			c := &ppConn{Conn: a, timeout: 5 * time.Second}
			if got, want := c.NamedClient(), tc.src != ""; got != want {
				t.Errorf("NamedClient() = %v, want %v", got, want)
			}
			limited := &clientConn{Conn: c} // the shield's per-client connection count sits above the PROXY reader
			for _, wrapped := range []net.Conn{c, tls.Server(c, &tls.Config{}), tls.Client(tls.Server(c, &tls.Config{}), &tls.Config{}),
				limited, tls.Server(limited, &tls.Config{})} {
				if proxied, named := ProxyHeader(wrapped); !proxied || named != (tc.src != "") {
					t.Errorf("ProxyHeader(%T) = %v, %v, want true, %v", wrapped, proxied, named, tc.src != "")
				}
			}
		})
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	for _, c := range []net.Conn{nil, a, tls.Server(a, &tls.Config{})} {
		if proxied, named := ProxyHeader(c); proxied || named {
			t.Errorf("ProxyHeader(%T) = %v, %v for a connection without PROXY protocol", c, proxied, named)
		}
	}
}

// TestNamedClientBadHeader: after a bad header the connection is closed and
// names nobody.
func TestNamedClientBadHeader(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go func() { _, _ = b.Write([]byte("PROXY TCP4 203.0.113.7\r\n")) }()
	c := &ppConn{Conn: a, timeout: 5 * time.Second}
	if c.NamedClient() {
		t.Error("a bad header names the client")
	}
}

// forwardingStack is the real request path: TCP listener, PROXY protocol
// (every peer is a balancer), TLS, the engines and the Handler, in front
// of a backend that records the headers it receives.
type forwardingStack struct {
	addr string
	ca   *testca.CA
	log  *syncBuffer

	mu      sync.Mutex
	seen    map[string]http.Header // by path
	entries map[string]*Entry      // by path
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// trustedForTest is 127.0.0.1 (the balancer, our own test client) and
// 10.9.9.0/24 (a CDN the balancer's header may name).
func trustedForTest(t *testing.T) func(netip.Addr) bool {
	tp, err := headers.ParseTrustedProxies([]string{"127.0.0.1", "10.9.9.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	return tp.Contains
}

func startForwardingStack(t *testing.T) *forwardingStack {
	t.Helper()
	s := &forwardingStack{ca: testca.New(t), log: &syncBuffer{}, seen: map[string]http.Header{}, entries: map[string]*Entry{}}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen[r.URL.Path] = r.Header.Clone()
		s.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(backend.Close)
	u, _ := url.Parse(backend.URL)
	logger := zerolog.New(s.log).Level(zerolog.DebugLevel)
	trusted := trustedForTest(t)
	h, err := New(Options{Sites: []Site{{Backend: u}}, Route: func(string) (int, bool) { return 0, true },
		Trusted: trusted, MaxIdleConns: 2, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leaf := s.ca.Leaf(t, testca.LeafOptions{})
	cert := leaf.TLS()
	h.SetObserve(func(e *Entry) {
		c := *e
		s.mu.Lock()
		s.entries[e.Path()] = &c
		s.mu.Unlock()
	})
	srv := &TLSServer{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		H1:        NewH1(H1Options{Server: h, Logger: zerolog.Nop()}),
		H2:        NewServer(h, ServerOptions{Logger: zerolog.Nop()}),
		Trusted:   trusted,
	}
	pl := ProxyProtocolListener(ln, trusted, 5*time.Second)
	go srv.Serve(pl)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	s.addr = ln.Addr().String()
	return s
}

// get sends header, then TLS and one HTTP/1.1 GET of path with the extra
// raw header lines, and returns what the backend received.
func (s *forwardingStack) get(t *testing.T, header []byte, path, extra string) (http.Header, *Entry) {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(header); err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: s.ca.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if _, err := io.WriteString(tc, "GET "+path+" HTTP/1.1\r\nHost: localhost\r\n"+extra+"Connection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[path], s.entries[path]
}

const spoofedClaims = "X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Ssl: on\r\n"

// TestPROXYHeaderWithoutClient: behind a trusted balancer, a PROXY header
// that names no client leaves the balancer's address as the client, and
// the end client's own forwarding headers are replaced, not extended. One
// naming a trusted address is a trusted peer; one naming another address
// is not.
func TestPROXYHeaderWithoutClient(t *testing.T) {
	s := startForwardingStack(t)
	type want struct{ xff, realIP, fwd, ssl string }
	untrustedLB := want{"127.0.0.1", "127.0.0.1", "for=127.0.0.1;host=localhost;proto=https", ""}
	for i, tc := range []struct {
		name   string
		header []byte
		want   want
	}{
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), untrustedLB},
		{"v1 UNKNOWN with addresses", []byte("PROXY UNKNOWN 10.9.9.9 127.0.0.1 1 443\r\n"), untrustedLB},
		{"v2 LOCAL", ppV2(v2CmdLocal, 0x00), untrustedLB},
		{"v2 LOCAL with addresses", ppV2(v2CmdLocal, 0x11, ppIP("10.9.9.9"), ppIP("127.0.0.1"), ppPorts(1, 443)), untrustedLB},
		{"v2 AF_UNSPEC", ppV2(v2CmdProxy, 0x00), untrustedLB},
		{"v2 AF_UNIX", ppV2(v2CmdProxy, 0x31, make([]byte, 216)), untrustedLB},
		{"v1 names a trusted CDN", []byte("PROXY TCP4 10.9.9.9 127.0.0.1 1 443\r\n"),
			want{"6.6.6.6, 10.9.9.9", "6.6.6.6", "for=6.6.6.6, for=10.9.9.9;host=localhost;proto=https", "on"}},
		{"v2 names an untrusted client", ppV2(v2CmdProxy, 0x11, ppIP("203.0.113.7"), ppIP("127.0.0.1"), ppPorts(1, 443)),
			want{"203.0.113.7", "203.0.113.7", "for=203.0.113.7;host=localhost;proto=https", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/pp/" + string(rune('a'+i))
			got, _ := s.get(t, tc.header, path, spoofedClaims)
			for name, w := range map[string]string{"X-Forwarded-For": tc.want.xff, "X-Real-Ip": tc.want.realIP,
				"Forwarded": tc.want.fwd, "X-Forwarded-Ssl": tc.want.ssl} {
				if v := strings.Join(got.Values(name), " | "); v != w {
					t.Errorf("backend got %s %q, want %q", name, v, w)
				}
			}
		})
	}
}

// TestInvalidNamesDropped: headers whose names Apache 2.2 would fold into
// a forwarding header are dropped, counted in the Entry and logged at
// debug level by name, never by value.
func TestInvalidNamesDropped(t *testing.T) {
	s := startForwardingStack(t)
	for _, tc := range []struct {
		name    string
		header  []byte
		dropped int
	}{
		{"untrusted client", ppV2(v2CmdProxy, 0x11, ppIP("203.0.113.7"), ppIP("127.0.0.1"), ppPorts(1, 443)), 4},
		{"trusted CDN", []byte("PROXY TCP4 10.9.9.9 127.0.0.1 1 443\r\n"), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/names/" + strings.ReplaceAll(tc.name, " ", "-")
			got, e := s.get(t, tc.header, path,
				"X.Forwarded.For: 6.6.6.1\r\nX~Real~IP: 6.6.6.2\r\nX_Forwarded_For: 6.6.6.3\r\nX_Custom: secret-value\r\nX-Custom: kept\r\n")
			for name := range got {
				if !headers.ValidName(name) {
					t.Errorf("backend got %s", name)
				}
			}
			if got.Get("X-Custom") != "kept" {
				t.Errorf("backend got X-Custom %q, want kept", got.Get("X-Custom"))
			}
			if e == nil || e.HeadersDropped != tc.dropped {
				t.Errorf("Entry.HeadersDropped = %v, want %d", e, tc.dropped)
			}
		})
	}
	log := s.log.String()
	for _, name := range []string{"X.forwarded.for", "X~real~ip", "X_forwarded_for", "X_custom"} {
		if !strings.Contains(log, name) {
			t.Errorf("debug log lacks %q:\n%s", name, log)
		}
	}
	if strings.Contains(log, "secret-value") || strings.Contains(log, "6.6.6.") {
		t.Errorf("debug log shows a dropped header's value:\n%s", log)
	}
}
