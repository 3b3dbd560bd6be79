package headers

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
)

// Forward describes the connection a request came in on, for the forwarding
// headers of the request tlsfront sends to the backend.
type Forward struct {
	// ClientIP is the address of the peer connected to tlsfront. The zero
	// Addr means unknown: Forwarded gets for=unknown and nothing is added to
	// X-Forwarded-For or X-Real-IP. IPv4-mapped addresses are written as
	// IPv4; zones are dropped.
	ClientIP netip.Addr
	// Host is the host the client asked for (the request's Host, with its
	// port if it had one). "" sets no X-Forwarded-Host and no host=.
	Host string
	// Proto is the scheme the client used: "https" for everything tlsfront
	// proxies. "" (or a string that is not a URI scheme) sets no
	// X-Forwarded-Proto and no proto=.
	Proto string
	// TrustedPeer reports whether ClientIP is a trusted proxy
	// (TrustedProxies.Contains). false: every forwarding header the peer
	// sent is removed. true: its X-Forwarded-For and Forwarded chains are
	// extended, and its other forwarding headers are kept where tlsfront has
	// no value of its own.
	TrustedPeer bool
	// By is tlsfront's own node name for Forwarded's by= parameter (RFC 7239
	// §6: an IP address, "ip:port", "unknown" or an obfuscated "_name").
	// "" sets no by=.
	By string
}

// Canonical names of the forwarding headers.
const (
	hdrXFF       = "X-Forwarded-For"
	hdrXFHost    = "X-Forwarded-Host"
	hdrXFProto   = "X-Forwarded-Proto"
	hdrXRealIP   = "X-Real-Ip"
	hdrForwarded = "Forwarded"
)

// CopyForwarded copies the client claims a trusted peer may pass on (the
// forwarding headers tlsfront sets and the claims listed as kept from
// trusted peers) from src (the inbound request) to dst (the outbound one),
// replacing dst's. httputil.ReverseProxy deletes X-Forwarded-* and Forwarded
// from the outbound request before calling Rewrite, so call this first when
// the peer is trusted and SetForwarded is to extend the peer's chains.
func CopyForwarded(dst, src http.Header) {
	for name := range dst {
		if _, ok := src[name]; !ok && keptFromTrusted(name) {
			delete(dst, name)
		}
	}
	for name, v := range src {
		if keptFromTrusted(name) {
			dst[name] = append([]string(nil), v...)
		}
	}
}

// SetForwarded sets the forwarding headers of a request to the backend. h must
// still hold the headers the peer sent (see CopyForwarded).
//
// First, every header whose name ValidName rejects is removed (see
// DropInvalidNames), whatever the peer.
//
// Untrusted peer (f.TrustedPeer false): every client claim (the list in
// claims.go: X-Forwarded-*, X-Real-IP, Forwarded, Client-IP, True-Client-IP,
// CF-Connecting-IP, Front-End-Https, X-Original-URL, ...) is removed, then
// the forwarding headers are set from f alone:
//
//	X-Forwarded-For: 192.0.2.7
//	X-Real-IP: 192.0.2.7
//	X-Forwarded-Host: example.com
//	X-Forwarded-Proto: https
//	Forwarded: for=192.0.2.7;host=example.com;proto=https
//
// Trusted peer: X-Forwarded-For becomes "<peer's list>, <ClientIP>" (several
// header lines are folded into one) and Forwarded gets a new element appended
// to the peer's list; a peer Forwarded that does not parse as RFC 7239 is
// replaced rather than extended, since the backend could not read the
// result. X-Real-IP keeps the peer's value when it is an IP address (the
// trusted proxy already knows the original client), else becomes ClientIP.
// X-Forwarded-Host and X-Forwarded-Proto are always tlsfront's own when f
// has them; the peer's are kept only where f.Host / f.Proto are empty. The
// claims listed as kept from trusted peers (X-Forwarded-Port,
// CF-Connecting-IP, True-Client-IP, ...) are kept; those listed as always
// dropped (Client-IP, X-Client-IP, X-Original-URL, ...) are removed.
//
// IPv6 addresses appear bare in X-Forwarded-For and X-Real-IP and as
// for="[2001:db8::1]" in Forwarded (RFC 7239 §6).
func SetForwarded(h http.Header, f Forward) {
	removeClaims(h, f.TrustedPeer)

	var ip string
	if f.ClientIP.IsValid() {
		ip = f.ClientIP.Unmap().WithZone("").String()
	}
	host := f.Host
	if !validHostValue(host) {
		host = ""
	}
	proto := strings.ToLower(f.Proto)
	if !isScheme(proto) {
		proto = ""
	}

	var priorXFF, priorFwd []string
	var priorRealIP string
	if f.TrustedPeer {
		priorXFF, priorFwd = h[hdrXFF], h[hdrForwarded]
		if v := trimOWS(h.Get(hdrXRealIP)); v != "" {
			if _, err := netip.ParseAddr(v); err == nil {
				priorRealIP = v
			}
		}
	}

	// X-Forwarded-For.
	xff := joinList(priorXFF)
	switch {
	case ip == "":
	case xff == "":
		xff = ip
	default:
		xff += ", " + ip
	}
	setOrDelete(h, hdrXFF, xff)

	// X-Real-IP.
	switch {
	case priorRealIP != "":
		h[hdrXRealIP] = []string{priorRealIP}
	default:
		setOrDelete(h, hdrXRealIP, ip)
	}

	// X-Forwarded-Host and -Proto: ours win; the trusted peer's stay otherwise.
	if host != "" {
		h[hdrXFHost] = []string{host}
	}
	if proto != "" {
		h[hdrXFProto] = []string{proto}
	}

	// Forwarded.
	elem := forwardedElement(ip, host, proto, f.By)
	if prior := joinList(priorFwd); prior != "" {
		if _, err := parseForwarded(prior); err == nil {
			elem = prior + ", " + elem
		}
	}
	h[hdrForwarded] = []string{elem}
}

// forwardedElement builds one RFC 7239 forwarded-element.
func forwardedElement(ip, host, proto, by string) string {
	var b strings.Builder
	b.Grow(len(ip) + len(host) + len(by) + 40)
	b.WriteString("for=")
	switch {
	case ip == "":
		b.WriteString("unknown")
	case strings.Contains(ip, ":"):
		b.WriteString(`"[`)
		b.WriteString(ip)
		b.WriteString(`]"`)
	default:
		b.WriteString(ip)
	}
	if host != "" {
		b.WriteString(";host=")
		b.WriteString(quoteIfNeeded(host))
	}
	if proto != "" {
		b.WriteString(";proto=")
		b.WriteString(proto)
	}
	if by != "" && validFieldValue(by) {
		b.WriteString(";by=")
		b.WriteString(quoteIfNeeded(forwardedNode(by)))
	}
	return b.String()
}

// forwardedNode writes an address or address:port in RFC 7239 node syntax
// (IPv6 in brackets); anything else is returned as it is.
func forwardedNode(s string) string {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		if a.Is6() && !a.Is4In6() {
			return "[" + a.String() + "]"
		}
		return a.Unmap().String()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		a := ap.Addr()
		if a.Is4In6() {
			a = a.Unmap()
		}
		return netip.AddrPortFrom(a, ap.Port()).String()
	}
	return s
}

// setOrDelete sets name to the single value v, or deletes it when v is "".
func setOrDelete(h http.Header, name, v string) {
	if v == "" {
		delete(h, name)
		return
	}
	h[name] = []string{v}
}

// joinList folds header lines holding comma-separated lists into one value,
// dropping empty members (RFC 9110 §5.6.1).
func joinList(lines []string) string {
	switch len(lines) {
	case 0:
		return ""
	case 1:
		if v := trimOWS(lines[0]); v != "" && !strings.Contains(v, ",") {
			return v
		}
	}
	var b strings.Builder
	for _, line := range lines {
		for _, m := range splitList(line) {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(m)
		}
	}
	return b.String()
}

// splitList splits a comma-separated header list into its non-empty trimmed
// members, keeping commas inside quoted-strings.
func splitList(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			if m := trimOWS(s[start:i]); m != "" {
				out = append(out, m)
			}
			start = i + 1
		}
	}
	if m := trimOWS(s[start:]); m != "" {
		out = append(out, m)
	}
	return out
}

// removeClaims deletes, in one pass over h, every header with an invalid
// name (ValidName) and the client claims the peer may not pass on: all of
// them from an untrusted peer, the claimDrop ones from a trusted one. A
// trusted peer's claim stored under a non-canonical name (by an engine that
// keeps names as received) is moved to its canonical name, where
// SetForwarded reads and replaces it, so it never reaches the backend twice.
func removeClaims(h http.Header, trusted bool) {
	for name, v := range h {
		if !ValidName(name) {
			delete(h, name)
			continue
		}
		p, ok := claimOf(name)
		switch {
		case !ok:
		case !trusted || p == claimDrop:
			delete(h, name)
		default:
			if cn := http.CanonicalHeaderKey(name); cn != name {
				prior := h[cn]
				h[cn] = append(prior[:len(prior):len(prior)], v...) // never into a shared array
				delete(h, name)
			}
		}
	}
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// validHostValue reports whether a Host value can be forwarded as it is in
// X-Forwarded-Host and in Forwarded's host=: printable, no spaces, quotes,
// backslashes or commas.
func validHostValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || c == '"' || c == '\\' || c == ',' {
			return false
		}
	}
	return true
}

// isScheme reports whether s is an RFC 3986 scheme.
func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// forwardedPair is one parameter of a Forwarded element, value unquoted.
type forwardedPair struct{ Name, Value string }

// errForwarded reports a Forwarded value that is not RFC 7239 syntax.
var errForwarded = errors.New("forwarded: not RFC 7239 syntax")

// parseForwarded parses an RFC 7239 Forwarded value into its elements.
// Parameter names are lowercased; empty list members are skipped; a parameter
// repeated within one element is an error (§4).
func parseForwarded(s string) ([][]forwardedPair, error) {
	var elems [][]forwardedPair
	var cur []forwardedPair
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		switch s[i] {
		case ',':
			if len(cur) > 0 {
				elems = append(elems, cur)
				cur = nil
			}
			i++
			continue
		case ';':
			i++
			continue
		}
		j := i
		for j < len(s) && isTchar(s[j]) {
			j++
		}
		if j == i || j == len(s) || s[j] != '=' {
			return nil, errForwarded
		}
		name := strings.ToLower(s[i:j])
		j++
		var val string
		if j < len(s) && s[j] == '"' {
			var b strings.Builder
			j++
			for {
				if j >= len(s) {
					return nil, errForwarded
				}
				c := s[j]
				if c == '"' {
					j++
					break
				}
				if c == '\\' {
					j++
					if j >= len(s) {
						return nil, errForwarded
					}
					c = s[j]
				}
				if (c < 0x20 && c != '\t') || c == 0x7f {
					return nil, errForwarded
				}
				b.WriteByte(c)
				j++
			}
			val = b.String()
		} else {
			k := j
			for k < len(s) && isTchar(s[k]) {
				k++
			}
			if k == j {
				return nil, errForwarded
			}
			val, j = s[j:k], k
		}
		for _, p := range cur {
			if p.Name == name {
				return nil, errForwarded
			}
		}
		cur = append(cur, forwardedPair{name, val})
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j < len(s) && s[j] != ';' && s[j] != ',' {
			return nil, errForwarded
		}
		i = j
	}
	if len(cur) > 0 {
		elems = append(elems, cur)
	}
	if len(elems) == 0 {
		return nil, errForwarded
	}
	return elems, nil
}
