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
	name := productName(vs[0])
	if name == "" {
		delete(h, "Server")
		return
	}
	vs[0] = name
	h["Server"] = vs[:1]
}

// productName returns the product token at the start of a Server value
// (RFC 9110 §10.2.4: product = token ["/" product-version]).
func productName(v string) string {
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
