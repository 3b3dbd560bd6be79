package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// notifySocket binds a unixgram socket where systemd's would be and points
// NOTIFY_SOCKET at it. abstract picks the Linux abstract namespace ("@...").
func notifySocket(t *testing.T, abstract bool) *net.UnixConn {
	t.Helper()
	var name string
	if abstract {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		name = "@tlsfront-test-" + hex.EncodeToString(b)
	} else {
		// Socket paths are limited to 108 bytes; t.TempDir can be longer.
		dir, err := os.MkdirTemp("", "sdn")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		name = filepath.Join(dir, "notify")
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("binding the notify socket %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return c
}

// receive returns the next datagram, failing the test after 5s.
func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading the notify socket: %v", err)
	}
	return string(buf[:n])
}

// fields parses a notify datagram into its assignments.
func fields(msg string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(msg, "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

func TestNotifyProtocol(t *testing.T) {
	for _, tc := range []struct {
		name     string
		abstract bool
	}{
		{"socket path", false},
		{"abstract socket", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := notifySocket(t, tc.abstract)

			if err := Ready(); err != nil {
				t.Fatal(err)
			}
			if got := receive(t, c); got != "READY=1" {
				t.Errorf("Ready sent %q, want READY=1", got)
			}

			before := monotonicUsec()
			if err := Reloading(); err != nil {
				t.Fatal(err)
			}
			after := monotonicUsec()
			got := fields(receive(t, c))
			if got["RELOADING"] != "1" {
				t.Errorf("Reloading sent %v, want RELOADING=1", got)
			}
			usec, err := strconv.ParseInt(got["MONOTONIC_USEC"], 10, 64)
			if err != nil || usec < before || usec > after {
				t.Errorf("MONOTONIC_USEC = %q, want a CLOCK_MONOTONIC reading in [%d, %d]", got["MONOTONIC_USEC"], before, after)
			}

			if err := Status("reloaded\nconfig"); err != nil {
				t.Fatal(err)
			}
			if got := receive(t, c); got != "STATUS=reloaded config" {
				t.Errorf("Status sent %q, want the message on one line", got)
			}

			if err := Stopping(); err != nil {
				t.Fatal(err)
			}
			if got := receive(t, c); got != "STOPPING=1" {
				t.Errorf("Stopping sent %q, want STOPPING=1", got)
			}
		})
	}
}

func TestNotifyWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	for name, f := range map[string]func() error{"Ready": Ready, "Reloading": Reloading, "Stopping": Stopping} {
		if err := f(); err != nil {
			t.Errorf("%s without NOTIFY_SOCKET: %v, want nil", name, err)
		}
	}
}

func TestNotifyErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	for _, tc := range []struct {
		name, socket, want string
	}{
		{"relative path", "run/notify", "not a unix socket path"},
		{"nobody listening", missing, missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tc.socket)
			err := Ready()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Ready() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, usec, pid string
		want            time.Duration
		wantOK          bool
	}{
		{"unset", "", "", 0, false},
		{"not a number", "30s", "", 0, false},
		{"zero", "0", "", 0, false},
		{"negative", "-5", "", 0, false},
		{"30s, no pid", "30000000", "", 30 * time.Second, true},
		{"30s, our pid", "30000000", self, 30 * time.Second, true},
		{"another process", "30000000", "1", 0, false},
		{"bad pid", "30000000", "me", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			got, ok := WatchdogInterval()
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("WatchdogInterval() = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestWatchdogSkipsUnhealthy drives the loop with injected ticks: an
// unhealthy tick sends nothing, a healthy one sends WATCHDOG=1.
func TestWatchdogSkipsUnhealthy(t *testing.T) {
	c := notifySocket(t, false)
	var calls atomic.Int32
	healthy := func() bool { return calls.Add(1) == 2 } // unhealthy, healthy, unhealthy
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { runWatchdog(ctx, healthy, tick); close(done) }()
	for range 3 {
		tick <- time.Time{}
	}
	cancel()
	<-done
	if n := calls.Load(); n != 3 {
		t.Fatalf("healthy was called %d times for 3 ticks", n)
	}
	// The loop has returned: everything it sent is queued already.
	if got := receive(t, c); got != "WATCHDOG=1" {
		t.Errorf("first datagram %q, want WATCHDOG=1", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a second datagram arrived (%d bytes, %v): an unhealthy tick pinged", n, err)
	}
}

// TestRunWatchdog runs the real loop from WATCHDOG_USEC until pings arrive.
func TestRunWatchdog(t *testing.T) {
	c := notifySocket(t, true)
	t.Setenv("WATCHDOG_USEC", "20000") // 20ms: pings every 10ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { RunWatchdog(ctx, nil); close(done) }()
	for range 3 {
		if got := receive(t, c); got != "WATCHDOG=1" {
			t.Fatalf("watchdog sent %q, want WATCHDOG=1", got)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog did not return after its context was cancelled")
	}
}

func TestRunWatchdogDisabled(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	done := make(chan struct{})
	go func() { RunWatchdog(context.Background(), nil); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog without WATCHDOG_USEC did not return")
	}
}
