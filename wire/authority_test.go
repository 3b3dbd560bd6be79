package wire

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseAuthority(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	cases := []struct {
		in         string
		host, port string
		ok         bool
	}{
		{"a.test", "a.test", "", true},
		{"A.Test:8443", "A.Test", "8443", true},
		{"a.test.", "a.test.", "", true},
		{"under_score.test", "under_score.test", "", true},
		{"localhost:65535", "localhost", "65535", true},
		{"127.0.0.1", "127.0.0.1", "", true},
		{"[2001:db8::1]", "[2001:db8::1]", "", true},
		{"[2001:db8::1]:443", "[2001:db8::1]", "443", true},
		{"[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]", "", true},
		{long63 + ".test", long63 + ".test", "", true},

		// The review's cases (issue 13).
		{"ｂ.test", "", "", false},           // fullwidth b: IDNA folds it to b.test
		{"%EF%BD%82.test", "", "", false},   // the same, percent-encoded
		{"b.test/x", "", "", false},         // a path in the authority
		{"b.test:80:80", "", "", false},     // two ports
		{"b.test,a.test", "", "", false},    // a list
		{"user@b.test", "", "", false},      // userinfo
		{"", "", "", false},                 // empty
		{"b.test:", "", "", false},          // empty port
		{"b.test:65536", "", "", false},     // port out of range
		{"b.test:123456", "", "", false},    // six digits
		{"b.test:+80", "", "", false},       // signed port
		{"b.test:0x50", "", "", false},      // hex port
		{".b.test", "", "", false},          // empty label
		{"b..test", "", "", false},          // empty label
		{".", "", "", false},                // only the root
		{long63 + "a.test", "", "", false},  // a 64-byte label
		{"b test", "", "", false},           // space
		{"b.test\x00", "", "", false},       // NUL
		{"b\\test", "", "", false},          // backslash
		{"[2001:db8::1", "", "", false},     // unclosed
		{"[2001:db8::1]x", "", "", false},   // junk after the literal
		{"[fe80::1%25eth0]", "", "", false}, // zone
		{"[127.0.0.1]", "", "", false},      // IPv4 in brackets
		{"[v1.fe]", "", "", false},          // IPvFuture
		{"2001:db8::1", "", "", false},      // IPv6 without brackets

		// Names that end in a number are IPv4 addresses to URL parsers
		// and inet_aton: dotted quads only (the wire review).
		{"1.2.3.999", "", "", false},
		{"1.2.3", "", "", false},      // 1.2.0.3 to a URL parser
		{"0127.0.0.1", "", "", false}, // octal to inet_aton
		{"999.999.999.999", "", "", false},
		{"2130706433", "", "", false}, // 127.0.0.1 as one number
		{"0x7f.1", "", "", false},
		{"a.0x7f", "", "", false},
		{"0X", "", "", false},
		{"example.123", "", "", false},
		{"a.test:0", "", "", false}, // port 0 (Apache: 400)
		{"3com.test", "3com.test", "", true},
		{"a.0xg", "a.0xg", "", true}, // not hexadecimal
		{"1.2.3.4:1", "1.2.3.4", "1", true},
		{"1.2.3.4.", "1.2.3.4.", "", true},
	}
	for _, c := range cases {
		host, port, ok := ParseAuthority(c.in)
		if ok != c.ok || host != c.host || port != c.port {
			t.Errorf("ParseAuthority(%q) = %q, %q, %v; want %q, %q, %v", c.in, host, port, ok, c.host, c.port, c.ok)
		}
	}
	if _, _, ok := ParseAuthority(strings.Repeat("a.", 127) + "aa"); ok { // 256 bytes
		t.Error("a 256-byte name was accepted")
	}
}

// FuzzParseAuthority checks that whatever ParseAuthority accepts, net/url
// reads as the same host and port: a Host that tlsfront routes on must mean
// the same to the next reader.
func FuzzParseAuthority(f *testing.F) {
	for _, s := range []string{"a.test", "a.test:8443", "[::1]:80", "127.0.0.1", "b.test,a.test", "%41.test", "a..b", "[v1.x]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, ok := ParseAuthority(s)
		if !ok {
			return
		}
		want := host
		if port != "" {
			want += ":" + port
		}
		if want != s {
			t.Fatalf("%q split into %q and %q, which do not rebuild it", s, host, port)
		}
		u, err := url.Parse("http://" + s + "/")
		if err != nil {
			t.Fatalf("accepted %q, net/url refuses it: %v", s, err)
		}
		if u.Host != s || u.Port() != port {
			t.Fatalf("accepted %q as host %q port %q; net/url reads host %q port %q", s, host, port, u.Host, u.Port())
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("/?#@%,;\\\"", c) >= 0 {
				t.Fatalf("accepted %q with byte %q", s, c)
			}
		}
	})
}
