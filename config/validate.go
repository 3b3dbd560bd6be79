package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"tlsfront/headers"
	"tlsfront/shield"
	"tlsfront/tlsconf"
)

// HTTP2Servers are the values server.http2 accepts.
var HTTP2Servers = []string{"tlsfront", "go", "off"}

func quote(s string) string { return strconv.Quote(s) }

// validate checks every value that can be checked without touching files,
// and returns every problem found. Rules owned by another package are that
// package's checks, called here: the TLS policy (tlsconf.NewPolicy) and
// header values (headers).
func (c *Config) validate() []Problem {
	var ps []Problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, c.Problemf(key, format, args...))
	}

	// [server]
	if msg := checkAddr(c.Server.HTTPS); msg != "" {
		bad("server.https", "%s %s", quote(c.Server.HTTPS), msg)
	}
	if c.Server.HTTP != "" {
		if msg := checkAddr(c.Server.HTTP); msg != "" {
			bad("server.http", "%s %s", quote(c.Server.HTTP), msg)
		} else if c.Server.HTTP == c.Server.HTTPS {
			bad("server.http", "%s is also server.https (want a different address, or \"\" to disable)", quote(c.Server.HTTP))
		}
	}
	if c.Server.StateDir == "" {
		bad("server.state_dir", `"" is not allowed (want a folder for generated certificates and the OCSP cache)`)
	}
	positive := func(key string, d Duration) {
		if d.Duration <= 0 {
			bad(key, "%s is not allowed (want a positive duration such as \"10s\")", quote(d.String()))
		}
	}
	positive("server.read_header_timeout", c.Server.ReadHeaderTimeout)
	positive("server.idle_timeout", c.Server.IdleTimeout)
	positive("server.shutdown_timeout", c.Server.ShutdownTimeout)
	if c.Server.Metrics != "" {
		if msg := checkAddr(c.Server.Metrics); msg != "" {
			bad("server.metrics", "%s %s", quote(c.Server.Metrics), msg)
		}
	}
	if c.Server.WatchInterval.Duration < 0 {
		bad("server.watch_interval", "%s is negative (want a duration such as \"1m\", or \"0s\" to disable)", quote(c.Server.WatchInterval.String()))
	}
	if c.Server.ProxyProtocol && len(c.Headers.TrustedProxies) == 0 {
		bad("server.proxy_protocol", "is true but headers.trusted_proxies is empty (want the load balancers' addresses there: PROXY headers are accepted only from them)")
	}
	if c.Server.MaxConnections < 0 {
		bad("server.max_connections", "%d is negative (want 0 for no limit, or the most client connections to hold at once)", c.Server.MaxConnections)
	}
	if c.Server.MaxConnsPerClient < 0 {
		bad("server.max_conns_per_client", "%d is negative (want 0 for no limit, or the most connections one client may hold open)", c.Server.MaxConnsPerClient)
	}
	if c.Server.ClientTableSize < 1 || c.Server.ClientTableSize > maxClientTableSize {
		bad("server.client_table_size", "%d is out of range (want 1..%d entries; each takes about 120 bytes)", c.Server.ClientTableSize, maxClientTableSize)
	}
	if !slices.Contains(HTTP2Servers, c.Server.HTTP2) {
		bad("server.http2", "%s is not an HTTP/2 server (want tlsfront, go, or off to offer no HTTP/2)", quote(c.Server.HTTP2))
	}
	if c.Server.MaxConcurrentStreams < 1 || c.Server.MaxConcurrentStreams > 65535 {
		bad("server.max_concurrent_streams", "%d is out of range (want 1..65535 streams per HTTP/2 connection)", c.Server.MaxConcurrentStreams)
	}
	if c.Server.HTTP2Glitches < 0 {
		bad("server.http2_glitches", "%d is negative (want 0 for no limit, or the glitches an HTTP/2 connection may cause before it is closed)", c.Server.HTTP2Glitches)
	}
	if c.Server.MaxHeaderBytes < 4096 || c.Server.MaxHeaderBytes > 1<<20 {
		bad("server.max_header_bytes", "%d is out of range (want 4096..1048576 bytes)", c.Server.MaxHeaderBytes)
	}

	// [tls]
	if _, err := tlsconf.NewPolicy(c.TLS.Profile, c.TLS.MinVersion, c.TLS.Ciphers); err != nil {
		for _, pe := range tlsconf.PolicyErrors(err) {
			bad(pe.Key, "%s", pe.Msg)
		}
	}
	if c.TLS.TicketKeys != "" && !c.TLS.SessionTickets {
		bad("tls.ticket_keys", "is set but session_tickets is false (want one or the other)")
	}
	if c.TLS.DHParam != "" {
		bad("tls.dhparam", "%s is not needed: Go has no finite-field DHE, so tlsfront never uses DH parameters and Logjam cannot happen (remove the key; ECDHE gives forward secrecy)", quote(c.TLS.DHParam))
	}

	// [headers]
	if err := headers.ValidateHSTS(c.Headers.HSTS); err != nil {
		bad("headers.hsts", "%v", err)
	}
	if _, err := headers.ParseTrustedProxies(c.Headers.TrustedProxies); err != nil {
		bad("headers.trusted_proxies", "%v", err)
	}
	if err := (headers.Extra{Set: c.Headers.Set, Remove: c.Headers.Remove}).Validate(); err != nil {
		bad("headers.set", "%v", err)
	}

	if h := c.Headers.HPKP; h.Enabled {
		if h.MaxAge <= 0 {
			bad("headers.hpkp.max_age", "%d is not allowed (want a positive number of seconds)", h.MaxAge)
		}
		if h.ReportURI != "" {
			if u, err := url.Parse(h.ReportURI); err != nil || !u.IsAbs() {
				bad("headers.hpkp.report_uri", "%s is not an absolute URL", quote(h.ReportURI))
			}
		}
	}

	// [proxy]
	positive("proxy.dial_timeout", c.Proxy.DialTimeout)
	positive("proxy.response_header_timeout", c.Proxy.ResponseHeaderTimeout)
	if c.Proxy.MaxIdleConns < 0 {
		bad("proxy.max_idle_conns", "%d is negative (want 0 or more; 0 disables keep-alive to the backend)", c.Proxy.MaxIdleConns)
	}
	if c.Proxy.MaxBackendConns < 0 {
		bad("proxy.max_backend_conns", "%d is negative (want 0 for no cap, or the most connections open to one backend at once)", c.Proxy.MaxBackendConns)
	}
	positive("proxy.queue_timeout", c.Proxy.QueueTimeout)
	if c.Proxy.MaxBodyBytes < 0 {
		bad("proxy.max_body_bytes", "%d is negative (want 0 for no limit, or the largest request body in bytes)", c.Proxy.MaxBodyBytes)
	}
	if c.Proxy.ReadTimeout.Duration < 0 {
		bad("proxy.read_timeout", "%s is negative (want a duration such as \"60s\", or \"0s\" to disable)", quote(c.Proxy.ReadTimeout.String()))
	}
	if c.Proxy.SendTimeout.Duration < 0 {
		bad("proxy.send_timeout", "%s is negative (want a duration such as \"60s\", or \"0s\" to disable)", quote(c.Proxy.SendTimeout.String()))
	}
	if c.Proxy.ClientBodyTimeout.Duration < 0 {
		bad("proxy.client_body_timeout", "%s is negative (want a duration such as \"60s\", or \"0s\" to disable)", quote(c.Proxy.ClientBodyTimeout.String()))
	}

	// [ocsp]
	positive("ocsp.timeout", c.OCSP.Timeout)
	if c.OCSP.PrefetchWait.Duration < 0 {
		bad("ocsp.prefetch_wait", "%s is negative (want 0 to not wait, or a duration such as \"5s\")", quote(c.OCSP.PrefetchWait.String()))
	}
	for from, to := range c.OCSP.ResponderOverrides {
		for _, u := range []string{from, to} {
			if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				bad("ocsp.responder_overrides", "%s is not an http:// or https:// URL", quote(u))
			}
		}
	}

	// [acme]
	acmeSites := 0
	for _, st := range c.Sites {
		if st.ACME {
			acmeSites++
		}
	}
	if acmeSites > 0 {
		if !c.ACME.AgreeTOS {
			bad("acme.agree_tos", "is false, but %d site(s) have acme = true (want true: ordering a certificate accepts the CA's subscriber agreement)", acmeSites)
		}
		if u, err := url.Parse(c.ACME.CA); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("acme.ca", "%s is not an https:// directory URL", quote(c.ACME.CA))
		}
		if !slices.Contains([]string{"ecdsa256", "rsa2048"}, c.ACME.KeyType) {
			bad("acme.key_type", "%s is not a key type (want ecdsa256 or rsa2048)", quote(c.ACME.KeyType))
		}
		if len(c.ACME.Challenges) == 0 {
			bad("acme.challenges", "is empty (want http-01, tls-alpn-01 or both)")
		}
		for _, ch := range c.ACME.Challenges {
			switch ch {
			case "tls-alpn-01":
			case "http-01":
				if c.Server.HTTP == "" {
					bad("acme.challenges", `"http-01" needs the plain listener, but server.http is "" (enable it, or use only "tls-alpn-01")`)
				}
			default:
				bad("acme.challenges", "%s is not a challenge type (want http-01 or tls-alpn-01)", quote(ch))
			}
		}
		if c.Headers.HPKP.Enabled {
			bad("headers.hpkp.enabled", "is true, but ACME makes a new key at every renewal, so pins of the served keys would lock clients out (disable HPKP or use [[site.cert]])")
		}
	}

	// [[site]]
	if len(c.Sites) == 0 {
		bad("site", "no [[site]] is configured (want at least one, with names and backend)")
	}
	seen := map[string]int{}
	for i, s := range c.Sites {
		key := fmt.Sprintf("site[%d]", i)
		if len(s.Names) == 0 {
			bad(key+".names", "is empty (want the host names this site answers, e.g. [\"www.example.com\"])")
		}
		for _, n := range s.Names {
			ln := strings.ToLower(n)
			if msg := checkName(ln); msg != "" {
				bad(key+".names", "%s %s", quote(n), msg)
				continue
			}
			if prev, dup := seen[ln]; dup {
				bad(key+".names", "%s is already a name of site[%d] (each name belongs to one site)", quote(n), prev)
			}
			seen[ln] = i
		}
		if msg := checkBackend(s.Backend); msg != "" {
			bad(key+".backend", "%s %s", quote(s.Backend), msg)
		}
		if err := (headers.Extra{Set: s.Headers.Set, Remove: s.Headers.Remove}).Validate(); err != nil {
			bad(key+".headers", "%v", err)
		}
		if s.ACME {
			if len(s.Certs) > 0 {
				bad(key+".acme", "is true and the site also has [[site.cert]] (want one or the other)")
			}
			for _, n := range s.Names {
				if strings.HasPrefix(n, "*.") {
					bad(key+".names", "%s is a wildcard, which ACME can only issue with DNS-01, which tlsfront does not do (list the names, or use [[site.cert]])", quote(n))
				}
			}
		}
		for _, p := range shield.CheckSite(shieldRules(s.Rules)) {
			bad(key+"."+p.Key, "%s", p.Msg)
		}
		for j, ct := range s.Certs {
			ck := fmt.Sprintf("%s.cert[%d]", key, j)
			if ct.Cert == "" {
				bad(ck+".cert", `is missing (want the PEM chain file, leaf first)`)
			}
			if ct.Key == "" {
				bad(ck+".key", `is missing (want the PEM private key file)`)
			}
		}
	}

	// [log]
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%s is not a level (want debug, info, warn or error)", quote(c.Log.Level))
	}
	if !slices.Contains([]string{"", "json", "console"}, c.Log.Format) {
		bad("log.format", "%s is not a format (want json or console)", quote(c.Log.Format))
	}
	if !slices.Contains([]string{"stderr", "stdout"}, c.Log.Output) {
		bad("log.output", "%s is not an output (want stderr or stdout)", quote(c.Log.Output))
	}
	if !slices.Contains([]string{"json", "combined"}, c.Log.AccessFormat) {
		bad("log.access_format", "%s is not a format (want json, or combined for Apache-era tools)", quote(c.Log.AccessFormat))
	}
	return ps
}

// maxClientTableSize bounds server.client_table_size: about 1 GB.
const maxClientTableSize = 10_000_000

// shieldRules maps [[site.rule]] onto the shield's rules, for validation.
func shieldRules(rules []Rule) []shield.Rule {
	out := make([]shield.Rule, len(rules))
	for i, r := range rules {
		out[i] = shield.Rule{Path: r.Path, CaseInsensitive: r.CaseInsensitive, Allow: r.Allow, Deny: r.Deny,
			Rate: r.Rate, Burst: r.Burst, Delay: r.Delay}
	}
	return out
}

// checkAddr returns why addr is not a listen address, or "".
func checkAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return `is not a listen address (want "host:port" or ":port")`
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "has no valid port (want 1..65535)"
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return "has a host that is not an IP address (want an IP, localhost, or nothing for all addresses)"
		}
	}
	return ""
}

var labelRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)

// checkName returns why a site name is not a host name, or "".
func checkName(n string) string {
	if _, err := netip.ParseAddr(n); err == nil {
		return ""
	}
	n = strings.TrimPrefix(n, "*.")
	if n == "" || len(n) > 253 {
		return "is not a host name"
	}
	for _, l := range strings.Split(n, ".") {
		if !labelRE.MatchString(l) {
			return `is not a host name (want e.g. "www.example.com" or "*.example.com")`
		}
	}
	return ""
}

// checkBackend returns why u is not a backend URL, or "".
func checkBackend(u string) string {
	if u == "" {
		return `is missing (want the Apache address, e.g. "http://127.0.0.1:8080")`
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return `is not a URL (want e.g. "http://127.0.0.1:8080")`
	}
	if pu.Scheme != "http" {
		return "has scheme " + quote(pu.Scheme) + ` (want "http": tlsfront speaks plain HTTP to the backend)`
	}
	if pu.Path != "" && pu.Path != "/" || pu.RawQuery != "" || pu.User != nil {
		return "has a path, query or user info (want only scheme, host and port)"
	}
	return ""
}
