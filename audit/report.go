package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the readable report: grade and why, protocols, suites
// by protocol in server order, key exchange, features, certificates, HTTP
// and the findings grouped by severity.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format+"\n", a...) }
	sni := r.SNI
	if sni == "" {
		sni = "(none)"
	}
	p("tlsfront audit of %s (%s), SNI %s, %s, %d connections", r.Target, r.Address, sni, r.Time.UTC().Format("2006-01-02 15:04 UTC"), r.Connections)
	p("")
	r.writeGrade(p)
	p("")
	p("PROTOCOLS")
	for _, pr := range r.Protocols {
		state := "no"
		if pr.Offered {
			state = "yes"
		}
		p("  %-8s %-4s %s", pr.Name, state, pr.Answer)
	}
	if len(r.Suites) > 0 {
		p("")
		p("CIPHER SUITES (in the server's order where it imposes one)")
		for _, ps := range r.Suites {
			order := ""
			switch ps.Order {
			case "server":
				order = " - server's order"
			case "client":
				order = " - the server follows the client's order"
			}
			p("  %s%s", ps.Protocol, order)
			for _, s := range ps.Suites {
				p("    %-8s %-45s %-10s %3d bits  %s", s.ID, s.Name, s.KeyExchange, s.Bits, s.Strength)
			}
		}
	}
	if len(r.Suites) > 0 {
		p("")
		p("KEY EXCHANGE")
		kx := r.KeyExchange
		var gs []string
		for _, g := range kx.Groups {
			gs = append(gs, fmt.Sprintf("%s (%s)", g.Name, strings.Join(g.Protocols, ", ")))
		}
		p("  groups:      %s", orNone(strings.Join(gs, ", ")))
		if kx.PreferredGroup != "" {
			p("  TLS 1.3 preference: %s", kx.PreferredGroup)
		}
		if kx.DHE != nil {
			p("  DHE:         %d-bit prime (%s, %s)", kx.DHE.Bits, kx.DHE.Suite, kx.DHE.Protocol)
		} else {
			p("  DHE:         not offered")
		}
		p("  static RSA:  %s", yesNo(kx.StaticRSA, "offered (no forward secrecy for those suites)", "not offered"))
		p("")
		p("FEATURES")
		f := r.Features
		for _, x := range []struct {
			name string
			c    Check
		}{
			{"compression", f.Compression}, {"heartbeat", f.Heartbeat}, {"heartbleed", f.Heartbleed},
			{"fallback SCSV", f.FallbackSCSV}, {"secure reneg.", f.SecureRenegotiation},
			{"session IDs", f.SessionIDs}, {"tickets", f.SessionTickets}, {"ALPN", f.ALPN},
		} {
			p("  %-14s %-5s %s", x.name, x.c.State, x.c.Evidence)
		}
		ca := r.ClientAuth
		p("  %-14s %-5s %s", "client certs", ca.State, ca.Evidence)
		for _, n := range ca.CAs {
			p("    acceptable CA: %s", n)
		}
		if ca.Requested && len(ca.CAs) == 0 {
			p("    acceptable CAs: none named (any certificate)")
		}
	}
	for i, c := range r.Certificates {
		if i == 0 {
			p("")
			p("CERTIFICATES")
		}
		p("  #%d %s  %s  %s", i+1, c.Subject, c.Key, c.Signature)
		p("     names:    %s (%s)", strings.Join(c.Names, ", "), c.NameMatch.State)
		p("     validity: %s", c.Validity.Evidence)
		p("     trust:    %s", c.Trust.Evidence)
		p("     chain:    %s", c.Order.Evidence)
		for j, cc := range c.Chain {
			p("       %d: %s (issuer %s, %s)", j, cc.Subject, cc.Issuer, cc.Key)
		}
		st := "none"
		switch {
		case c.Staple.Present && c.Staple.Problem != "":
			st = "present, unusable: " + c.Staple.Problem
		case c.Staple.Present:
			st = fmt.Sprintf("%s, verified, valid %s to %s", c.Staple.Status,
				c.Staple.ThisUpdate.UTC().Format("2006-01-02 15:04"), c.Staple.NextUpdate.UTC().Format("2006-01-02 15:04"))
		}
		p("     OCSP staple: %s; must-staple: %s", st, yesNo(c.MustStaple, "yes", "no"))
	}
	if len(r.Suites) > 0 {
		p("")
		p("HTTP")
		h := r.HTTP
		if h.Error != "" {
			p("  GET /:     failed: %s", h.Error)
		} else {
			p("  GET /:     %d", h.Status)
			hsts := "none"
			if h.HSTS != nil {
				hsts = h.HSTS.Header
			}
			p("  HSTS:      %s", hsts)
			hpkp := "none"
			if h.HPKP != nil {
				hpkp = h.HPKP.Header
			}
			p("  HPKP:      %s", hpkp)
		}
		p("  redirect:  %s %s", h.Redirect.State, h.Redirect.Evidence)
	}
	p("")
	p("FINDINGS")
	for _, sev := range severities {
		var group []Finding
		for _, f := range r.Findings {
			if f.Severity == sev {
				group = append(group, f)
			}
		}
		if len(group) == 0 {
			continue
		}
		p("  %s (%d)", strings.ToUpper(sev), len(group))
		for _, f := range group {
			p("    [%s] %s", f.ID, f.Title)
			if f.Evidence != "" && sev != "ok" {
				p("        evidence: %s", f.Evidence)
			}
			if f.Fix != "" {
				p("        fix: %s", f.Fix)
			}
			if f.Tlsfront != "" {
				p("        tlsfront: %s", f.Tlsfront)
			}
		}
	}
	return b.Flush()
}

func (r *Report) writeGrade(p func(string, ...any)) {
	g := r.Rating
	extra := ""
	if g.IgnoringTrust != g.Grade {
		extra = fmt.Sprintf(" (%s if the certificate were trusted)", g.IgnoringTrust)
	}
	p("GRADE %s%s", g.Grade, extra)
	p("  score %d = 0.3 x protocol %d + 0.3 x key exchange %d + 0.4 x cipher %d (%s by score)",
		g.Score, g.ProtocolScore, g.KeyExchangeScore, g.CipherScore, letter(g.Score))
	rule := func(kind string, rl Rule) {
		p("  %s %s [%s]: %s", kind, rl.Cap, rl.ID, rl.Reason)
		if rl.Fix != "" {
			p("      fix: %s", rl.Fix)
		}
		if rl.Tlsfront != "" {
			p("      tlsfront: %s", rl.Tlsfront)
		}
	}
	for _, c := range g.Caps {
		rule("capped at", c)
	}
	for _, w := range g.Warnings {
		rule("warning, capped at", w)
	}
	for _, pl := range g.Plus {
		if pl.ID == "plus" {
			p("  A+ [plus]: %s", pl.Reason)
			continue
		}
		rule("no A+, stays", pl)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func yesNo(b bool, y, n string) string {
	if b {
		return y
	}
	return n
}
