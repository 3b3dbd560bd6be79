package proxy

// A connection's life: the read-header and idle timeouts, and the graceful
// drain the daemon starts on reload and SIGTERM.

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func TestH2Shutdown(t *testing.T) {
	verifyNoLeaksH2(t)
	h := newCountingHandler()
	hs := startH2(t, h, H2Options{})
	r := dialRaw(t, hs)
	r.headers(1, true, r.get("/slow"))
	for h.started.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- hs.srv.Shutdown(ctx)
	}()
	var g *http2.GoAwayFrame
	for g == nil {
		g, _ = r.read().(*http2.GoAwayFrame)
	}
	if g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1 {
		t.Fatalf("GOAWAY %v last stream %d, want NO_ERROR naming stream 1", g.ErrCode, g.LastStreamID)
	}
	r.headers(3, true, r.get("/late")) // past the last stream: ignored

	late := dialRaw(t, hs) // a connection during the drain: refused at once
	if code := late.goAway(nil); code != http2.ErrCodeNo {
		t.Fatalf("new connection while draining: GOAWAY %v", code)
	}
	late.closed()

	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a stream in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(h.release)
	if st, body := r.response(1); st != "200" || string(body) != "ok" {
		t.Fatalf("stream in flight during the drain: %s %q", st, body)
	}
	r.closed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := h.started.Load(); n != 1 {
		t.Errorf("%d requests reached the handler, want 1 (stream 3 came after GOAWAY)", n)
	}
}

// TestH2ShutdownDeadline: streams that do not finish in time are cut when
// the context ends.
func TestH2ShutdownDeadline(t *testing.T) {
	verifyNoLeaksH2(t)
	h := newCountingHandler()
	hs := startH2(t, h, H2Options{})
	r := dialRaw(t, hs)
	r.headers(1, true, r.get("/slow"))
	for h.started.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := hs.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's deadline", err)
	}
	r.closed()
}

// TestH2ReadHeaderTimeout: a connection that sends no request within
// read_header_timeout gets GOAWAY and is closed.
func TestH2ReadHeaderTimeout(t *testing.T) {
	verifyNoLeaksH2(t)
	hs := startH2(t, newCountingHandler(), H2Options{ReadHeaderTimeout: 200 * time.Millisecond})
	r := dialRaw(t, hs)
	if code := r.goAway(nil); code != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %v, want NO_ERROR", code)
	}
	r.closed()
}

// TestH2IdleTimeout: a connection whose streams are done closes after
// idle_timeout, PINGs notwithstanding.
func TestH2IdleTimeout(t *testing.T) {
	verifyNoLeaksH2(t)
	hs := startH2(t, newTransportHandler(t, h2Backend(t).URL), H2Options{IdleTimeout: 300 * time.Millisecond})
	r := dialRaw(t, hs)
	r.headers(1, true, r.get("/"))
	if st, _ := r.response(1); st != "200" {
		t.Fatal(st)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a PING every 50ms keeps nothing open
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if !r.tryWrite(func() error { return r.fr.WritePing(false, [8]byte{1}) }) {
					return
				}
			}
		}
	}()
	if code := r.goAway(nil); code != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %v, want NO_ERROR", code)
	}
	r.closed()
}
