package headers

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestExtraApply(t *testing.T) {
	tests := []struct {
		name     string
		e        Extra
		in, want http.Header
	}{
		{"zero value does nothing", Extra{}, http.Header{"A": {"1"}}, http.Header{"A": {"1"}}},
		{"set adds and replaces", Extra{Set: map[string]string{"x-frame-options": "DENY", "Cache-Control": "no-store"}},
			http.Header{"Cache-Control": {"public", "max-age=60"}},
			http.Header{"X-Frame-Options": {"DENY"}, "Cache-Control": {"no-store"}}},
		{"remove any case", Extra{Remove: []string{"x-aspnet-version", "ETAG"}},
			http.Header{"X-Aspnet-Version": {"4"}, "Etag": {`"x"`}, "A": {"1"}},
			http.Header{"A": {"1"}}},
		{"remove then set: set wins", Extra{Set: map[string]string{"Via": "tlsfront"}, Remove: []string{"via"}},
			http.Header{"Via": {"1.1 apache"}},
			http.Header{"Via": {"tlsfront"}}},
		{"empty value is set", Extra{Set: map[string]string{"X-Empty": ""}}, http.Header{}, http.Header{"X-Empty": {""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.e.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tc.e.Apply(tc.in)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("got %v, want %v", tc.in, tc.want)
			}
		})
	}
}

func TestExtraValidate(t *testing.T) {
	tests := []struct {
		name string
		e    Extra
		want string // substring of the error
	}{
		{"bad name", Extra{Set: map[string]string{"X Frame": "DENY"}}, `set: header name "X Frame" is not a valid HTTP token`},
		{"header injection", Extra{Set: map[string]string{"X-A": "1\r\nSet-Cookie: x=y"}}, `set: header "X-A": value`},
		{"framing header", Extra{Set: map[string]string{"content-length": "0"}}, `set: header "content-length" is managed`},
		{"case duplicates", Extra{Set: map[string]string{"X-A": "1", "x-a": "2"}}, `are the same header`},
		{"remove bad name", Extra{Remove: []string{"X:A"}}, `remove: header name "X:A"`},
		{"remove framing", Extra{Remove: []string{"Transfer-Encoding"}}, `remove: header "Transfer-Encoding" is managed`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.e.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want error containing %q", err, tc.want)
			}
		})
	}
}
