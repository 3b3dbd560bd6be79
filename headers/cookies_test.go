package headers

import (
	"net/http"
	"reflect"
	"testing"
)

func TestSecureCookies(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"plain cookie", []string{"sid=abc"}, []string{"sid=abc; Secure"}},
		{"with attributes", []string{"sid=abc; Path=/; HttpOnly"}, []string{"sid=abc; Path=/; HttpOnly; Secure"}},
		{"already Secure", []string{"sid=abc; Secure; HttpOnly"}, []string{"sid=abc; Secure; HttpOnly"}},
		{"already secure lower case", []string{"sid=abc; path=/; secure"}, []string{"sid=abc; path=/; secure"}},
		{"already SECURE no space", []string{"sid=abc;SECURE"}, []string{"sid=abc;SECURE"}},
		{"Secure with a value counts (RFC 6265 ignores it)", []string{"sid=abc; Secure=no"}, []string{"sid=abc; Secure=no"}},
		{"Secure with spaces around", []string{"sid=abc;  Secure  ;HttpOnly"}, []string{"sid=abc;  Secure  ;HttpOnly"}},
		{"cookie named secure", []string{"secure=1; Path=/"}, []string{"secure=1; Path=/; Secure"}},
		{"cookie named Secure without value", []string{"Secure"}, []string{"Secure; Secure"}},
		{"value containing Secure", []string{"mode=Secure; Path=/"}, []string{"mode=Secure; Path=/; Secure"}},
		{"attribute value containing Secure", []string{"a=b; Path=/Secure; Domain=secure.example"}, []string{"a=b; Path=/Secure; Domain=secure.example; Secure"}},
		{"attribute name containing secure", []string{"a=b; NotSecure; Securely"}, []string{"a=b; NotSecure; Securely; Secure"}},
		{"trailing semicolon", []string{"a=b; Path=/;"}, []string{"a=b; Path=/; Secure"}},
		{"trailing semicolon and space", []string{"a=b; "}, []string{"a=b; Secure"}},
		{"quoted value", []string{`a="x y"; Path=/`}, []string{`a="x y"; Path=/; Secure`}},
		{"SameSite=None gains Secure", []string{"a=b; SameSite=None"}, []string{"a=b; SameSite=None; Secure"}},
		{"__Secure- prefix gains Secure", []string{"__Secure-id=1; Path=/"}, []string{"__Secure-id=1; Path=/; Secure"}},
		{"empty value left alone", []string{""}, []string{""}},
		{
			"several headers each handled",
			[]string{"a=1", "b=2; Secure", "c=3; HttpOnly", "secure=4"},
			[]string{"a=1; Secure", "b=2; Secure", "c=3; HttpOnly; Secure", "secure=4; Secure"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Set-Cookie": append([]string(nil), tc.in...)}
			SecureCookies(h)
			if got := h["Set-Cookie"]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			// What net/http's own cookie parser makes of the result.
			for _, v := range h["Set-Cookie"] {
				if v == "" {
					continue
				}
				if c, err := http.ParseSetCookie(v); err == nil && !c.Secure {
					t.Errorf("net/http parses %q as not Secure", v)
				}
			}
		})
	}
}

func TestSecureCookiesNoCookies(t *testing.T) {
	h := http.Header{"Content-Type": {"text/html"}}
	SecureCookies(h)
	if _, ok := h["Set-Cookie"]; ok || len(h) != 1 {
		t.Errorf("header changed: %v", h)
	}
}
