package server

import (
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/stapling"
	"tlsfront/tlsconf"
)

// Check is `tlsfront -t`: it loads the file at path and builds its
// Generation the way Start would, reading every certificate and key it
// names but binding, writing and fetching nothing, and prints a summary of
// what would be served to w. Otherwise it returns every problem found, as
// one *config.Error where they have keys.
func Check(path string, w io.Writer, now time.Time) error {
	cfg, fromConfig, err := config.Load(path)
	if err != nil {
		return err
	}
	g, err := build(cfg, fromConfig, buildEnv{logger: zerolog.Nop(), now: now, check: true})
	if err != nil {
		return err
	}
	defer g.close()
	printSummary(w, g, now)
	return nil
}

// printSummary writes what `tlsfront -t` reports for a good configuration.
func printSummary(w io.Writer, g *Generation, now time.Time) {
	cfg := g.cfg
	fmt.Fprintf(w, "configuration ok: %s\n", cfg.Path)
	fmt.Fprintf(w, "listeners: https %s", cfg.Server.HTTPS)
	if cfg.Server.HTTP != "" {
		fmt.Fprintf(w, ", http %s (301 to https)", cfg.Server.HTTP)
	}
	fmt.Fprintf(w, "\nstate_dir: %s\n", cfg.Server.StateDir)
	fmt.Fprintf(w, "clients: max_conns_per_client %s, rate-limit table of %d entries\n",
		limitOrUnlimited(cfg.Server.MaxConnsPerClient), cfg.Server.ClientTableSize)

	p := g.policy
	fmt.Fprintf(w, "tls: profile %s, %s to TLS 1.3\n", p.Profile, tlsconf.VersionName(p.MinVersion))
	if len(p.Suites) > 0 {
		fmt.Fprintf(w, "  suites for TLS 1.0-1.2, in server order (enforced per ClientHello):\n")
		for i, id := range p.Suites {
			fmt.Fprintf(w, "    %2d. %-32s %s\n", i+1, p.Names[i], tls.CipherSuiteName(id))
		}
	}
	fmt.Fprintf(w, "  suites for TLS 1.3 (Go chooses the order): TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256\n")
	fmt.Fprintf(w, "  groups: X25519MLKEM768 (TLS 1.3), X25519, P-256, P-384\n")
	if len(p.Dropped) > 0 {
		fmt.Fprintf(w, "  dropped from the cipher string:\n")
		for _, d := range p.Dropped {
			fmt.Fprintf(w, "    %-32s %s\n", d.Name, d.Reason)
		}
	}
	if cfg.Headers.HSTS != "" {
		fmt.Fprintf(w, "hsts: %s\n", cfg.Headers.HSTS)
	} else {
		fmt.Fprintf(w, "hsts: off\n")
	}
	for i, s := range g.sites {
		def := ""
		if i == 0 {
			def = " (default: clients without SNI or with unknown names)"
		}
		fmt.Fprintf(w, "site %d: %s%s\n", i, strings.Join(s.names, ", "), def)
		fmt.Fprintf(w, "  backend: %s\n", s.backend)
		if rules := g.shield.Describe(i); len(rules) > 0 {
			fmt.Fprintf(w, "  rules (the most specific first):\n")
			for _, r := range rules {
				fmt.Fprintf(w, "    %s\n", r)
			}
		}
		printClientAuth(w, g, i, now)
		if s.acme {
			fmt.Fprintf(w, "  certificates: ACME (%s, %s), kept in state_dir/acme\n", cfg.ACME.CA, cfg.ACME.KeyType)
			for _, st := range g.acme.Status(s.names) {
				line := fmt.Sprintf("    %s: %s", st.Name, st.State)
				if !st.NotAfter.IsZero() {
					line += fmt.Sprintf(", expires %s (%d days)", st.NotAfter.UTC().Format(time.DateOnly), int(st.NotAfter.Sub(now).Hours()/24))
				}
				if st.LastError != "" {
					line += ", last error: " + st.LastError
				}
				fmt.Fprintln(w, line)
			}
			continue
		}
		for j, c := range s.certs {
			leaf := c.Leaf()
			src := c.CertFile
			if s.selfSigned {
				src = "self-signed in state_dir"
				if c.CertFile == "" {
					src = "self-signed, generated into state_dir at start"
				}
			}
			days := int(leaf.NotAfter.Sub(now).Hours() / 24)
			fmt.Fprintf(w, "  certificate: %s\n    %s, subject %q, expires %s (%d days), names %s\n",
				src, c.KeyType, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly), days, certNames(c))
			fmt.Fprintf(w, "    ocsp: %s\n", stapleLine(s.staples[j], now))
		}
	}
	if len(g.warnings) > 0 {
		fmt.Fprintf(w, "warnings:\n")
		for _, x := range g.warnings {
			fmt.Fprintf(w, "  %s\n", x)
		}
	}
}

func limitOrUnlimited(n int) string {
	if n <= 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

func certNames(c *tlsconf.Cert) string {
	leaf := c.Leaf()
	names := append([]string{}, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// stapleLine describes a certificate's OCSP staple state for -t.
func stapleLine(e *stapling.Entry, now time.Time) string {
	if e == nil {
		return "not stapled (stapling off or self-signed)"
	}
	st := e.Status()
	if !st.HasURL {
		return "no OCSP URL in the certificate: served without a staple"
	}
	var b strings.Builder
	b.WriteString("responder " + st.Responder)
	if st.Cached && st.GoodUntil.After(now) {
		fmt.Fprintf(&b, ", cached staple good until %s", st.GoodUntil.UTC().Format(time.RFC3339))
	} else {
		b.WriteString(", nothing cached: fetched at start")
	}
	if st.MustStaple {
		b.WriteString(", MUST-STAPLE")
		if st.StapleMissing() {
			b.WriteString(" (no valid staple held now: browsers refuse the certificate until one is fetched)")
		}
	}
	if st.State != "" && st.State != stapling.StatePending {
		b.WriteString(", state " + st.State)
	}
	return b.String()
}
