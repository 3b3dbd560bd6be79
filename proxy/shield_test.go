package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/internal/itest"
	"tlsfront/shield"
)

// shieldHandler is a Handler for backend with rules on its one site,
// observed; entries receives each request's Entry. trusted, when set, is
// the one trusted proxy.
func shieldHandler(t *testing.T, backend string, trusted string, rules ...shield.Rule) (*Handler, chan *Entry) {
	t.Helper()
	h := newHandler(t, backend)
	if trusted != "" {
		p := netip.MustParseAddr(trusted)
		h.opts.Trusted = func(a netip.Addr) bool { return a == p }
	}
	s, err := shield.New(shield.Options{Sites: []shield.Site{{Name: "a.example", Rules: rules}}})
	if err != nil {
		t.Fatal(err)
	}
	h.SetShield(s)
	h.SetLimits(Limits{ClientBodyTimeout: 5 * time.Second, SendTimeout: 5 * time.Second})
	entries := make(chan *Entry, 64)
	h.SetObserve(func(e *Entry) { c := *e; entries <- &c })
	return h, entries
}

// countingBackend answers 200 and counts requests by target, and all of
// them under "*".
func countingBackend(t *testing.T) (*httptest.Server, func(path string) int) {
	var mu sync.Mutex
	seen := map[string]int{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.RequestURI]++
		seen["*"]++
		mu.Unlock()
		io.WriteString(w, "from apache")
	}))
	t.Cleanup(backend.Close)
	return backend, func(path string) int { mu.Lock(); defer mu.Unlock(); return seen[path] }
}

// TestShieldRefusals checks what a refused request gets, over HTTP/1.1 and
// HTTP/2: the status, the error page with the site's headers, Retry-After,
// the Entry's rule and reason, and no backend request at all.
func TestShieldRefusals(t *testing.T) {
	backend, asked := countingBackend(t)
	h, entries := shieldHandler(t, backend.URL, "127.0.0.1",
		shield.Rule{Path: "/server-status", Allow: []string{"10.0.0.0/8"}, Deny: []string{"all"}},
		shield.Rule{Path: "/login", Rate: "1r/m"},
	)
	srv, _ := serveTLS(t, h)
	for _, c := range testClients(t, srv, 5*time.Second) {
		t.Run(c.name, func(t *testing.T) {
			get := func(target, client string) (*http.Response, string, *Entry) {
				t.Helper()
				req, _ := http.NewRequest("GET", srv.URL+target, nil) // sent as written: Go's client cleans nothing
				req.Host = "a.example"
				req.Header.Set("X-Forwarded-For", client)
				res, err := c.client.Do(req)
				if err != nil {
					t.Fatalf("GET %s: %v", target, err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				return res, string(body), <-entries
			}
			// Each protocol is its own client of the rate limit.
			who := map[string]string{"h1": "198.51.100.1", "h2": "198.51.100.2"}[c.name]

			res, body, e := get("/server-status", "10.1.2.3")
			if res.StatusCode != 200 || body != "from apache" || e.Refused != "" {
				t.Errorf("allowed client: %d %q refused %q, want 200 from the backend", res.StatusCode, body, e.Refused)
			}
			for _, target := range []string{"/%73erver-status", "//server-status", "/x/../server-status"} {
				before := asked("*")
				res, body, e := get(target, "203.0.113.5")
				if res.StatusCode != 403 || !strings.Contains(body, "403 Forbidden") || res.Header.Get("Strict-Transport-Security") != hsts {
					t.Errorf("%s from a refused client: %d %q, HSTS %q; want the 403 page with HSTS", target, res.StatusCode, body, res.Header.Get("Strict-Transport-Security"))
				}
				if e.Status != 403 || e.Rule != "/server-status" || e.Refused != "denied" {
					t.Errorf("%s: entry status %d rule %q refused %q, want 403 /server-status denied", target, e.Status, e.Rule, e.Refused)
				}
				if asked("*") != before {
					t.Errorf("%s reached the backend", target)
				}
			}
			if res, _, _ := get("/login", who); res.StatusCode != 200 {
				t.Errorf("first /login: %d, want 200", res.StatusCode)
			}
			res, _, e = get("/login", who)
			// 1r/m is 16 thousandths a second for nginx: one request drains in 62.5 s.
			if res.StatusCode != 429 || res.Header.Get("Retry-After") != "63" || e.Refused != "rate_limited" || e.Rule != "/login" {
				t.Errorf("second /login: %d Retry-After %q, entry %q %q; want 429, 63, rate_limited /login",
					res.StatusCode, res.Header.Get("Retry-After"), e.Refused, e.Rule)
			}
			before := asked("*")
			res, body, e = get("/a%2Fb", who)
			if res.StatusCode != 400 || !strings.Contains(body, "encoded slash") || e.Refused != "ambiguous_path" || asked("*") != before {
				t.Errorf("/a%%2Fb: %d %q refused %q, backend asked %d times; want 400 ambiguous_path, backend not asked", res.StatusCode, body, e.Refused, asked("*")-before)
			}
		})
	}
}

// TestShieldClientAddress checks which address the rules see: the peer's,
// unless the peer is a trusted proxy.
func TestShieldClientAddress(t *testing.T) {
	backend, _ := countingBackend(t)
	rule := shield.Rule{Path: "/", Allow: []string{"10.0.0.0/8"}, Deny: []string{"all"}}
	for _, tt := range []struct {
		name, trusted, xff string
		want               int
	}{
		{"untrusted peer cannot claim an address", "", "10.1.2.3", 403},
		{"trusted proxy forwards an allowed client", "127.0.0.1", "10.1.2.3", 200},
		{"trusted proxy forwards a refused client", "127.0.0.1", "10.1.2.3, 203.0.113.5", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, entries := shieldHandler(t, backend.URL, tt.trusted, rule)
			srv, client := serveTLS(t, h)
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			req.Host = "a.example"
			req.Header.Set("X-Forwarded-For", tt.xff)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			<-entries
			if res.StatusCode != tt.want {
				t.Errorf("%d, want %d", res.StatusCode, tt.want)
			}
		})
	}
}

// TestShieldDelay checks delay = true: a request within the burst is held,
// then forwarded; one whose client leaves while held never reaches the
// backend.
func TestShieldDelay(t *testing.T) {
	verifyNoLeaks(t)
	backend, asked := countingBackend(t)
	h, entries := shieldHandler(t, backend.URL, "", shield.Rule{Path: "/", Rate: "20r/s", Burst: 1, Delay: true})
	srv, client := serveTLS(t, h)
	for range 2 { // the second waits 50 ms
		req, _ := http.NewRequest("GET", srv.URL+"/held", nil)
		req.Host = "a.example"
		res, err := client.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET /held: %v %v", res, err)
		}
		res.Body.Close()
		<-entries
	}
	if asked("/held") != 2 {
		t.Errorf("backend asked %d times, want 2", asked("/held"))
	}

	h, entries = shieldHandler(t, backend.URL, "", shield.Rule{Path: "/", Rate: "1r/m", Burst: 1, Delay: true})
	srv, client = serveTLS(t, h)
	for i := range 2 { // the second would wait 62.5 s; its client gives up
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/gone", nil)
		req.Host = "a.example"
		res, err := client.Do(req)
		if i == 0 && (err != nil || res.StatusCode != 200) {
			t.Fatalf("first GET /gone: %v %v", res, err)
		}
		if i == 1 && err == nil {
			t.Fatalf("second GET /gone answered %d while it should be held", res.StatusCode)
		}
		if res != nil {
			res.Body.Close()
		}
		cancel()
		if e := <-entries; i == 1 && e.Status != 499 {
			t.Errorf("held request whose client left: status %d, want 499", e.Status)
		}
	}
	if asked("/gone") != 1 {
		t.Errorf("backend asked %d times for /gone, want 1 (the held request's client left)", asked("/gone"))
	}
}

// TestClientConnLimit checks server.max_conns_per_client at accept, for
// direct clients and for clients named by a PROXY header, and that trusted
// peers are not counted.
func TestClientConnLimit(t *testing.T) {
	verifyNoLeaks(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := shield.NewConns(2)
	var logs itest.SyncBuffer
	var proxied atomic.Bool                                                              // 127.0.0.1 is a balancer sending PROXY headers
	trusted := func(a netip.Addr) bool { return a == netip.MustParseAddr("192.0.2.99") } // a trusted proxy's address
	pp := ProxyProtocolListener(raw, func(netip.Addr) bool { return proxied.Load() }, 5*time.Second)
	ln := ClientConnLimit(pp, conns, trusted, NewRefusalLog(zerolog.New(&logs), time.Hour))
	accepted := make(chan net.Conn, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // as a server would: read, answer, until the client goes
				buf := make([]byte, 1)
				if _, err := c.Read(buf); err != nil {
					c.Close()
					return
				}
				accepted <- c
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	// dialDirect and dialProxied connect, send one byte (after a PROXY
	// header naming client), and report whether the server read it: the
	// connection was admitted.
	dialDirect := func() (server net.Conn, admitted bool) {
		t.Helper()
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write([]byte("x"))
		select {
		case s := <-accepted:
			t.Cleanup(func() { s.Close() })
			return s, true
		case <-time.After(500 * time.Millisecond):
			return nil, !closedByPeer(c)
		}
	}
	dialProxied := func(client string) (server net.Conn, admitted bool) {
		t.Helper()
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write([]byte("PROXY TCP4 " + client + " 127.0.0.1 5555 443\r\nx"))
		select {
		case s := <-accepted:
			t.Cleanup(func() { s.Close() })
			return s, true
		case <-time.After(500 * time.Millisecond):
			return nil, !closedByPeer(c)
		}
	}

	s1, ok1 := dialDirect()
	_, ok2 := dialDirect()
	_, ok3 := dialDirect()
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("direct connections admitted %v %v %v, want the third refused at accept", ok1, ok2, ok3)
	}
	if conns.Open(netip.MustParseAddr("127.0.0.1")) != 2 || conns.Refused() != 1 {
		t.Errorf("open %d refused %d, want 2 and 1", conns.Open(netip.MustParseAddr("127.0.0.1")), conns.Refused())
	}
	s1.Close()
	if _, ok := dialDirect(); !ok {
		t.Error("a closed connection did not free its slot")
	}

	proxied.Store(true)
	_, a1 := dialProxied("203.0.113.7")
	_, a2 := dialProxied("203.0.113.7")
	_, a3 := dialProxied("203.0.113.7")
	_, b1 := dialProxied("203.0.113.8")
	if !a1 || !a2 || a3 || !b1 {
		t.Errorf("proxied connections admitted %v %v %v (same client), %v (another); want the third refused", a1, a2, a3, b1)
	}
	for i := range 4 {
		if _, ok := dialProxied("192.0.2.99"); !ok {
			t.Errorf("connection %d from a trusted proxy's address refused: trusted proxies are not limited", i+1)
		}
	}
	if conns.Refused() != 2 || !strings.Contains(logs.String(), "max_conns_per_client reached") || logs.Count("max_conns_per_client reached") != 1 {
		t.Errorf("refused %d, log:\n%s\nwant 2 refusals and one log line", conns.Refused(), logs.String())
	}
}
