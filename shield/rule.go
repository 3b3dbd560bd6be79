package shield

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
)

// maxRules is how many rules one site may have.
const maxRules = 64

// maxBurst bounds burst, in requests.
const maxBurst = 1_000_000

// Rule is one [[site.rule]]: a path prefix and what applies below it.
type Rule struct {
	// Path is the prefix the rule covers, matched on the normalised path
	// and on segment boundaries; "/" is the whole site. A trailing "/" is
	// dropped: "/admin/" is "/admin".
	Path string
	// CaseInsensitive folds case when matching (Windows backends).
	CaseInsensitive bool
	// Allow and Deny are lists of "all", addresses and CIDRs. Nil lists
	// take no part: a rule without either only limits rates.
	Allow, Deny []string
	// Rate is the rate limit per client ("10r/s", "60r/m"); "" means none.
	Rate string
	// Burst is how many requests above the rate a client may have
	// outstanding before it is refused (nginx's burst); 0 allows none.
	Burst int
	// Delay makes requests within the burst wait until the rate allows
	// them (nginx's default); false serves them at once (nodelay).
	Delay bool
}

// Problem is what is wrong with one key of a rule: Key is the key's name
// ("path", "allow", ...; "rule[3].path" from CheckSite), Msg says what is
// wrong and what is allowed.
type Problem struct {
	Key, Msg string
}

// Problems returns what is wrong with r, every problem at once.
func (r Rule) Problems() []Problem {
	var ps []Problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case r.Path == "":
		bad("path", `is missing (want a path prefix such as "/server-status", or "/" for the whole site)`)
	case r.Path[0] != '/':
		bad("path", `%q does not start with "/" (want a path prefix such as "/server-status")`, r.Path)
	case strings.ContainsAny(r.Path, "?#"):
		bad("path", `%q has a query or fragment (want only a path: rules match paths)`, r.Path)
	default:
		if _, ok := Normalize(r.Path, false); !ok {
			bad("path", `%q has an encoded slash, a backslash, an encoded NUL or a malformed escape (want a plain path such as "/server-status")`, r.Path)
		}
	}
	allow, err := parseList(r.Allow)
	if err != nil {
		bad("allow", "%v", err)
	}
	_, err = parseList(r.Deny)
	if err != nil {
		bad("deny", "%v", err)
	}
	if len(r.Allow) > 0 && !allow.all && len(r.Deny) == 0 {
		bad("allow", `lists addresses but deny is empty, so every other address is allowed too: the first list holding the client wins, allow before deny, and a client in neither is allowed (Apache's "Order Deny,Allow"); want deny = ["all"] to refuse the rest`)
	}
	if allow.all && len(r.Deny) > 0 {
		bad("deny", `is never used: allow has "all", and allow is checked first (want deny = [] or a narrower allow)`)
	}
	if r.Rate != "" {
		if _, err := ParseRate(r.Rate); err != nil {
			bad("rate", "%v", err)
		}
	}
	switch {
	case r.Burst < 0 || r.Burst > maxBurst:
		bad("burst", "%d is out of range (want 0..%d requests)", r.Burst, maxBurst)
	case r.Burst > 0 && r.Rate == "":
		bad("burst", `is set but rate is not (want rate = "10r/s" or similar, or no burst)`)
	}
	if r.Delay && r.Rate == "" {
		bad("delay", `is true but rate is not set (want rate = "10r/s" or similar, or no delay)`)
	}
	if len(r.Allow) == 0 && len(r.Deny) == 0 && r.Rate == "" && r.Path != "" {
		bad("path", "%q has neither allow, deny nor rate, so the rule does nothing (want an access list, a rate limit or both)", r.Path)
	}
	return ps
}

// CheckSite returns what is wrong with a site's rules, each problem's Key
// starting with "rule[N].".
func CheckSite(rules []Rule) []Problem {
	var ps []Problem
	if len(rules) > maxRules {
		ps = append(ps, Problem{Key: "rule", Msg: fmt.Sprintf("has %d rules (want at most %d per site)", len(rules), maxRules)})
	}
	type seenRule struct {
		exact, folded []byte
		ci            bool
	}
	var seen []seenRule
	for i, r := range rules {
		for _, p := range r.Problems() {
			ps = append(ps, Problem{Key: fmt.Sprintf("rule[%d].%s", i, p.Key), Msg: p.Msg})
		}
		exact, ok := rulePrefix(r.Path, false)
		if !ok {
			seen = append(seen, seenRule{})
			continue
		}
		folded, _ := rulePrefix(r.Path, true)
		for j, o := range seen {
			if o.exact != nil && (string(o.exact) == string(exact) || (o.ci || r.CaseInsensitive) && string(o.folded) == string(folded)) {
				ps = append(ps, Problem{Key: fmt.Sprintf("rule[%d].path", i),
					Msg: fmt.Sprintf("%q is the path of rule[%d] too (want one rule per path: put its allow, deny and rate together)", r.Path, j)})
				break
			}
		}
		seen = append(seen, seenRule{exact: exact, folded: folded, ci: r.CaseInsensitive})
	}
	return ps
}

// rulePrefix returns a rule path's normalised form, without a trailing
// "/" (except for "/" itself).
func rulePrefix(path string, fold bool) ([]byte, bool) {
	if path == "" || path[0] != '/' || strings.ContainsAny(path, "?#") {
		return nil, false
	}
	p, amb := decodePath(nil, path, false)
	if amb {
		return nil, false
	}
	p = cleanPath(p)
	if fold {
		p = foldCase(p)
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p, true
}

// rule is a compiled Rule.
type rule struct {
	path        string // as configured: names the rule in logs and metrics
	prefix      []byte // normalised (and folded with ci)
	ci          bool
	access      bool // has an allow or a deny list
	allow, deny addrList
	limit       *limit // nil: no rate limit
}

// site is a compiled Site.
type site struct {
	rules  []rule // the most specific (longest prefix) first
	strict bool   // a rule covers less than the whole site: ambiguous paths are refused
	hasCI  bool
	all    uint64 // every rule's bit
}

// compile builds a site from s; its problems were reported by CheckSite.
func compile(s Site) (site, error) {
	if ps := CheckSite(s.Rules); len(ps) > 0 {
		return site{}, fmt.Errorf("%s: %s", ps[0].Key, ps[0].Msg)
	}
	var st site
	for _, r := range s.Rules {
		prefix, _ := rulePrefix(r.Path, r.CaseInsensitive)
		cr := rule{path: r.Path, prefix: prefix, ci: r.CaseInsensitive}
		cr.allow, _ = parseList(r.Allow)
		cr.deny, _ = parseList(r.Deny)
		cr.access = !cr.allow.empty() || !cr.deny.empty()
		if r.Rate != "" {
			rate, _ := ParseRate(r.Rate)
			h := fnv.New64a()
			fmt.Fprintf(h, "%s\x00%s\x00%t", s.Name, prefix, r.CaseInsensitive)
			cr.limit = &limit{id: h.Sum64(), rate: rate, burst: int64(r.Burst) * 1000, delay: r.Delay, text: r.Rate, rule: r.Path}
		}
		st.strict = st.strict || len(prefix) > 1
		st.hasCI = st.hasCI || r.CaseInsensitive
		st.rules = append(st.rules, cr)
	}
	sort.SliceStable(st.rules, func(i, j int) bool { return len(st.rules[i].prefix) > len(st.rules[j].prefix) })
	for i := range st.rules {
		st.all |= 1 << i
	}
	return st, nil
}

// match returns the bits of the rules whose prefix covers p, a decoded
// path, which it normalises (and, for case-insensitive rules, folds) in
// place.
func (st *site) match(p []byte) uint64 {
	p = cleanPath(p)
	var m uint64
	for i := range st.rules {
		if r := &st.rules[i]; !r.ci && underPrefix(p, r.prefix) {
			m |= 1 << i
		}
	}
	if st.hasCI {
		p = foldCase(p)
		for i := range st.rules {
			if r := &st.rules[i]; r.ci && underPrefix(p, r.prefix) {
				m |= 1 << i
			}
		}
	}
	return m
}

// describe renders the rule for tlsfront -t.
func (r *rule) describe() string {
	var parts []string
	if r.access {
		a := "access: allow " + orNone(r.allow.String()) + "; deny " + orNone(r.deny.String()) + "; others allowed"
		if r.deny.all {
			a = "access: allow " + orNone(r.allow.String()) + "; deny all"
		}
		parts = append(parts, a)
	}
	if r.limit != nil {
		parts = append(parts, r.limit.String())
	}
	label := r.path
	if normalised := encodePath(r.prefix); normalised != r.path {
		label += " (matched as " + normalised + ")"
	}
	if r.ci {
		label += " (case-insensitive)"
	}
	return label + ": " + strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
