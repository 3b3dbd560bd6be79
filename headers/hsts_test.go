package headers

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestSetHSTS(t *testing.T) {
	const tutorial = "max-age=63072000; includeSubdomains; preload"
	tests := []struct {
		name     string
		value    string
		in, want http.Header
	}{
		{"added", tutorial, http.Header{}, http.Header{"Strict-Transport-Security": {tutorial}}},
		{"backend value replaced", tutorial, http.Header{"Strict-Transport-Security": {"max-age=0", "max-age=1"}},
			http.Header{"Strict-Transport-Security": {tutorial}}},
		{"empty does nothing", "", http.Header{"Strict-Transport-Security": {"max-age=5"}},
			http.Header{"Strict-Transport-Security": {"max-age=5"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			SetHSTS(tc.in, tc.value)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("got %v, want %v", tc.in, tc.want)
			}
		})
	}
}

func TestValidateHSTS(t *testing.T) {
	tests := []struct {
		name, value, wantErr string // wantErr "" means valid
	}{
		{"tutorial value", "max-age=63072000; includeSubdomains; preload", ""},
		{"quoted max-age", `max-age="31536000"`, ""},
		{"unknown directive allowed", "max-age=1; foo=bar", ""},
		{"off", "", ""},
		{"max-age zero is valid (clears the policy)", "max-age=0", ""},
		{"missing max-age", "includeSubDomains", "max-age is required"},
		{"max-age not a number", "max-age=two years", "is not a number of seconds"},
		{"max-age negative", "max-age=-1", "is not a number of seconds"},
		{"max-age twice", "max-age=1; max-age=2", "appears twice"},
		{"preload with value", "max-age=1; preload=yes", "takes no value"},
		{"control character", "max-age=1\r\nX: y", "control characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateHSTS(tc.value)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ValidateHSTS(%q) = %v, want nil", tc.value, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("ValidateHSTS(%q) = %v, want error containing %q", tc.value, err, tc.wantErr)
			}
		})
	}
}
