package headers

import (
	"net/http"
	"reflect"
	"sort"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"X-Forwarded-For", true},
		{"x-forwarded-for", true},
		{"Content-MD5", true},
		{"A", true},
		{"-", true},
		{"", false},
		{"X.Forwarded.For", false},
		{"X~Real~IP", false},
		{"X_Forwarded_For", false},
		{"Client_IP", false},
		{"X+Real+IP", false},
		{"X!a", false}, {"X#a", false}, {"X$a", false}, {"X%a", false}, {"X&a", false}, {"X'a", false},
		{"X*a", false}, {"X^a", false}, {"X`a", false}, {"X|a", false},
		{"X a", false}, {"X:a", false}, {"X\x00a", false}, {"X\xffa", false}, {"Ä", false},
	} {
		if got := ValidName(tc.name); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDropInvalidNames(t *testing.T) {
	h := http.Header{
		"Accept":          {"*/*"},
		"X.Forwarded.For": {"6.6.6.6"},
		"X~Real~Ip":       {"6.6.6.6"},
		"X_forwarded_for": {"6.6.6.6"},
		"X_custom":        {"a"},
		"X-Forwarded-For": {"6.6.6.6"}, // a claim, but SetForwarded's business
	}
	got := DropInvalidNames(h)
	sort.Strings(got)
	if want := []string{"X.Forwarded.For", "X_custom", "X_forwarded_for", "X~Real~Ip"}; !reflect.DeepEqual(got, want) {
		t.Errorf("dropped %q, want %q", got, want)
	}
	if want := (http.Header{"Accept": {"*/*"}, "X-Forwarded-For": {"6.6.6.6"}}); !reflect.DeepEqual(h, want) {
		t.Errorf("left %v, want %v", h, want)
	}

	clean := http.Header{"Accept": {"*/*"}, "User-Agent": {"curl/8"}, "Cookie": {"a=b"}}
	if got := DropInvalidNames(clean); got != nil {
		t.Errorf("valid names: dropped %q, want nil", got)
	}
	if n := testing.AllocsPerRun(100, func() { DropInvalidNames(clean) }); n != 0 {
		t.Errorf("DropInvalidNames allocates %v times when nothing is dropped", n)
	}
}
