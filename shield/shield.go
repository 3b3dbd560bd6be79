package shield

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Site is one site's rules, in the order of the sites the caller routes to.
type Site struct {
	// Name identifies the site across reloads (its first name): with a
	// rule's path it names the rule's rate-limit state in the Table.
	Name  string
	Rules []Rule
}

// Options configure New.
type Options struct {
	Sites []Site
	// Table holds the rate-limit state; pass the process's one, so that it
	// survives reloads. Nil means a Table of DefaultTableSize of its own.
	Table *Table
	// Now is the clock rate limits run on. Nil means time.Now.
	Now func() time.Time
}

// Shield is the rules of one configuration, compiled. It is immutable; a
// reload builds a new one on the same Table. Its methods are safe for
// concurrent use.
type Shield struct {
	sites []site
	table *Table
	now   func() time.Time
}

// New compiles the sites' rules. The error names the first problem; use
// CheckSite to report every problem with its key.
func New(o Options) (*Shield, error) {
	s := &Shield{table: o.Table, now: o.Now}
	if s.table == nil {
		s.table = NewTable(0)
	}
	if s.now == nil {
		s.now = time.Now
	}
	for i, st := range o.Sites {
		c, err := compile(st)
		if err != nil {
			return nil, fmt.Errorf("site %d (%s): %w", i, st.Name, err)
		}
		s.sites = append(s.sites, c)
	}
	return s, nil
}

// Verdict is what becomes of a request.
type Verdict uint8

// Verdicts.
const (
	Pass      Verdict = iota // forward it (after Decision.Delay)
	Deny                     // 403: an access rule refuses the client
	Limit                    // 429: a rate limit refuses the request
	Ambiguous                // 400: the path reads two ways (encoded slash, backslash, ...)
)

// Decision is the outcome of Check.
type Decision struct {
	Verdict Verdict
	// Rule is the path, as configured, of the rule that refused the
	// request; "" for Pass and Ambiguous.
	Rule string
	// Delay is how long to hold a passed request before forwarding it
	// (delay = true); 0 forwards at once.
	Delay time.Duration
	// RetryAfter is when a rate-limited client may come back (Limit).
	RetryAfter time.Duration
}

// Status returns the HTTP status that answers the decision: 403, 429 or
// 400; 0 for Pass.
func (d Decision) Status() int {
	switch d.Verdict {
	case Deny:
		return http.StatusForbidden
	case Limit:
		return http.StatusTooManyRequests
	case Ambiguous:
		return http.StatusBadRequest
	}
	return 0
}

// Reason names the decision for logs and metrics: "denied",
// "rate_limited", "ambiguous_path"; "" for Pass.
func (d Decision) Reason() string {
	switch d.Verdict {
	case Deny:
		return "denied"
	case Limit:
		return "rate_limited"
	case Ambiguous:
		return "ambiguous_path"
	}
	return ""
}

// RetryAfterSeconds is the Retry-After value of a Limit decision: whole
// seconds, rounded up, at least 1.
func (d Decision) RetryAfterSeconds() int {
	return max(int((d.RetryAfter+time.Second-1)/time.Second), 1)
}

// Active reports whether the site has rules; Check passes every request of
// a site without.
func (s *Shield) Active(site int) bool {
	return s != nil && site >= 0 && site < len(s.sites) && len(s.sites[site].rules) > 0
}

// Check decides a request for site (an index into Options.Sites) with the
// request target as the client sent it (origin-form "/a/b?q", or
// absolute-form) from client (see Client). Rate-limit state is charged for
// a request that passes.
func (s *Shield) Check(site int, target string, client netip.Addr) Decision {
	if !s.Active(site) {
		return Decision{}
	}
	st := &s.sites[site]
	raw := pathOf(target)
	var m1, m2 uint64
	if !st.strict {
		m1 = st.all // every rule covers "/"
	} else {
		var arr [256]byte
		buf := arr[:0]
		if len(raw) > len(arr) {
			buf = make([]byte, 0, len(raw))
		}
		p, amb := decodePath(buf, raw, false)
		if amb {
			return Decision{Verdict: Ambiguous}
		}
		m1 = st.match(p)
		if strings.IndexByte(raw, ';') >= 0 { // Tomcat's reading too
			p, _ = decodePath(buf[:0], raw, true)
			m2 = st.match(p)
		}
	}
	client = client.Unmap()
	if d, refused := st.access(m1, client); refused {
		return d
	}
	if m2 != 0 {
		if d, refused := st.access(m2, client); refused {
			return d
		}
	}
	var ls [maxLimits]*limit
	n := 0
	for m, i := m1|m2, 0; m != 0; m, i = m>>1, i+1 {
		if m&1 != 0 && st.rules[i].limit != nil {
			ls[n] = st.rules[i].limit
			n++
		}
	}
	if n == 0 {
		return Decision{}
	}
	l, retry, delay := s.table.admit(keyOf(client), ls[:n], s.now())
	if l != nil {
		return Decision{Verdict: Limit, Rule: l.rule, RetryAfter: retry}
	}
	return Decision{Delay: delay}
}

// access applies the most specific rule with an access list among the
// rules in m.
func (st *site) access(m uint64, client netip.Addr) (Decision, bool) {
	for i := range st.rules {
		r := &st.rules[i]
		if m&(1<<i) == 0 || !r.access {
			continue
		}
		if r.allow.contains(client) || !r.deny.contains(client) {
			return Decision{}, false
		}
		return Decision{Verdict: Deny, Rule: r.path}, true
	}
	return Decision{}, false
}

// Describe returns one line per rule of site, the most specific first, for
// tlsfront -t.
func (s *Shield) Describe(site int) []string {
	if !s.Active(site) {
		return nil
	}
	var lines []string
	for i := range s.sites[site].rules {
		lines = append(lines, s.sites[site].rules[i].describe())
	}
	return lines
}
