package headers

import "strings"

// isTchar reports whether c is an RFC 9110 §5.6.2 token character.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// validFieldValue reports whether s may be sent as a header field value:
// no control characters other than horizontal tab (RFC 9110 §5.5).
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// quoteIfNeeded returns s unchanged when it is a token, else as an RFC 9110
// quoted-string. s must already satisfy validFieldValue.
func quoteIfNeeded(s string) string {
	if isToken(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// trimOWS removes RFC 9110 optional whitespace (spaces and tabs) at both ends.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}
