package shield

import (
	"net/netip"
	"strings"
	"testing"
)

// TestAccess checks the access decision: the most specific rule with a
// list decides, allow before deny, neither means allowed; every spelling
// of a protected path is caught.
func TestAccess(t *testing.T) {
	s, err := New(Options{Sites: []Site{
		{Name: "a.test", Rules: []Rule{
			{Path: "/server-status", Allow: []string{"127.0.0.1", "10.0.0.0/8"}, Deny: []string{"all"}},
			{Path: "/admin/", Allow: []string{"10.0.0.0/8", "2001:db8::/32"}, Deny: []string{"all"}},
			{Path: "/admin/public", Allow: []string{"all"}},
			{Path: "/Manager", CaseInsensitive: true, Deny: []string{"192.0.2.0/24"}},
			{Path: "/manager/html", Rate: "10r/s"}, // no list: takes no part in access
			{Path: "/", Deny: []string{"198.51.100.0/24"}},
		}},
		{Name: "b.test"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	inside, outside := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("203.0.113.9")
	lan, banned := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("198.51.100.1")
	for _, tt := range []struct {
		name, target string
		client       netip.Addr
		want         Verdict
		rule         string
	}{
		{"allowed client", "/server-status", inside, Pass, ""},
		{"allowed loopback, mapped", "/server-status", netip.MustParseAddr("::ffff:127.0.0.1"), Pass, ""},
		{"refused client", "/server-status", outside, Deny, "/server-status"},
		{"below the prefix", "/server-status/x?auto", outside, Deny, "/server-status"},
		{"query ignored", "/server-status?x=/public", outside, Deny, "/server-status"},
		{"absolute form", "https://a.test/server-status", outside, Deny, "/server-status"},
		{"not on a boundary", "/server-statusx", outside, Pass, ""},
		{"encoded", "/%73erver-status", outside, Deny, "/server-status"},
		{"encoded twice is another path", "/%2573erver-status", outside, Pass, ""},
		{"double slash", "//server-status", outside, Deny, "/server-status"},
		{"dot dot", "/x/../server-status", outside, Deny, "/server-status"},
		{"encoded dot dot", "/x/%2E%2e/server-status", outside, Deny, "/server-status"},
		{"case differs, case-sensitive rule", "/SERVER-STATUS", outside, Pass, ""},
		{"encoded slash", "/x%2F..%2Fserver-status", outside, Ambiguous, ""},
		{"backslash", "/x\\..\\server-status", inside, Ambiguous, ""},
		{"trailing slash in rule", "/admin", outside, Deny, "/admin/"},
		{"IPv6 allowed", "/admin/x", netip.MustParseAddr("2001:db8::1"), Pass, ""},
		{"more specific rule opens", "/admin/public/a", outside, Pass, ""},
		{"back out of the open rule", "/admin/public/../secret", outside, Deny, "/admin/"},
		{"case-insensitive rule", "/MANAGER/html", lan, Deny, "/Manager"},
		{"case-insensitive, long s", "/manager/../MANAGER", lan, Deny, "/Manager"},
		{"rate-only rule takes no part", "/manager/html", lan, Deny, "/Manager"},
		{"less specific rule", "/anything", banned, Deny, "/"},
		{"the more specific list decides alone", "/admin/public", banned, Pass, ""},
		{"Tomcat's reading", "/admin;jsessionid=1/x", outside, Deny, "/admin/"},
		{"Tomcat's reading, path parameter of the last segment", "/server-status;x", outside, Deny, "/server-status"},
		{"Tomcat's reading, allowed client", "/admin;x/y", inside, Pass, ""},
		{"no rules on the site", "/server-status", outside, Pass, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			site := 0
			if strings.HasPrefix(tt.name, "no rules") {
				site = 1
			}
			d := s.Check(site, tt.target, tt.client)
			if d.Verdict != tt.want || d.Rule != tt.rule {
				t.Errorf("Check(%q from %s) = %v %q, want %v %q", tt.target, tt.client, d.Verdict, d.Rule, tt.want, tt.rule)
			}
		})
	}
	if d := s.Check(5, "/server-status", outside); d.Verdict != Pass {
		t.Errorf("unknown site index: %v, want Pass", d.Verdict)
	}
}

// TestWholeSiteRulesTolerateSpelling checks that a site whose rules all
// cover "/" does not refuse ambiguous spellings: nothing depends on them.
func TestWholeSiteRulesTolerateSpelling(t *testing.T) {
	s, err := New(Options{Sites: []Site{{Name: "a", Rules: []Rule{{Path: "/", Allow: []string{"10.0.0.0/8"}, Deny: []string{"all"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Check(0, "/api/a%2Fb", netip.MustParseAddr("10.0.0.1")); d.Verdict != Pass {
		t.Errorf("encoded slash on a whole-site rule: %v, want Pass", d.Verdict)
	}
	if d := s.Check(0, "/api/a%2Fb", netip.MustParseAddr("192.0.2.1")); d.Verdict != Deny {
		t.Errorf("encoded slash from a denied client: %v, want Deny", d.Verdict)
	}
}

func TestDecisionStatus(t *testing.T) {
	for _, tt := range []struct {
		d      Decision
		status int
		reason string
	}{
		{Decision{}, 0, ""},
		{Decision{Verdict: Deny}, 403, "denied"},
		{Decision{Verdict: Limit}, 429, "rate_limited"},
		{Decision{Verdict: Ambiguous}, 400, "ambiguous_path"},
	} {
		if tt.d.Status() != tt.status || tt.d.Reason() != tt.reason {
			t.Errorf("%v: %d %q, want %d %q", tt.d.Verdict, tt.d.Status(), tt.d.Reason(), tt.status, tt.reason)
		}
	}
}

func TestProblems(t *testing.T) {
	for _, tt := range []struct {
		name string
		rule Rule
		want string // "" means no problem
	}{
		{"good", Rule{Path: "/server-status", Allow: []string{"10.0.0.0/8"}, Deny: []string{"all"}}, ""},
		{"good rate", Rule{Path: "/", Rate: "10r/s", Burst: 20, Delay: true}, ""},
		{"missing path", Rule{Rate: "1r/s"}, "path: is missing"},
		{"relative path", Rule{Path: "admin", Deny: []string{"all"}}, `path: "admin" does not start with "/"`},
		{"query", Rule{Path: "/a?b", Deny: []string{"all"}}, "path: \"/a?b\" has a query"},
		{"encoded slash", Rule{Path: "/a%2Fb", Deny: []string{"all"}}, "path: \"/a%2Fb\" has an encoded slash"},
		{"does nothing", Rule{Path: "/a"}, "path: \"/a\" has neither allow, deny nor rate"},
		{"bad CIDR", Rule{Path: "/", Deny: []string{"10.0.0.0/33"}}, `deny: "10.0.0.0/33" is not a CIDR`},
		{"host bits", Rule{Path: "/", Allow: []string{"10.0.0.1/8"}, Deny: []string{"all"}}, `allow: "10.0.0.1/8" has bits set past the prefix length (want "10.0.0.0/8")`},
		{"mapped prefix", Rule{Path: "/", Deny: []string{"::ffff:10.0.0.0/104"}}, `want the IPv4 form, e.g. "10.0.0.0/8"`},
		{"hostname", Rule{Path: "/", Deny: []string{"example.com"}}, `deny: "example.com" is not an address`},
		{"allow without deny", Rule{Path: "/", Allow: []string{"10.0.0.0/8"}}, `allow: lists addresses but deny is empty`},
		{"deny after allow all", Rule{Path: "/", Allow: []string{"all"}, Deny: []string{"10.0.0.0/8"}}, "deny: is never used"},
		{"bad rate", Rule{Path: "/", Rate: "10/s"}, `rate: "10/s" is not a rate`},
		{"burst without rate", Rule{Path: "/", Deny: []string{"all"}, Burst: 5}, "burst: is set but rate is not"},
		{"negative burst", Rule{Path: "/", Rate: "1r/s", Burst: -1}, "burst: -1 is out of range"},
		{"delay without rate", Rule{Path: "/", Deny: []string{"all"}, Delay: true}, "delay: is true but rate is not set"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range tt.rule.Problems() {
				got = append(got, p.Key+": "+p.Msg)
			}
			if tt.want == "" {
				if len(got) > 0 {
					t.Fatalf("problems %q, want none", got)
				}
				return
			}
			if !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Fatalf("problems %q, want one containing %q", got, tt.want)
			}
		})
	}
	ps := CheckSite([]Rule{{Path: "/admin", Deny: []string{"all"}}, {Path: "/admin/", Rate: "1r/s"}, {Path: "/ADMIN", CaseInsensitive: true, Deny: []string{"all"}}, {Path: "/Other", Deny: []string{"all"}}, {Path: "/other", Deny: []string{"all"}}})
	var got []string
	for _, p := range ps {
		got = append(got, p.Key+": "+p.Msg)
	}
	want := []string{`rule[1].path: "/admin/" is the path of rule[0] too`, `rule[2].path: "/ADMIN" is the path of rule[0] too`}
	if len(got) != len(want) || !strings.HasPrefix(got[0], want[0]) || !strings.HasPrefix(got[1], want[1]) {
		t.Errorf("CheckSite = %q, want %q (case-sensitive /Other and /other are two paths)", got, want)
	}
	if _, err := New(Options{Sites: []Site{{Name: "x", Rules: []Rule{{Path: "/", Rate: "fast"}}}}}); err == nil || !strings.Contains(err.Error(), "rule[0].rate") {
		t.Errorf("New with a bad rate: %v, want an error naming rule[0].rate", err)
	}
}

// TestClient checks the address rules apply to: the peer, or behind a
// trusted proxy the rightmost untrusted X-Forwarded-For hop (nginx realip,
// real_ip_recursive on).
func TestClient(t *testing.T) {
	trusted := func(a netip.Addr) bool { return netip.MustParsePrefix("10.0.0.0/8").Contains(a) }
	for _, tt := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer ignores the header", "203.0.113.1", []string{"10.0.0.1"}, "203.0.113.1"},
		{"trusted peer without header", "10.0.0.5", nil, "10.0.0.5"},
		{"trusted peer", "10.0.0.5", []string{"203.0.113.7"}, "203.0.113.7"},
		{"client's own claim left of the hop", "10.0.0.5", []string{"10.9.9.9, 203.0.113.7"}, "203.0.113.7"},
		{"chain of trusted proxies", "10.0.0.5", []string{"198.51.100.1, 203.0.113.7, 10.0.0.6", "10.0.0.7"}, "203.0.113.7"},
		{"all trusted: leftmost", "10.0.0.5", []string{"10.0.0.8, 10.0.0.6"}, "10.0.0.8"},
		{"garbage stops at the last hop read", "10.0.0.5", []string{"203.0.113.7, junk, 10.0.0.6"}, "10.0.0.6"},
		{"garbage rightmost", "10.0.0.5", []string{"junk"}, "10.0.0.5"},
		{"ports and brackets", "10.0.0.5", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv4 with port", "10.0.0.5", []string{"203.0.113.7:5555"}, "203.0.113.7"},
		{"empty elements", "10.0.0.5", []string{"203.0.113.7 , ,"}, "203.0.113.7"},
		{"mapped", "::ffff:10.0.0.5", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Client(netip.MustParseAddr(tt.peer), tt.xff, trusted)
			if got.String() != tt.want {
				t.Errorf("Client(%s, %q) = %s, want %s", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
	if got := Client(netip.MustParseAddr("10.0.0.5"), []string{"203.0.113.7"}, nil); got.String() != "10.0.0.5" {
		t.Errorf("nil trusted: %s, want the peer", got)
	}
}

func TestDescribe(t *testing.T) {
	s, err := New(Options{Sites: []Site{{Name: "a", Rules: []Rule{
		{Path: "/", Rate: "10r/s", Burst: 20},
		{Path: "/%73erver-status", Allow: []string{"127.0.0.1", "10.0.0.0/8"}, Deny: []string{"all"}, Rate: "60r/m", Delay: true},
		{Path: "/Admin", CaseInsensitive: true, Deny: []string{"192.0.2.0/24"}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(s.Describe(0), "\n")
	want := strings.Join([]string{
		"/%73erver-status (matched as /server-status): access: allow 127.0.0.1/32, 10.0.0.0/8; deny all; rate 60r/m, burst 0, excess delayed",
		"/Admin (matched as /admin) (case-insensitive): access: allow none; deny 192.0.2.0/24; others allowed",
		"/: rate 10r/s, burst 20, excess served at once (nodelay)",
	}, "\n")
	if got != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
	}
	if s.Describe(1) != nil {
		t.Error("Describe of a missing site is not nil")
	}
}
