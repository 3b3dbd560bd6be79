package shield

import "strings"

// Path normalisation: the path rules match, read as Apache 2.2 reads it
// (server/request.c ap_process_request_internal, server/util.c
// ap_unescape_url and ap_getparents, ap_location_walk's ap_no2slash).

// Normalize returns raw (a request path as the client sent it, without the
// query) in the canonical form rules match, and whether it can be matched
// at all (false: the path is ambiguous, see the package documentation).
// fold folds case as case_insensitive rules do.
//
// The canonical form is decoded: every %XX is decoded once, dot segments
// are removed, runs of "/" are collapsed; then '%', space, controls, DEL and
// bytes above 0x7f are written as %XX (upper-case hex), so that the form is
// printable and Normalize of a canonical path returns it unchanged. A raw
// path that does not start with "/" (OPTIONS's "*") is "/": it matches only
// rules for the whole site.
func Normalize(raw string, fold bool) (string, bool) {
	p, amb := decodePath(make([]byte, 0, len(raw)), raw, false)
	if amb {
		return "", false
	}
	p = cleanPath(p)
	if fold {
		p = foldCase(p)
	}
	return encodePath(p), true
}

// decodePath appends raw to dst with every %XX decoded, and reports
// whether raw is ambiguous: a malformed escape, an encoded '/' or NUL, a
// backslash raw or encoded, a raw space or control byte (which no request
// line carries). A raw path not starting with '/' gives "/".
// With params, the path parameters of each segment (";" up to the next
// "/") are left out first, as Tomcat reads a path before decoding it.
func decodePath(dst []byte, raw string, params bool) (p []byte, ambiguous bool) {
	if raw == "" || raw[0] != '/' {
		return append(dst, '/'), false
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == ';' && params {
			for i+1 < len(raw) && raw[i+1] != '/' {
				i++
			}
			continue
		}
		switch {
		case c == '\\' || c <= ' ' || c == 0x7f:
			return dst, true
		case c == '%':
			if i+2 >= len(raw) {
				return dst, true
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return dst, true
			}
			c = hi<<4 | lo
			if c == '/' || c == '\\' || c == 0 {
				return dst, true
			}
			i += 2
		}
		dst = append(dst, c)
	}
	return dst, false
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// cleanPath removes dot segments (RFC 3986 §5.2.4) from p, which starts
// with '/', then collapses runs of '/', in place. Dots first, as Apache
// does: "/a//../b" is "/a/b" (the ".." takes the empty segment), not "/b".
// The result starts with '/' and has no "." or ".." segment and no "//".
func cleanPath(p []byte) []byte {
	w := 0 // p[:w] is the output; w never passes the segment being read
	for i := 0; i < len(p); {
		j := i + 1 // p[i] is '/'; the segment is p[i+1:j]
		for j < len(p) && p[j] != '/' {
			j++
		}
		last := j == len(p)
		switch seg := p[i+1 : j]; {
		case len(seg) == 1 && seg[0] == '.':
			if last {
				p[w] = '/'
				w++
			}
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			for w > 0 && p[w-1] != '/' { // drop the output's last segment
				w--
			}
			if w > 0 {
				w-- // and its '/'
			}
			if last {
				p[w] = '/'
				w++
			}
		default:
			w += copy(p[w:], p[i:j])
		}
		i = j
	}
	if w == 0 {
		p[0] = '/'
		w = 1
	}
	p = p[:w]
	w = 1
	for i := 1; i < len(p); i++ {
		if p[i] == '/' && p[w-1] == '/' {
			continue
		}
		p[w] = p[i]
		w++
	}
	return p[:w]
}

// foldCase lower-cases ASCII letters in p, and the non-ASCII letters whose
// Unicode case mapping is an ASCII letter: ſ (U+017F, upper case S), ı
// (U+0131, upper case I) and K (U+212A KELVIN SIGN, lower case k). A
// case-insensitive file system (NTFS's upcase table) treats "/ſerver" as
// "/SERVER". The result is never longer than p; p is changed in place.
func foldCase(p []byte) []byte {
	w := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == 0xC5 && i+1 < len(p) && p[i+1] == 0xBF: // ſ
			c = 's'
			i++
		case c == 0xC4 && i+1 < len(p) && p[i+1] == 0xB1: // ı
			c = 'i'
			i++
		case c == 0xE2 && i+2 < len(p) && p[i+1] == 0x84 && p[i+2] == 0xAA: // K
			c = 'k'
			i += 2
		}
		p[w] = c
		w++
	}
	return p[:w]
}

// encodePath writes a decoded path in canonical form (see Normalize).
func encodePath(p []byte) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(p))
	for _, c := range p {
		if c == '%' || c <= ' ' || c >= 0x7f {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// underPrefix reports whether path is prefix or lies below it on a segment
// boundary ("/admin" covers "/admin", "/admin/", "/admin/x", not
// "/administrator"). prefix "/" covers every path.
func underPrefix(path, prefix []byte) bool {
	if len(prefix) == 1 {
		return true
	}
	if len(path) < len(prefix) || string(path[:len(prefix)]) != string(prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}

// pathOf returns the path of a request target: up to '?' of an origin-form
// target ("/a/b?q"), or the path of an absolute-form one
// ("http://host/a/b?q"). Other targets ("*", authority-form) give "".
func pathOf(target string) string {
	if target == "" {
		return ""
	}
	if target[0] != '/' {
		i := strings.Index(target, "://")
		if i < 0 {
			return ""
		}
		target = target[i+3:]
		j := strings.IndexAny(target, "/?")
		if j < 0 || target[j] != '/' {
			return "/"
		}
		target = target[j:]
	}
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	return target
}
