package wire

import (
	"net/url"
	"testing"
)

func TestValidOriginTarget(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"/", true},
		{"/index.php?a=1&b=%zz", true}, // the query is the application's
		{"/a%2Fb%c3%a9", true},
		{"/q?x={|}", true},
		{"/a:b@c!$&'()*+,;=", true},
		{"/q?a HTTP/1.0 x", false}, // issue 13: a space ends the target
		{"/q?a\tb", false},
		{"/a\x00", false},
		{"/a\x7f", false},
		{"/é", false},
		{"/a#frag", false},
		{"/a%zz", false},
		{"/a%4", false},
		{"/a%", false},
		{"", false},
		{"*", false},
		{"a.test:443", false},
		{"http://a.test/", false},
		{"//a.test/x", true}, // origin-form whose path starts with "//": Apache reads it as a path
	}
	for _, c := range cases {
		if got := ValidOriginTarget(c.in); got != c.ok {
			t.Errorf("ValidOriginTarget(%q) = %v, want %v", c.in, got, c.ok)
		}
	}
}

// FuzzValidOriginTarget checks that an accepted target is one token of a
// request line and that net/url parses it as a path with no host.
func FuzzValidOriginTarget(f *testing.F) {
	for _, s := range []string{"/", "/a?b", "/%41", "/a b", "/a%zz?%zz", "//x/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidOriginTarget(s) {
			return
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c <= ' ' || c >= 0x7f || c == '#' {
				t.Fatalf("accepted %q with byte %q", s, c)
			}
		}
		u, err := url.ParseRequestURI(s)
		if err != nil {
			t.Fatalf("accepted %q, net/url refuses it: %v", s, err)
		}
		if u.Scheme != "" || u.Opaque != "" {
			t.Fatalf("accepted %q, net/url reads scheme %q opaque %q", s, u.Scheme, u.Opaque)
		}
	})
}
