package server

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/crl"
	"tlsfront/headers"
	"tlsfront/metrics"
	"tlsfront/proxy"
	"tlsfront/shield"
	"tlsfront/stapling"
	"tlsfront/tlsconf"
)

// buildEnv is what a Generation is built with besides its configuration.
type buildEnv struct {
	logger zerolog.Logger
	now    time.Time
	// check is tlsfront -t: nothing is written to disk (a missing
	// self-signed certificate is made in memory), no stapler fetches, no
	// server is started.
	check bool
	// metrics sees every HTTPS request; nil for -t.
	metrics *metrics.Metrics
	// access returns the access log function for a configuration; nil, or
	// a nil result, logs nothing.
	access func(*config.Config) func(*proxy.Entry)
	// onClosed is called once a Generation is closed.
	onClosed func(*Generation)
	// The process's per-client state, kept across reloads: the rate-limit
	// table of the rules (nil: one of the Generation's own, for -t), each
	// client's connection count and the log of refused connections.
	shieldTable    *shield.Table
	clientConns    *shield.Conns
	clientRefusals *proxy.RefusalLog
	// clientVerify sees the result of every client-certificate
	// verification (metrics); nil for -t.
	clientVerify func(result string)
	// http2 are the counters of every Generation's HTTP/2 server
	// (server.http2 = "tlsfront"), kept across reloads for the metrics;
	// nil: each server counts for itself (-t, tests).
	http2 *proxy.H2Counters
}

// build maps cfg onto the runtime packages and returns the Generation, not
// yet started (no stapler loop, no ACME order) nor published. fromConfig
// are the problems config.Load reported: with them and every problem found
// here, build returns one *config.Error listing all. If any step fails,
// what the earlier ones started is closed, once, before build returns.
func build(cfg *config.Config, fromConfig []config.Problem, env buildEnv) (_ *Generation, err error) {
	g := &Generation{cfg: cfg, logger: env.logger, done: make(chan struct{}), onClosed: env.onClosed,
		crls: map[int]*crl.Set{}}
	g.refs.Store(1) // the caller's, until it publishes or closes it
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	_, port, _ := net.SplitHostPort(cfg.Server.HTTPS)
	g.httpsPort, _ = strconv.Atoi(port)
	problems := newProblemList(cfg, fromConfig)

	// TLS policy and certificates: every file the configuration names is
	// read even when the file has problems, so that all are reported.
	policy, err := tlsconf.NewPolicy(cfg.TLS.Profile, cfg.TLS.MinVersion, cfg.TLS.Ciphers)
	if err != nil {
		pes := tlsconf.PolicyErrors(err)
		for _, pe := range pes {
			problems.add(pe.Key, "%s", pe.Msg)
		}
		if len(pes) == 0 {
			problems.add("tls", "%v", err)
		}
	} else {
		g.policy = policy
		for _, w := range policy.Warnings {
			g.warnings = append(g.warnings, "tls: "+w)
		}
	}
	var ticketKeys [][32]byte
	if cfg.TLS.TicketKeys != "" && cfg.TLS.SessionTickets {
		if ticketKeys, err = tlsconf.LoadTicketKeys(cfg.TLS.TicketKeys); err != nil {
			problems.add("tls.ticket_keys", "%v", err)
		}
	}
	if cfg.OCSP.Stapling {
		g.stapler = newStapler(cfg, env.logger, env.check)
		g.closers = append(g.closers, func() error { g.stapler.Close(); return nil })
	}
	if key, err := g.newACME(cfg, env.logger); err != nil {
		problems.add(key, "%v", err)
	}
	for i, s := range cfg.Sites {
		if len(s.Names) == 0 { // reported by config
			continue
		}
		if bs, ok := g.buildSite(i, s, problems, env); ok {
			g.sites = append(g.sites, bs)
		}
	}
	if problems.any() {
		return nil, problems.err()
	}

	// What needs the certificates: the response headers (HPKP pins the
	// served keys); and client-certificate verification.
	g.trust, _ = headers.ParseTrustedProxies(cfg.Headers.TrustedProxies) // checked by config
	var tsites []tlsconf.Site
	var psites []proxy.Site
	for _, s := range g.sites {
		clientAuth := g.clientAuth(cfg, s.index, problems, env)
		tsites = append(tsites, tlsconf.Site{Names: s.names, Certs: s.certs, ClientAuth: clientAuth})
		ps, ws, err := siteHeaders(cfg, s)
		if err != nil {
			problems.add("headers.hpkp.backup_pins", "site %q: %v", s.names[0], err)
		}
		g.warnings = append(g.warnings, ws...)
		ps.Name, ps.Backend = s.names[0], s.backend
		ps.SSLHeaders = g.sslHeaders(cfg.Sites[s.index].ClientAuth)
		psites = append(psites, ps)
	}
	if problems.any() {
		return nil, problems.err()
	}

	st, err := tlsconf.New(tlsconf.Options{
		Policy:                 g.policy,
		Sites:                  tsites,
		ACME:                   g.acme,
		NextProtos:             alpnProtocols(cfg.Server.HTTP2),
		SessionTicketsDisabled: !cfg.TLS.SessionTickets,
		TicketKeys:             ticketKeys,
	})
	if err != nil {
		return nil, err
	}
	g.tls = st
	g.warnings = append(g.warnings, st.NameWarnings()...)

	g.handler, err = proxy.New(proxy.Options{
		Sites:                 psites,
		Route:                 st.Site,
		HSTS:                  cfg.Headers.HSTS,
		Trusted:               g.trust.Contains,
		HTTPSPort:             g.httpsPort,
		RewriteRedirects:      cfg.Headers.RewriteRedirects,
		SecureCookies:         cfg.Headers.SecureCookies,
		HideBackendVersion:    cfg.Headers.HideBackendVersion,
		DialTimeout:           cfg.Proxy.DialTimeout.Duration,
		ResponseHeaderTimeout: cfg.Proxy.ResponseHeaderTimeout.Duration,
		MaxIdleConns:          cfg.Proxy.MaxIdleConns,
		MaxBackendConns:       cfg.Proxy.MaxBackendConns,
		QueueTimeout:          cfg.Proxy.QueueTimeout.Duration,
		Logger:                env.logger,
	})
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, func() error { g.handler.Close(); return nil })
	g.shield, err = shield.New(shield.Options{Sites: shieldSites(cfg, g.sites), Table: env.shieldTable})
	if err != nil { // checked by config
		return nil, err
	}
	g.handler.SetShield(g.shield)
	g.handler.SetLimits(proxy.Limits{
		MaxBodyBytes:      cfg.Proxy.MaxBodyBytes,
		ReadTimeout:       cfg.Proxy.ReadTimeout.Duration,
		ClientBodyTimeout: cfg.Proxy.ClientBodyTimeout.Duration,
		SendTimeout:       cfg.Proxy.SendTimeout.Duration,
	})

	// Accept: the PROXY protocol and the limits.
	g.proxyProtocol = cfg.Server.ProxyProtocol
	g.handshakeTimeout = cfg.Server.ReadHeaderTimeout.Duration
	g.maxConns = cfg.Server.MaxConnections
	if env.clientConns != nil {
		g.clientLimit = proxy.NewClientConnLimiter(env.clientConns, g.trust.Contains, env.clientRefusals)
	}
	g.watch = watchList(cfg)

	if !env.check {
		g.startServers(env)
	}
	return g, nil
}

// buildSite loads one site's certificates (or makes its self-signed one,
// or hands it to ACME) and registers them with the stapler.
func (g *Generation) buildSite(i int, s config.Site, problems *problemList, env buildEnv) (builtSite, bool) {
	bs := builtSite{index: i, names: s.Names}
	bs.backend, _ = url.Parse(s.Backend) // checked by config
	if s.ACME {
		if g.acme == nil {
			return bs, false // its problem is reported
		}
		bs.acme = true
		bs.certs, bs.staples = []*tlsconf.Cert{g.acme.Cert(s.Names)}, []*stapling.Entry{nil}
		g.acmeNames = append(g.acmeNames, s.Names...)
		return bs, true
	}
	for j, c := range s.Certs {
		key := fmt.Sprintf("site[%d].cert[%d]", i, j)
		cert, err := tlsconf.LoadCert(c.Cert, c.Key)
		if err != nil {
			problems.add(key, "%v", err)
			continue
		}
		var issuer *x509.Certificate
		if c.Issuer != "" {
			if issuer, err = loadIssuer(c.Issuer); err != nil {
				problems.add(key+".issuer", "%v", err)
				continue
			}
		}
		bs.certs = append(bs.certs, cert)
		bs.staples = append(bs.staples, g.staple(cert, s.Names[0], issuer))
	}
	if len(s.Certs) == 0 {
		cert, created, err := tlsconf.SelfSigned(g.cfg.Server.StateDir, s.Names, env.now, !env.check)
		if err != nil {
			problems.add(fmt.Sprintf("site[%d]", i), "generating a self-signed certificate: %v", err)
		} else {
			bs.certs, bs.selfSigned = []*tlsconf.Cert{cert}, true
			bs.staples = []*stapling.Entry{nil} // self-signed: no OCSP
			ev := env.logger.Warn().Strs("names", s.Names).Str("file", cert.CertFile)
			if created {
				ev.Msg("SELF-SIGNED CERTIFICATE GENERATED: browsers will warn; configure [[site.cert]] for production")
			} else if !env.check {
				ev.Msg("SELF-SIGNED CERTIFICATE in use: browsers will warn; configure [[site.cert]] for production")
			}
		}
	}
	for _, c := range bs.certs {
		for _, w := range c.Warnings(env.now) {
			g.warnings = append(g.warnings, fmt.Sprintf("site %q: %s: %s", s.Names[0], certLabel(c), w))
		}
	}
	return bs, true
}

// startServers builds the HTTPS handler (the request path, whose one entry
// per request feeds the metrics and the access log) and the ConnServers
// serving it, and the plain listener's server.
func (g *Generation) startServers(env buildEnv) {
	var access func(*proxy.Entry)
	if env.access != nil {
		access = env.access(g.cfg)
	}
	m := env.metrics
	g.observe = func(e *proxy.Entry) {
		if m != nil {
			site := e.Site
			if site == "" {
				site = "unknown"
			}
			m.Request(site, e.Proto, e.Status, e.Backend.Seconds())
			m.RequestHeadersDropped(e.HeadersDropped)
			if e.Refused != "" {
				m.ShieldRefusal(site, e.Rule, e.Refused)
			}
		}
		if access != nil {
			access(e)
		}
	}
	opts := g.serverOptions()
	g.handler.SetObserve(g.observe)
	g.servers = g.newConnServers(opts, env.http2)
	for _, s := range distinct(g.servers) {
		g.closers = append(g.closers, s.Close)
	}
	var plain http.Handler = g.plainHandler()
	if access != nil {
		plain = proxy.Observe(plain, access)
	}
	g.plain = NewHTTPServer(proxy.NewServer(plain, opts))
	g.closers = append(g.closers, g.plain.Close)
}

// shieldSites maps the built sites' [[site.rule]] onto the shield, in the
// order of the proxy's sites; each is named by its first name, which with
// a rule's path keeps the rule's rate-limit state across reloads.
func shieldSites(cfg *config.Config, sites []builtSite) []shield.Site {
	out := make([]shield.Site, len(sites))
	for i, s := range sites {
		out[i].Name = s.names[0]
		for _, r := range cfg.Sites[s.index].Rules {
			out[i].Rules = append(out[i].Rules, shield.Rule{Path: r.Path, CaseInsensitive: r.CaseInsensitive,
				Allow: r.Allow, Deny: r.Deny, Rate: r.Rate, Burst: r.Burst, Delay: r.Delay})
		}
	}
	return out
}

// newStapler returns the OCSP stapler for cfg. When state_dir cannot hold the
// cache (read-only, full), stapling still works, without the disk cache.
func newStapler(cfg *config.Config, logger zerolog.Logger, check bool) *stapling.Stapler {
	opts := stapling.Options{
		StateDir:  filepath.Join(cfg.Server.StateDir, "ocsp"),
		Timeout:   cfg.OCSP.Timeout.Duration,
		Overrides: cfg.OCSP.ResponderOverrides,
		Logger:    logger.With().Str("component", "ocsp").Logger(),
		Offline:   check,
	}
	s, err := stapling.New(opts)
	if err != nil {
		logger.Error().Err(err).Msg("OCSP cache unavailable; stapling without a disk cache, so a restart while a responder is down loses staples")
		opts.StateDir = ""
		s, _ = stapling.New(opts) // cannot fail without a StateDir
	}
	return s
}

// staple registers cert with the stapler and hooks its staple into the
// handshake. It returns nil when stapling is off.
func (g *Generation) staple(cert *tlsconf.Cert, site string, issuer *x509.Certificate) *stapling.Entry {
	if g.stapler == nil {
		return nil
	}
	e := g.stapler.Add(site+" ("+cert.KeyType+")", cert.Chain, issuer)
	cert.Staple = e.Staple
	return e
}

// newACME builds the ACME client when a site has acme = true. It makes no
// network calls: startACME, once the listeners are served, starts the
// orders. On error it returns the key the problem belongs to.
func (g *Generation) newACME(cfg *config.Config, logger zerolog.Logger) (string, error) {
	wanted := false
	for _, s := range cfg.Sites {
		wanted = wanted || s.ACME
	}
	if !wanted {
		return "", nil
	}
	a, err := tlsconf.NewACME(tlsconf.ACMEOptions{
		Email:      cfg.ACME.Email,
		CA:         cfg.ACME.CA,
		CARoot:     cfg.ACME.CARoot,
		AgreeTOS:   cfg.ACME.AgreeTOS,
		KeyType:    cfg.ACME.KeyType,
		Challenges: cfg.ACME.Challenges,
		HTTPAddr:   cfg.Server.HTTP,
		HTTPSAddr:  cfg.Server.HTTPS,
		StorageDir: filepath.Join(cfg.Server.StateDir, "acme"),
		Logger:     logger.With().Str("component", "acme").Logger(),
		Staple: func(label string, chain []*x509.Certificate) func() []byte {
			if g.stapler == nil {
				return nil
			}
			return g.stapler.Add(label, chain, nil).Staple
		},
	})
	if err != nil {
		return "acme", err
	}
	g.acme = a
	g.closers = append(g.closers, func() error { a.Close(); return nil })
	return "", nil
}

func loadIssuer(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading issuer: %w", err)
	}
	if b, _ := pem.Decode(data); b != nil {
		data = b.Bytes
	}
	c, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("parsing issuer %s: %w", path, err)
	}
	return c, nil
}

func certLabel(c *tlsconf.Cert) string {
	if c.CertFile != "" {
		return c.CertFile
	}
	return "certificate " + c.Leaf().Subject.CommonName
}

// siteHeaders builds the response headers a site sets and removes: the
// global [headers] set/remove, the site's own, and HPKP with the pins of the
// keys the site actually serves (config has checked the rest).
func siteHeaders(cfg *config.Config, s builtSite) (proxy.Site, []string, error) {
	i := s.index
	ps := proxy.Site{Set: http.Header{}}
	for k, v := range cfg.Headers.Set {
		ps.Set.Set(k, v)
	}
	for k, v := range cfg.Sites[i].Headers.Set {
		ps.Set.Set(k, v)
	}
	ps.Remove = append(append([]string{}, cfg.Headers.Remove...), cfg.Sites[i].Headers.Remove...)
	h := cfg.Headers.HPKP
	if !h.Enabled {
		return ps, nil, nil
	}
	hp := headers.HPKP{
		BackupPins:        h.BackupPins,
		MaxAge:            h.MaxAge,
		IncludeSubdomains: h.IncludeSubdomains,
		ReportURI:         h.ReportURI,
		ReportOnly:        h.ReportOnly,
	}
	for _, c := range s.certs {
		chain := c.Chain[:1]
		if h.PinChain {
			chain = c.Chain
		}
		for _, x := range chain {
			hp.Pins = append(hp.Pins, headers.PinSHA256(x.RawSubjectPublicKeyInfo))
		}
	}
	if err := hp.Validate(); err != nil {
		return ps, nil, err
	}
	var ws []string
	for _, w := range hp.Warnings() {
		ws = append(ws, "headers.hpkp: "+w)
	}
	ps.Set.Set(hp.HeaderName(), hp.HeaderValue())
	return ps, ws, nil
}
