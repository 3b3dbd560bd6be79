package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// capBackend is a slow backend that counts the connections tlsfront holds
// to it at once, and the requests it gets by path.
type capBackend struct {
	srv      *httptest.Server
	open     atomic.Int64
	peak     atomic.Int64
	mu       sync.Mutex
	requests map[string]int
}

func startCapBackend(t *testing.T, delay time.Duration) *capBackend {
	t.Helper()
	b := &capBackend{requests: map[string]int{}}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.requests[r.URL.Path]++
		b.mu.Unlock()
		time.Sleep(delay)
		io.WriteString(w, "ok")
	}))
	b.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n := b.open.Add(1)
			for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			b.open.Add(-1)
		}
	}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	return b
}

func (b *capBackend) count(prefix string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for p, c := range b.requests {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

// TestMaxBackendConns is issue 13's "one client must not take every Apache
// worker": 60 concurrent requests of a slow URL on one HTTP/2 connection,
// and 30 HTTP/1.1 connections, never hold more than proxy.max_backend_conns
// backend connections; past it requests wait and are all served. A request
// whose client gives up while it waits never reaches the backend; one that
// waits past proxy.queue_timeout gets 503. It runs with each HTTP/2 server
// (server.http2).
func TestMaxBackendConns(t *testing.T) {
	t.Parallel()
	for _, h2 := range h2Servers {
		t.Run(h2, func(t *testing.T) {
			t.Parallel()
			maxBackendConns(t, h2)
		})
	}
}

func maxBackendConns(t *testing.T, http2 string) {
	b := startCapBackend(t, 200*time.Millisecond)
	f := startHostile(t, hostileOptions{Backend: b.srv.URL, MaxBackendConns: 8, QueueTimeout: "20s", HTTP2: http2})
	if res, err := f.client(false).Get(f.url("/warm-up")); err == nil {
		drainBody(res.Body)
		res.Body.Close()
	}
	baseGoroutines, baseFDs := settleCounts(t, f, -1, -1)
	for _, h2 := range []bool{true, false} {
		c := f.client(h2)
		n := 60
		if !h2 {
			n = 30
		}
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := c.Get(f.url("/slow/" + map[bool]string{true: "h2", false: "h1"}[h2] + "/" + string(rune('a'+i%26))))
				if err != nil {
					failed.Add(1)
					return
				}
				drainBody(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failed.Add(1)
				}
			}()
		}
		wg.Wait()
		c.CloseIdleConnections()
		if failed.Load() > 0 {
			t.Errorf("h2=%v: %d of %d requests failed, want all served in turn", h2, failed.Load(), n)
		}
	}
	if p := b.peak.Load(); p > 8 {
		t.Errorf("the backend saw %d connections at once from tlsfront, max_backend_conns = 8", p)
	}
	t.Logf("peak backend connections: %d", b.peak.Load())
	// Idle backend connections stay pooled (up to 8 files); nothing else is
	// left behind by 90 requests that queued.
	if g, fds := settleCounts(t, f, baseGoroutines, baseFDs+8); g > baseGoroutines || fds > baseFDs+8 {
		t.Errorf("after the load tlsfront has %d goroutines and %d open files, before %d and %d (+8 pooled)", g, fds, baseGoroutines, baseFDs)
	}

	// Queue timeout, and clients that leave while queued.
	g := startHostile(t, hostileOptions{Backend: b.srv.URL, MaxBackendConns: 1, QueueTimeout: "500ms", HTTP2: http2})
	for _, h2 := range []bool{true, false} {
		c := g.client(h2)
		hold := make(chan struct{})
		go func() {
			defer close(hold)
			if res, err := c.Get(g.url("/hold")); err == nil {
				drainBody(res.Body)
				res.Body.Close()
			}
		}()
		time.Sleep(50 * time.Millisecond) // /hold has the one connection for 200 ms
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", g.url("/left"), nil)
		if res, err := g.client(h2).Do(req); err == nil {
			res.Body.Close()
			t.Errorf("h2=%v: the queued request was answered %d before its client gave up", h2, res.StatusCode)
		}
		cancel()
		<-hold
		time.Sleep(300 * time.Millisecond) // the connection is free: a request still queued would go now
		if n := b.count("/left"); n != 0 {
			t.Errorf("h2=%v: the backend got %d requests whose client left while queued", h2, n)
		}
	}
	slow := startCapBackend(t, 2*time.Second)
	s := startHostile(t, hostileOptions{Backend: slow.srv.URL, MaxBackendConns: 1, QueueTimeout: "300ms", HTTP2: http2})
	go func() {
		if res, err := s.client(false).Get(s.url("/hold")); err == nil {
			drainBody(res.Body)
			res.Body.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	res, err := s.client(true).Get(s.url("/late"))
	if err != nil {
		t.Fatal(err)
	}
	drainBody(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Errorf("queued past proxy.queue_timeout: %d (Retry-After %q), want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if n := slow.count("/late"); n != 0 {
		t.Errorf("the backend got the request that timed out in the queue")
	}
}
