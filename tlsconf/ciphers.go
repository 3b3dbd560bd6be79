// Package tlsconf builds the *tls.Config that terminates every client connection: it is the
// first thing a connection meets after accept, before any byte reaches the proxy. It holds
// the TLS policy (profiles, minimum version), translates the operator's OpenSSL cipher
// string into Go suite IDs in OpenSSL's order, enforces that server order for TLS ≤ 1.2
// by narrowing the suites per ClientHello, and keeps the certificate store (SNI, RSA and
// ECDSA certificates per name, OCSP staples) that GetCertificate answers from.
package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Dropped is a suite the string selected that tlsfront cannot offer.
type Dropped struct {
	Name   string // OpenSSL name, e.g. "DHE-RSA-AES128-GCM-SHA256"
	Reason string // e.g. "Go has no finite-field DHE"
}

// CipherList is a translated cipher string.
type CipherList struct {
	Suites   []uint16 // Go suite IDs for TLS 1.0–1.2, in OpenSSL's order
	Names    []string // OpenSSL names of Suites, same order
	Dropped  []Dropped
	Warnings []string // e.g. 3DES selected: SWEET32 warning naming the suites
}

// ParseCipherString translates an OpenSSL cipher string (the syntax of
// Apache's SSLCipherSuite) into the suites Go implements, in exactly the
// order OpenSSL 3.0 would prefer them (`openssl ciphers -V STRING`).
//
// It follows ssl/ssl_ciph.c: the same initial ordering, aliases, '+'
// combinations, and the ADD, '-' (delete), '!' (kill), '+NAME' (move to
// the end), @STRENGTH and @SECLEVEL=n commands, with ':', ',', ';' and
// space as separators, and DEFAULT expanded only at the start of the
// string. It deviates from OpenSSL on purpose in five ways:
//
//   - A name that is neither a suite, an alias, nor a legacy name an older
//     OpenSSL knew is an error; OpenSSL ignores it silently, so a typo would
//     quietly change the policy. Names that are known but select nothing
//     (LOW, a legacy alias such as EXPORT, a '+' combination whose parts do
//     not intersect) are accepted, as in OpenSSL.
//   - If the resulting list holds any RC4, eNULL, aNULL or MD5 suite, it is
//     an error naming them, whether or not Go implements them. Asking for
//     EXPORT or single-DES suites (removed in OpenSSL 1.1.0) is an error too.
//   - @SECLEVEL=n is checked but does not filter, just as `openssl ciphers`
//     without -s does not; a warning says so.
//   - Suite B strings (SUITEB128...) are refused.
//   - TLS 1.3 suite names (TLS_AES_128_GCM_SHA256 ...) are refused with an
//     explanation: Go enables all TLS 1.3 suites; OpenSSL skips them here.
//
// The list keeps OpenSSL's order; suites Go does not implement go to
// Dropped with the reason. If nothing Go implements remains it is an error.
// On error the returned CipherList is empty.
func ParseCipherString(s string) (CipherList, error) {
	sel, warns, err := csSelect(s)
	if err != nil {
		return CipherList{}, err
	}
	if len(sel) == 0 {
		return CipherList{}, fmt.Errorf("cipher string %q selects no cipher suite", s)
	}
	if err := csCheckForbidden(sel); err != nil {
		return CipherList{}, err
	}
	var cl CipherList
	var des3 []string
	for _, su := range sel {
		if !csGoImplemented[su.id] {
			cl.Dropped = append(cl.Dropped, Dropped{Name: su.name, Reason: csDropReason(su)})
			continue
		}
		cl.Suites = append(cl.Suites, su.id)
		cl.Names = append(cl.Names, su.name)
		if su.enc&cs3DES != 0 {
			des3 = append(des3, su.name)
		}
	}
	if len(cl.Suites) == 0 {
		return CipherList{}, csNothingLeft(cl.Dropped)
	}
	cl.Warnings = warns
	if len(des3) > 0 {
		cl.Warnings = append(cl.Warnings, fmt.Sprintf(
			"3DES suites %s are vulnerable to SWEET32 (64-bit block cipher, CVE-2016-2183); keep them only for clients that have nothing else, or add !3DES",
			strings.Join(des3, ", ")))
	}
	return cl, nil
}

// SuiteName returns the OpenSSL name of a Go suite ID (IANA name if OpenSSL has none).
func SuiteName(id uint16) string {
	if su := csByID[id]; su != nil {
		return su.name
	}
	return tls.CipherSuiteName(id)
}

// IsECDSASuite reports whether a TLS ≤ 1.2 suite needs an ECDSA certificate.
func IsECDSASuite(id uint16) bool {
	su := csByID[id]
	return su != nil && su.auth == csAECDSA
}

// IsRSASuite reports whether a TLS ≤ 1.2 suite needs an RSA certificate
// (RSA signatures or static-RSA key exchange).
func IsRSASuite(id uint16) bool {
	su := csByID[id]
	return su != nil && su.auth == csARSA
}

// csByID and csByName index csSuites.
var (
	csByID        = map[uint16]*csSuite{}
	csByName      = map[string]*csSuite{}
	csAliasByName = map[string]*csAlias{}
)

func init() {
	for i := range csSuites {
		csByID[csSuites[i].id] = &csSuites[i]
		csByName[csSuites[i].name] = &csSuites[i]
	}
	for i := range csAliases {
		csAliasByName[csAliases[i].name] = &csAliases[i]
	}
}

// Rule kinds, as in ssl_ciph.c.
const (
	csRuleAdd  = iota // NAME: append the matching inactive suites
	csRuleKill        // !NAME: remove for good
	csRuleDel         // -NAME: deactivate; they stay available for a later ADD
	csRuleOrd         // +NAME: move the matching active suites to the end
	csRuleSpecial
	csRuleBump // internal: move the matching active suites to the front
)

// csEntry is one suite in the working list.
type csEntry struct {
	s      *csSuite
	active bool
}

// csPattern selects suites, like the arguments of ssl_cipher_apply_rule.
type csPattern struct {
	id       uint16 // explicit suite; 0 for none
	hasID    bool
	mkey     uint32
	auth     uint32
	enc      uint32
	mac      uint32
	minTLS   uint16
	strength uint32
	bits     int // >= 0: select by strength bits only
}

func (p *csPattern) matches(s *csSuite) bool {
	if p.bits >= 0 {
		return s.bits == p.bits
	}
	switch {
	case p.hasID && p.id != s.id,
		p.mkey != 0 && p.mkey&s.mkey == 0,
		p.auth != 0 && p.auth&s.auth == 0,
		p.enc != 0 && p.enc&s.enc == 0,
		p.mac != 0 && p.mac&s.mac == 0,
		p.minTLS != 0 && p.minTLS != s.minTLS,
		p.strength&csStrongMask != 0 && p.strength&csStrongMask&s.strength == 0,
		p.strength&csDefaultMask != 0 && p.strength&csDefaultMask&s.strength == 0:
		return false
	}
	return true
}

// csApply is ssl_cipher_apply_rule on a slice: every rule is a stable
// partition of the list, so suites a build lacks never change the relative
// order of the others.
func csApply(list []csEntry, p csPattern, rule int) []csEntry {
	var front, mid, back []csEntry
	for _, e := range list {
		if !p.matches(e.s) {
			mid = append(mid, e)
			continue
		}
		switch rule {
		case csRuleAdd:
			if e.active {
				mid = append(mid, e)
			} else {
				back = append(back, csEntry{e.s, true})
			}
		case csRuleOrd:
			if e.active {
				back = append(back, e)
			} else {
				mid = append(mid, e)
			}
		case csRuleDel:
			if e.active {
				front = append(front, csEntry{e.s, false})
			} else {
				mid = append(mid, e)
			}
		case csRuleBump:
			if e.active {
				front = append(front, e)
			} else {
				mid = append(mid, e)
			}
		case csRuleKill:
			// dropped from the list
		}
	}
	out := make([]csEntry, 0, len(front)+len(mid)+len(back))
	out = append(out, front...)
	out = append(out, mid...)
	return append(out, back...)
}

func csAll() csPattern { return csPattern{bits: -1} }

// csStrengthSort is ssl_cipher_strength_sort: active suites by descending
// strength bits, keeping the present order within a strength.
func csStrengthSort(list []csEntry) []csEntry {
	maxBits := -1
	for _, e := range list {
		if e.active && e.s.bits > maxBits {
			maxBits = e.s.bits
		}
	}
	for b := maxBits; b >= 0; b-- {
		list = csApply(list, csPattern{bits: b}, csRuleOrd)
	}
	return list
}

// csInitial is the list ssl_create_cipher_list starts every string from.
var csInitial = sync.OnceValue(func() []csEntry {
	// ssl3_get_cipher hands out the ID-sorted table back to front.
	list := make([]csEntry, 0, len(csSuites))
	for i := len(csSuites) - 1; i >= 0; i-- {
		list = append(list, csEntry{s: &csSuites[i]})
	}
	rule := func(p csPattern, r int) { list = csApply(list, p, r) }
	pat := func(mkey, auth, enc, mac uint32, minTLS uint16) csPattern {
		return csPattern{mkey: mkey, auth: auth, enc: enc, mac: mac, minTLS: minTLS, bits: -1}
	}
	// Prefer ECDHE, ECDSA before RSA.
	rule(pat(csKECDHE, csAECDSA, 0, 0, 0), csRuleAdd)
	rule(pat(csKECDHE, 0, 0, 0, 0), csRuleAdd)
	rule(pat(csKECDHE, 0, 0, 0, 0), csRuleDel)
	// Within a strength, GCM before CHACHA20, then the other AES modes.
	rule(pat(0, 0, csAESGCM, 0, 0), csRuleAdd)
	rule(pat(0, 0, csCHACHA20, 0, 0), csRuleAdd)
	rule(pat(0, 0, csAES^csAESGCM, 0, 0), csRuleAdd)
	rule(csAll(), csRuleAdd)
	// Low priority for MD5, anonymous, static RSA, PSK, RC4.
	rule(pat(0, 0, 0, csMD5, 0), csRuleOrd)
	rule(pat(0, csANULL, 0, 0, 0), csRuleOrd)
	rule(pat(csKRSA, 0, 0, 0, 0), csRuleOrd)
	rule(pat(csKPSK, 0, 0, 0, 0), csRuleOrd)
	rule(pat(0, 0, csRC4, 0, 0), csRuleOrd)
	list = csStrengthSort(list)
	// TLS 1.2 suites first, then (EC)DHE+AEAD > (EC)DHE > AEAD > rest.
	rule(pat(0, 0, 0, 0, csTLS12), csRuleBump)
	rule(pat(0, 0, 0, csAEAD, 0), csRuleBump)
	rule(pat(csKDHE|csKECDHE, 0, 0, 0, 0), csRuleBump)
	rule(pat(csKDHE|csKECDHE, 0, 0, csAEAD, 0), csRuleBump)
	// Disable everything, keeping the order.
	rule(csAll(), csRuleDel)
	return list
})

// csDefaultRules is OSSL_default_cipher_list() of OpenSSL 3.0.
const csDefaultRules = "ALL:!COMPLEMENTOFDEFAULT:!eNULL"

// csSelect runs the cipher string and returns the selected suites in order
// (every suite of the table, whether Go implements it or not) and warnings.
func csSelect(s string) ([]*csSuite, []string, error) {
	if s == "" {
		return nil, nil, errors.New("cipher string is empty")
	}
	if i := strings.Index(s, "TLS_"); i >= 0 {
		return nil, nil, fmt.Errorf("cipher string %q: TLS 1.3 suites such as %s are not set by the cipher string (Go always enables all of them)", s, csTokenAt(s, i))
	}
	if strings.HasPrefix(s, "SUITEB") {
		return nil, nil, fmt.Errorf("cipher string %q: Suite B mode is not supported (Go cannot tie curves and signature algorithms to the cipher string)", s)
	}
	st := &csState{list: append([]csEntry(nil), csInitial()...)}
	rest := s
	if strings.HasPrefix(s, "DEFAULT") {
		if err := st.run(csDefaultRules); err != nil {
			return nil, nil, err
		}
		rest = strings.TrimPrefix(s[len("DEFAULT"):], ":")
	}
	if err := st.run(rest); err != nil {
		return nil, nil, fmt.Errorf("cipher string %q: %w", s, err)
	}
	var sel []*csSuite
	for _, e := range st.list {
		if e.active {
			sel = append(sel, e.s)
		}
	}
	return sel, st.warnings, nil
}

// csState is one run of ssl_cipher_process_rulestr.
type csState struct {
	list     []csEntry
	warnings []string
}

func csIsSep(c byte) bool { return c == ':' || c == ' ' || c == ';' || c == ',' }

func csIsNameChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '='
}

func (st *csState) run(s string) error {
	i := 0
	for i < len(s) {
		ch := s[i]
		rule := csRuleAdd
		switch ch {
		case '-':
			rule = csRuleDel
			i++
		case '+':
			rule = csRuleOrd
			i++
		case '!':
			rule = csRuleKill
			i++
		case '@':
			rule = csRuleSpecial
			i++
		}
		if csIsSep(ch) {
			i++
			continue
		}
		p := csPattern{bits: -1}
		found := true
		for {
			start := i
			for i < len(s) && csIsNameChar(s[i]) {
				i++
			}
			if i == start {
				return csBadChar(s, i)
			}
			name := s[start:i]
			if rule == csRuleSpecial {
				if err := st.special(name); err != nil {
					return err
				}
				found = false
				break
			}
			multi := i < len(s) && s[i] == '+'
			if multi {
				i++
			}
			ok, err := st.addPart(&p, name, rule)
			if err != nil {
				return err
			}
			if !ok {
				found = false
				break
			}
			if !multi {
				break
			}
		}
		if found {
			st.list = csApply(st.list, p, rule)
		} else {
			// As OpenSSL: skip the rest of this item.
			for i < len(s) && !csIsSep(s[i]) {
				i++
			}
		}
	}
	return nil
}

func csBadChar(s string, i int) error {
	if i >= len(s) {
		return fmt.Errorf("missing name at the end (after %q)", s[max(0, i-1):])
	}
	return fmt.Errorf("invalid character %q at offset %d", s[i], i)
}

// csTokenAt returns the item of s that starts at i.
func csTokenAt(s string, i int) string {
	j := i
	for j < len(s) && !csIsSep(s[j]) {
		j++
	}
	return s[i:j]
}

// special handles @STRENGTH and @SECLEVEL=n.
func (st *csState) special(name string) error {
	switch {
	case name == "STRENGTH":
		st.list = csStrengthSort(st.list)
		return nil
	case len(name) == len("SECLEVEL=n") && strings.HasPrefix(name, "SECLEVEL="):
		if lvl := name[len(name)-1]; lvl < '0' || lvl > '5' {
			return fmt.Errorf("@%s: security level must be 0..5", name)
		}
		st.warnings = append(st.warnings, fmt.Sprintf("@%s has no effect: tlsfront applies its own policy instead of OpenSSL security levels", name))
		return nil
	}
	return fmt.Errorf("unknown command @%s (want @STRENGTH or @SECLEVEL=n)", name)
}

// addPart folds one name of a (possibly '+'-combined) item into p, like
// the inner loop of ssl_cipher_process_rulestr. It reports false when the
// item selects nothing and is to be skipped.
func (st *csState) addPart(p *csPattern, name string, rule int) (bool, error) {
	var mkey, auth, enc, mac, strength uint32
	var minTLS uint16
	switch su, al := csByName[name], csAliasByName[name]; {
	case su != nil:
		mkey, auth, enc, mac, strength = su.mkey, su.auth, su.enc, su.mac, su.strength
		// An explicit suite: its protocol version is not part of the pattern.
		p.id, p.hasID = su.id, true
	case al != nil:
		mkey, auth, enc, mac, strength, minTLS = al.mkey, al.auth, al.enc, al.mac, al.strength, al.minTLS
	default:
		return false, st.legacy(name, rule)
	}
	fold := func(acc *uint32, v uint32) bool {
		if v == 0 {
			return true
		}
		if *acc == 0 {
			*acc = v
			return true
		}
		*acc &= v
		return *acc != 0
	}
	if !fold(&p.mkey, mkey) || !fold(&p.auth, auth) || !fold(&p.enc, enc) || !fold(&p.mac, mac) {
		return false, nil
	}
	if v := strength & csStrongMask; v != 0 {
		if p.strength&csStrongMask != 0 {
			p.strength &= v | ^csStrongMask
			if p.strength&csStrongMask == 0 {
				return false, nil
			}
		} else {
			// OpenSSL assigns here, dropping a NOT_DEFAULT bit an earlier
			// part set ("COMPLEMENTOFDEFAULT+HIGH" is just "HIGH").
			p.strength = v
		}
	}
	if v := strength & csDefaultMask; v != 0 {
		if p.strength&csDefaultMask != 0 {
			p.strength &= v | ^csDefaultMask
			if p.strength&csDefaultMask == 0 {
				return false, nil
			}
		} else {
			p.strength |= v
		}
	}
	if minTLS != 0 {
		if p.minTLS != 0 && p.minTLS != minTLS {
			return false, nil
		}
		p.minTLS = minTLS
	}
	return true, nil
}

// legacy handles a name that is not in OpenSSL 3.0's tables: an alias or
// suite an older OpenSSL had (it selects nothing), or an unknown name.
func (st *csState) legacy(name string, rule int) error {
	class := csLegacyAliases[name]
	if class == "" {
		class = csLegacySuiteClass(name)
	}
	if class == "" {
		if name == "DEFAULT" {
			return errors.New(`DEFAULT is only recognised at the very start of a cipher string`)
		}
		return fmt.Errorf("unknown cipher suite or alias %q (OpenSSL would silently ignore it; tlsfront refuses so a typo cannot change the policy)", name)
	}
	if rule != csRuleAdd {
		return nil // excluding or reordering what does not exist is harmless
	}
	switch class {
	case "EXPORT", "DES", "SSLv2", "MD5":
		return fmt.Errorf("%s asks for %s suites, which are forbidden (OpenSSL 3.0 no longer has them either); remove it, or write !%s", name, class, name)
	}
	st.warnings = append(st.warnings, fmt.Sprintf("%s (%s) selects nothing since OpenSSL 1.1.0 removed those suites; Go has none either", name, class))
	return nil
}

// csCheckForbidden fails if the selection holds an eNULL, aNULL, RC4 or MD5 suite.
func csCheckForbidden(sel []*csSuite) error {
	groups := make([][]string, len(csForbidden))
	for _, su := range sel {
		for i, f := range csForbidden {
			if f.has(su) {
				groups[i] = append(groups[i], su.name)
				break
			}
		}
	}
	var parts, hints []string
	for i, g := range groups {
		if len(g) == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", csJoinNames(g), csForbidden[i].why))
		hints = append(hints, "!"+csForbidden[i].alias)
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("cipher string selects forbidden suites %s; add %s (a '!' exclusion cannot be undone by later entries)",
		strings.Join(parts, "; "), strings.Join(hints, ":"))
}

// csJoinNames joins suite names, eliding long lists.
func csJoinNames(names []string) string {
	const show = 6
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}

// csNothingLeft explains why no suite Go implements is left.
func csNothingLeft(dropped []Dropped) error {
	names := make([]string, len(dropped))
	allDHE := true
	for i, d := range dropped {
		names[i] = d.Name
		if su := csByName[d.Name]; su == nil || su.mkey != csKDHE {
			allDHE = false
		}
	}
	if allDHE {
		return fmt.Errorf("cipher string selects only finite-field DHE suites (%s): Go has no finite-field DHE (so Logjam cannot happen); use ECDHE suites (EECDH/ECDHE) instead",
			csJoinNames(names))
	}
	reasons := make([]string, 0, len(dropped))
	seen := map[string]bool{}
	for _, d := range dropped {
		if !seen[d.Reason] {
			seen[d.Reason] = true
			reasons = append(reasons, d.Reason)
		}
	}
	return fmt.Errorf("cipher string selects no suite Go implements (%s: %s)", csJoinNames(names), strings.Join(reasons, "; "))
}
