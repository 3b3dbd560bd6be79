package wire

import (
	"net/netip"
)

// ParseAuthority validates the authority a client asked for (a Host header,
// an HTTP/2 :authority, or the authority of an absolute-form target) and
// splits it into host and port. It is the one validator both engines use:
// the value routed on is the value sent to the backend.
//
// Accepted: a DNS name (letters, digits, '-', '_' and '.', labels of 1 to 63
// bytes, at most 253 bytes with an optional trailing dot) whose last label
// is not a number, a dotted-quad IPv4 address (four decimal octets, no
// leading zeros), or an IPv6 literal in brackets without zone; then
// optionally ':' and a port of 1 to 5 digits from 1 to 65535. port is ""
// when none was given.
//
// Stricter than RFC 3986's reg-name on purpose: percent-encoding, sub-delims
// (",", ";", "!", ...), userinfo ("@"), IPvFuture and non-ASCII bytes are
// refused. Apache matches virtual hosts by DNS name, and each of those lets
// two readers see two different hosts (b.test,a.test; %EF%BD%82.test
// folded to b.test by IDNA; user@host). A name ending in a number
// ("1.2.3", "0127.0.0.1", "a.0x7f") must be a dotted quad: URL parsers and
// inet_aton read such names as IPv4 addresses in other notations (1.2.0.3,
// octal 87.0.0.1), which a DNS-name match never would. Port 0 is refused,
// as Apache does.
func ParseAuthority(s string) (host, port string, ok bool) {
	if s == "" {
		return "", "", false
	}
	if s[0] == '[' {
		end := indexByte(s, ']')
		if end < 0 {
			return "", "", false
		}
		host = s[:end+1]
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", "", false
		}
		rest := s[end+1:]
		if rest == "" {
			return host, "", true
		}
		if rest[0] != ':' || !validPort(rest[1:]) {
			return "", "", false
		}
		return host, rest[1:], true
	}
	host = s
	if i := indexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if !validPort(port) {
			return "", "", false
		}
	}
	if !validHostName(host) {
		return "", "", false
	}
	return host, port, true
}

// validPort reports whether p is 1 to 5 decimal digits with a value from 1
// to 65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return 0 < n && n <= 65535
}

// validHostName reports whether h is a DNS name or a dotted IPv4 address in
// the form ParseAuthority accepts.
func validHostName(h string) bool {
	if h == "" || len(h) > 254 {
		return false
	}
	if h[len(h)-1] == '.' {
		h = h[:len(h)-1]
		if h == "" {
			return false
		}
	}
	if len(h) > 253 {
		return false
	}
	label, last := 0, 0 // the current label's length, where it starts
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 {
				return false // empty label: ".a", "a..b"
			}
			label, last = 0, i+1
			continue
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	if endsInNumber(h[last:]) {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is4()
	}
	return true
}

// endsInNumber reports whether a host's last label reads as a number to a
// URL parser (WHATWG URL "ends in a number"): decimal digits, or "0x" and
// hexadecimal digits.
func endsInNumber(label string) bool {
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		for i := 2; i < len(label); i++ {
			if c := label[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if label[i] < '0' || label[i] > '9' {
			return false
		}
	}
	return true
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
