package config

import (
	"errors"
	"strings"
	"testing"
)

// TestHTTP2Keys checks server.http2, server.max_concurrent_streams and
// server.http2_glitches: defaults, accepted values, problems.
func TestHTTP2Keys(t *testing.T) {
	c, err := parseErr(site, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.HTTP2 != "tlsfront" || c.Server.MaxConcurrentStreams != 128 || c.Server.HTTP2Glitches != 1000 {
		t.Errorf("defaults: http2 %q, max_concurrent_streams %d, http2_glitches %d; want \"go\", 128, 1000",
			c.Server.HTTP2, c.Server.MaxConcurrentStreams, c.Server.HTTP2Glitches)
	}
	c, err = parseErr("[server]\nhttp2 = \"tlsfront\"\nmax_concurrent_streams = 100\nhttp2_glitches = 0\n"+site, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.HTTP2 != "tlsfront" || c.Server.MaxConcurrentStreams != 100 || c.Server.HTTP2Glitches != 0 {
		t.Errorf("parsed %q, %d, %d; want \"tlsfront\", 100, 0", c.Server.HTTP2, c.Server.MaxConcurrentStreams, c.Server.HTTP2Glitches)
	}
	for _, tt := range []struct{ name, src, want string }{
		{"unknown server", "[server]\nhttp2 = \"nginx\"\n", `line 2: server.http2: "nginx" is not an HTTP/2 server (want tlsfront, go, or off`},
		{"zero streams", "[server]\nmax_concurrent_streams = 0\n", "line 2: server.max_concurrent_streams: 0 is out of range (want 1..65535"},
		{"too many streams", "[server]\nmax_concurrent_streams = 70000\n", "line 2: server.max_concurrent_streams: 70000 is out of range"},
		{"negative glitches", "[server]\nhttp2_glitches = -1\n", "line 2: server.http2_glitches: -1 is negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseErr(tt.src+site, "")
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a *Error containing %q", err, tt.want)
			}
		})
	}
}
