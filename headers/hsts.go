package headers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// SetHSTS sets Strict-Transport-Security to value, replacing any value the
// backend sent, so that the policy is tlsfront's alone. An empty value does
// nothing (the backend's header, if any, is left as it is).
//
// Browsers honour the header only on HTTPS responses (RFC 6797 §8.1); the
// caller applies it on the HTTPS listener only, including to tlsfront's own
// error pages.
func SetHSTS(h http.Header, value string) {
	if value == "" {
		return
	}
	h.Set("Strict-Transport-Security", value)
}

// hstsExample is the tutorial's value, quoted in error messages.
const hstsExample = "max-age=63072000; includeSubDomains; preload"

// ValidateHSTS reports whether value is a usable Strict-Transport-Security
// value (RFC 6797 §6.1): ";"-separated directives with exactly one
// max-age=SECONDS, valueless includeSubDomains and preload, no control
// characters. Unknown directives are allowed, as browsers ignore them. The
// empty value (HSTS off) is valid. It is the one check of headers.hsts:
// config reports its error under that key; the error starts with the
// quoted value.
func ValidateHSTS(value string) error {
	if value == "" {
		return nil
	}
	if !validFieldValue(value) {
		return fmt.Errorf("%q contains control characters (want a value such as %q)", value, hstsExample)
	}
	seen := map[string]bool{}
	for _, d := range strings.Split(value, ";") {
		d = strings.Trim(d, " \t")
		if d == "" {
			continue
		}
		name, val, hasVal := strings.Cut(d, "=")
		name = strings.ToLower(strings.Trim(name, " \t"))
		val = strings.Trim(val, " \t")
		if !isToken(name) {
			return fmt.Errorf("%q: directive %q is not a token", value, name)
		}
		if seen[name] {
			return fmt.Errorf("%q: directive %q appears twice (want each directive once)", value, name)
		}
		seen[name] = true
		switch name {
		case "max-age":
			val = strings.Trim(val, `"`)
			if _, err := strconv.ParseUint(val, 10, 63); err != nil || !hasVal {
				return fmt.Errorf("%q: max-age %q is not a number of seconds", value, val)
			}
		case "includesubdomains", "preload":
			if hasVal {
				return fmt.Errorf("%q: directive %q takes no value", value, name)
			}
		}
	}
	if !seen["max-age"] {
		return fmt.Errorf("%q: max-age is required (want e.g. %q, or \"\" to disable)", value, hstsExample)
	}
	return nil
}
