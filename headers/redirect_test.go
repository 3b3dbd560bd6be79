package headers

import (
	"net/http"
	"reflect"
	"testing"
)

func TestRedirectRewrite(t *testing.T) {
	base := Redirect{Host: "example.com", BackendHosts: []string{"127.0.0.1:8081", "[::1]:8080", "apache.internal"}}
	withPort := base
	withPort.HTTPSPort = 8443
	port443 := base
	port443.HTTPSPort = 443
	v6 := Redirect{Host: "2001:db8::1", BackendHosts: []string{"127.0.0.1:8081"}}
	v6Bracketed := Redirect{Host: "[2001:DB8::1]:443"}
	upper := Redirect{Host: "Example.COM"}
	hostWithPort := Redirect{Host: "example.com:8443", HTTPSPort: 8443}

	tests := []struct {
		name string
		r    Redirect
		in   string
		want string
	}{
		// The requested host, any port.
		{"requested host", base, "http://example.com/dir/", "https://example.com/dir/"},
		{"requested host with backend port", base, "http://example.com:8081/dir/", "https://example.com/dir/"},
		{"requested host with port 80", base, "http://example.com:80/a", "https://example.com/a"},
		{"requested host odd port", base, "http://example.com:1234/a", "https://example.com/a"},
		{"requested host empty port", base, "http://example.com:/a", "https://example.com/a"},
		{"requested host no path", base, "http://example.com", "https://example.com"},
		{"requested host query only", base, "http://example.com?x=1", "https://example.com?x=1"},
		{"requested host fragment only", base, "http://example.com#top", "https://example.com#top"},
		{"path query fragment kept byte for byte", base, "http://example.com/a%20b/c?q=%2F&x=y#frag%21", "https://example.com/a%20b/c?q=%2F&x=y#frag%21"},
		{"scheme case-insensitive", base, "HTTP://example.com/a", "https://example.com/a"},
		{"host case-insensitive", base, "http://EXAMPLE.Com/a", "https://example.com/a"},
		{"configured host in upper case", upper, "http://example.com/a", "https://Example.COM/a"},
		{"trailing dot on host", base, "http://example.com./a", "https://example.com/a"},
		{"surrounding whitespace", base, "  http://example.com/a\t", "https://example.com/a"},
		{"userinfo kept", base, "http://user:pw@example.com/a", "https://user:pw@example.com/a"},
		{"https port added", withPort, "http://example.com/a", "https://example.com:8443/a"},
		{"https port 443 omitted", port443, "http://example.com:8081/a", "https://example.com/a"},
		{"Host with port ignored, HTTPSPort used", hostWithPort, "http://example.com/a", "https://example.com:8443/a"},
		// The backend's own addresses.
		{"backend address", base, "http://127.0.0.1:8081/dir/", "https://example.com/dir/"},
		{"backend address leading zero port", base, "http://127.0.0.1:08081/dir/", "https://example.com/dir/"},
		{"backend address wrong port", base, "http://127.0.0.1:9999/dir/", "http://127.0.0.1:9999/dir/"},
		{"backend address default port absent", base, "http://127.0.0.1/dir/", "http://127.0.0.1/dir/"},
		{"backend name default port 80", base, "http://apache.internal/x", "https://example.com/x"},
		{"backend name explicit 80", base, "http://APACHE.internal:80/x", "https://example.com/x"},
		{"backend name other port", base, "http://apache.internal:8080/x", "http://apache.internal:8080/x"},
		{"backend IPv6", base, "http://[::1]:8080/x", "https://example.com/x"},
		{"backend IPv6 other spelling", base, "http://[0:0::1]:8080/x", "https://example.com/x"},
		{"backend address to https port", withPort, "http://127.0.0.1:8081/", "https://example.com:8443/"},
		// IPv6 requested host.
		{"IPv6 requested host", v6, "http://[2001:db8::1]/a", "https://[2001:db8::1]/a"},
		{"IPv6 requested host other spelling", v6, "http://[2001:DB8:0:0::1]:8081/a", "https://[2001:db8::1]/a"},
		{"IPv6 requested host bracketed config", v6Bracketed, "http://[2001:db8::1]/a", "https://[2001:DB8::1]/a"},
		{"IPv6 other address", v6, "http://[2001:db8::2]/a", "http://[2001:db8::2]/a"},
		{"IPv6 unbracketed is not a URL host", v6, "http://2001:db8::1/a", "http://2001:db8::1/a"},
		{"IPv6 backend address for IPv6 host", v6, "http://127.0.0.1:8081/a", "https://[2001:db8::1]/a"},
		// Left alone.
		{"relative path", base, "/dir/", "/dir/"},
		{"relative no slash", base, "dir/", "dir/"},
		{"relative query", base, "?page=2", "?page=2"},
		{"network-path reference", base, "//example.com/a", "//example.com/a"},
		{"https untouched", base, "https://example.com/a", "https://example.com/a"},
		{"https backend untouched", base, "https://127.0.0.1:8081/a", "https://127.0.0.1:8081/a"},
		{"other host", base, "http://other.example/a", "http://other.example/a"},
		{"suffix of host", base, "http://notexample.com/a", "http://notexample.com/a"},
		{"subdomain", base, "http://www.example.com/a", "http://www.example.com/a"},
		{"host in path only", base, "http://other.example/example.com", "http://other.example/example.com"},
		{"host in userinfo only", base, "http://example.com@other.example/", "http://example.com@other.example/"},
		{"backslash ends authority", base, `http://evil.example\@example.com/`, `http://evil.example\@example.com/`},
		{"other scheme", base, "ftp://example.com/a", "ftp://example.com/a"},
		{"mailto", base, "mailto:a@example.com", "mailto:a@example.com"},
		{"non-numeric port", base, "http://example.com:x/a", "http://example.com:x/a"},
		{"empty", base, "", ""},
		{"scheme only", base, "http://", "http://"},
		{"no Host configured", Redirect{BackendHosts: []string{"127.0.0.1:8081"}}, "http://127.0.0.1:8081/", "http://127.0.0.1:8081/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Rewrite(tc.in); got != tc.want {
				t.Errorf("Rewrite(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedirectRewriteRefresh(t *testing.T) {
	r := Redirect{Host: "example.com", BackendHosts: []string{"127.0.0.1:8081"}}
	tests := []struct {
		name, in, want string
	}{
		{"semicolon url=", "5; url=http://example.com/next", "5; url=https://example.com/next"},
		{"no space", "0;url=http://127.0.0.1:8081/x", "0;url=https://example.com/x"},
		{"upper URL", "5; URL=http://example.com/a", "5; URL=https://example.com/a"},
		{"mixed case Url", "5;Url=http://example.com/a", "5;Url=https://example.com/a"},
		{"spaces around =", "5; url = http://example.com/a", "5; url = https://example.com/a"},
		{"comma separator", "5, url=http://example.com/a", "5, url=https://example.com/a"},
		{"double quotes", `5; url="http://example.com/a"`, `5; url="https://example.com/a"`},
		{"single quotes", "5; url='http://example.com/a'", "5; url='https://example.com/a'"},
		{"quote with trailing text", `5; url="http://example.com/a" junk`, `5; url="https://example.com/a" junk`},
		{"bare URL without url=", "5; http://example.com/a", "5; https://example.com/a"},
		{"bare URL after space", "5 http://example.com/a", "5 https://example.com/a"},
		{"partial url keyword, as browsers read it", "1; ur http://example.com/", "1; ur https://example.com/"},
		{"space inside quotes kept", `1; url=" http://example.com/ "`, `1; url=" https://example.com/ "`},
		{"fractional delay", "2.5; url=http://example.com/a", "2.5; url=https://example.com/a"},
		{"leading whitespace", "  3;url=http://example.com/", "  3;url=https://example.com/"},
		{"relative URL", "5; url=/next", "5; url=/next"},
		{"https URL", "5; url=https://example.com/a", "5; url=https://example.com/a"},
		{"other host", "5; url=http://other.example/a", "5; url=http://other.example/a"},
		{"delay only", "5", "5"},
		{"delay and separator only", "5;", "5;"},
		{"no delay", "url=http://example.com/", "url=http://example.com/"},
		{"garbage after delay", "5x; url=http://example.com/", "5x; url=http://example.com/"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.RewriteRefresh(tc.in); got != tc.want {
				t.Errorf("RewriteRefresh(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRewriteResponse(t *testing.T) {
	r := Redirect{Host: "example.com", HTTPSPort: 8443, BackendHosts: []string{"127.0.0.1:8081"}}
	tests := []struct {
		name     string
		in, want http.Header
	}{
		{
			name: "location content-location refresh",
			in: http.Header{
				"Location":         {"http://example.com/dir/"},
				"Content-Location": {"http://127.0.0.1:8081/index.html"},
				"Refresh":          {"1; url=http://example.com/x"},
				"Link":             {"<http://example.com/style.css>; rel=preload"},
			},
			want: http.Header{
				"Location":         {"https://example.com:8443/dir/"},
				"Content-Location": {"https://example.com:8443/index.html"},
				"Refresh":          {"1; url=https://example.com:8443/x"},
				"Link":             {"<http://example.com/style.css>; rel=preload"},
			},
		},
		{
			name: "several values each rewritten",
			in:   http.Header{"Location": {"http://example.com/a", "/b", "http://other.example/c"}},
			want: http.Header{"Location": {"https://example.com:8443/a", "/b", "http://other.example/c"}},
		},
		{
			name: "nothing to rewrite",
			in:   http.Header{"Content-Type": {"text/html"}},
			want: http.Header{"Content-Type": {"text/html"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			RewriteResponse(tc.in, r)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("got %v, want %v", tc.in, tc.want)
			}
		})
	}
}

func TestRedirectRewriteRefusesBadHost(t *testing.T) {
	for _, host := range []string{"evil.example/x", "a@b", "ex ample", "2001:db8::1%eth0", "::ffff:1.2.3.4:80", "[bad]"} {
		r := Redirect{Host: host, BackendHosts: []string{"127.0.0.1:8081"}}
		if got := r.Rewrite("http://127.0.0.1:8081/a"); got != "http://127.0.0.1:8081/a" {
			t.Errorf("Host %q: Rewrite = %q, want unchanged", host, got)
		}
	}
}
