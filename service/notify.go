// Package service connects tlsfront to the supervisor that runs it, before
// and around the request path: it takes listening sockets passed in by
// systemd socket activation (Listeners), tells systemd when the listeners
// serve, reload and stop (the sd_notify protocol: Ready, Reloading,
// Stopping, Status), and keeps systemd's watchdog fed while the process is
// healthy (RunWatchdog).
//
// Everything is a no-op outside systemd: without NOTIFY_SOCKET, Notify
// returns nil; without WATCHDOG_USEC, RunWatchdog returns at once; without
// LISTEN_FDS, Listeners returns no listeners. The protocol is implemented
// here directly (it is a datagram of "KEY=VALUE" lines on a unix socket);
// no systemd library is linked.
package service

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notify sends state, one or more newline-separated "KEY=VALUE" assignments
// (see sd_notify(3)), to the socket named by $NOTIFY_SOCKET. It returns nil
// without doing anything when NOTIFY_SOCKET is unset or empty. Socket names
// starting with "@" are Linux abstract sockets.
func Notify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if addr[0] != '/' && addr[0] != '@' {
		return fmt.Errorf("notifying systemd: NOTIFY_SOCKET %q is not a unix socket path or abstract name", addr)
	}
	// Go turns a leading "@" into the abstract namespace's NUL byte.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notifying systemd at %s: %w", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notifying systemd at %s: %w", addr, err)
	}
	return nil
}

// Ready tells systemd that start-up or a reload is finished: the listeners
// are bound and serving.
func Ready() error { return Notify("READY=1") }

// Reloading tells systemd that a configuration reload has started; send
// Ready when it is done, whether it succeeded or kept the old state. It
// carries MONOTONIC_USEC, which Type=notify-reload (systemd ≥ 253) requires
// and Type=notify ignores.
func Reloading() error {
	return Notify("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(monotonicUsec(), 10))
}

// Stopping tells systemd that a graceful shutdown has started.
func Stopping() error { return Notify("STOPPING=1") }

// Status sets the free-form status line "systemctl status" shows. Newlines
// in msg are replaced by spaces, since they would end the assignment.
func Status(msg string) error {
	return Notify("STATUS=" + strings.ReplaceAll(msg, "\n", " "))
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, the clock systemd
// compares MONOTONIC_USEC against.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0 // cannot happen on Linux; systemd then ignores the field
	}
	return ts.Sec*1_000_000 + ts.Nsec/1_000
}

// WatchdogInterval returns systemd's watchdog timeout (WatchdogSec=, from
// $WATCHDOG_USEC) and whether the watchdog is enabled for this process.
// It is disabled when WATCHDOG_USEC is unset, not a positive integer, or
// when WATCHDOG_PID names another process.
func WatchdogInterval() (time.Duration, bool) {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0, false
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" {
		pid, err := strconv.Atoi(p)
		if err != nil || pid != os.Getpid() {
			return 0, false
		}
	}
	return time.Duration(usec) * time.Microsecond, true
}

// RunWatchdog sends WATCHDOG=1 at half the watchdog interval until ctx is
// done, skipping a ping whenever healthy (nil means always healthy) reports
// false, so that systemd restarts a process that stays unhealthy for a
// whole interval. It returns at once when the watchdog is not enabled (see
// WatchdogInterval). Run it in its own goroutine after Ready.
func RunWatchdog(ctx context.Context, healthy func() bool) {
	interval, ok := WatchdogInterval()
	if !ok {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	runWatchdog(ctx, healthy, t.C)
}

// runWatchdog is RunWatchdog's loop over an injected tick source.
func runWatchdog(ctx context.Context, healthy func() bool, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if healthy == nil || healthy() {
				_ = Notify("WATCHDOG=1") // a lost ping is retried on the next tick
			}
		}
	}
}
