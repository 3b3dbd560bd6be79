// Package proxy is the HTTP side of tlsfront: once a TLS connection is up,
// its requests are served here. The HTTP/1.1 engine (H1) reads them with
// package wire; HTTP/2 requests come through net/http's server (ServeHTTP);
// both hand each request to the one request path (Handler.Serve, see
// path.go), which routes it to the site's backend (a legacy Apache
// speaking plain HTTP/1.1) on tlsfront's own backend client and writes the
// answer back with HSTS and the headers package's rewrites. The package
// also holds the plain HTTP listener's redirect handler, the access log,
// connection limits and the PROXY protocol listener.
package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/headers"
	"tlsfront/shield"
	"tlsfront/wire"
)

// Site is one virtual host's backend and the response headers it gets.
type Site struct {
	// Name is the site's name in logs and metrics (its first host name).
	// "" means "site<index>".
	Name    string
	Backend *url.URL // http://host:port of the Apache serving the site

	// Set are response headers set on every HTTPS response of the site
	// (HSTS, HPKP, operator headers), replacing the backend's; Remove are
	// backend response headers dropped. Nil sets or removes nothing.
	Set    http.Header
	Remove []string

	// SSLHeaders, when set, adds the request's TLS facts to out, the
	// request to the backend: mod_ssl's SSL_* variables as X-SSL-*
	// headers ([site.client_auth] export). Client-sent X-SSL-* and X-HTTPS
	// headers are removed whether it is set or not (buildRequest).
	SSLHeaders func(out http.Header, cs *tls.ConnectionState)
}

// Options configure New. Zero durations take the documented defaults.
type Options struct {
	Sites []Site // at least one

	// Route maps a host name (an SNI value or a Host without port, IPv6
	// without brackets) to an index into Sites; known reports whether a
	// site names it. Unknown names go to the site Route returns for them
	// (the first, by convention).
	Route func(name string) (index int, known bool)

	HSTS string // Strict-Transport-Security value for HTTPS responses; "" sends none

	// Trusted reports whether a peer is a trusted proxy whose
	// X-Forwarded-For and Forwarded chains are kept and extended. Nil
	// trusts nobody: client-sent forwarding headers are replaced. A PROXY
	// protocol connection whose header named no client is never trusted,
	// whatever its balancer's address (engines set ConnInfo.Trusted with
	// TrustedPeer).
	Trusted func(netip.Addr) bool

	HTTPSPort          int  // the port clients reach tlsfront on, for redirect rewriting; 443 is left out of URLs
	RewriteRedirects   bool // http:// Location, Content-Location and Refresh to the requested host or backend -> https://
	SecureCookies      bool // add Secure to Set-Cookie
	HideBackendVersion bool // strip version details from Server; drop X-Powered-By

	DialTimeout           time.Duration // backend TCP connect; zero means 5s
	ResponseHeaderTimeout time.Duration // backend's time to send response headers; zero means 60s
	MaxIdleConns          int           // idle keep-alive connections kept per backend; zero disables keep-alive
	// MaxBackendConns caps the connections open to one backend address at
	// once (proxy.max_backend_conns). A request beyond it waits for one up
	// to QueueTimeout, then gets 503; a request whose client leaves while
	// it waits is never sent. Zero means no cap.
	MaxBackendConns int
	QueueTimeout    time.Duration // zero means 30s

	// Observe, when set, is called once per request, after its response,
	// with its access-log entry (the access log and metrics). It must not
	// keep the Entry.
	Observe func(*Entry)

	Logger zerolog.Logger
}

// Handler is the request path: it proxies HTTPS requests to the sites'
// backends. It serves tlsfront's engines through Serve and net/http's
// HTTP/2 server through ServeHTTP.
type Handler struct {
	opts    Options
	backend *backendClient
	sites   []site
	limits  Limits
	shield  *shield.Shield // SetShield; nil checks nothing
}

type site struct {
	name       string
	sslHeaders func(http.Header, *tls.ConnectionState)
	set        []wire.Field // HSTS, HPKP and operator headers, on every response
	del        []string     // backend response headers to drop (ours included: never two)
	backend    string       // the backend's host:port
	backends   []string     // the same, for redirect rewriting
}

// New builds a Handler.
func New(opts Options) (*Handler, error) {
	if len(opts.Sites) == 0 {
		return nil, errors.New("no sites")
	}
	if opts.Route == nil {
		return nil, errors.New("no route function")
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.ResponseHeaderTimeout <= 0 {
		opts.ResponseHeaderTimeout = 60 * time.Second
	}
	if opts.QueueTimeout <= 0 {
		opts.QueueTimeout = 30 * time.Second
	}
	h := &Handler{opts: opts}
	h.backend = newBackendClient(backendOptions{
		dial:          (&net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}).Dial,
		maxIdle:       opts.MaxIdleConns,
		maxConns:      opts.MaxBackendConns,
		queueTimeout:  opts.QueueTimeout,
		headerTimeout: opts.ResponseHeaderTimeout,
	})
	for i, s := range opts.Sites {
		if s.Backend == nil || s.Backend.Host == "" {
			return nil, fmt.Errorf("site %d has no backend", i)
		}
		addr := s.Backend.Host
		if s.Backend.Port() == "" {
			addr = net.JoinHostPort(s.Backend.Hostname(), "80")
		}
		st := site{name: s.Name, backend: addr, backends: []string{s.Backend.Host}, sslHeaders: s.SSLHeaders}
		if st.name == "" {
			st.name = fmt.Sprintf("site%d", i)
		}
		set := http.Header{}
		if opts.HSTS != "" {
			headers.SetHSTS(set, opts.HSTS)
		}
		for k, v := range s.Set {
			set[http.CanonicalHeaderKey(k)] = v
		}
		for k, vs := range set {
			for _, v := range vs {
				st.set = append(st.set, wire.Field{Name: k, Value: v})
			}
			st.del = append(st.del, k)
		}
		wire.SortFields(st.set) // one order on every response
		st.del = append(st.del, s.Remove...)
		h.sites = append(h.sites, st)
	}
	return h, nil
}

// SetLimits applies l to every request h serves. Call it once, before h
// serves.
func (h *Handler) SetLimits(l Limits) { h.limits = l }

// SetObserve sets Options.Observe. Call it before h serves.
func (h *Handler) SetObserve(fn func(*Entry)) { h.opts.Observe = fn }

// Close releases idle backend connections.
func (h *Handler) Close() { h.backend.closeIdle() }

// route picks the site for authority on connection c: by the authority's
// host, unless the client sent an SNI name that belongs to another site
// (then ok is false: 421 Misdirected Request). No authority (HTTP/1.0
// without Host) routes by SNI.
func (h *Handler) route(authority string, c *ConnInfo) (int, bool) {
	sni := ""
	if c != nil && c.TLS != nil {
		sni = c.TLS.ServerName
	}
	if authority == "" {
		i, _ := h.opts.Route(sni)
		return i, true
	}
	hostSite, hostKnown := h.opts.Route(routeName(authority))
	if sni == "" {
		return hostSite, true
	}
	sniSite, _ := h.opts.Route(sni)
	if hostKnown && hostSite != sniSite {
		return sniSite, false
	}
	return sniSite, true
}

// routeName is the host of a validated authority as Route takes it: no
// port, IPv6 without brackets.
func routeName(authority string) string {
	host, _, _ := wire.ParseAuthority(authority)
	if len(host) > 1 && host[0] == '[' {
		return host[1 : len(host)-1]
	}
	return host
}

// hostOnly strips a port from a Host header value, and brackets from IPv6.
func hostOnly(host string) string {
	if !strings.Contains(host, ":") {
		return host // the common case; SplitHostPort would allocate its error
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}
