package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/proxy"
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
	stapler   *stapling.Stapler // nil when [ocsp] stapling = false
	sites     []builtSite
	warnings  []string
	httpsPort int
}

type builtSite struct {
	names      []string
	backend    *url.URL
	certs      []*tlsconf.Cert
	staples    []*stapling.Entry // per cert; nil entries when stapling is off
	selfSigned bool              // generated because the site names no certificate
}

// build maps cfg onto the runtime packages. Every problem with the files the
// config names is collected into one *config.Error. With check set, nothing
// is written to disk (a missing self-signed certificate is made in memory).
func build(cfg *config.Config, logger zerolog.Logger, now time.Time, check bool) (*runtime, error) {
	rt := &runtime{cfg: cfg}
	var problems []config.Problem
	add := func(p config.Problem) { problems = append(problems, p) }

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
	for i, s := range cfg.Sites {
		bs := builtSite{names: s.Names}
		bs.backend, _ = url.Parse(s.Backend) // validated by config
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

	var sites []tlsconf.Site
	var psites []proxy.Site
	for _, s := range rt.sites {
		sites = append(sites, tlsconf.Site{Names: s.names, Certs: s.certs})
		psites = append(psites, proxy.Site{Backend: s.backend})
	}
	st, err := tlsconf.New(tlsconf.Options{Policy: rt.policy, Sites: sites})
	if err != nil {
		rt.close()
		return nil, err
	}
	rt.state = st
	rt.warnings = append(rt.warnings, st.NameWarnings()...)

	_, port, _ := net.SplitHostPort(cfg.Server.HTTPS)
	rt.httpsPort, _ = strconv.Atoi(port)
	rt.handler, err = proxy.New(proxy.Options{
		Sites:                 psites,
		Route:                 st.Site,
		HSTS:                  cfg.Headers.HSTS,
		DialTimeout:           cfg.Proxy.DialTimeout.Duration,
		ResponseHeaderTimeout: cfg.Proxy.ResponseHeaderTimeout.Duration,
		MaxIdleConns:          cfg.Proxy.MaxIdleConns,
		Logger:                logger,
		AccessLog:             cfg.Log.Access,
	})
	if err != nil {
		rt.close()
		return nil, err
	}
	return rt, nil
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

// close stops what build started (the stapler's loops).
func (rt *runtime) close() {
	if rt.stapler != nil {
		rt.stapler.Close()
	}
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
	if err != nil {
		return nil, err
	}
	return build(cfg, logger, time.Now(), check)
}

// problemLines renders err for the terminal: each config problem on its own line.
func problemLines(err error) []string {
	var ce *config.Error
	if errors.As(err, &ce) {
		return strings.Split(ce.Error(), "\n")
	}
	return []string{err.Error()}
}
