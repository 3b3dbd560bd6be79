package itest_test

import (
	"fmt"
	"strings"
	"testing"

	"tlsfront/internal/itest"
)

// TestApacheBackend proves what the integration tests rely on: the marker,
// mod_dir's http:// redirect, the cookie path, the X-Forwarded-* echo and
// an access log that records what Apache received.
func TestApacheBackend(t *testing.T) {
	t.Parallel()
	a := itest.StartApache(t, itest.ApacheOptions{Files: map[string]string{"extra/x.txt": "extra file\n"}})

	t.Run("index marker", func(t *testing.T) {
		r := itest.Curl(t, a.URL+"/?case=index")
		if r.Status != 200 || !strings.Contains(r.Body, a.Marker) {
			t.Errorf("GET / = %d %q, want 200 with marker %q", r.Status, r.Body, a.Marker)
		}
		if got := a.WaitTarget(t, "/?case=index"); got.Method != "GET" || got.Proto != "HTTP/1.1" || got.Status != 200 {
			t.Errorf("logged %+v", got)
		}
	})
	t.Run("extra file", func(t *testing.T) {
		if r := itest.Curl(t, a.URL+"/extra/x.txt"); r.Status != 200 || r.Body != "extra file\n" {
			t.Errorf("GET /extra/x.txt = %d %q", r.Status, r.Body)
		}
	})
	t.Run("mod_dir redirect uses Host", func(t *testing.T) {
		r := itest.Curl(t, "-H", "Host: legacy.example:8080", a.URL+"/dir")
		if r.Status != 301 || r.Headers.Get("Location") != "http://legacy.example:8080/dir/" {
			t.Errorf("GET /dir = %d Location %q, want 301 http://legacy.example:8080/dir/", r.Status, r.Headers.Get("Location"))
		}
	})
	t.Run("cookie", func(t *testing.T) {
		r := itest.Curl(t, a.URL+"/cookie/")
		if got := r.Headers.Get("Set-Cookie"); got != "a=b; Path=/" {
			t.Errorf("Set-Cookie = %q, want %q", got, "a=b; Path=/")
		}
		if r := itest.Curl(t, a.URL+"/?case=nocookie"); r.Headers.Get("Set-Cookie") != "" {
			t.Errorf("/ sets a cookie: %q", r.Headers.Get("Set-Cookie"))
		}
	})
	t.Run("forwarded headers echoed and logged", func(t *testing.T) {
		r := itest.Curl(t,
			"-H", "X-Forwarded-For: 192.0.2.7, 127.0.0.1",
			"-H", "X-Forwarded-Proto: https",
			"-H", "X-Forwarded-Host: www.example:443",
			"-H", "X-Other: nope",
			a.URL+"/?case=xff")
		for h, want := range map[string]string{
			"X-Forwarded-For": "192.0.2.7, 127.0.0.1", "X-Forwarded-Proto": "https",
			"X-Forwarded-Host": "www.example:443", "X-Other": "",
		} {
			if got := r.Headers.Get(h); got != want {
				t.Errorf("echoed %s = %q, want %q", h, got, want)
			}
		}
		got := a.WaitTarget(t, "/?case=xff")
		if got.XForwardedFor != "192.0.2.7, 127.0.0.1" || got.XForwardedProto != "https" ||
			got.XForwardedHost != "www.example:443" || got.Host != a.Addr {
			t.Errorf("logged %+v", got)
		}
	})
	t.Run("body framing logged", func(t *testing.T) {
		itest.Curl(t, "--data-binary", "hello", a.URL+"/?case=cl")
		itest.Curl(t, "-H", "Transfer-Encoding: chunked", "--data-binary", "hello", a.URL+"/?case=te")
		cl := a.WaitTarget(t, "/?case=cl")
		te := a.WaitTarget(t, "/?case=te")
		if cl.Method != "POST" || cl.ContentLength != "5" || cl.TransferEncoding != "" {
			t.Errorf("content-length request logged as %+v", cl)
		}
		if te.TransferEncoding != "chunked" || te.ContentLength != "" {
			t.Errorf("chunked request logged as %+v", te)
		}
	})
	t.Run("keep-alive visible", func(t *testing.T) {
		itest.Curl(t, a.URL+"/?case=ka1", "--next", "-sk", a.URL+"/?case=ka2")
		one, two := a.WaitTarget(t, "/?case=ka1"), a.WaitTarget(t, "/?case=ka2")
		if one.RemotePort != two.RemotePort || two.KeepAlives != one.KeepAlives+1 {
			t.Errorf("two requests on one curl connection logged as %+v and %+v", one, two)
		}
	})
	t.Run("escaped header", func(t *testing.T) {
		itest.Curl(t, "-H", `X-Forwarded-Host: a"b\c`+"\t"+"d", a.URL+"/?case=esc")
		if got := a.WaitTarget(t, "/?case=esc"); got.XForwardedHost != `a"b\c`+"\t"+"d" {
			t.Errorf("escaped header logged as %q (line %q)", got.XForwardedHost, got.Line)
		}
	})
}

func TestParseAccessLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
		want itest.ApacheRequest
	}{
		{
			name: "absent headers",
			line: "GET / HTTP/1.1\t127.0.0.1:80\t-\t-\t-\t-\t-\t-\t200\t127.0.0.1\t5000\t0",
			want: itest.ApacheRequest{Method: "GET", Target: "/", Proto: "HTTP/1.1", Host: "127.0.0.1:80", Status: 200, RemoteAddr: "127.0.0.1", RemotePort: 5000},
		},
		{
			name: "escapes",
			line: `POST /a?b=\"c HTTP/1.0` + "\th\t1.2.3.4\thttps\tx\\ty\\\\z\\x01\t3\tchunked\tkeep-alive\t502\t::1\t1\t7",
			want: itest.ApacheRequest{Method: "POST", Target: `/a?b="c`, Proto: "HTTP/1.0", Host: "h", XForwardedFor: "1.2.3.4",
				XForwardedProto: "https", XForwardedHost: "x\ty\\z\x01", ContentLength: "3", TransferEncoding: "chunked",
				Connection: "keep-alive", Status: 502, RemoteAddr: "::1", RemotePort: 1, KeepAlives: 7},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := itest.ParseAccessLine(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Line = tc.line
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if _, err := itest.ParseAccessLine("GET / HTTP/1.1\tshort"); err == nil {
		t.Errorf("a short line parsed without error")
	}
}

// TestApacheCGI proves ApacheOptions.CGI: /cgi-bin/env prints the CGI
// environment, request headers as HTTP_* variables.
func TestApacheCGI(t *testing.T) {
	t.Parallel()
	a := itest.StartApache(t, itest.ApacheOptions{CGI: true})
	r := itest.Curl(t, "-H", "X-Forwarded-For: 192.0.2.7", "-H", "Client-IP: 192.0.2.8", a.URL+"/cgi-bin/env")
	if r.Status != 200 {
		t.Fatalf("GET /cgi-bin/env = %d %q", r.Status, r.Body)
	}
	for _, want := range []string{"HTTP_X_FORWARDED_FOR=192.0.2.7\n", "HTTP_CLIENT_IP=192.0.2.8\n", "GATEWAY_INTERFACE=CGI/1.1\n"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("environment lacks %q:\n%s", want, r.Body)
		}
	}
}
