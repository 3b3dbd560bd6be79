package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tlsfront/headers"
	"tlsfront/tlsconf"
)

const good = `
[server]
https = "127.0.0.1:8443"
http = ""
[tls]
profile = "intermediate"
[[site]]
names = ["example.com", "www.example.com"]
backend = "http://127.0.0.1:8081"
  [[site.cert]]
  cert = "rsa.pem"
  key = "rsa.key"
[[site]]
names = ["other.example"]
backend = "http://127.0.0.1:8082"
  [[site.cert]]
  cert = "/abs/ec.pem"
  key = "ec.key"
`

func TestParseGood(t *testing.T) {
	c, ps, err := Parse(good, "/etc/tlsfront/tlsfront.toml")
	if err != nil || len(ps) > 0 {
		t.Fatal(errText(ps, err))
	}
	if c.Server.HTTP != "" {
		t.Errorf("http = %q, want disabled", c.Server.HTTP)
	}
	if c.Server.ReadHeaderTimeout.Duration != 10*time.Second {
		t.Errorf("default read_header_timeout = %v", c.Server.ReadHeaderTimeout)
	}
	if got := c.Sites[0].Certs[0].Cert; got != "/etc/tlsfront/rsa.pem" {
		t.Errorf("relative cert resolved to %q", got)
	}
	if got := c.Sites[1].Certs[0].Cert; got != "/abs/ec.pem" {
		t.Errorf("absolute cert changed to %q", got)
	}
	if got := c.Server.StateDir; got != "/etc/tlsfront/state" {
		t.Errorf("state_dir resolved to %q", got)
	}
	if c.Line("site[1].cert[0].key") != 18 {
		t.Errorf("line of site[1].cert[0].key = %d, want 18", c.Line("site[1].cert[0].key"))
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // each must appear in the error text
	}{
		{"unknown key", "[server]\nhttps = \":8443\"\nbogus = 1\n" + site, []string{"line 3: server.bogus: unknown key"}},
		{"unknown key in site", site + "  colour = \"red\"\n", []string{"line 7: site.cert.colour: unknown key"}},
		{"wrong type", "[server]\nhttps = 8443\n" + site, []string{`line 2: server.https: TOML value has type int64; want string`}},
		{"wrong type in second site", site + "[[site]]\nnames = \"b.example\"\nbackend = \"http://127.0.0.1:1\"\n", []string{"site[1].names", "want slice"}},
		{"bad min_version", "[tls]\nmin_version = \"1.4\"\n" + site, []string{`line 2: tls.min_version: "1.4" is not a TLS version (want "1.0".."1.3")`}},
		{"bad profile", "[tls]\nprofile = \"paranoid\"\n" + site, []string{`tls.profile: "paranoid" is not a profile (want one of tutorial, intermediate, old, modern)`}},
		{"dhparam", "[tls]\ndhparam = \"dh.pem\"\n" + site, []string{"tls.dhparam", "Go has no finite-field DHE"}},
		{"bad duration", "[server]\nidle_timeout = \"soon\"\n" + site, []string{`line 2: server.idle_timeout: "soon" is not a duration`}},
		{"no sites", "[server]\n", []string{"no [[site]] is configured"}},
		{"bad backend scheme", "[[site]]\nnames = [\"a.example\"]\nbackend = \"ftp://x\"\n", []string{`line 3: site[0].backend: "ftp://x" has scheme "ftp"`}},
		{"duplicate name", site + "[[site]]\nnames = [\"A.example\"]\nbackend = \"http://127.0.0.1:2\"\n", []string{`line 8: site[1].names: "A.example" is already a name of site[0]`}},
		{"bad name", "[[site]]\nnames = [\"bad name\"]\nbackend = \"http://127.0.0.1:1\"\n", []string{`site[0].names: "bad name" is not a host name`}},
		{"bad listen", "[server]\nhttps = \"8443\"\n" + site, []string{`server.https: "8443" is not a listen address`}},
		{"bad level", "[log]\nlevel = \"loud\"\n" + site, []string{`log.level: "loud" is not a level`}},
		{"missing key file", "[[site]]\nnames = [\"a.example\"]\nbackend = \"http://127.0.0.1:1\"\n[[site.cert]]\ncert = \"a.pem\"\n", []string{"line 4: site[0].cert[0].key: is missing"}},
		{"syntax error", "[server\n", []string{"to end table name"}},
		{"many at once", "[server]\nhttps = \"x\"\nnope = 1\n[tls]\nmin_version = \"1.4\"\n[log]\nformat = \"xml\"\n", []string{"server.https", "server.nope", "tls.min_version", "log.format", "no [[site]]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps, err := Parse(tt.src, "")
			var ce *Error
			if len(ps) == 0 && !errors.As(err, &ce) {
				t.Fatalf("problems %v, err = %v; want problems, or an *Error for a file that is not TOML", ps, err)
			}
			text := errText(ps, err)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("problems lack %q:\n%s", w, text)
				}
			}
		})
	}
}

const site = "[[site]]\nnames = [\"a.example\"]\nbackend = \"http://127.0.0.1:1\"\n[[site.cert]]\ncert = \"a.pem\"\nkey = \"a.key\"\n"

// TestExample keeps config.example.toml loadable and complete: every key of
// the schema must appear in it.
func TestExample(t *testing.T) {
	path := filepath.Join("..", "config.example.toml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ps, err := Load(path); err != nil || len(ps) > 0 {
		t.Fatalf("config.example.toml: %s", errText(ps, err))
	}
	for _, key := range schemaKeys() {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(src), leaf+" =") && !strings.Contains(string(src), "["+key+"]") {
			t.Errorf("config.example.toml does not document %s", key)
		}
	}
}

// TestExampleShowsDefaults keeps config.example.toml honest: every value it
// shows is the default a file without that key gets.
func TestExampleShowsDefaults(t *testing.T) {
	ex, ps, err := Load(filepath.Join("..", "config.example.toml"))
	if err != nil || len(ps) > 0 {
		t.Fatal(errText(ps, err))
	}
	def := Defaults()
	def.Dir = ex.Dir
	def.resolvePaths()
	for _, sec := range []struct {
		name     string
		got, def any
	}{
		{"server", ex.Server, def.Server}, {"tls", ex.TLS, def.TLS}, {"headers", ex.Headers, def.Headers},
		{"proxy", ex.Proxy, def.Proxy}, {"ocsp", ex.OCSP, def.OCSP}, {"acme", ex.ACME, def.ACME}, {"log", ex.Log, def.Log},
	} {
		if g, d := fmt.Sprintf("%+v", sec.got), fmt.Sprintf("%+v", sec.def); g != d {
			t.Errorf("[%s] in config.example.toml differs from the defaults:\nexample:  %s\ndefaults: %s", sec.name, g, d)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add(site)
	f.Add("[server]\nhttps = 1\n[[site]]\n[[site.cert]]\n")
	f.Fuzz(func(t *testing.T, src string) {
		c, ps, err := Parse(src, "")
		if (err == nil) == (c == nil) {
			t.Fatalf("Parse returned config %v with error %v: want exactly one", c, err)
		}
		if err == nil && len(ps) == 0 && len(c.Sites) == 0 {
			t.Fatal("accepted a config without sites")
		}
	})
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{
		"TLSFRONT_SERVER_HTTPS":         "127.0.0.1:9443",
		"TLSFRONT_SERVER_IDLE_TIMEOUT":  "5s",
		"TLSFRONT_TLS_PROFILE":          "modern",
		"TLSFRONT_HEADERS_HPKP_MAX_AGE": "60",
		"TLSFRONT_SITE_BACKEND":         "http://127.0.0.1:9090",
		"TLSFRONT_SITE_1_NAMES":         "b.example, c.example",
		"TLSFRONT_SITE_1_BACKEND":       "http://127.0.0.1:9091",
		"TLSFRONT_LOG_ACCESS":           "false",
		"TLSFRONT_SERVICE_HOST":         "10.0.0.7", // Kubernetes service links for a Service named tlsfront: not ours
		"TLSFRONT_PORT":                 "tcp://10.0.0.7:443",
		"TLSFRONT_PORT_443_TCP_PROTO":   "tcp",
		"TLSFRONT_PROXY_SERVICE_PORT":   "443", // ... and for one named tlsfront-proxy
		"OTHER":                         "x",
	}
	var names []string
	for k := range env {
		names = append(names, k)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, ps, err := ParseEnv(site, "", names, lookup)
	if err != nil || len(ps) > 0 {
		t.Fatal(errText(ps, err))
	}
	if c.Server.HTTPS != "127.0.0.1:9443" || c.Server.IdleTimeout.Duration != 5*time.Second || c.TLS.Profile != "modern" ||
		c.Headers.HPKP.MaxAge != 60 || c.Log.Access || c.Sites[0].Backend != "http://127.0.0.1:9090" ||
		len(c.Sites) != 2 || strings.Join(c.Sites[1].Names, "|") != "b.example|c.example" {
		t.Errorf("overrides not applied: %+v", c)
	}

	bad := map[string]string{"TLSFRONT_SERVER_IDLE_TIMEOUT": "soon", "TLSFRONT_SERVER_NOPE": "1", "TLSFRONT_SITE_5_BACKEND": "x", "TLSFRONT_LOG_ACCESS": "maybe",
		"TLSFRONT_HEADER_HSTS": "max-age=1", "TLSFRONT_STAPLING_NETNS": "1", "TLSFRONT_SERVER_PORT": "8443"}
	names = names[:0]
	for k := range bad {
		names = append(names, k)
	}
	_, ps, err = ParseEnv(site, "", names, func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
	text := errText(ps, err)
	for _, want := range []string{`TLSFRONT_SERVER_IDLE_TIMEOUT (server.idle_timeout): "soon" is not a duration`, "TLSFRONT_SERVER_NOPE: names no key", "TLSFRONT_SITE_5_BACKEND: names site 5", `TLSFRONT_LOG_ACCESS (log.access): "maybe" is not true or false`,
		"TLSFRONT_HEADER_HSTS: names no key", "TLSFRONT_STAPLING_NETNS: names no key", "TLSFRONT_SERVER_PORT: names no key"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
}

// errText renders what Parse returned the way the CLI shows it.
func errText(ps []Problem, err error) string {
	if err != nil {
		return err.Error()
	}
	if len(ps) == 0 {
		return ""
	}
	return (&Error{Problems: ps}).Error()
}

// TestRulesOfOtherPackages: config reports the TLS policy and header
// rules with the owning package's own check, under the right key, so the
// two can never disagree: a header value headers.ValidateHSTS refuses is a
// problem here too, and a bad tls.* setting reads exactly as tlsconf words
// it.
func TestRulesOfOtherPackages(t *testing.T) {
	tests := []struct{ name, src, key string }{
		{"hsts max-age twice", "[headers]\nhsts = \"max-age=1; max-age=2\"\n", "headers.hsts"},
		{"hsts preload with a value", "[headers]\nhsts = \"max-age=1; preload=yes\"\n", "headers.hsts"},
		{"hsts control byte", "[headers]\nhsts = \"max-age=1; \\u0001x\"\n", "headers.hsts"},
		{"hsts without max-age", "[headers]\nhsts = \"includeSubDomains\"\n", "headers.hsts"},
		{"trusted proxy not a CIDR", "[headers]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", "headers.trusted_proxies"},
		{"bad profile", "[tls]\nprofile = \"paranoid\"\n", "tls.profile"},
		{"bad min_version", "[tls]\nmin_version = \"1.4\"\n", "tls.min_version"},
		{"forbidden ciphers", "[tls]\nciphers = \"RC4-SHA\"\n", "tls.ciphers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ps, err := Parse(tt.src+site, "")
			if err != nil {
				t.Fatal(err)
			}
			var want error
			switch {
			case tt.key == "headers.hsts":
				want = headers.ValidateHSTS(c.Headers.HSTS)
			case tt.key == "headers.trusted_proxies":
				_, want = headers.ParseTrustedProxies(c.Headers.TrustedProxies)
			default:
				_, want = tlsconf.NewPolicy(c.TLS.Profile, c.TLS.MinVersion, c.TLS.Ciphers)
			}
			if want == nil {
				t.Fatalf("the owning package accepts %s: the case proves nothing", tt.src)
			}
			if len(ps) != 1 || ps[0].Key != tt.key || !strings.Contains(want.Error(), ps[0].Msg) {
				t.Errorf("problems %q, want one under %s reading as the owner's %q", ps, tt.key, want)
			}
		})
	}
}

// parseErr is Parse with its problems joined in one *Error, for tests that
// only look at the text.
func parseErr(src, path string) (*Config, error) {
	c, ps, err := Parse(src, path)
	return c, joinProblems(ps, err)
}

// parseEnvErr is parseErr for ParseEnv.
func parseEnvErr(src, path string, environ []string, lookup func(string) (string, bool)) (*Config, error) {
	c, ps, err := ParseEnv(src, path, environ, lookup)
	return c, joinProblems(ps, err)
}

func joinProblems(ps []Problem, err error) error {
	if err != nil || len(ps) == 0 {
		return err
	}
	return &Error{Problems: ps}
}
