package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/testca"
)

// ppV2 builds a v2 header: signature, version 2 with cmd, family, length
// and body (addresses, ports, TLVs).
func ppV2(cmd, family byte, body ...[]byte) []byte {
	b := append([]byte{}, v2Signature...)
	b = append(b, 0x20|cmd, family)
	var all []byte
	for _, p := range body {
		all = append(all, p...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(all)))
	return append(b, all...)
}

func ppIP(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func ppPorts(src, dst uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, src), dst)
}

const ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

// ppCases are raw headers with what they must parse to. "rest" follows
// every header and must stay unread.
var ppCases = []struct {
	name     string
	in       []byte
	src, dst string // "" when the header names no addresses
	wantErr  string
}{
	{"v1 TCP4", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n"), "203.0.113.7:4711", "192.0.2.1:443", ""},
	{"v1 TCP6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 65535 443\r\n"), "[2001:db8::7]:65535", "[2001:db8::1]:443", ""},
	{"v1 TCP6 mapped IPv4 is unmapped", []byte("PROXY TCP6 ::ffff:203.0.113.7 ::1 1 443\r\n"), "203.0.113.7:1", "[::1]:443", ""},
	{"v1 longest line (107 bytes)", []byte("PROXY UNKNOWN " + ffff + " " + ffff + " 65535 65535\r\n"), "", "", ""},
	{"v1 longest TCP6", []byte("PROXY TCP6 " + ffff + " " + ffff + " 65535 65535\r\n"), "[" + ffff + "]:65535", "[" + ffff + "]:65535", ""},
	{"v1 too long", []byte("PROXY UNKNOWN " + ffff + " " + ffff + " 65535 655350\r\n"), "", "", "longer than 107"},
	{"v1 LF only", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\n"), "", "", "CRLF"},
	{"v1 TCP5", []byte("PROXY TCP5 203.0.113.7 192.0.2.1 4711 443\r\n"), "", "", `protocol "TCP5"`},
	{"v1 IPv6 under TCP4", []byte("PROXY TCP4 2001:db8::7 192.0.2.1 4711 443\r\n"), "", "", `"2001:db8::7" is not an TCP4 address`},
	{"v1 IPv4 under TCP6", []byte("PROXY TCP6 203.0.113.7 2001:db8::1 4711 443\r\n"), "", "", "not an TCP6 address"},
	{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 2001:db8::1 4711 443\r\n"), "", "", "not an TCP6 address"},
	{"v1 port too big", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 65536 443\r\n"), "", "", `port "65536"`},
	{"v1 port leading zero", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711 0443\r\n"), "", "", `port "0443"`},
	{"v1 port sign", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 +4711 443\r\n"), "", "", `port "+4711"`},
	{"v1 double space", []byte("PROXY TCP4 203.0.113.7  192.0.2.1 4711 443\r\n"), "", "", "7 fields"},
	{"v1 missing port", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711\r\n"), "", "", "5 fields"},
	{"v1 truncated", []byte("PROXY TCP4 203.0.113.7"), "", "", "EOF"},
	{"HTTP request instead", []byte("POST / HTTP/1.1\r\n"), "", "", "no PROXY protocol header"},

	{"v2 TCP4", ppV2(v2CmdProxy, 0x11, ppIP("203.0.113.7"), ppIP("192.0.2.1"), ppPorts(4711, 443)), "203.0.113.7:4711", "192.0.2.1:443", ""},
	{"v2 TCP6", ppV2(v2CmdProxy, 0x21, ppIP("2001:db8::7"), ppIP("2001:db8::1"), ppPorts(4711, 443)), "[2001:db8::7]:4711", "[2001:db8::1]:443", ""},
	{"v2 TCP4 with TLVs", ppV2(v2CmdProxy, 0x11, ppIP("203.0.113.7"), ppIP("192.0.2.1"), ppPorts(4711, 443),
		[]byte{0x01, 0x00, 0x02, 'h', '2'}, []byte{0x04, 0x00, 0x00}), "203.0.113.7:4711", "192.0.2.1:443", ""},
	{"v2 LOCAL", ppV2(v2CmdLocal, 0x00), "", "", ""},
	{"v2 LOCAL with addresses", ppV2(v2CmdLocal, 0x11, ppIP("203.0.113.7"), ppIP("192.0.2.1"), ppPorts(4711, 443)), "", "", ""},
	{"v2 PROXY unspecified", ppV2(v2CmdProxy, 0x00), "", "", ""},
	{"v2 PROXY unix stream", ppV2(v2CmdProxy, 0x31, make([]byte, 216)), "", "", ""},
	{"v2 UDP", ppV2(v2CmdProxy, 0x12, ppIP("203.0.113.7"), ppIP("192.0.2.1"), ppPorts(4711, 443)), "", "", "family/protocol 0x12"},
	{"v2 unknown command", ppV2(0x2, 0x11, ppIP("203.0.113.7"), ppIP("192.0.2.1"), ppPorts(4711, 443)), "", "", "command 0x2"},
	{"v2 addresses too short", ppV2(v2CmdProxy, 0x21, ppIP("203.0.113.7"), ppIP("192.0.2.1"), ppPorts(4711, 443)), "", "", "want at least 36"},
	{"v2 too long", ppV2(v2CmdProxy, 0x11, make([]byte, 4097)), "", "", "4097 bytes"},
	{"v2 version 1", append(append(append([]byte{}, v2Signature...), 0x11, 0x11), 0, 0), "", "", "version 1"},
	{"v2 truncated body", ppV2(v2CmdProxy, 0x11, ppIP("203.0.113.7"))[:18], "", "", "EOF"},
	{"v2 bad signature", append([]byte("\r\n\r\n\x00\r\nQUIT!"), 0x21, 0x11, 0, 0), "", "", "no PROXY protocol header"},
	{"TLS ClientHello", []byte{0x16, 0x03, 0x01, 0x00, 0xc8, 0x01}, "", "", "no PROXY protocol header"},
	{"nothing", nil, "", "", "EOF"},
}

func TestReadProxyHeader(t *testing.T) {
	for _, tc := range ppCases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if tc.wantErr == "" {
				in = append(append([]byte{}, in...), "rest"...)
			}
			r := bufio.NewReader(bytes.NewReader(in))
			src, dst, err := readProxyHeader(r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := addrString(src); got != tc.src {
				t.Errorf("source %q, want %q", got, tc.src)
			}
			if got := addrString(dst); got != tc.dst {
				t.Errorf("destination %q, want %q", got, tc.dst)
			}
			if rest, _ := io.ReadAll(r); string(rest) != "rest" {
				t.Errorf("left %q after the header, want %q", rest, "rest")
			}
		})
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// ppServer serves HTTPS on 127.0.0.1 behind ProxyProtocolListener and
// answers every request with r.RemoteAddr.
func ppServer(t *testing.T, trusted bool, leaf *testca.Leaf) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := ProxyProtocolListener(ln, func(netip.Addr) bool { return trusted }, 5*time.Second)
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.RemoteAddr) }),
		ErrorLog: log.New(io.Discard, "", 0),
	}
	cert := leaf.TLS()
	go srv.Serve(tls.NewListener(pl, &tls.Config{Certificates: []tls.Certificate{cert}}))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// ppGet connects to addr, sends header raw, then makes one HTTPS request
// and returns the body.
func ppGet(t *testing.T, addr string, header []byte, ca *testca.CA) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(header); err != nil {
		return "", err
	}
	tc := tls.Client(c, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestProxyProtocolListener(t *testing.T) {
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{})
	trusted, untrusted := ppServer(t, true, leaf), ppServer(t, false, leaf)
	v1 := []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n")
	for _, tc := range []struct {
		name   string
		addr   string
		header []byte
		want   string // remote address seen, "127.0.0.1:" a prefix; "" a failed handshake
	}{
		{"trusted, v1", trusted, v1, "203.0.113.7:4711"},
		{"trusted, v2 TCP6", trusted, ppV2(v2CmdProxy, 0x21, ppIP("2001:db8::7"), ppIP("2001:db8::1"), ppPorts(4711, 443)), "[2001:db8::7]:4711"},
		{"trusted, v2 LOCAL health check", trusted, ppV2(v2CmdLocal, 0x00), "127.0.0.1:"},
		{"trusted, no header", trusted, nil, ""},
		{"trusted, malformed header", trusted, []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711\r\n"), ""},
		{"untrusted, no header", untrusted, nil, "127.0.0.1:"},
		{"untrusted, header not parsed", untrusted, v1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ppGet(t, tc.addr, tc.header, ca)
			switch {
			case tc.want == "" && err == nil:
				t.Errorf("served (remote address %q), want the connection refused", got)
			case tc.want == "":
			case err != nil:
				t.Errorf("request failed: %v", err)
			case !strings.HasPrefix(got, tc.want):
				t.Errorf("remote address %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAcceptDoesNotWaitForHeaders: a trusted peer that sends nothing does
// not hold up Accept for the next connection.
func TestAcceptDoesNotWaitForHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := ProxyProtocolListener(ln, func(netip.Addr) bool { return true }, time.Hour)
	defer pl.Close()
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for range 2 {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	second, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	for i := range 2 {
		select {
		case c := <-accepted:
			defer c.Close()
		case <-time.After(10 * time.Second):
			t.Fatalf("Accept returned %d of 2 connections: it waits for the silent peer's header", i)
		}
	}
}

// TestHeaderDeadline: a late header fails the connection within the
// timeout, and a caller's deadline is restored once the header is read.
func TestHeaderDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := ProxyProtocolListener(ln, func(netip.Addr) bool { return true }, 100*time.Millisecond)
	defer pl.Close()

	t.Run("late header", func(t *testing.T) {
		cli, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		c, err := pl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read without a header = %v, want a deadline error", err)
		}
		if _, err := cli.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("client side after a late header: %v, want EOF (closed)", err)
		}
	})

	t.Run("no deadline after the header", func(t *testing.T) {
		cli, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		c, err := pl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := cli.Write([]byte("PROXY UNKNOWN\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = c.RemoteAddr() // reads the header
		go func() {
			time.Sleep(300 * time.Millisecond) // past the 100ms header timeout
			_, _ = cli.Write([]byte("late"))
		}()
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "late" {
			t.Errorf("Read after the header = %q, %v; want %q (the header deadline must not stay)", buf, err, "late")
		}
	})

	t.Run("caller's earlier deadline", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		slow := ProxyProtocolListener(ln, func(netip.Addr) bool { return true }, time.Hour)
		defer slow.Close()
		cli, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		c, err := slow.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		errc := make(chan error, 1)
		go func() { _, err := c.Read(make([]byte, 1)); errc <- err }()
		select {
		case err := <-errc:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Read = %v, want a deadline error", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the header read ignored the caller's earlier read deadline")
		}
	})
}
