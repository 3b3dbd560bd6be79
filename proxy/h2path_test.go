package proxy

import (
	"bufio"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestOwnH2 runs the request path's tests that speak HTTP/2 again with
// tlsfront's own HTTP/2 server (H2Server and Handler.ServeH2) in place of
// net/http's: both engines must behave alike on the path. The whole
// package can be run that way with TLSFRONT_TEST_H2=own.
func TestOwnH2(t *testing.T) {
	if ownH2 {
		t.Skip("TLSFRONT_TEST_H2=own: every test already runs this way")
	}
	ownH2 = true
	t.Cleanup(func() { ownH2 = false })
	for _, tt := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"BackendClientGone499", TestBackendClientGone499},
		{"BackendClosedIdleConnection", TestBackendClosedIdleConnection},
		{"BackendConnectionNotReused", TestBackendConnectionNotReused},
		{"BackendEarlyHints", TestBackendEarlyHints},
		{"BackendFailures", TestBackendFailures},
		{"BackendFramingParity", TestBackendFramingParity},
		{"BackendPoolLimit", TestBackendPoolLimit},
		{"BackendReuse", TestBackendReuse},
		{"BackendStrayBytesAfterLargeBody", TestBackendStrayBytesAfterLargeBody},
		{"BodyLimit", TestBodyLimit},
		{"ClientBodyTimeout", TestClientBodyTimeout},
		{"MisdirectedBodyTimeout", TestMisdirectedBodyTimeout},
		{"ReadTimeout", TestReadTimeout},
		{"Refusals", TestRefusals},
		{"SendTimeout", TestSendTimeout},
		{"SendTimeoutHTTP2Socket", TestSendTimeoutHTTP2Socket},
		{"ObserveAndCombinedLog", TestObserveAndCombinedLog},
		{"LegacyBackendHygiene", TestLegacyBackendHygiene},
		{"Misdirected", TestMisdirected},
		{"ProxyErrors", TestProxyErrors},
		{"ProxyHeaders", TestProxyHeaders},
		{"Streaming", TestStreaming},
		{"MaxBackendConns", TestMaxBackendConns},
		{"QueueTimeout", TestQueueTimeout},
		{"QueuedClientGone", TestQueuedClientGone},
		{"ShieldClientAddress", TestShieldClientAddress},
		{"ShieldDelay", TestShieldDelay},
		{"ShieldRefusals", TestShieldRefusals},
		{"SSLHeaders", TestSSLHeaders},
	} {
		t.Run(tt.name, tt.fn)
	}
}

// What tlsfront's HTTP/2 server refuses before a handler could proxy it
// (CONNECT, a scheme other than https, a target that is not origin-form,
// an oversized header list) is answered by the request path: its error
// page with HSTS, Allow on the 405, one access-log entry naming the site;
// the backend sees none of it. A request that passes is proxied with the
// path's forwarding headers and its response trailers.
func TestServeH2(t *testing.T) {
	verifyNoLeaksH2(t)
	var mu sync.Mutex
	var seen []string // request heads the backend got
	b := newScriptedBackend(t, func(_ int64, req *http.Request, w *bufio.Writer) bool {
		mu.Lock()
		seen = append(seen, req.Method+" "+req.RequestURI+" host="+req.Host+" xff="+req.Header.Get("X-Forwarded-For")+
			" proto="+req.Header.Get("X-Forwarded-Proto")+" te="+req.Header.Get("Te"))
		mu.Unlock()
		w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n")
		return true
	})
	h := newHandler(t, b.URL())
	var emu sync.Mutex
	var entries []Entry
	h.SetObserve(func(e *Entry) {
		emu.Lock()
		entries = append(entries, *e)
		emu.Unlock()
	})
	hs := startH2(t, h, H2Options{MaxHeaderBytes: 4096, SendTimeout: 5 * time.Second, BodyTimeout: 5 * time.Second})
	r := dialRaw(t, hs)

	type result struct {
		status string
		fields map[string]string
		body   string
		trail  map[string]string
	}
	exchange := func(id uint32, block []byte) result {
		t.Helper()
		r.headers(id, true, block)
		res := result{fields: map[string]string{}, trail: map[string]string{}}
		for {
			switch f := r.read().(type) {
			case *http2.MetaHeadersFrame:
				if f.StreamID != id {
					continue
				}
				if s := f.PseudoValue("status"); s != "" {
					res.status = s
					for _, hf := range f.RegularFields() {
						res.fields[hf.Name] = hf.Value
					}
				} else {
					for _, hf := range f.RegularFields() {
						res.trail[hf.Name] = hf.Value
					}
				}
				if f.StreamEnded() {
					return res
				}
			case *http2.DataFrame:
				if f.StreamID == id {
					res.body += string(f.Data())
					if f.StreamEnded() {
						return res
					}
				}
			case *http2.RSTStreamFrame:
				t.Fatalf("stream %d reset: %v", id, f.ErrCode)
			case *http2.GoAwayFrame:
				t.Fatalf("GOAWAY %v", f.ErrCode)
			}
		}
	}

	res := exchange(1, r.block(":method", "CONNECT", ":authority", "example.org:443"))
	if res.status != "405" || res.fields["allow"] == "" || res.fields["strict-transport-security"] != hsts {
		t.Errorf("CONNECT: %s %v", res.status, res.fields)
	}
	res = exchange(3, r.block(":method", "GET", ":scheme", "http", ":authority", "a.example", ":path", "/"))
	if res.status != "400" || !strings.Contains(res.body, "malformed") {
		t.Errorf("scheme http: %s %q", res.status, res.body)
	}
	res = exchange(5, r.block(":method", "OPTIONS", ":scheme", "https", ":authority", "a.example", ":path", "*"))
	if res.status != "400" {
		t.Errorf("OPTIONS *: %s", res.status)
	}
	big := []string{":method", "GET", ":scheme", "https", ":authority", "a.example", ":path", "/"}
	for i := 0; i < 10; i++ { // 10 x 500 bytes: over 4 KiB decoded, no string over it
		big = append(big, "x-h"+string(rune('a'+i)), strings.Repeat("v", 500))
	}
	res = exchange(7, r.block(big...))
	if res.status != "431" {
		t.Errorf("oversized header list: %s", res.status)
	}
	res = exchange(9, r.block(":method", "GET", ":scheme", "https", ":authority", "b.example", ":path", "/"))
	if res.status != "421" {
		t.Errorf("b.example on a.example's connection (SNI localhost routes to site 0): %s", res.status)
	}
	mu.Lock()
	if len(seen) != 0 {
		t.Errorf("the backend got refused requests: %q", seen)
	}
	mu.Unlock()

	res = exchange(11, r.block(":method", "GET", ":scheme", "https", ":authority", "a.example", ":path", "/ok?q=1",
		"te", "trailers", "x-forwarded-for", "203.0.113.9"))
	if res.status != "200" || res.body != "abc" || res.trail["x-sum"] != "42" || res.fields["strict-transport-security"] != hsts {
		t.Errorf("proxied: %s %q fields %v trailers %v", res.status, res.body, res.fields, res.trail)
	}
	mu.Lock()
	if want := "GET /ok?q=1 host=a.example xff=127.0.0.1 proto=https te=trailers"; len(seen) != 1 || seen[0] != want {
		t.Errorf("backend got %q, want %q", seen, want)
	}
	mu.Unlock()

	// Each entry is written once its response has ended, which the client
	// may see first: wait for the last.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		emu.Lock()
		n := len(entries)
		emu.Unlock()
		if n >= 6 {
			break
		}
	}
	emu.Lock()
	defer emu.Unlock()
	want := []struct {
		status int
		method string
	}{{405, "CONNECT"}, {400, ""}, {400, ""}, {431, ""}, {421, "GET"}, {200, "GET"}}
	if len(entries) != len(want) {
		t.Fatalf("%d log entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, e := range entries {
		if e.Status != want[i].status || e.Method != want[i].method || e.Proto != "HTTP/2.0" || e.Site == "" || !e.Client.IsLoopback() {
			t.Errorf("entry %d: status %d method %q proto %q site %q client %v; want %d %q", i, e.Status, e.Method, e.Proto, e.Site, e.Client, want[i].status, want[i].method)
		}
	}
}
