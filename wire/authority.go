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
// bytes, at most 253 bytes with an optional trailing dot), a dotted IPv4
// address, or an IPv6 literal in brackets without zone; then optionally ':'
// and a port of 1 to 5 digits no larger than 65535. port is "" when none
// was given.
//
// Stricter than RFC 3986's reg-name on purpose: percent-encoding, sub-delims
// (",", ";", "!", ...), userinfo ("@"), IPvFuture and non-ASCII bytes are
// refused. Apache matches virtual hosts by DNS name, and each of those lets
// two readers see two different hosts (b.test,a.test; %EF%BD%82.test
// folded to b.test by IDNA; user@host).
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

// validPort reports whether p is 1 to 5 decimal digits with a value of at
// most 65535. Port 0 is accepted as a number: it routes nowhere anyway.
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
	return n <= 65535
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
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 {
				return false // empty label: ".a", "a..b"
			}
			label = 0
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
