package server

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/crl"
	"tlsfront/headers"
	"tlsfront/proxy"
	"tlsfront/shield"
	"tlsfront/stapling"
	"tlsfront/tlsconf"
)

// ConnServer serves the requests of TLS connections whose handshake is
// done, for one ALPN protocol of one Generation. Its methods are safe for
// concurrent use.
type ConnServer interface {
	// ServeConn serves c until the client or the server ends it, then
	// closes it. c's handshake is complete (its ConnectionState is final)
	// and was made with the Generation's TLS state; the ConnServer serves
	// it with the same Generation's handler and limits. ServeConn may
	// return at once and serve in the background: from the call on, c is
	// the ConnServer's to close. Called after Shutdown began (a
	// connection accepted just before a reload or SIGTERM, whose handshake
	// ended after), it still treats c gracefully: HTTP/1.1 serves its first
	// request and closes it, HTTP/2 sends GOAWAY before any stream, so the
	// client retries elsewhere; after Close it just closes c.
	ServeConn(c *tls.Conn, info ConnInfo)

	// Shutdown drains: at the reload that replaced the Generation (ctx
	// never ends) and, for every Generation still open, at SIGTERM (ctx
	// ends at server.shutdown_timeout); a second call while the first
	// drains must work.
	// Requests being served finish, and so does the first request of a
	// connection handed over whose request was not read yet; each is
	// answered so that the client opens a new connection for the next
	// (HTTP/1.1: Connection: close; HTTP/2: GOAWAY, then the open streams);
	// idle connections close at once. It returns when every connection is
	// closed, or with ctx's error when ctx ends first; Close follows then.
	Shutdown(ctx context.Context) error

	// Close closes every connection at once and frees what the ConnServer
	// holds (goroutines included) before it returns. It is called after a
	// Shutdown that timed out, and when a Generation that a reload replaced
	// has lost its last connection (then nothing is open any more). It is
	// safe to call more than once.
	Close() error
}

// ConnInfo is what the accept path knows about a connection, for its
// ConnServer.
type ConnInfo struct {
	// Client is the client's address: the source of a PROXY protocol
	// header from a trusted balancer, else the TCP peer. It is also c's
	// RemoteAddr.
	Client netip.AddrPort
	// Accepted is when the accept loop took the connection; the handshake
	// and the first request's headers are due within read_header_timeout
	// of it.
	Accepted time.Time
}

// Generation is everything a connection and its requests need, built whole
// from one configuration by build and swapped in by one atomic store (see
// the package documentation). Nothing in it changes after build.
type Generation struct {
	cfg    *config.Config
	logger zerolog.Logger

	// TLS: the handshake state and its parts, for -t and the metrics.
	policy     *tlsconf.Policy
	tls        *tlsconf.State    // per-hello configs; carries tls.ticket_keys
	stapler    *stapling.Stapler // nil when [ocsp] stapling = false
	acme       *tlsconf.ACME     // nil when no site has acme = true
	acmeNames  []string          // every name of the ACME sites
	sites      []builtSite
	crls       map[int]*crl.Set  // by index in cfg.Sites: client_auth CRLs (clientauth.go)
	clientOCSP *stapling.Checker // client_auth ocsp = true; nil when no site asks

	// Requests.
	handler  *proxy.Handler
	shield   *shield.Shield        // the sites' [[site.rule]], on the process's rate-limit table
	observe  func(*proxy.Entry)    // sees every finished HTTPS request: metrics and access log
	servers  map[string]ConnServer // by ALPN protocol; "http/1.1" also serves clients without ALPN
	plain    *HTTPServer           // the plain listener: ACME HTTP-01, then 301 to https
	closers  []func() error        // what build started, in order; close runs them backwards
	warnings []string              // for the log and -t

	// Accept: the PROXY protocol and the limits of a connection.
	trust            headers.TrustedProxies
	proxyProtocol    bool                     // server.proxy_protocol: trusted peers must send a PROXY header
	handshakeTimeout time.Duration            // server.read_header_timeout: PROXY header and TLS handshake
	maxConns         int                      // server.max_connections (of the process: see Daemon.publish)
	clientLimit      *proxy.ClientConnLimiter // server.max_conns_per_client, not counting trusted proxies
	httpsPort        int

	watch []string // files whose change on disk triggers a reload

	refs      atomic.Int64 // open connections, plus one while the Generation is current
	closeOnce sync.Once
	done      chan struct{} // closed once close has finished
	onClosed  func(*Generation)
}

// builtSite is one [[site]] as built: its names, backend and certificates.
type builtSite struct {
	index      int // in cfg.Sites
	names      []string
	backend    *url.URL
	certs      []*tlsconf.Cert
	staples    []*stapling.Entry // per cert; nil entries when stapling is off
	selfSigned bool              // generated because the site names no certificate
	acme       bool              // certificates from ACME
}

// acquire takes a reference for a new connection. It fails once the
// Generation has been released by everyone (a reload replaced it and its
// last connection closed): the caller then takes the current one again.
func (g *Generation) acquire() bool {
	for {
		n := g.refs.Load()
		if n <= 0 {
			return false
		}
		if g.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference: a connection closed, or the Generation stopped
// being current. The last one closes the Generation, in a goroutine of its
// own: the caller may be a connection being closed by the very server that
// close is about to stop.
func (g *Generation) release() {
	if g.refs.Add(-1) == 0 {
		go g.close()
	}
}

// drain is what a reload does to the Generation it replaced: every
// ConnServer drains, with no deadline: each request being served finishes,
// then its connection closes (HTTP/1.1: the response says Connection:
// close; idle connections close at once; HTTP/2: GOAWAY, then the open
// streams), so every later request of those clients meets the new
// Generation on a new connection; a connection still in its handshake is
// handed over all the same and gets the same treatment (HTTP/1.1: its
// first request is served; HTTP/2: GOAWAY before any stream). Nothing is
// cut. It returns when every ConnServer has drained; the Generation itself
// is closed when its last connection (a hijacked one too) has closed.
func (g *Generation) drain() {
	var wg sync.WaitGroup
	for _, s := range g.connServers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(context.Background()); err != nil {
				g.logger.Debug().Err(err).Msg("draining a replaced configuration")
			}
		}()
	}
	wg.Wait()
}

// connServers returns every ConnServer of g once, the plain listener's too.
func (g *Generation) connServers() []ConnServer {
	out := distinct(g.servers)
	if g.plain != nil {
		out = append(out, g.plain)
	}
	return out
}

// close stops and frees everything build started, newest first, exactly
// once; a second caller waits until the first has finished.
func (g *Generation) close() {
	g.closeOnce.Do(func() {
		for i := len(g.closers) - 1; i >= 0; i-- {
			if err := g.closers[i](); err != nil {
				g.logger.Debug().Err(err).Msg("closing a replaced configuration")
			}
		}
		g.closers = nil
		close(g.done)
		if g.onClosed != nil {
			g.onClosed(g)
		}
	})
}

// server returns the ConnServer for an ALPN protocol, nil for protocols
// nobody serves (acme-tls/1: the handshake was the whole point).
func (g *Generation) server(proto string) ConnServer {
	if proto == "" {
		proto = "http/1.1"
	}
	return g.servers[proto]
}

// expectsProxyHeader reports whether a connection from peer must start
// with a PROXY protocol header: proxy_protocol is on and peer is trusted.
func (g *Generation) expectsProxyHeader(peer netip.Addr) bool {
	return g.proxyProtocol && g.trust.Contains(peer)
}

// startStapler starts the OCSP loops and waits up to ocsp.prefetch_wait
// for first staples, then reports must-staple certificates that have none,
// because browsers refuse those. Called before the Generation is published,
// so that its first clients get staples (nginx fetches lazily).
func (g *Generation) startStapler(ctx context.Context) {
	if g.stapler == nil {
		return
	}
	g.stapler.Start(ctx)
	if wait := g.cfg.OCSP.PrefetchWait.Duration; wait > 0 {
		pctx, cancel := context.WithTimeout(ctx, wait)
		if err := g.stapler.Prefetch(pctx); err != nil {
			g.logger.Warn().Dur("waited", wait).Msg("OCSP prefetch not finished; serving, staples follow when the responders answer")
		}
		cancel()
	}
	for _, st := range g.stapler.Status() {
		if st.StapleMissing() {
			g.logger.Error().Str("cert", st.Name).Str("state", st.State).Str("error", st.LastError).
				Msg("MUST-STAPLE certificate has no valid OCSP staple: browsers will refuse it")
		}
	}
}

// startACME starts ordering and renewing the ACME sites' certificates. The
// listeners must be bound and served: certmagic stands back from ports in
// use, and the CA's validation connects to them.
func (g *Generation) startACME(ctx context.Context) {
	if g.acme == nil {
		return
	}
	if err := g.acme.Manage(ctx, g.acmeNames); err != nil {
		g.logger.Error().Err(err).Msg("ACME: cannot manage certificates; ACME sites fail their handshakes until this is fixed")
	}
}

// plainHandler is the plain listener's handler: ACME HTTP-01 challenges,
// then the redirect to HTTPS for everything else.
func (g *Generation) plainHandler() http.Handler {
	redirect := proxy.Redirect(g.httpsPort)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.acme.HandleHTTPChallenge(w, r) { // nil-safe
			return
		}
		redirect.ServeHTTP(w, r)
	})
}
