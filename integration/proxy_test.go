package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// TestProxy is the core issue's proof on the HTTP side: browsers get
// Apache's content over HTTP/2 and HTTP/1.1 with HSTS, Apache learns the
// client's address, scheme and host, its http:// redirects and insecure
// cookies are fixed, and the plain listener only redirects.
func TestProxy(t *testing.T) {
	t.Parallel()
	f := startFront(t, frontOptions{Certs: []string{"rsa2048", "ecdsa256"}})
	host := fmt.Sprintf("localhost:%d", f.Front.HTTPSPort)

	for _, tc := range []struct {
		name, flag, wantVersion string
	}{
		{"h2", "--http2", "2"},
		{"http/1.1", "--http1.1", "1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := "/?it=" + strings.ReplaceAll(tc.name, "/", "")
			args := append(f.curlResolve(), tc.flag, f.httpsURL(target))
			r := itest.Curl(t, args...)
			if r.Status != 200 || r.HTTPVersion != tc.wantVersion {
				t.Errorf("GET %s = %d over HTTP/%s, want 200 over HTTP/%s", target, r.Status, r.HTTPVersion, tc.wantVersion)
			}
			if !strings.Contains(r.Body, f.Apache.Marker) {
				t.Errorf("body %q lacks Apache's marker %q", r.Body, f.Apache.Marker)
			}
			if got := r.Headers.Get("Strict-Transport-Security"); got != hstsValue {
				t.Errorf("Strict-Transport-Security = %q, want %q", got, hstsValue)
			}
			got := f.Apache.WaitTarget(t, target)
			if got.XForwardedFor != "127.0.0.1" {
				t.Errorf("Apache saw X-Forwarded-For %q, want 127.0.0.1", got.XForwardedFor)
			}
			if got.XForwardedProto != "https" {
				t.Errorf("Apache saw X-Forwarded-Proto %q, want https", got.XForwardedProto)
			}
			if got.XForwardedHost != host {
				t.Errorf("Apache saw X-Forwarded-Host %q, want %q", got.XForwardedHost, host)
			}
			if got.Method != "GET" || got.Proto != "HTTP/1.1" {
				t.Errorf("Apache saw %s %s, want GET over HTTP/1.1", got.Method, got.Proto)
			}
		})
	}

	t.Run("client X-Forwarded-Proto is overwritten", func(t *testing.T) {
		args := append(f.curlResolve(), "-H", "X-Forwarded-Proto: http", f.httpsURL("/?it=xfp"))
		itest.Curl(t, args...)
		if got := f.Apache.WaitTarget(t, "/?it=xfp"); got.XForwardedProto != "https" {
			t.Errorf("a client's X-Forwarded-Proto: http reached Apache as %q, want https", got.XForwardedProto)
		}
	})

	t.Run("backend http redirect becomes https", func(t *testing.T) {
		r := itest.Curl(t, append(f.curlResolve(), f.httpsURL("/dir"))...)
		want := "https://" + host + "/dir/"
		if r.Status != 301 || r.Headers.Get("Location") != want {
			t.Errorf("GET /dir = %d Location %q, want 301 %q", r.Status, r.Headers.Get("Location"), want)
		}
	})

	t.Run("backend cookie gets Secure", func(t *testing.T) {
		r := itest.Curl(t, append(f.curlResolve(), f.httpsURL("/cookie/"))...)
		if got := r.Headers.Get("Set-Cookie"); got != "a=b; Path=/; Secure" {
			t.Errorf("Set-Cookie = %q, want %q", got, "a=b; Path=/; Secure")
		}
	})

	t.Run("plain listener redirects", func(t *testing.T) {
		httpHost := fmt.Sprintf("localhost:%d", f.Front.HTTPPort)
		r := itest.Curl(t, "-H", "Host: "+httpHost, fmt.Sprintf("http://%s/a?b=c", f.Front.HTTPAddr))
		want := fmt.Sprintf("https://localhost:%d/a?b=c", f.Front.HTTPSPort)
		if r.Status != 301 || r.Headers.Get("Location") != want {
			t.Errorf("GET http://%s/a?b=c = %d Location %q, want 301 %q", httpHost, r.Status, r.Headers.Get("Location"), want)
		}
		if got := r.Headers.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("plain listener sent Strict-Transport-Security %q; HSTS over http is ignored and misleading", got)
		}
		if strings.Contains(r.Body, f.Apache.Marker) {
			t.Errorf("plain listener proxied to Apache instead of redirecting")
		}
	})
}

// TestDeadBackend proves a backend that refuses connections gets the
// client a 502 with an HTML page, not a hang or a reset.
func TestDeadBackend(t *testing.T) {
	t.Parallel()
	f := startFront(t, frontOptions{
		Certs:   []string{"ecdsa256"},
		Backend: fmt.Sprintf("http://127.0.0.1:%d", itest.ClosedPort(t)),
		NoHTTP:  true,
	})
	for _, flag := range []string{"--http2", "--http1.1"} {
		t.Run(flag, func(t *testing.T) {
			args := append(f.curlResolve(), flag, "--max-time", "10", f.httpsURL("/"))
			r := itest.Curl(t, args...)
			if r.Status != 502 {
				t.Errorf("status = %d, want 502", r.Status)
			}
			if ct := r.Headers.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q, want text/html", ct)
			}
			if !strings.Contains(strings.ToLower(r.Body), "<html") {
				t.Errorf("body is not an HTML page: %q", r.Body)
			}
			if got := r.Headers.Get("Strict-Transport-Security"); got != hstsValue {
				t.Errorf("error page lacks HSTS: %q", got)
			}
		})
	}
}

// TestBackendKeepAliveTimeout runs tlsfront's backend connection pool
// against Apache closing idle keep-alive connections after one second:
// requests after the close go on new connections without an error or a
// second copy reaching Apache, and requests in quick succession share one.
func TestBackendKeepAliveTimeout(t *testing.T) {
	t.Parallel()
	apache := itest.StartApache(t, itest.ApacheOptions{Extra: "KeepAliveTimeout 1\n"})
	f := startFront(t, frontOptions{Certs: []string{"ecdsa256"}, Backend: apache.URL, NoHTTP: true})
	steps := []struct {
		target, method, flag string
		pause                time.Duration // before the request
	}{
		{"/?ka=1", "GET", "--http1.1", 0},
		{"/?ka=2", "GET", "--http2", 1500 * time.Millisecond}, // Apache closed ka=1's connection
		{"/?ka=3", "GET", "--http1.1", 0},                     // ka=2's connection, reused
		{"/?ka=4", "HEAD", "--http2", 1500 * time.Millisecond},
		{"/?ka=5", "GET", "--http1.1", 0},
	}
	for _, s := range steps {
		time.Sleep(s.pause)
		args := append(f.curlResolve(), s.flag, "--max-time", "10", "-X", s.method)
		if s.method == "HEAD" {
			args = append(args, "--head")
		}
		r := itest.Curl(t, append(args, f.httpsURL(s.target))...)
		if r.Status != 200 {
			t.Errorf("%s %s = %d, want 200", s.method, s.target, r.Status)
		}
		apache.WaitTarget(t, s.target)
	}
	got := map[string]itest.ApacheRequest{}
	for _, r := range apache.Requests(t) {
		if !strings.HasPrefix(r.Target, "/?ka=") {
			continue
		}
		if _, dup := got[r.Target]; dup {
			t.Errorf("%s reached Apache twice", r.Target)
		}
		got[r.Target] = r
	}
	if got["/?ka=2"].RemotePort == got["/?ka=1"].RemotePort {
		t.Errorf("ka=2 came on ka=1's connection, which Apache had closed")
	}
	for _, pair := range [][2]string{{"/?ka=2", "/?ka=3"}, {"/?ka=4", "/?ka=5"}} {
		a, b := got[pair[0]], got[pair[1]]
		if a.RemotePort != b.RemotePort || b.KeepAlives != a.KeepAlives+1 {
			t.Errorf("%s (port %d, keep-alive %d) did not reuse %s's backend connection (port %d, keep-alive %d)",
				pair[1], b.RemotePort, b.KeepAlives, pair[0], a.RemotePort, a.KeepAlives)
		}
	}
	if strings.Contains(f.Front.Logs(), "backend request failed") {
		t.Errorf("tlsfront logged a backend failure:\n%s", f.Front.Logs())
	}
}
