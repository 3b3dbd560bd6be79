package config

import (
	"strings"
	"testing"

	"tlsfront/shield"
)

// TestShieldKeys checks [[site.rule]], server.max_conns_per_client and
// server.client_table_size: defaults, parsing, and problems reported with
// their line and key, whatever package shield finds wrong.
func TestShieldKeys(t *testing.T) {
	c, ps, err := Parse(site, "")
	if err != nil || len(ps) > 0 {
		t.Fatal(errText(ps, err))
	}
	if c.Server.MaxConnsPerClient != 0 || c.Server.ClientTableSize != shield.DefaultTableSize || len(c.Sites[0].Rules) != 0 {
		t.Errorf("defaults: max_conns_per_client %d, client_table_size %d, %d rules; want 0, %d, none",
			c.Server.MaxConnsPerClient, c.Server.ClientTableSize, len(c.Sites[0].Rules), shield.DefaultTableSize)
	}
	src := "[server]\nmax_conns_per_client = 20\nclient_table_size = 5000\n" + site + `
[[site.rule]]
path = "/server-status"
allow = ["127.0.0.1", "10.0.0.0/8"]
deny = ["all"]
case_insensitive = true
[[site.rule]]
path = "/login"
rate = "10r/s"
burst = 20
delay = true
`
	c, ps, err = Parse(src, "")
	if err != nil || len(ps) > 0 {
		t.Fatal(errText(ps, err))
	}
	want := []Rule{
		{Path: "/server-status", Allow: []string{"127.0.0.1", "10.0.0.0/8"}, Deny: []string{"all"}, CaseInsensitive: true},
		{Path: "/login", Rate: "10r/s", Burst: 20, Delay: true},
	}
	if c.Server.MaxConnsPerClient != 20 || c.Server.ClientTableSize != 5000 || len(c.Sites[0].Rules) != 2 ||
		strings.Join(c.Sites[0].Rules[0].Allow, ",") != "127.0.0.1,10.0.0.0/8" || c.Sites[0].Rules[1].Rate != want[1].Rate ||
		c.Sites[0].Rules[1].Burst != 20 || !c.Sites[0].Rules[1].Delay || !c.Sites[0].Rules[0].CaseInsensitive {
		t.Errorf("parsed %+v %+v, want 20, 5000, %+v", c.Server, c.Sites[0].Rules, want)
	}

	for _, tt := range []struct{ name, src, want string }{
		{"negative max_conns_per_client", "[server]\nmax_conns_per_client = -1\n" + site, "line 2: server.max_conns_per_client: -1 is negative"},
		{"zero client_table_size", "[server]\nclient_table_size = 0\n" + site, "line 2: server.client_table_size: 0 is out of range"},
		{"bad CIDR", site + "[[site.rule]]\npath = \"/a\"\ndeny = [\"10.0.0.1/8\"]\n", `line 9: site[0].rule[0].deny: "10.0.0.1/8" has bits set past the prefix length (want "10.0.0.0/8")`},
		{"allow without deny", site + "[[site.rule]]\npath = \"/a\"\nallow = [\"10.0.0.0/8\"]\n", "line 9: site[0].rule[0].allow: lists addresses but deny is empty"},
		{"bad rate in second rule", site + "[[site.rule]]\npath = \"/a\"\nrate = \"1r/s\"\n[[site.rule]]\npath = \"/b\"\nrate = \"fast\"\n", `line 12: site[0].rule[1].rate: "fast" is not a rate`},
		{"burst without rate", site + "[[site.rule]]\npath = \"/a\"\ndeny = [\"all\"]\nburst = 3\n", "line 10: site[0].rule[0].burst: is set but rate is not"},
		{"duplicate path", site + "[[site.rule]]\npath = \"/a\"\nrate = \"1r/s\"\n[[site.rule]]\npath = \"/a/\"\ndeny = [\"all\"]\n", `line 11: site[0].rule[1].path: "/a/" is the path of rule[0] too`},
		{"relative path", site + "[[site.rule]]\npath = \"a\"\nrate = \"1r/s\"\n", `line 8: site[0].rule[0].path: "a" does not start with "/"`},
		{"unknown key", site + "[[site.rule]]\npath = \"/a\"\nrate = \"1r/s\"\nnodelay = true\n", "line 10: site.rule.nodelay: unknown key"},
		{"wrong type", site + "[[site.rule]]\npath = \"/a\"\ndeny = \"all\"\n", "site[0].rule.deny"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ps, err := Parse(tt.src, "")
			if text := errText(ps, err); !strings.Contains(text, tt.want) {
				t.Errorf("problems %s, want one containing %q", text, tt.want)
			}
		})
	}
}
