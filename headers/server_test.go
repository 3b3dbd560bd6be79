package headers

import (
	"net/http"
	"reflect"
	"testing"
)

func TestHideBackendVersion(t *testing.T) {
	tests := []struct {
		name     string
		in, want http.Header
	}{
		{"Debian Apache with PHP", http.Header{"Server": {"Apache/2.2.22 (Debian) PHP/5.4.45-0+deb7u2"}, "X-Powered-By": {"PHP/5.4.45-0+deb7u2"}},
			http.Header{"Server": {"Apache"}}},
		{"ServerTokens Prod already", http.Header{"Server": {"Apache"}}, http.Header{"Server": {"Apache"}}},
		{"version only", http.Header{"Server": {"Apache/2.4.62"}}, http.Header{"Server": {"Apache"}}},
		{"comment after name", http.Header{"Server": {"Apache (Unix)"}}, http.Header{"Server": {"Apache"}}},
		{"leading space", http.Header{"Server": {"  lighttpd/1.4.35"}}, http.Header{"Server": {"lighttpd"}}},
		{"comment only removed", http.Header{"Server": {"(Debian)"}}, http.Header{}},
		{"empty removed", http.Header{"Server": {""}}, http.Header{}},
		{"junk removed", http.Header{"Server": {"Apa\"che/2"}}, http.Header{}},
		{"several Server lines folded to the first product", http.Header{"Server": {"Apache/2.2 (Debian)", "mod_ssl/2.2"}}, http.Header{"Server": {"Apache"}}},
		{"X-Powered-By removed alone", http.Header{"X-Powered-By": {"PHP/5.4"}, "Content-Type": {"text/html"}}, http.Header{"Content-Type": {"text/html"}}},
		{"no banner", http.Header{"Content-Type": {"text/html"}}, http.Header{"Content-Type": {"text/html"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			HideBackendVersion(tc.in)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("got %v, want %v", tc.in, tc.want)
			}
		})
	}
}
