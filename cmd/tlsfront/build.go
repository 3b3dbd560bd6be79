package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// runtime is everything built from one configuration, before anything
// listens. A reload builds a new one and swaps it in whole.
type runtime struct {
	cfg       *config.Config
	policy    *tlsconf.Policy
	state     *tlsconf.State
	handler   *proxy.Handler
	shield    *shield.Shield    // the sites' [[site.rule]], on the process's shieldTable
	stapler   *stapling.Stapler // nil when [ocsp] stapling = false
	acme      *tlsconf.ACME     // nil when no site has acme = true
	acmeNames []string          // every name of the ACME sites
	sites     []builtSite
	warnings  []string
	httpsPort int

	crls       map[int]*crl.Set  // by index in cfg.Sites: client_auth CRLs (clientauth.go)
	clientOCSP *stapling.Checker // client_auth ocsp = true; nil when no site asks
}

type builtSite struct {
	index      int // in cfg.Sites
	names      []string
	backend    *url.URL
	certs      []*tlsconf.Cert
	staples    []*stapling.Entry // per cert; nil entries when stapling is off
	selfSigned bool              // generated because the site names no certificate
	acme       bool              // certificates from ACME
}

// build maps cfg onto the runtime packages. cfgErr is what config.Load
// reported (nil, or a *config.Error for a file that parsed but has bad
// values): its problems and every problem with the files the config names
// are returned together in one *config.Error. With check set, nothing is
// written to disk (a missing self-signed certificate is made in memory).
func build(cfg *config.Config, cfgErr error, logger zerolog.Logger, now time.Time, check bool) (*runtime, error) {
	rt := &runtime{cfg: cfg, crls: map[int]*crl.Set{}}
	_, port, _ := net.SplitHostPort(cfg.Server.HTTPS)
	rt.httpsPort, _ = strconv.Atoi(port)
	var problems []config.Problem
	reported := map[string]bool{}
	if cfgErr != nil {
		var ce *config.Error
		if !errors.As(cfgErr, &ce) {
			return nil, cfgErr
		}
		for _, p := range ce.Problems {
			problems = append(problems, p)
			reported[p.Key] = true
		}
	}
	add := func(p config.Problem) {
		if !reported[p.Key] { // a bad value already reported is not reported again by what uses it
			problems = append(problems, p)
		}
	}

	policy, err := tlsconf.NewPolicy(cfg.TLS.Profile, cfg.TLS.MinVersion, cfg.TLS.Ciphers)
	if err != nil {
		key := "tls.profile"
		if cfg.TLS.Ciphers != "" {
			key = "tls.ciphers"
		} else if cfg.TLS.MinVersion != "" {
			key = "tls.min_version"
		}
		add(cfg.Problemf(key, "%v", err))
	} else {
		rt.policy = policy
		for _, w := range policy.Warnings {
			rt.warnings = append(rt.warnings, "tls: "+w)
		}
	}

	if cfg.OCSP.Stapling {
		rt.stapler = newStapler(cfg, logger, check)
	}
	if p := rt.newACME(cfg, logger); p != nil {
		add(*p)
	}
	for i, s := range cfg.Sites {
		if len(s.Names) == 0 { // reported by config
			continue
		}
		bs := builtSite{index: i, names: s.Names}
		bs.backend, _ = url.Parse(s.Backend) // validated by config
		if s.ACME {
			if rt.acme != nil {
				bs.acme = true
				bs.certs, bs.staples = []*tlsconf.Cert{rt.acme.Cert(s.Names)}, []*stapling.Entry{nil}
				rt.acmeNames = append(rt.acmeNames, s.Names...)
				rt.sites = append(rt.sites, bs)
			}
			continue
		}
		for j, c := range s.Certs {
			key := fmt.Sprintf("site[%d].cert[%d]", i, j)
			cert, err := tlsconf.LoadCert(c.Cert, c.Key)
			if err != nil {
				add(cfg.Problemf(key, "%v", err))
				continue
			}
			var issuer *x509.Certificate
			if c.Issuer != "" {
				if issuer, err = loadIssuer(c.Issuer); err != nil {
					add(cfg.Problemf(key+".issuer", "%v", err))
					continue
				}
			}
			bs.certs = append(bs.certs, cert)
			bs.staples = append(bs.staples, rt.staple(cert, s.Names[0], issuer))
		}
		if len(s.Certs) == 0 {
			cert, created, err := tlsconf.SelfSigned(cfg.Server.StateDir, s.Names, now, !check)
			if err != nil {
				add(cfg.Problemf(fmt.Sprintf("site[%d]", i), "generating a self-signed certificate: %v", err))
			} else {
				bs.certs, bs.selfSigned = []*tlsconf.Cert{cert}, true
				bs.staples = []*stapling.Entry{nil} // self-signed: no OCSP
				ev := logger.Warn().Strs("names", s.Names).Str("file", cert.CertFile)
				if created {
					ev.Msg("SELF-SIGNED CERTIFICATE GENERATED: browsers will warn; configure [[site.cert]] for production")
				} else if !check {
					ev.Msg("SELF-SIGNED CERTIFICATE in use: browsers will warn; configure [[site.cert]] for production")
				}
			}
		}
		for _, c := range bs.certs {
			for _, w := range c.Warnings(now) {
				rt.warnings = append(rt.warnings, fmt.Sprintf("site %q: %s: %s", s.Names[0], certLabel(c), w))
			}
		}
		rt.sites = append(rt.sites, bs)
	}
	if len(problems) > 0 {
		rt.close()
		return nil, &config.Error{File: cfg.Path, Problems: problems}
	}

	trusted, err := headers.ParseTrustedProxies(cfg.Headers.TrustedProxies)
	if err != nil {
		add(cfg.Problemf("headers.trusted_proxies", "%v", err))
	}
	global := headers.Extra{Set: cfg.Headers.Set, Remove: cfg.Headers.Remove}
	if err := global.Validate(); err != nil {
		add(cfg.Problemf("headers.set", "%v", err))
	}
	var sites []tlsconf.Site
	var psites []proxy.Site
	for _, s := range rt.sites {
		clientAuth, ps1 := rt.clientAuth(cfg, s.index, logger, check)
		for _, p := range ps1 {
			add(p)
		}
		sites = append(sites, tlsconf.Site{Names: s.names, Certs: s.certs, ClientAuth: clientAuth})
		ps, ws, err := siteHeaders(cfg, s)
		if err != nil {
			add(*err)
		}
		rt.warnings = append(rt.warnings, ws...)
		ps.Backend = s.backend
		ps.SSLHeaders = rt.sslHeaders(cfg.Sites[s.index].ClientAuth)
		psites = append(psites, ps)
	}
	if len(problems) > 0 {
		rt.close()
		return nil, &config.Error{File: cfg.Path, Problems: problems}
	}
	st, err := tlsconf.New(tlsconf.Options{Policy: rt.policy, Sites: sites, ACME: rt.acme, SessionTicketsDisabled: !cfg.TLS.SessionTickets})
	if err != nil {
		rt.close()
		return nil, err
	}
	rt.state = st
	rt.warnings = append(rt.warnings, st.NameWarnings()...)

	rt.handler, err = proxy.New(proxy.Options{
		Sites:                 psites,
		Route:                 st.Site,
		HSTS:                  cfg.Headers.HSTS,
		Trusted:               trusted.Contains,
		HTTPSPort:             rt.httpsPort,
		RewriteRedirects:      cfg.Headers.RewriteRedirects,
		SecureCookies:         cfg.Headers.SecureCookies,
		HideBackendVersion:    cfg.Headers.HideBackendVersion,
		DialTimeout:           cfg.Proxy.DialTimeout.Duration,
		ResponseHeaderTimeout: cfg.Proxy.ResponseHeaderTimeout.Duration,
		MaxIdleConns:          cfg.Proxy.MaxIdleConns,
		Logger:                logger,
	})
	if err != nil {
		rt.close()
		return nil, err
	}
	rt.shield, err = shield.New(shield.Options{Sites: shieldSites(cfg, rt.sites), Table: shieldTable})
	if err != nil { // validated by config
		rt.close()
		return nil, err
	}
	rt.handler.SetShield(rt.shield)
	rt.handler.SetLimits(proxy.Limits{
		MaxBodyBytes:      cfg.Proxy.MaxBodyBytes,
		ReadTimeout:       cfg.Proxy.ReadTimeout.Duration,
		ClientBodyTimeout: cfg.Proxy.ClientBodyTimeout.Duration,
		SendTimeout:       cfg.Proxy.SendTimeout.Duration,
	})
	if !check {
		connLimit.SetLogger(logger) // the limit itself follows the listeners: see listeners.open and rebind
		clientRefusals.SetLogger(logger)
	}
	return rt, nil
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
func (rt *runtime) staple(cert *tlsconf.Cert, site string, issuer *x509.Certificate) *stapling.Entry {
	if rt.stapler == nil {
		return nil
	}
	e := rt.stapler.Add(site+" ("+cert.KeyType+")", cert.Chain, issuer)
	cert.Staple = e.Staple
	return e
}

// close stops what build started (the stapler's, CRL and ACME loops).
func (rt *runtime) close() {
	if rt.stapler != nil {
		rt.stapler.Close()
	}
	for _, s := range rt.crls {
		s.Close()
	}
	if rt.acme != nil {
		rt.acme.Close()
	}
}

// newACME builds the ACME client when a site has acme = true. It makes no
// network calls: Manage, once the listeners are bound, starts the orders.
func (rt *runtime) newACME(cfg *config.Config, logger zerolog.Logger) *config.Problem {
	wanted := false
	for _, s := range cfg.Sites {
		wanted = wanted || s.ACME
	}
	if !wanted {
		return nil
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
			if rt.stapler == nil {
				return nil
			}
			return rt.stapler.Add(label, chain, nil).Staple
		},
	})
	if err != nil {
		p := cfg.Problemf("acme", "%v", err)
		return &p
	}
	rt.acme = a
	return nil
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

// loadAndBuild reads the file at path and builds its runtime.
func loadAndBuild(path string, logger zerolog.Logger, check bool) (*runtime, error) {
	cfg, err := config.Load(path)
	if cfg == nil {
		return nil, err
	}
	return build(cfg, err, logger, time.Now(), check)
}

// problemLines renders err for the terminal: each config problem on its own line.
func problemLines(err error) []string {
	var ce *config.Error
	if errors.As(err, &ce) {
		return strings.Split(ce.Error(), "\n")
	}
	return []string{err.Error()}
}

// siteHeaders builds the response headers a site sets and removes: the
// global [headers] set/remove, the site's own, and HPKP with the pins of the
// keys the site actually serves.
func siteHeaders(cfg *config.Config, s builtSite) (proxy.Site, []string, *config.Problem) {
	i := s.index
	ps := proxy.Site{Set: http.Header{}}
	for k, v := range cfg.Headers.Set {
		ps.Set.Set(k, v)
	}
	for k, v := range cfg.Sites[i].Headers.Set {
		ps.Set.Set(k, v)
	}
	ps.Remove = append(append([]string{}, cfg.Headers.Remove...), cfg.Sites[i].Headers.Remove...)
	extra := headers.Extra{Set: cfg.Sites[i].Headers.Set, Remove: cfg.Sites[i].Headers.Remove}
	if err := extra.Validate(); err != nil {
		p := cfg.Problemf(fmt.Sprintf("site[%d].headers", i), "%v", err)
		return ps, nil, &p
	}
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
		p := cfg.Problemf("headers.hpkp.backup_pins", "site %q: %v", s.names[0], err)
		return ps, nil, &p
	}
	var ws []string
	for _, w := range hp.Warnings() {
		ws = append(ws, "headers.hpkp: "+w)
	}
	ps.Set.Set(hp.HeaderName(), hp.HeaderValue())
	return ps, ws, nil
}
