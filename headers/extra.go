package headers

import (
	"fmt"
	"net/http"
	"sort"
)

// Extra holds operator-configured headers, applied after tlsfront's own
// rewrites so that the operator has the last word.
type Extra struct {
	// Set maps header names to values; each replaces every existing value
	// of that header. An empty value sets the header with an empty value
	// (use Remove to delete it). nil sets nothing.
	Set map[string]string
	// Remove lists header names to delete, in any case. nil removes nothing.
	Remove []string
}

// Apply removes e.Remove, then sets e.Set, so a name in both ends up set.
// Names are canonicalized (x-frame-options and X-Frame-Options are one
// header). Call Validate once at configuration time: Apply does not check.
func (e Extra) Apply(h http.Header) {
	for _, name := range e.Remove {
		h.Del(name)
	}
	for name, v := range e.Set {
		h[http.CanonicalHeaderKey(name)] = []string{v}
	}
}

// framing are headers net/http manages itself; setting or removing them
// by configuration would corrupt message framing or connection handling.
var framing = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Upgrade": true, "Trailer": true, "Te": true,
	"Proxy-Connection": true,
}

// Validate reports the first problem with e: a name that is not an HTTP token,
// a value with control characters (header injection), a name net/http
// manages (Content-Length, Transfer-Encoding, Connection, ...), or two Set
// names that differ only in case, which would make Apply's result depend on
// map order.
func (e Extra) Validate() error {
	names := make([]string, 0, len(e.Set))
	for name := range e.Set {
		names = append(names, name)
	}
	sort.Strings(names)
	seen := make(map[string]string, len(names))
	for _, name := range names {
		if err := checkName(name); err != nil {
			return fmt.Errorf("set: %w", err)
		}
		if !validFieldValue(e.Set[name]) {
			return fmt.Errorf("set: header %q: value %q contains control characters", name, e.Set[name])
		}
		c := http.CanonicalHeaderKey(name)
		if prev, ok := seen[c]; ok {
			return fmt.Errorf("set: headers %q and %q are the same header", prev, name)
		}
		seen[c] = name
	}
	for _, name := range e.Remove {
		if err := checkName(name); err != nil {
			return fmt.Errorf("remove: %w", err)
		}
	}
	return nil
}

func checkName(name string) error {
	if !isToken(name) {
		return fmt.Errorf("header name %q is not a valid HTTP token", name)
	}
	if framing[http.CanonicalHeaderKey(name)] {
		return fmt.Errorf("header %q is managed by the HTTP server and cannot be configured", name)
	}
	return nil
}
