package audit

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestHostileServers points the audit at servers that reset, stall or
// answer garbage: each must produce a report with a clear no-tls finding
// (grade F), not an error, a hang or a panic.
func TestHostileServers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(net.Conn)
		// evidence must appear in the no-tls finding.
		evidence string
	}{
		{
			name: "resets",
			handle: func(c net.Conn) {
				readHello(c)
				_ = c.(*net.TCPConn).SetLinger(0) // RST instead of FIN
			},
			evidence: "reset",
		},
		{
			name:     "stalls",
			handle:   func(c net.Conn) { readHello(c); time.Sleep(5 * time.Second) },
			evidence: "stalled",
		},
		{
			name:     "answers HTTP",
			handle:   func(c net.Conn) { readHello(c); _, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")) },
			evidence: `every probe: answered bytes that are not SSL/TLS (first byte 0x48 is no record type: not SSL/TLS): 485454502f312e312034303020426164 "HTTP/1.1 400 Bad"`,
		},
		{
			name:     "answers random bytes",
			handle:   func(c net.Conn) { readHello(c); _, _ = c.Write(append([]byte{0x42}, randomBytes(200)...)) },
			evidence: "not SSL/TLS",
		},
		{
			name: "closes at once",
			// FIN at once, then the client's bytes drained: a plain
			// close could find the hello already in the receive buffer
			// and reset instead (the "reset" evidence, a different case).
			handle: func(c net.Conn) {
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, c)
			},
			evidence: "closed the connection",
		},
		{
			name: "sends half a record then stalls",
			handle: func(c net.Conn) {
				readHello(c)
				_, _ = c.Write([]byte{22, 3, 3, 0, 80, 2, 0})
				time.Sleep(5 * time.Second)
			},
			evidence: "after 7 bytes",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := hostile(t, tc.handle)
			rep := auditTarget(t, target{addr: addr, httpPort: -1}, nil, 500*time.Millisecond)
			if rep.Rating.Grade != "F" {
				t.Errorf("grade %s, want F", rep.Rating.Grade)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].ID != "no-tls" || rep.Findings[0].Severity != "critical" {
				t.Fatalf("findings %+v, want one critical no-tls", rep.Findings)
			}
			if ev := rep.Findings[0].Evidence; !strings.Contains(ev, tc.evidence) {
				t.Errorf("evidence %q lacks %q", ev, tc.evidence)
			}
			var b strings.Builder
			if err := rep.WriteText(&b); err != nil || !strings.Contains(b.String(), "GRADE F") {
				t.Errorf("text report (%v):\n%s", err, b.String())
			}
		})
	}
}

// TestHostileMidHandshake is a server that answers the first hello of
// each connection with a valid TLS 1.2 ServerHello and then stalls: the
// audit finds TLS 1.2, and every later probe that needs more ends in a
// finding rather than a hang.
func TestHostileMidHandshake(t *testing.T) {
	hello := record(22, VersionTLS12, serverHelloMsg(VersionTLS12, 0xc02f, nil, extension{typ: extRenegotiationInfo, data: []byte{0}}))
	addr := hostile(t, func(c net.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 16<<10)
		n, _ := c.Read(buf)
		// Answer TLS 1.2 hellos (client_version at offset 9) only.
		if n > 11 && buf[0] == 22 && buf[9] == 3 && buf[10] == 3 {
			_, _ = c.Write(hello)
		}
		time.Sleep(3 * time.Second)
	})
	rep := auditTarget(t, target{addr: addr, httpPort: -1}, nil, 300*time.Millisecond)
	var offered []string
	for _, p := range rep.Protocols {
		if p.Offered {
			offered = append(offered, p.Name)
		}
	}
	if strings.Join(offered, ",") != "TLS 1.2" {
		t.Errorf("offered %v, want TLS 1.2", offered)
	}
	failedChecks := 0
	for _, f := range rep.Findings {
		if f.Severity == "medium" && (f.ID == "probe-error" || strings.Contains(f.Title, "failed")) {
			failedChecks++
		}
	}
	if failedChecks == 0 {
		t.Errorf("no finding reports the stalled probes: %+v", rep.Findings)
	}
}

// TestRefused: a port where nothing listens is an error, not a report.
func TestRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = Run(context.Background(), Options{Target: addr, Timeout: time.Second, HTTPPort: -1})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err %v, want connection refused", err)
	}
}

func TestSplitTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
		fail bool
	}{
		{in: "example.org", host: "example.org", port: 443},
		{in: "example.org:8443", host: "example.org", port: 8443},
		{in: "127.0.0.1", host: "127.0.0.1", port: 443},
		{in: "[::1]:8443", host: "::1", port: 8443},
		{in: "::1", host: "::1", port: 443},
		{in: "[::1]", host: "::1", port: 443},
		{in: "example.org:0", fail: true},
		{in: "example.org:https", fail: true},
		{in: "", fail: true},
		{in: ":443", fail: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			h, p, err := splitTarget(tc.in)
			if (err != nil) != tc.fail {
				t.Fatalf("err %v, want failure %v", err, tc.fail)
			}
			if !tc.fail && (h != tc.host || p != tc.port) {
				t.Errorf("got %s %d, want %s %d", h, p, tc.host, tc.port)
			}
		})
	}
}
