// Package proxy is the HTTP side of tlsfront: once a TLS connection is up, its
// requests arrive here, are routed to the site's backend (a legacy Apache
// speaking plain HTTP/1.1) through httputil.ReverseProxy, and come back with
// HSTS and the headers package's rewrites applied. It also holds the plain
// HTTP listener's redirect handler, the access log and the http.Server
// settings both listeners share.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/headers"
	"tlsfront/shield"
)

// Site is one virtual host's backend and the response headers it gets.
type Site struct {
	Backend *url.URL // http://host:port of the Apache serving the site

	// Set are response headers set on every HTTPS response of the site
	// (HSTS, HPKP, operator headers), replacing the backend's; Remove are
	// backend response headers dropped. Nil sets or removes nothing.
	Set    http.Header
	Remove []string

	// SSLHeaders, when set, adds the request's TLS facts to out, the
	// request to the backend: mod_ssl's SSL_* variables as X-SSL-*
	// headers ([site.client_auth] export). Client-sent X-SSL-* and X-HTTPS
	// headers are removed whether it is set or not (setForwarded).
	SSLHeaders func(out http.Header, cs *tls.ConnectionState)
}

// Options configure New. Zero durations take the documented defaults.
type Options struct {
	Sites []Site // at least one

	// Route maps a host name (an SNI value or a Host header without port)
	// to an index into Sites; known reports whether a site names it. Unknown
	// names go to the site Route returns for them (the first, by convention).
	Route func(name string) (index int, known bool)

	HSTS string // Strict-Transport-Security value for HTTPS responses; "" sends none

	// Trusted reports whether a peer is a trusted proxy whose
	// X-Forwarded-For and Forwarded chains are kept and extended. Nil
	// trusts nobody: client-sent forwarding headers are replaced. A PROXY
	// protocol connection whose header named no client is never trusted,
	// whatever its balancer's address (see trustedPeer).
	Trusted func(netip.Addr) bool

	HTTPSPort          int  // the port clients reach tlsfront on, for redirect rewriting; 443 is left out of URLs
	RewriteRedirects   bool // http:// Location, Content-Location and Refresh to the requested host or backend -> https://
	SecureCookies      bool // add Secure to Set-Cookie
	HideBackendVersion bool // strip version details from Server; drop X-Powered-By

	DialTimeout           time.Duration // backend TCP connect; zero means 5s
	ResponseHeaderTimeout time.Duration // backend's time to send response headers; zero means 60s
	MaxIdleConns          int           // idle keep-alive connections kept per backend, in each of the two pools (backendClient, http.Transport); zero disables keep-alive

	Logger zerolog.Logger
}

// Handler proxies HTTPS requests to the sites' backends.
type Handler struct {
	opts        Options
	transport   *http.Transport // bodies, upgrades and other methods
	backend     *backendClient  // bodiless GET, HEAD, OPTIONS; falls back to transport
	sites       []site
	bodyTimeout time.Duration // Limits.ClientBodyTimeout
	sendTimeout time.Duration // Limits.SendTimeout

	shield *shield.Shield // SetShield; nil checks nothing
}

type site struct {
	rp         *httputil.ReverseProxy
	sslHeaders func(http.Header, *tls.ConnectionState)
	set        http.Header // HSTS, HPKP and operator headers, set before proxying
	del        []string    // backend response headers to drop (ours included: never two)
	backends   []string    // the backend's host:port, for redirect rewriting
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
	h := &Handler{opts: opts}
	dialer := &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
	h.transport = &http.Transport{
		Proxy:                  nil, // never an environment proxy towards Apache
		DialContext:            dialer.DialContext,
		MaxIdleConnsPerHost:    opts.MaxIdleConns,
		DisableKeepAlives:      opts.MaxIdleConns == 0,
		IdleConnTimeout:        idleConnTimeout,
		ResponseHeaderTimeout:  opts.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true, // pass Accept-Encoding and bodies through untouched
		MaxResponseHeaderBytes: maxBackendHeaderBytes,
	}
	h.backend = newBackendClient(h.transport, dialer.DialContext, opts.MaxIdleConns, opts.ResponseHeaderTimeout)
	for i, s := range opts.Sites {
		if s.Backend == nil || s.Backend.Host == "" {
			return nil, fmt.Errorf("site %d has no backend", i)
		}
		st := site{set: http.Header{}, backends: []string{s.Backend.Host}, sslHeaders: s.SSLHeaders}
		if opts.HSTS != "" {
			headers.SetHSTS(st.set, opts.HSTS)
		}
		for k, v := range s.Set {
			k = http.CanonicalHeaderKey(k)
			st.set[k] = v[:len(v):len(v)] // full slice: appends elsewhere never write into it
		}
		for k := range st.set {
			st.del = append(st.del, k)
		}
		st.del = append(st.del, s.Remove...)
		st.rp = h.newReverseProxy(s.Backend, &st)
		h.sites = append(h.sites, st)
	}
	return h, nil
}

func (h *Handler) newReverseProxy(backend *url.URL, st *site) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backend)
			pr.Out.Host = pr.In.Host // Apache's virtual hosts and redirects need the client's Host
			h.setForwarded(pr.Out.Header, pr.In)
			if st.sslHeaders != nil && pr.In.TLS != nil {
				st.sslHeaders(pr.Out.Header, pr.In.TLS)
			}
		},
		Transport:      timedTransport{h.backend},
		BufferPool:     bufferPool{},
		ModifyResponse: func(res *http.Response) error { return h.modifyResponse(res, st) },
		ErrorHandler:   h.backendError,
		ErrorLog:       newStdLogger(h.opts.Logger, zerolog.DebugLevel),
	}
}

// ServeHTTP routes r to its site's backend. A request whose Host names a
// different site than the TLS server name gets 421 Misdirected Request; one
// the shield refuses gets its answer (see SetShield).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, ok := h.route(r)
	if e := entryFrom(r.Context()); e != nil {
		e.Site = i
	}
	if h.sendTimeout > 0 {
		tw := newTimedWriter(w, r, h.sendTimeout)
		defer tw.stop()
		w = tw
	}
	st := &h.sites[i]
	wh := w.Header()
	for k, v := range st.set { // on every HTTPS response, errors included
		wh[k] = v
	}
	var verdict shield.Decision
	if ok && h.shield.Active(i) {
		var gone bool
		if verdict, gone = h.shieldCheck(w, r, i); gone {
			return
		}
	}
	if h.bodyTimeout > 0 && r.Body != nil && r.Body != http.NoBody {
		tb := newTimedBody(r.Body, w, r, h.bodyTimeout)
		defer tb.stop()
		r2 := *r // a handler must not change the request it is given
		r2.Body = tb
		r = &r2
	}
	if !ok {
		errorPage(w, http.StatusMisdirectedRequest, "This server does not serve that host on this connection.")
		return
	}
	if verdict.Verdict != shield.Pass {
		h.shieldRefuse(w, r, verdict)
		return
	}
	st.rp.ServeHTTP(w, r)
}

// route picks the site: by Host, unless the client sent an SNI name that
// belongs to another site.
func (h *Handler) route(r *http.Request) (int, bool) {
	hostSite, hostKnown := h.opts.Route(hostOnly(r.Host))
	if r.TLS == nil || r.TLS.ServerName == "" {
		return hostSite, true
	}
	sniSite, _ := h.opts.Route(r.TLS.ServerName)
	if hostKnown && hostSite != sniSite {
		return 0, false
	}
	return sniSite, true
}

// modifyResponse cleans the backend's response headers: ours replace the
// backend's, and legacy-backend leaks are rewritten.
func (h *Handler) modifyResponse(res *http.Response, st *site) error {
	for _, k := range st.del {
		res.Header.Del(k)
	}
	if h.opts.RewriteRedirects {
		headers.RewriteResponse(res.Header, headers.Redirect{
			Host:         hostOnly(res.Request.Host),
			HTTPSPort:    h.opts.HTTPSPort,
			BackendHosts: st.backends,
		})
	}
	if h.opts.SecureCookies {
		headers.SecureCookies(res.Header)
	}
	if h.opts.HideBackendVersion {
		headers.HideBackendVersion(res.Header)
	}
	return nil
}

// backendError answers when the backend cannot be reached or does not
// answer: 504 for timeouts, 502 for everything else.
func (h *Handler) backendError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		w.WriteHeader(499) // client went away; nobody reads this
		return
	}
	status, text := http.StatusBadGateway, "The backend server is not reachable or sent an invalid response."
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout() && !isDialError(err)) {
		status, text = http.StatusGatewayTimeout, "The backend server did not answer in time."
	}
	h.opts.Logger.Warn().Err(err).Str("host", r.Host).Str("path", r.URL.Path).Int("status", status).Msg("backend request failed")
	errorPage(w, status, text)
}

func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// Close releases idle backend connections.
func (h *Handler) Close() { h.backend.CloseIdleConnections() }

// errorPage writes a short HTML page.
func errorPage(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head><body><h1>%d %s</h1><p>%s</p><hr><address>tlsfront</address></body></html>\n",
		status, http.StatusText(status), status, http.StatusText(status), text)
}

func clientIP(remoteAddr string) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
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

// bufferPool recycles the 32 KiB copy buffers ReverseProxy uses per request.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
