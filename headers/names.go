package headers

import "net/http"

// ValidName reports whether a request header named name may reach the
// backend: one or more ASCII letters, digits and hyphens, nothing else.
//
// RFC 9110 allows every token character in a name ("!#$%&'*+.^_`|~" too),
// but Apache 2.2 hands request headers to CGI and PHP as HTTP_ + the name
// upper-cased with every other character turned into "_": X.Forwarded.For,
// X~Forwarded~For and X_Forwarded_For all become a second
// HTTP_X_FORWARDED_FOR next to tlsfront's own. nginx drops such headers by
// default (ignore_invalid_headers on, underscores_in_headers off), and so
// does tlsfront, for trusted peers too.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		default:
			return false
		}
	}
	return true
}

// DropInvalidNames deletes from h, the header of a request to the backend,
// every header whose name ValidName rejects, and returns the deleted names
// (never their values) for the log and metrics, in no particular order. It
// returns nil, without allocating, when every name is valid.
//
// SetForwarded applies the same rule, so a caller that does not count the
// drops is still safe; call DropInvalidNames first to learn what was dropped.
// An engine that builds the backend's header from its own field list can
// call ValidName per field instead.
func DropInvalidNames(h http.Header) []string {
	var dropped []string
	for name := range h {
		if !ValidName(name) {
			dropped = append(dropped, name)
			delete(h, name)
		}
	}
	return dropped
}
