package server

// The wiring of [site.client_auth] (issue 18): clientAuth maps the table
// onto tlsconf (verification, with crl and stapling behind its hooks),
// sslHeaders onto the request path (mod_ssl's variables as X-SSL-*
// headers), startClientAuth starts the CRL downloads, and the metric hooks
// feed metrics. The CRL sets and the OCSP checker are the Generation's.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"tlsfront/config"
	"tlsfront/crl"
	"tlsfront/headers"
	"tlsfront/stapling"
	"tlsfront/tlsconf"
)

// clientAuth builds site i's (of cfg.Sites) client-certificate
// verification from its [site.client_auth]: nil when verify = "none". CA
// and CRL files are read now (so a reload re-reads them); the CRL sets and
// the OCSP checker are g's, started and closed with it.
func (g *Generation) clientAuth(cfg *config.Config, i int, problems *problemList, env buildEnv) *tlsconf.ClientAuth {
	ca := cfg.Sites[i].ClientAuth
	mode, err := tlsconf.ParseVerifyMode(ca.Verify)
	if err != nil || mode == tlsconf.VerifyNone {
		return nil // a bad value is reported by config
	}
	key := fmt.Sprintf("site[%d].client_auth", i)
	cas, err := tlsconf.LoadCAs(ca.CA)
	if err != nil {
		problems.add(key+".ca", "%v", err)
		return nil
	}
	name := cfg.Sites[i].Names[0]
	observe := env.clientVerify
	if observe == nil {
		observe = func(string) {}
	}
	out := &tlsconf.ClientAuth{
		Verify:       mode,
		CAs:          cas,
		Depth:        ca.VerifyDepth,
		CRLMissingOK: ca.CRLMissing == "allow",
		Observe:      observe,
		Logger:       env.logger.With().Str("component", "client_auth").Str("site", name).Logger(),
	}
	if len(ca.CRL) > 0 || ca.CRLFetch {
		set, err := crl.New(crl.Options{
			Fetch:    ca.CRLFetch,
			StateDir: filepath.Join(cfg.Server.StateDir, "crl"),
			Timeout:  cfg.OCSP.Timeout.Duration,
			Logger:   env.logger.With().Str("component", "crl").Str("site", name).Logger(),
			Offline:  env.check,
		}, cas)
		if err != nil {
			problems.add(key+".crl_fetch", "%v", err)
			return nil
		}
		g.crls[i] = set
		g.closers = append(g.closers, func() error { set.Close(); return nil })
		for j, f := range ca.CRL {
			if err := set.AddFile(f); err != nil {
				problems.add(fmt.Sprintf("%s.crl[%d]", key, j), "%v", err)
			}
		}
		out.CRL = func(cert, issuer *x509.Certificate) (tlsconf.Revocation, error) {
			err := set.Check(cert, issuer)
			switch {
			case err == nil:
				return tlsconf.RevocationGood, nil
			case errors.Is(err, crl.ErrRevoked):
				return tlsconf.RevocationRevoked, err
			}
			return tlsconf.RevocationUnknown, err
		}
	}
	if ca.OCSP {
		if g.clientOCSP == nil {
			g.clientOCSP = stapling.NewChecker(stapling.CheckerOptions{Timeout: cfg.OCSP.Timeout.Duration, Overrides: cfg.OCSP.ResponderOverrides})
		}
		checker := g.clientOCSP
		out.OCSP = func(leaf, issuer *x509.Certificate) (tlsconf.Revocation, error) {
			switch s, err := checker.Check(leaf, issuer); s {
			case stapling.ClientGood:
				return tlsconf.RevocationGood, nil
			case stapling.ClientRevoked:
				return tlsconf.RevocationRevoked, err
			default:
				return tlsconf.RevocationUnknown, err
			}
		}
	}
	return out
}

// sslHeaders returns the request-path hook that sends mod_ssl's variables
// for a site with export = true (nil otherwise). SSL_CLIENT_VERIFY comes
// from the State that verified the connection: g's, as every connection
// g serves was handshaken with it.
func (g *Generation) sslHeaders(ca config.ClientAuth) func(http.Header, *tls.ConnectionState) {
	if !ca.Export {
		return nil
	}
	legacy := ca.DNFormat == "legacy"
	return func(out http.Header, cs *tls.ConnectionState) {
		headers.SetSSLHeaders(out, headers.SSLVars(cs, headers.SSLVarsOptions{
			LegacyDN: legacy,
			Verify:   g.tls.ClientVerify(cs),
			Now:      time.Now(),
		}))
	}
}

// startClientAuth starts g's CRL downloads and waits up to
// ocsp.prefetch_wait for the first ones (as for OCSP staples), so that the
// first clients are judged with them.
func (g *Generation) startClientAuth(ctx context.Context) {
	for _, s := range g.crls {
		s.Start(ctx)
	}
	wait := g.cfg.OCSP.PrefetchWait.Duration
	if wait <= 0 || len(g.crls) == 0 {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for _, s := range g.crls {
		if err := s.Prefetch(pctx); err != nil {
			g.logger.Warn().Dur("waited", wait).Msg("CRL downloads not finished; serving, client certificates wait for their CRLs (crl_missing)")
			return
		}
	}
}

// setCRLMetrics publishes the age and next update of every CRL g holds.
func (d *Daemon) setCRLMetrics(g *Generation) {
	d.metrics.ResetCRLs()
	for _, s := range g.crls {
		for _, st := range s.Status() {
			d.metrics.SetCRL(st.Issuer, st.Source, st.ThisUpdate, st.NextUpdate)
		}
	}
}

// clientAuthFiles are the CA and CRL files of cfg, for the file watcher.
func clientAuthFiles(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Sites {
		out = append(append(out, s.ClientAuth.CA...), s.ClientAuth.CRL...)
	}
	return out
}

// printClientAuth writes site i's client-certificate settings for -t.
func printClientAuth(w io.Writer, g *Generation, i int, now time.Time) {
	mode, names := g.tls.ClientAuthNames(i)
	ca := g.cfg.Sites[g.sites[i].index].ClientAuth
	if mode == tlsconf.VerifyNone {
		if ca.Export {
			fmt.Fprintf(w, "  client certificates: not asked for; SSL_* variables sent as X-SSL-* headers\n")
		}
		return
	}
	fmt.Fprintf(w, "  client certificates: verify %s, depth %d, CRLs missing: %s, OCSP %v, export %v (%s DNs)\n",
		mode, ca.VerifyDepth, ca.CRLMissing, ca.OCSP, ca.Export, ca.DNFormat)
	for _, n := range names {
		fmt.Fprintf(w, "    CA named in the request: %s\n", n)
	}
	if s := g.crls[g.sites[i].index]; s != nil {
		for _, st := range s.Status() {
			line := fmt.Sprintf("    CRL %s (%s)", st.Source, st.Issuer)
			switch {
			case st.ThisUpdate.IsZero():
				line += ": none held yet, downloaded at start"
			case !st.NextUpdate.IsZero() && !now.Before(st.NextUpdate):
				line += fmt.Sprintf(": EXPIRED %s", st.NextUpdate.UTC().Format(time.RFC3339))
			case !st.NextUpdate.IsZero():
				line += fmt.Sprintf(": next update %s", st.NextUpdate.UTC().Format(time.RFC3339))
			}
			fmt.Fprintln(w, line)
		}
	}
}
