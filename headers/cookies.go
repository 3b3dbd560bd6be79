package headers

import (
	"net/http"
	"strings"
)

// SecureCookies adds "; Secure" to every Set-Cookie value of a backend
// response that lacks the Secure attribute, so that cookies a backend on
// http:// sets are never sent back over plain HTTP. The attribute is found as
// browsers find it (RFC 6265 §5.2): an attribute after the first ";" whose
// name, trimmed of spaces and tabs, is "secure" in any case, with or without
// a value. "secure" in the cookie's name or value does not count. Trailing
// ";" and whitespace are dropped before appending; empty values are left
// alone.
func SecureCookies(h http.Header) {
	vs := h["Set-Cookie"]
	for i, v := range vs {
		vs[i] = SecureCookie(v)
	}
}

// SecureCookie is SecureCookies for one Set-Cookie value: v with
// "; Secure" appended unless it has the attribute or is empty.
func SecureCookie(v string) string {
	if trimOWS(v) == "" || hasSecure(v) {
		return v
	}
	return strings.TrimRight(v, " \t;") + "; Secure"
}

// hasSecure reports whether a Set-Cookie value has the Secure attribute.
func hasSecure(v string) bool {
	_, attrs, ok := strings.Cut(v, ";")
	for ok {
		var attr string
		attr, attrs, ok = strings.Cut(attrs, ";")
		name, _, _ := strings.Cut(attr, "=")
		if strings.EqualFold(trimOWS(name), "secure") {
			return true
		}
	}
	return false
}
