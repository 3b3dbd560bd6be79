package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// gatedBackend holds every request until its gate closes, counting the
// connections open at once and the requests it got.
type gatedBackend struct {
	srv      *httptest.Server
	gate     chan struct{}
	active   atomic.Int64 // requests being handled
	peak     atomic.Int64
	requests atomic.Int64
	open     atomic.Int64 // connections open
	peakConn atomic.Int64
}

func newGatedBackend(t *testing.T) *gatedBackend {
	b := &gatedBackend{gate: make(chan struct{})}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		n := b.active.Add(1)
		defer b.active.Add(-1)
		for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
		}
		<-b.gate
		io.WriteString(w, "ok "+r.URL.Path)
	}))
	b.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n := b.open.Add(1)
			for p := b.peakConn.Load(); n > p && !b.peakConn.CompareAndSwap(p, n); p = b.peakConn.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			b.open.Add(-1)
		}
	}
	b.srv.Start()
	t.Cleanup(func() {
		select {
		case <-b.gate:
		default:
			close(b.gate)
		}
		b.srv.Close()
	})
	return b
}

// waitFor waits up to 5 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func cappedHandler(t *testing.T, backend string, maxConns int, queue time.Duration) (*Handler, chan Entry) {
	t.Helper()
	u, _ := url.Parse(backend)
	h, err := New(Options{Sites: []Site{{Name: "a.example", Backend: u}}, Route: route, HSTS: hsts, MaxIdleConns: 8,
		MaxBackendConns: maxConns, QueueTimeout: queue, ResponseHeaderTimeout: 10 * time.Second, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	entries := make(chan Entry, 64)
	h.SetObserve(func(e *Entry) { entries <- *e })
	return h, entries
}

// TestMaxBackendConns: past proxy.max_backend_conns a request waits for a
// connection (FIFO) and gets one when a request ends; over HTTP/1.1 and
// HTTP/2 (250 streams on one connection would otherwise be 250 backend
// connections), the backend never sees more connections than the cap.
func TestMaxBackendConns(t *testing.T) {
	verifyNoLeaks(t)
	for _, proto := range []int{0, 1} {
		b := newGatedBackend(t)
		h, entries := cappedHandler(t, b.srv.URL, 2, 5*time.Second)
		srv, _ := serveTLS(t, h)
		nc := testClients(t, srv, 10*time.Second)[proto]
		var wg sync.WaitGroup
		statuses := make(chan int, 8)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", srv.URL+"/q", nil)
				req.Host = "a.example"
				res, err := nc.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				statuses <- res.StatusCode
			}()
		}
		waitFor(t, "two requests at the backend", func() bool { return b.active.Load() == 2 })
		time.Sleep(100 * time.Millisecond) // the other four are queued, not at the backend
		if got := b.requests.Load(); got != 2 {
			t.Errorf("%s: backend got %d requests while capped at 2 connections", nc.name, got)
		}
		close(b.gate)
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != 200 {
				t.Errorf("%s: status %d, want 200 (queued requests are served when a connection frees)", nc.name, s)
			}
		}
		if p := b.peakConn.Load(); p > 2 {
			t.Errorf("%s: backend saw %d connections at once, cap 2", nc.name, p)
		}
		for range 6 {
			<-entries
		}
	}
}

// TestQueueTimeout: a request that waits longer than proxy.queue_timeout
// gets 503 with Retry-After and never reaches the backend.
func TestQueueTimeout(t *testing.T) {
	verifyNoLeaks(t)
	b := newGatedBackend(t)
	h, entries := cappedHandler(t, b.srv.URL, 1, 200*time.Millisecond)
	srv, _ := serveTLS(t, h)
	for _, nc := range testClients(t, srv, 10*time.Second) {
		done := make(chan struct{})
		go func() { // holds the one connection
			defer close(done)
			req, _ := http.NewRequest("GET", srv.URL+"/hold", nil)
			req.Host = "a.example"
			if res, err := nc.client.Do(req); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
		waitFor(t, "the first request at the backend", func() bool { return b.active.Load() == 1 })
		before := b.requests.Load()
		req, _ := http.NewRequest("GET", srv.URL+"/late", nil)
		req.Host = "a.example"
		res, err := nc.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || res.Header.Get("Strict-Transport-Security") != hsts {
			t.Errorf("%s: queued past the timeout: %d %v, want 503 with Retry-After and HSTS", nc.name, res.StatusCode, res.Header)
		}
		if e := <-entries; e.Status != 503 || e.Backend >= 0 && b.requests.Load() != before {
			t.Errorf("%s: entry %d, backend asked %d times", nc.name, e.Status, b.requests.Load()-before)
		}
		b.gate <- struct{}{} // let the first one go
		<-done
		<-entries
	}
}

// TestQueuedClientGone: a request whose client leaves while it waits for a
// backend connection is never sent (its entry says 499).
func TestQueuedClientGone(t *testing.T) {
	verifyNoLeaks(t)
	b := newGatedBackend(t)
	h, entries := cappedHandler(t, b.srv.URL, 1, 10*time.Second)
	srv, _ := serveTLS(t, h)
	for _, nc := range testClients(t, srv, 10*time.Second) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, _ := http.NewRequest("GET", srv.URL+"/hold", nil)
			req.Host = "a.example"
			if res, err := nc.client.Do(req); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
		waitFor(t, "the first request at the backend", func() bool { return b.active.Load() == 1 })
		// A client that gives up while queued: for HTTP/1.1 its own
		// connection (closed), for HTTP/2 a stream (reset).
		client := nc.client
		if nc.name == "h1" {
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: nc.client.Transport.(*http.Transport).TLSClientConfig}}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/gone", nil)
		req.Host = "a.example"
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			t.Fatalf("%s: the queued request was answered %d", nc.name, res.StatusCode)
		}
		cancel()
		e := <-entries
		if e.Status != 499 || e.Path() != "/gone" {
			t.Errorf("%s: entry %s %d, want /gone 499", nc.name, e.Path(), e.Status)
		}
		b.gate <- struct{}{}
		<-done
		<-entries
		time.Sleep(50 * time.Millisecond)
		if got := b.requests.Load(); got != 1 {
			t.Errorf("%s: backend got %d requests, want 1: a request whose client left while queued was sent", nc.name, got)
		}
		b.requests.Store(0)
	}
}
