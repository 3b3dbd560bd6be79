package headers

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Redirect rewrites the absolute http:// URLs a backend puts in redirects so
// that they point back at tlsfront over HTTPS, like nginx's default
// proxy_redirect. A legacy Apache behind tlsfront believes it is served on
// http:// (mod_dir answers GET /dir with "Location: http://<Host>/dir/"), and
// without this the browser would leave HTTPS or be sent to the backend's
// private address.
type Redirect struct {
	// Host is the host the client asked for, without port ("example.com",
	// "2001:db8::1" or "[2001:db8::1]"); a port, if present, is ignored.
	// Rewritten URLs point here. "" (or a host that cannot be written in a
	// URL, such as one containing "/" or "@") disables rewriting: values
	// are returned unchanged.
	Host string
	// HTTPSPort is the port of tlsfront's HTTPS listener as clients see it.
	// 0 and 443 mean the default port, which is left out of rewritten URLs.
	HTTPSPort int
	// BackendHosts are the backend's own addresses as "host:port"
	// ("127.0.0.1:8081", "[::1]:8080", "apache.internal"; no port means 80).
	// http:// URLs naming one of them, port included, are rewritten too. nil
	// rewrites only URLs naming Host.
	BackendHosts []string
}

// Rewrite rewrites one Location or Content-Location value. An absolute URL
// http://H[:P]/rest becomes https://Host[:HTTPSPort]/rest, path, query and
// fragment byte for byte, when H is r.Host (any port P) or H:P is one of
// r.BackendHosts (P defaulting to 80). Host names compare case-insensitively,
// IPv6 literals by address. Everything else is returned unchanged: other
// hosts, https:// and other schemes, relative and network-path ("//host/x")
// references, and values that do not parse.
func (r Redirect) Rewrite(value string) string {
	v := trimOWS(value)
	if len(v) < len("http://") || !strings.EqualFold(v[:len("http://")], "http://") {
		return value
	}
	rest := v[len("http://"):]
	// A backslash ends the authority too: browsers read it as "/".
	end := strings.IndexAny(rest, `/?#\`)
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	var userinfo string
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, authority = authority[:i+1], authority[i+1:]
	}
	host, port, ok := splitAuthority(authority)
	if !ok {
		return value
	}
	self, _ := splitRequestHost(r.Host)
	if !validURLHost(self) || !r.matches(host, port, self) {
		return value
	}
	var b strings.Builder
	b.Grow(len("https://") + len(userinfo) + len(self) + 8 + len(tail))
	b.WriteString("https://")
	b.WriteString(userinfo)
	if strings.Contains(self, ":") {
		b.WriteByte('[')
		b.WriteString(self)
		b.WriteByte(']')
	} else {
		b.WriteString(self)
	}
	if r.HTTPSPort != 0 && r.HTTPSPort != 443 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(r.HTTPSPort))
	}
	b.WriteString(tail)
	return b.String()
}

// matches reports whether host:port (port "" meaning 80) is the requested host
// (any port) or one of the backend addresses.
func (r Redirect) matches(host, port, self string) bool {
	if sameHost(host, self) {
		return true
	}
	p, ok := portNumber(port)
	if !ok {
		return false
	}
	for _, bh := range r.BackendHosts {
		h, hp, ok := splitAuthority(trimOWS(bh))
		if !ok {
			continue
		}
		if q, ok := portNumber(hp); ok && q == p && sameHost(host, h) {
			return true
		}
	}
	return false
}

// RewriteRefresh rewrites the URL in a Refresh header value
// ("5; url=http://example.com/x"), parsed as browsers do (HTML's shared
// declarative refresh steps): delay, optional ";" or ",", optional
// case-insensitive "url =", optional single or double quotes. The URL goes
// through Rewrite; the rest of the value is kept. Values without a URL, or
// whose URL Rewrite leaves alone, are returned unchanged.
func (r Redirect) RewriteRefresh(value string) string {
	start, end, ok := refreshURL(value)
	if !ok {
		return value
	}
	for start < end && (value[start] == ' ' || value[start] == '\t') {
		start++
	}
	for end > start && (value[end-1] == ' ' || value[end-1] == '\t') {
		end--
	}
	u := value[start:end]
	nu := r.Rewrite(u)
	if nu == u {
		return value
	}
	return value[:start] + nu + value[end:]
}

// refreshURL finds the URL in a Refresh value: value[start:end].
func refreshURL(s string) (start, end int, ok bool) {
	isWS := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }
	i := 0
	skipWS := func() {
		for i < len(s) && isWS(s[i]) {
			i++
		}
	}
	skipWS()
	digits := i
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == digits && (i == len(s) || s[i] != '.') {
		return 0, 0, false
	}
	for i < len(s) && ('0' <= s[i] && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if i < len(s) && !isWS(s[i]) && s[i] != ';' && s[i] != ',' {
		return 0, 0, false
	}
	skipWS()
	if i < len(s) && (s[i] == ';' || s[i] == ',') {
		i++
	}
	skipWS()
	if i == len(s) {
		return 0, 0, false
	}
	// "url", whitespace, "=", whitespace: each step may fail, leaving the
	// position where it stopped (as the HTML spec does).
	func() {
		for _, c := range []byte("url") {
			if i == len(s) || lowerASCII(s[i]) != c {
				return
			}
			i++
		}
		skipWS()
		if i == len(s) || s[i] != '=' {
			return
		}
		i++
		skipWS()
	}()
	var quote byte
	if i < len(s) && (s[i] == '\'' || s[i] == '"') {
		quote = s[i]
		i++
	}
	start, end = i, len(s)
	if quote != 0 {
		if q := strings.IndexByte(s[start:], quote); q >= 0 {
			end = start + q
		}
	}
	return start, end, start < end
}

// RewriteResponse applies r to a backend response's Location,
// Content-Location and Refresh headers, every value of each.
func RewriteResponse(h http.Header, r Redirect) {
	for _, name := range [...]string{"Location", "Content-Location"} {
		vs := h[name]
		for i, v := range vs {
			vs[i] = r.Rewrite(v)
		}
	}
	vs := h["Refresh"]
	for i, v := range vs {
		vs[i] = r.RewriteRefresh(v)
	}
}

// splitAuthority splits "host", "host:port", "[v6]" or "[v6]:port" into host
// (brackets removed) and port ("" when absent). It rejects unbracketed IPv6,
// empty hosts and non-numeric ports.
func splitAuthority(a string) (host, port string, ok bool) {
	if strings.HasPrefix(a, "[") {
		i := strings.IndexByte(a, ']')
		if i < 0 {
			return "", "", false
		}
		host, rest := a[1:i], a[i+1:]
		switch {
		case rest == "":
		case rest[0] == ':':
			port = rest[1:]
		default:
			return "", "", false
		}
		if !strings.Contains(host, ":") || !digits(port) {
			return "", "", false // only IPv6 literals go in brackets
		}
		return host, port, true
	}
	host = a
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
	}
	if host == "" || strings.Contains(host, ":") || !digits(port) {
		return "", "", false
	}
	return host, port, true
}

// splitRequestHost takes Redirect.Host in any of its accepted forms and
// returns the bare host, and the port if one was given.
func splitRequestHost(s string) (host, port string) {
	s = trimOWS(s)
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		if h, p, ok := splitAuthority(s); ok {
			return h, p
		}
		return "", ""
	}
	return s, "" // bare name, IPv4 or unbracketed IPv6
}

// validURLHost reports whether h (brackets removed) can be written as the
// host of a URL as it is: an IPv6 address, or a name or IPv4 address made of
// RFC 3986 unreserved and sub-delims characters (no percent-encoding).
func validURLHost(h string) bool {
	if strings.Trim(h, ".") == "" {
		return false
	}
	if strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is6() && a.Zone() == ""
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// digits reports whether s is empty or all ASCII digits.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// portNumber turns a URL port ("" meaning http's 80) into a number.
func portNumber(p string) (int, bool) {
	if p == "" {
		return 80, true
	}
	p = strings.TrimLeft(p, "0")
	if p == "" {
		return 0, true
	}
	if len(p) > 5 {
		return 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n > 65535 {
		return 0, false
	}
	return n, true
}

// sameHost compares two hosts: names case-insensitively and ignoring one
// trailing dot, IP literals by address.
func sameHost(a, b string) bool {
	a, b = strings.TrimSuffix(a, "."), strings.TrimSuffix(b, ".")
	if strings.EqualFold(a, b) {
		return a != ""
	}
	if !strings.Contains(a, ":") || !strings.Contains(b, ":") {
		return false
	}
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x == y
}
