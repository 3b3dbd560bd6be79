package headers

import (
	"net/http"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestClaimsTable keeps the one list sound: no duplicates, every entry
// documented, and every name one that ValidName accepts (else it would be
// dropped before it is looked at).
func TestClaimsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range claims {
		cn := http.CanonicalHeaderKey(c.name)
		if seen[cn] {
			t.Errorf("%s listed twice", c.name)
		}
		seen[cn] = true
		if !ValidName(c.name) {
			t.Errorf("%s: not a valid name", c.name)
		}
		if c.who == "" {
			t.Errorf("%s: no reason given", c.name)
		}
	}
	for _, name := range []string{hdrXFF, hdrXFHost, hdrXFProto, hdrXRealIP, hdrForwarded} {
		if p, ok := claimOf(name); !ok || p != claimOwn {
			t.Errorf("%s is not listed as set by tlsfront", name)
		}
	}
}

// TestClaimsInREADME checks that README's table lists every claim with its
// policy, so the documentation cannot fall behind the code.
func TestClaimsInREADME(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // name -> policy column
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 4 || !strings.HasPrefix(strings.TrimSpace(f[1]), "`") {
			continue
		}
		policy := strings.TrimSpace(f[2])
		for _, n := range strings.Split(f[1], ",") {
			rows[strings.ToLower(strings.Trim(strings.TrimSpace(n), "`"))] = policy
		}
	}
	want := map[claimPolicy]string{claimOwn: "set by tlsfront", claimKeep: "kept", claimDrop: "dropped"}
	for _, c := range claims {
		got, ok := rows[strings.ToLower(c.name)]
		if !ok {
			t.Errorf("README's forwarding-headers table does not list %s", c.name)
			continue
		}
		if got != want[c.policy] {
			t.Errorf("README says %s from a trusted peer is %q, the code %q", c.name, got, want[c.policy])
		}
	}
}

// TestSetForwardedClaims sends every listed claim, and invalid names, from
// an untrusted and from a trusted peer, in canonical and in lower case (as
// an engine keeping names as received would store them).
func TestSetForwardedClaims(t *testing.T) {
	client := netip.MustParseAddr("192.0.2.7")
	for _, trusted := range []bool{false, true} {
		for _, lower := range []bool{false, true} {
			h := http.Header{"Accept": {"*/*"}}
			key := func(s string) string {
				if lower {
					return strings.ToLower(s)
				}
				return http.CanonicalHeaderKey(s)
			}
			for _, c := range claims {
				if c.name == hdrForwarded {
					h[key(c.name)] = []string{"for=6.6.6.6"}
					continue
				}
				h[key(c.name)] = []string{"6.6.6.6"}
			}
			for _, bad := range []string{"X.Forwarded.For", "X~Real~IP", "X_Forwarded_For", "Client_IP", "X_Custom"} {
				h[bad] = []string{"6.6.6.6"}
			}
			SetForwarded(h, Forward{ClientIP: client, Host: "example.com", Proto: "https", TrustedPeer: trusted})

			want := http.Header{
				"Accept":            {"*/*"},
				"X-Forwarded-For":   {"192.0.2.7"},
				"X-Real-Ip":         {"192.0.2.7"},
				"X-Forwarded-Host":  {"example.com"},
				"X-Forwarded-Proto": {"https"},
				"Forwarded":         {"for=192.0.2.7;host=example.com;proto=https"},
			}
			if trusted {
				want["X-Forwarded-For"] = []string{"6.6.6.6, 192.0.2.7"}
				want["X-Real-Ip"] = []string{"6.6.6.6"}
				want["Forwarded"] = []string{"for=6.6.6.6, for=192.0.2.7;host=example.com;proto=https"}
				for _, c := range claims {
					if c.policy == claimKeep {
						want[http.CanonicalHeaderKey(c.name)] = []string{"6.6.6.6"}
					}
				}
			}
			if !reflect.DeepEqual(h, want) {
				t.Errorf("trusted=%v lower=%v:\n got  %v\n want %v", trusted, lower, h, want)
			}
		}
	}
}

func TestCopyForwardedClaims(t *testing.T) {
	in := http.Header{
		"X-Forwarded-For":  {"203.0.113.9"},
		"Cf-Connecting-Ip": {"203.0.113.9"},
		"X-Forwarded-Port": {"443"},
		"Client-Ip":        {"6.6.6.6"},
		"X-Original-Url":   {"/admin"},
		"Accept":           {"*/*"},
	}
	// What httputil.ReverseProxy leaves: a clone without X-Forwarded-For.
	out := http.Header{
		"Cf-Connecting-Ip": {"203.0.113.9"},
		"X-Forwarded-Port": {"443"},
		"Client-Ip":        {"6.6.6.6"},
		"X-Original-Url":   {"/admin"},
		"Accept":           {"*/*"},
		"True-Client-Ip":   {"6.6.6.6"}, // not in the inbound request: removed
	}
	CopyForwarded(out, in)
	want := http.Header{
		"X-Forwarded-For":  {"203.0.113.9"},
		"Cf-Connecting-Ip": {"203.0.113.9"},
		"X-Forwarded-Port": {"443"},
		"Client-Ip":        {"6.6.6.6"}, // SetForwarded removes it
		"X-Original-Url":   {"/admin"},  // SetForwarded removes it
		"Accept":           {"*/*"},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("got\n  %v\nwant\n  %v", out, want)
	}
}

// FuzzClaimNames: whatever a header is called, what SetForwarded leaves
// has valid names only, and from an untrusted peer no claim but tlsfront's
// own five, each with tlsfront's value.
func FuzzClaimNames(f *testing.F) {
	for _, c := range claims {
		f.Add(c.name, false)
		f.Add(strings.ToLower(c.name), true)
	}
	f.Add("X.Forwarded.For", true)
	f.Add("x_real_ip", false)
	f.Fuzz(func(t *testing.T, name string, trusted bool) {
		h := http.Header{name: {"6.6.6.6"}}
		SetForwarded(h, Forward{ClientIP: netip.MustParseAddr("192.0.2.7"), Host: "example.com", Proto: "https", TrustedPeer: trusted})
		for k, v := range h {
			if !ValidName(k) {
				t.Fatalf("%q left in the header", k)
			}
			p, isClaim := claimOf(k)
			switch {
			case !isClaim:
			case p == claimOwn:
				if k != http.CanonicalHeaderKey(k) {
					t.Fatalf("non-canonical %q left next to tlsfront's own", k)
				}
				if !trusted && strings.Contains(strings.Join(v, ","), "6.6.6.6") {
					t.Fatalf("untrusted %s kept the client's value: %q", k, v)
				}
			case !trusted || p == claimDrop:
				t.Fatalf("claim %q (policy %d) survived, trusted %v", k, p, trusted)
			}
		}
	})
}
