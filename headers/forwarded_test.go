package headers

import (
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestSetForwarded(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.7")
	v6 := netip.MustParseAddr("2001:db8::1")
	mapped := netip.MustParseAddr("::ffff:192.0.2.7")
	zoned := netip.MustParseAddr("fe80::1%eth0")
	lb := netip.MustParseAddr("10.0.0.5")

	spoofed := func() http.Header {
		return http.Header{
			"X-Forwarded-For":    {"6.6.6.6"},
			"X-Forwarded-Host":   {"evil.example"},
			"X-Forwarded-Proto":  {"http"},
			"X-Real-Ip":          {"6.6.6.6"},
			"Forwarded":          {"for=6.6.6.6"},
			"X-Forwarded-Port":   {"80"},
			"X-Forwarded-Ssl":    {"off"},
			"Front-End-Https":    {"off"},
			"X-Forwarded-Server": {"evil"},
			"X-Forwarded-Scheme": {"http"},
			"X-Url-Scheme":       {"http"},
			"X-Forwarded_for":    {"6.6.6.6"},
			"X_real_ip":          {"6.6.6.6"},
			"Accept":             {"*/*"},
			"X_custom_header":    {"kept"},
		}
	}
	ours := func(ip, fwd string) http.Header {
		return http.Header{
			"X-Forwarded-For":   {ip},
			"X-Forwarded-Host":  {"example.com"},
			"X-Forwarded-Proto": {"https"},
			"X-Real-Ip":         {ip},
			"Forwarded":         {fwd},
		}
	}
	with := func(h http.Header, kv ...string) http.Header {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(h, kv[i])
			} else {
				h[kv[i]] = []string{kv[i+1]}
			}
		}
		return h
	}

	tests := []struct {
		name string
		in   http.Header
		f    Forward
		want http.Header
	}{
		{
			name: "untrusted IPv4, no prior headers",
			in:   http.Header{},
			f:    Forward{ClientIP: v4, Host: "example.com", Proto: "https"},
			want: ours("192.0.2.7", "for=192.0.2.7;host=example.com;proto=https"),
		},
		{
			name: "untrusted peer: every spoofed claim replaced or removed, invalid names dropped",
			in:   spoofed(),
			f:    Forward{ClientIP: v4, Host: "example.com", Proto: "https"},
			want: with(ours("192.0.2.7", "for=192.0.2.7;host=example.com;proto=https"),
				"Accept", "*/*"),
		},
		{
			name: "untrusted IPv6 quoted and bracketed in Forwarded",
			in:   http.Header{},
			f:    Forward{ClientIP: v6, Host: "example.com", Proto: "https"},
			want: ours("2001:db8::1", `for="[2001:db8::1]";host=example.com;proto=https`),
		},
		{
			name: "IPv4-mapped written as IPv4",
			in:   http.Header{},
			f:    Forward{ClientIP: mapped, Host: "example.com", Proto: "https"},
			want: ours("192.0.2.7", "for=192.0.2.7;host=example.com;proto=https"),
		},
		{
			name: "zone dropped",
			in:   http.Header{},
			f:    Forward{ClientIP: zoned, Host: "example.com", Proto: "https"},
			want: ours("fe80::1", `for="[fe80::1]";host=example.com;proto=https`),
		},
		{
			name: "host with port is quoted",
			in:   http.Header{},
			f:    Forward{ClientIP: v4, Host: "example.com:8443", Proto: "https"},
			want: with(ours("192.0.2.7", `for=192.0.2.7;host="example.com:8443";proto=https`),
				"X-Forwarded-Host", "example.com:8443"),
		},
		{
			name: "IPv6 host literal",
			in:   http.Header{},
			f:    Forward{ClientIP: v4, Host: "[2001:db8::2]:8443", Proto: "HTTPS"},
			want: with(ours("192.0.2.7", `for=192.0.2.7;host="[2001:db8::2]:8443";proto=https`),
				"X-Forwarded-Host", "[2001:db8::2]:8443"),
		},
		{
			name: "by as IPv6 address with port",
			in:   http.Header{},
			f:    Forward{ClientIP: v4, Host: "example.com", Proto: "https", By: "[2001:db8::9]:443"},
			want: ours("192.0.2.7", `for=192.0.2.7;host=example.com;proto=https;by="[2001:db8::9]:443"`),
		},
		{
			name: "by as bare IPv6 address",
			in:   http.Header{},
			f:    Forward{ClientIP: v4, Host: "example.com", Proto: "https", By: "2001:db8::9"},
			want: ours("192.0.2.7", `for=192.0.2.7;host=example.com;proto=https;by="[2001:db8::9]"`),
		},
		{
			name: "by as obfuscated token",
			in:   http.Header{},
			f:    Forward{ClientIP: v4, Host: "example.com", Proto: "https", By: "_tlsfront"},
			want: ours("192.0.2.7", "for=192.0.2.7;host=example.com;proto=https;by=_tlsfront"),
		},
		{
			name: "unknown client, no host, no proto",
			in:   spoofed(),
			f:    Forward{},
			want: http.Header{"Forwarded": {"for=unknown"}, "Accept": {"*/*"}},
		},
		{
			name: "invalid host and proto are dropped",
			in:   http.Header{},
			f:    Forward{ClientIP: v4, Host: "a b,\"c", Proto: "ht tp"},
			want: http.Header{"X-Forwarded-For": {"192.0.2.7"}, "X-Real-Ip": {"192.0.2.7"}, "Forwarded": {"for=192.0.2.7"}},
		},
		{
			name: "trusted peer: chains extended",
			in: http.Header{
				"X-Forwarded-For": {"203.0.113.9, 198.51.100.2"},
				"Forwarded":       {`for=203.0.113.9;proto=https, for="[2001:db8::5]"`},
				"X-Real-Ip":       {"203.0.113.9"},
			},
			f: Forward{ClientIP: lb, Host: "example.com", Proto: "https", TrustedPeer: true},
			want: with(ours("203.0.113.9, 198.51.100.2, 10.0.0.5",
				`for=203.0.113.9;proto=https, for="[2001:db8::5]", for=10.0.0.5;host=example.com;proto=https`),
				"X-Real-Ip", "203.0.113.9"),
		},
		{
			name: "trusted peer: several XFF and Forwarded lines folded",
			in: http.Header{
				"X-Forwarded-For": {"203.0.113.9", " , 198.51.100.2,"},
				"Forwarded":       {"for=203.0.113.9", "for=198.51.100.2"},
			},
			f: Forward{ClientIP: lb, Host: "example.com", Proto: "https", TrustedPeer: true},
			want: with(ours("203.0.113.9, 198.51.100.2, 10.0.0.5",
				"for=203.0.113.9, for=198.51.100.2, for=10.0.0.5;host=example.com;proto=https"),
				"X-Real-Ip", "10.0.0.5"),
		},
		{
			name: "trusted peer without prior headers",
			in:   http.Header{},
			f:    Forward{ClientIP: lb, Host: "example.com", Proto: "https", TrustedPeer: true},
			want: ours("10.0.0.5", "for=10.0.0.5;host=example.com;proto=https"),
		},
		{
			name: "trusted peer: malformed Forwarded replaced, XFF extended",
			in: http.Header{
				"X-Forwarded-For": {"203.0.113.9"},
				"Forwarded":       {"for=203.0.113.9;;=broken"},
			},
			f:    Forward{ClientIP: lb, Host: "example.com", Proto: "https", TrustedPeer: true},
			want: with(ours("203.0.113.9, 10.0.0.5", "for=10.0.0.5;host=example.com;proto=https"), "X-Real-Ip", "10.0.0.5"),
		},
		{
			name: "trusted peer: X-Real-IP that is not an address replaced",
			in:   http.Header{"X-Real-Ip": {"not-an-ip"}},
			f:    Forward{ClientIP: lb, Host: "example.com", Proto: "https", TrustedPeer: true},
			want: ours("10.0.0.5", "for=10.0.0.5;host=example.com;proto=https"),
		},
		{
			name: "trusted peer: our host and proto win, its port kept, underscore variants removed",
			in: http.Header{
				"X-Forwarded-Host":  {"lb.example"},
				"X-Forwarded-Proto": {"http"},
				"X-Forwarded-Port":  {"443"},
				"X-Forwarded_for":   {"6.6.6.6"},
			},
			f: Forward{ClientIP: lb, Host: "example.com", Proto: "https", TrustedPeer: true},
			want: with(ours("10.0.0.5", "for=10.0.0.5;host=example.com;proto=https"),
				"X-Forwarded-Port", "443"),
		},
		{
			name: "trusted peer: its host and proto kept when we have none",
			in:   http.Header{"X-Forwarded-Host": {"lb.example"}, "X-Forwarded-Proto": {"https"}},
			f:    Forward{ClientIP: lb, TrustedPeer: true},
			want: http.Header{
				"X-Forwarded-For": {"10.0.0.5"}, "X-Real-Ip": {"10.0.0.5"},
				"X-Forwarded-Host": {"lb.example"}, "X-Forwarded-Proto": {"https"},
				"Forwarded": {"for=10.0.0.5"},
			},
		},
		{
			name: "trusted peer, unknown client: chain kept as is",
			in:   http.Header{"X-Forwarded-For": {"203.0.113.9"}},
			f:    Forward{TrustedPeer: true},
			want: http.Header{"X-Forwarded-For": {"203.0.113.9"}, "Forwarded": {"for=unknown"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			SetForwarded(tc.in, tc.f)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("got\n  %v\nwant\n  %v", tc.in, tc.want)
			}
			for _, v := range tc.in[hdrForwarded] {
				if _, err := parseForwarded(v); err != nil {
					t.Errorf("Forwarded %q does not parse: %v", v, err)
				}
			}
		})
	}
}

func TestCopyForwarded(t *testing.T) {
	in := http.Header{"X-Forwarded-For": {"203.0.113.9"}, "Forwarded": {"for=203.0.113.9"}, "Accept": {"*/*"}}
	// What httputil.ReverseProxy leaves in the outbound header before Rewrite.
	out := http.Header{"Accept": {"*/*"}, "X-Real-Ip": {"6.6.6.6"}}
	CopyForwarded(out, in)
	want := http.Header{"X-Forwarded-For": {"203.0.113.9"}, "Forwarded": {"for=203.0.113.9"}, "Accept": {"*/*"}}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("got %v, want %v", out, want)
	}
	out["X-Forwarded-For"][0] = "changed"
	if in["X-Forwarded-For"][0] != "203.0.113.9" {
		t.Error("CopyForwarded shares slices with the source")
	}
}

func TestParseForwarded(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    [][]forwardedPair
		wantErr bool
	}{
		{name: "one pair", in: "for=192.0.2.60", want: [][]forwardedPair{{{"for", "192.0.2.60"}}}},
		{name: "RFC example", in: `for=192.0.2.43, for="[2001:db8:cafe::17]";proto=http;by=203.0.113.43`,
			want: [][]forwardedPair{{{"for", "192.0.2.43"}}, {{"for", "[2001:db8:cafe::17]"}, {"proto", "http"}, {"by", "203.0.113.43"}}}},
		{name: "case-insensitive names", in: "For=unknown;PROTO=https", want: [][]forwardedPair{{{"for", "unknown"}, {"proto", "https"}}}},
		{name: "quoted-pair", in: `host="a\"b"`, want: [][]forwardedPair{{{"host", `a"b`}}}},
		{name: "empty members skipped", in: " , for=a ,, ", want: [][]forwardedPair{{{"for", "a"}}}},
		{name: "empty", in: "", wantErr: true},
		{name: "no value", in: "for=", wantErr: true},
		{name: "no name", in: "=a", wantErr: true},
		{name: "bare token", in: "for", wantErr: true},
		{name: "duplicate parameter", in: "for=a;for=b", wantErr: true},
		{name: "unterminated quote", in: `for="[::1]`, wantErr: true},
		{name: "junk after value", in: "for=a b", wantErr: true},
		{name: "control character in quote", in: "for=\"a\x01\"", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseForwarded(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseForwarded(%q) = %v, want error", tc.in, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parseForwarded(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestTrustedProxies(t *testing.T) {
	tp, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32", "::1", "172.16.5.9/12"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		addr string
		want bool
	}{
		{"inside IPv4 prefix", "10.200.3.4", true},
		{"bare IPv4 is /32", "192.0.2.7", true},
		{"neighbour of bare IPv4", "192.0.2.8", false},
		{"inside IPv6 prefix", "2001:db8:1::5", true},
		{"outside IPv6 prefix", "2001:db9::5", false},
		{"bare IPv6 is /128", "::1", true},
		{"neighbour of bare IPv6", "::2", false},
		{"IPv4-mapped matches IPv4 entry", "::ffff:10.1.2.3", true},
		{"zone ignored", "2001:db8::1%eth0", true},
		{"host bits masked", "172.20.0.1", true},
		{"outside everything", "203.0.113.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tp.Contains(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Errorf("Contains(%s) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
	if tp.Contains(netip.Addr{}) {
		t.Error("Contains(zero Addr) = true")
	}
	if (TrustedProxies{}).Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("zero TrustedProxies trusts 10.0.0.1")
	}
	if got := len(tp.Prefixes()); got != 5 {
		t.Errorf("Prefixes() has %d entries, want 5", got)
	}
}

func TestParseTrustedProxiesErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    []string
		quote string // the bad entry the error must name
	}{
		{"bad address", []string{"10.0.0.1", "10.0.0.300"}, `"10.0.0.300"`},
		{"bad prefix length", []string{"10.0.0.0/33"}, `"10.0.0.0/33"`},
		{"hostname", []string{"lb.example"}, `"lb.example"`},
		{"empty entry", []string{""}, `""`},
		{"zone", []string{"fe80::1%eth0"}, `"fe80::1%eth0"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTrustedProxies(tc.in)
			if err == nil {
				t.Fatalf("ParseTrustedProxies(%q) succeeded", tc.in)
			}
			if !strings.Contains(err.Error(), tc.quote) {
				t.Errorf("error %q does not name %s", err, tc.quote)
			}
		})
	}
}
