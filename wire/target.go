package wire

// ValidOriginTarget reports whether t may be sent to the backend as the
// request-target of an HTTP/1.1 request line: origin-form (RFC 9112 §3.2.1),
// "/" then a path and an optional "?query".
//
// Refused anywhere in t: bytes up to and including 0x20 (controls, space:
// a space would end the target, so "/q?a HTTP/1.0 x" would reach Apache as
// an HTTP/1.0 request for "/q?a"), 0x7f and above (non-ASCII is sent
// percent-encoded by every browser), and '#' (a fragment is never part of a
// request-target). In the path (before '?'), '%' must start a valid
// percent-encoding ("%2F", not "%zz" or "%4"): a path that decodes two ways
// could pass an access rule and reach another resource. Other printable
// bytes RFC 3986 leaves out ('"', '<', '>', '\\', '^', '`', '{', '|', '}')
// are kept, as nginx and net/http keep them: browsers send some of them
// unencoded in queries.
func ValidOriginTarget(t string) bool {
	if t == "" || t[0] != '/' {
		return false
	}
	inPath := true
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c <= 0x20 || c >= 0x7f || c == '#':
			return false
		case c == '?':
			inPath = false
		case c == '%' && inPath:
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
