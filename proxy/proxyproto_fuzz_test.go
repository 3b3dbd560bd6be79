package proxy

import (
	"bufio"
	"bytes"
	"net"
	"testing"
)

// FuzzProxyHeader feeds arbitrary bytes to the header parser. Seeds: the
// table of TestReadProxyHeader and testdata/fuzz/FuzzProxyHeader.
// Properties: no panic; a header is self-delimiting (parsing exactly the
// bytes it consumed gives the same result, so a real connection never
// waits for bytes past the header); sizes stay within the spec's bounds;
// addresses come in pairs and are unmapped.
func FuzzProxyHeader(f *testing.F) {
	for _, tc := range ppCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.NewReader(data)
		br := bufio.NewReaderSize(src, 256)
		s, d, err := readProxyHeader(br)
		if err != nil {
			return
		}
		used := len(data) - src.Len() - br.Buffered()
		switch data[0] {
		case 'P':
			if used > v1MaxLen {
				t.Fatalf("v1 header of %d bytes accepted", used)
			}
		default:
			if used > 16+v2MaxLen {
				t.Fatalf("v2 header of %d bytes accepted", used)
			}
		}
		s2, d2, err := readProxyHeader(bufio.NewReader(bytes.NewReader(data[:used])))
		if err != nil || addrString(s2) != addrString(s) || addrString(d2) != addrString(d) {
			t.Fatalf("header %q alone parses to %v, %v, %v; with what follows to %v, %v", data[:used], s2, d2, err, s, d)
		}
		if (s == nil) != (d == nil) {
			t.Fatalf("one address without the other: %v, %v", s, d)
		}
		for _, a := range []net.Addr{s, d} {
			if a == nil {
				continue
			}
			ta, ok := a.(*net.TCPAddr)
			if !ok {
				t.Fatalf("address %v is a %T, want *net.TCPAddr", a, a)
			}
			ap := ta.AddrPort()
			if !ap.Addr().IsValid() || ap.Addr().Is4In6() || ap.Addr().Zone() != "" {
				t.Fatalf("address %v is invalid, IPv4-mapped or zoned", a)
			}
		}
	})
}
