package main

// The wiring of [site.client_auth] (issue 18), kept in one file so that it
// moves whole into the daemon package: clientAuth maps the table onto
// tlsconf (verification, with crl and stapling behind its hooks),
// sslHeaders onto the request path (mod_ssl's variables as X-SSL-*
// headers), startClientAuth starts the CRL downloads, and the metric hooks
// feed metrics.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/crl"
	"tlsfront/headers"
	"tlsfront/stapling"
	"tlsfront/tlsconf"
)

// clientVerifications forwards verification results to the metrics; the
// daemon sets it once its metrics exist (builds happen before).
var clientVerifications observer

type observer struct{ fn atomic.Pointer[func(string)] }

func (o *observer) set(fn func(string)) { o.fn.Store(&fn) }

func (o *observer) observe(result string) {
	if fn := o.fn.Load(); fn != nil {
		(*fn)(result)
	}
}

// clientAuth builds site i's (of cfg.Sites) client-certificate
// verification from its [site.client_auth]: nil when verify = "none". CA
// and CRL files are read now (so a reload re-reads them); the CRL set and
// the OCSP checker are kept in rt to be started and closed with it.
func (rt *runtime) clientAuth(cfg *config.Config, i int, logger zerolog.Logger, check bool) (*tlsconf.ClientAuth, []config.Problem) {
	ca := cfg.Sites[i].ClientAuth
	mode, err := tlsconf.ParseVerifyMode(ca.Verify)
	if err != nil || mode == tlsconf.VerifyNone {
		return nil, nil // a bad value is reported by config
	}
	key := fmt.Sprintf("site[%d].client_auth", i)
	var problems []config.Problem
	cas, err := tlsconf.LoadCAs(ca.CA)
	if err != nil {
		return nil, []config.Problem{cfg.Problemf(key+".ca", "%v", err)}
	}
	name := cfg.Sites[i].Names[0]
	log := logger.With().Str("component", "client_auth").Str("site", name).Logger()
	out := &tlsconf.ClientAuth{
		Verify:       mode,
		CAs:          cas,
		Depth:        ca.VerifyDepth,
		CRLMissingOK: ca.CRLMissing == "allow",
		Observe:      clientVerifications.observe,
		Logger:       log,
	}
	if len(ca.CRL) > 0 || ca.CRLFetch {
		set, err := crl.New(crl.Options{
			Fetch:    ca.CRLFetch,
			StateDir: filepath.Join(cfg.Server.StateDir, "crl"),
			Timeout:  cfg.OCSP.Timeout.Duration,
			Logger:   logger.With().Str("component", "crl").Str("site", name).Logger(),
			Offline:  check,
		}, cas)
		if err != nil {
			return nil, []config.Problem{cfg.Problemf(key+".crl_fetch", "%v", err)}
		}
		for j, f := range ca.CRL {
			if err := set.AddFile(f); err != nil {
				problems = append(problems, cfg.Problemf(fmt.Sprintf("%s.crl[%d]", key, j), "%v", err))
			}
		}
		rt.crls[i] = set
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
		if rt.clientOCSP == nil {
			rt.clientOCSP = stapling.NewChecker(stapling.CheckerOptions{Timeout: cfg.OCSP.Timeout.Duration, Overrides: cfg.OCSP.ResponderOverrides})
		}
		checker := rt.clientOCSP
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
	return out, problems
}

// sslHeaders returns the request-path hook that sends mod_ssl's variables
// for a site with export = true (nil otherwise). SSL_CLIENT_VERIFY comes
// from the State that verified the connection (rt.state, read per request).
func (rt *runtime) sslHeaders(ca config.ClientAuth) func(http.Header, *tls.ConnectionState) {
	if !ca.Export {
		return nil
	}
	legacy := ca.DNFormat == "legacy"
	return func(out http.Header, cs *tls.ConnectionState) {
		headers.SetSSLHeaders(out, headers.SSLVars(cs, headers.SSLVarsOptions{
			LegacyDN: legacy,
			Verify:   rt.state.ClientVerify(cs),
			Now:      time.Now(),
		}))
	}
}

// startClientAuth starts the CRL downloads of rt and waits up to wait for
// the first ones (as for OCSP staples), so that the first clients are
// judged with them.
func startClientAuth(ctx context.Context, rt *runtime, wait time.Duration, logger zerolog.Logger) {
	for _, s := range rt.crls {
		s.Start(ctx)
	}
	if wait <= 0 || len(rt.crls) == 0 {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for _, s := range rt.crls {
		if err := s.Prefetch(pctx); err != nil {
			logger.Warn().Dur("waited", wait).Msg("CRL downloads not finished; serving, client certificates wait for their CRLs (crl_missing)")
			return
		}
	}
}

// setCRLMetrics publishes the age and next update of every CRL held.
func (d *daemon) setCRLMetrics(rt *runtime) {
	d.metrics.ResetCRLs()
	for _, s := range rt.crls {
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
func printClientAuth(w io.Writer, rt *runtime, i int, now time.Time) {
	mode, names := rt.state.ClientAuthNames(i)
	ca := rt.cfg.Sites[rt.sites[i].index].ClientAuth
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
	if s := rt.crls[rt.sites[i].index]; s != nil {
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
