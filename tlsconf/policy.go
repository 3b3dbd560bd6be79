package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
)

// Policy is the effective TLS policy: a profile with its overrides applied.
type Policy struct {
	Profile    string
	MinVersion uint16   // tls.VersionTLS10 ... tls.VersionTLS13
	Suites     []uint16 // TLS 1.0–1.2 suites in server order; empty when MinVersion is TLS 1.3
	Names      []string // OpenSSL names of Suites
	Dropped    []Dropped
	Warnings   []string
}

// Groups are the key-exchange groups offered, best first. Go ignores the order
// of CurvePreferences and picks by its own preference, which is this order.
var Groups = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}

// versions maps min_version strings to TLS versions.
var versions = map[string]uint16{
	"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13,
}

// The configuration keys of NewPolicy's three settings, as PolicyError
// names them.
const (
	KeyProfile    = "tls.profile"
	KeyMinVersion = "tls.min_version"
	KeyCiphers    = "tls.ciphers"
)

// PolicyError is one bad setting given to NewPolicy, under the
// configuration key that holds it, so that a caller reporting problems by
// key (tlsfront -t) never guesses which key an error belongs to.
type PolicyError struct {
	Key string // KeyProfile, KeyMinVersion or KeyCiphers
	Msg string // the bad value, what is wrong and what is allowed; without the key
}

func (e *PolicyError) Error() string { return e.Key + ": " + e.Msg }

// PolicyErrors returns the *PolicyError values in an error NewPolicy
// returned, in the order of its settings; nil for any other error.
func PolicyErrors(err error) []*PolicyError {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	var out []*PolicyError
	for _, e := range errs {
		var pe *PolicyError
		if errors.As(e, &pe) {
			out = append(out, pe)
		}
	}
	return out
}

// ParseVersion returns the TLS version of a min_version value, "1.0" ..
// "1.3".
func ParseVersion(s string) (uint16, error) {
	v, ok := versions[s]
	if !ok {
		return 0, fmt.Errorf(`%q is not a TLS version (want "1.0".."1.3")`, s)
	}
	return v, nil
}

// NewPolicy builds the policy for a profile name, with an optional minimum
// version ("1.0".."1.3") and OpenSSL cipher string overriding the profile's.
// It checks every setting it can check on its own: the error joins one
// *PolicyError per bad setting (see PolicyErrors).
func NewPolicy(profile, minVersion, ciphers string) (*Policy, error) {
	var errs []error
	bad := func(key string, err error) { errs = append(errs, &PolicyError{Key: key, Msg: err.Error()}) }
	prof, ok := LookupProfile(profile)
	if !ok {
		bad(KeyProfile, fmt.Errorf("%q is not a profile (want one of %s)", profile, strings.Join(ProfileNames(), ", ")))
	}
	p := &Policy{Profile: prof.Name, MinVersion: prof.MinVersion}
	if minVersion != "" {
		v, err := ParseVersion(minVersion)
		if err != nil {
			bad(KeyMinVersion, err)
		}
		p.MinVersion = v
	}
	var cl CipherList
	if ciphers != "" && (p.MinVersion != tls.VersionTLS13 || len(errs) > 0) {
		var err error
		if cl, err = ParseCipherString(ciphers); err != nil {
			bad(KeyCiphers, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if p.MinVersion == tls.VersionTLS13 {
		if ciphers != "" {
			p.Warnings = append(p.Warnings, "ciphers is ignored: only TLS 1.3 is enabled, and Go chooses TLS 1.3 suites itself")
		}
		return p, nil
	}
	if ciphers == "" {
		if prof.Ciphers == "" {
			return nil, &PolicyError{Key: KeyMinVersion, Msg: fmt.Sprintf("%q enables TLS 1.2 or older, but profile %q has no suites for them (set ciphers too, or pick another profile)", minVersion, prof.Name)}
		}
		var err error
		if cl, err = ParseCipherString(prof.Ciphers); err != nil {
			return nil, fmt.Errorf("profile %q: %w", prof.Name, err) // a built-in string: a bug, not a setting
		}
	}
	p.Suites, p.Names, p.Dropped, p.Warnings = cl.Suites, cl.Names, cl.Dropped, append(p.Warnings, cl.Warnings...)
	if p.MinVersion < tls.VersionTLS12 && !hasPreTLS12Suite(p.Suites) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("TLS %s is enabled but no suite works below TLS 1.2 (all are AEAD or SHA-256): clients older than TLS 1.2 cannot connect", versionName(p.MinVersion)))
	}
	return p, nil
}

func hasPreTLS12Suite(ids []uint16) bool {
	for _, id := range ids {
		if suiteInfo(id).pre12 {
			return true
		}
	}
	return false
}

// versionName returns "1.0" .. "1.3".
func versionName(v uint16) string {
	for k, x := range versions {
		if x == v {
			return k
		}
	}
	return fmt.Sprintf("0x%04x", v)
}

// VersionName returns the human name of a TLS version ("TLS 1.2").
func VersionName(v uint16) string { return "TLS " + versionName(v) }

// suite holds what order enforcement needs to know about a TLS ≤ 1.2 suite.
type suite struct {
	ecdhe, ecdsa bool // ECDHE key exchange; ECDSA authentication
	pre12        bool // usable below TLS 1.2
}

var suiteTable = func() map[uint16]suite {
	m := map[uint16]suite{}
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, cs := range list {
			s := suite{}
			for _, v := range cs.SupportedVersions {
				if v < tls.VersionTLS12 {
					s.pre12 = true
				}
			}
			switch {
			case len(cs.Name) > 16 && cs.Name[:16] == "TLS_ECDHE_ECDSA_":
				s.ecdhe, s.ecdsa = true, true
			case len(cs.Name) > 14 && cs.Name[:14] == "TLS_ECDHE_RSA_":
				s.ecdhe = true
			}
			m[cs.ID] = s
		}
	}
	return m
}()

func suiteInfo(id uint16) suite { return suiteTable[id] }
