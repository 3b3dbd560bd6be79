package config

import (
	"strings"
	"testing"
	"time"
)

// TestLimits checks the keys that bound what clients can cost: defaults,
// accepted values and the problems reported for bad ones.
func TestLimits(t *testing.T) {
	c, ps, err := Parse(site, "")
	if err != nil || len(ps) > 0 {
		t.Fatal(errText(ps, err))
	}
	if c.Server.MaxConnections != 0 || c.Proxy.MaxBodyBytes != 0 || c.Proxy.ReadTimeout.Duration != 60*time.Second ||
		c.Proxy.ClientBodyTimeout.Duration != 60*time.Second || c.Proxy.SendTimeout.Duration != 60*time.Second {
		t.Errorf("defaults: max_connections %d, max_body_bytes %d, read_timeout %v, client_body_timeout %v; want 0, 0, 60s, 60s",
			c.Server.MaxConnections, c.Proxy.MaxBodyBytes, c.Proxy.ReadTimeout, c.Proxy.ClientBodyTimeout)
	}
	c, ps, err = Parse("[server]\nmax_connections = 5000\n[proxy]\nmax_body_bytes = 1073741824\nread_timeout = \"0s\"\nclient_body_timeout = \"15s\"\n"+site, "")
	if err != nil || len(ps) > 0 {
		t.Fatal(errText(ps, err))
	}
	if c.Server.MaxConnections != 5000 || c.Proxy.MaxBodyBytes != 1<<30 || c.Proxy.ReadTimeout.Duration != 0 ||
		c.Proxy.ClientBodyTimeout.Duration != 15*time.Second {
		t.Errorf("parsed %d, %d, %v, %v; want 5000, 1073741824, 0s, 15s",
			c.Server.MaxConnections, c.Proxy.MaxBodyBytes, c.Proxy.ReadTimeout, c.Proxy.ClientBodyTimeout)
	}

	for _, tt := range []struct{ name, src, want string }{
		{"negative max_connections", "[server]\nmax_connections = -1\n", "line 2: server.max_connections: -1 is negative"},
		{"negative max_body_bytes", "[proxy]\nmax_body_bytes = -5\n", "line 2: proxy.max_body_bytes: -5 is negative"},
		{"negative read_timeout", "[proxy]\nread_timeout = \"-1s\"\n", `line 2: proxy.read_timeout: "-1s" is negative`},
		{"negative send_timeout", "[proxy]\nsend_timeout = \"-1ms\"\n", `line 2: proxy.send_timeout: "-1ms" is negative`},
		{"negative client_body_timeout", "[proxy]\nclient_body_timeout = \"-2s\"\n", `line 2: proxy.client_body_timeout: "-2s" is negative`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ps, err := Parse(tt.src+site, "")
			if text := errText(ps, err); err != nil || !strings.Contains(text, tt.want) {
				t.Errorf("problems %s (err %v), want one containing %q", text, err, tt.want)
			}
		})
	}
}
