package headers

import "net/http"

// HideBackendVersion hides what the backend runs, like Apache's
// "ServerTokens Prod" and nginx's "server_tokens off": the Server header is
// cut to its first product name ("Apache/2.2.22 (Debian) PHP/5.4.45" becomes
// "Apache"), so clients still see a familiar banner but no versions, modules
// or OS to match against vulnerability lists. A Server value that does not
// start with a product name is removed, and so is X-Powered-By (PHP's
// "PHP/5.4.45"), which carries nothing but a version.
func HideBackendVersion(h http.Header) {
	delete(h, "X-Powered-By")
	vs := h["Server"]
	if len(vs) == 0 {
		return
	}
	name := ServerProduct(vs[0])
	if name == "" {
		delete(h, "Server")
		return
	}
	vs[0] = name
	h["Server"] = vs[:1]
}

// ServerProduct is what HideBackendVersion keeps of a Server value: the
// product token at its start (RFC 9110 §10.2.4: product = token ["/"
// product-version]), "" when it does not start with one (the field is then
// removed). Only the first Server field is kept; X-Powered-By is removed.
func ServerProduct(v string) string {
	v = trimOWS(v)
	i := 0
	for i < len(v) && isTchar(v[i]) {
		i++
	}
	if i < len(v) && v[i] != '/' && v[i] != ' ' && v[i] != '\t' {
		return ""
	}
	return v[:i]
}
