package audit

import (
	"fmt"
	"slices"
	"strings"
)

// Severities, worst first.
var severities = []string{"critical", "high", "medium", "low", "info", "ok"}

// Finding is one named observation with its evidence.
type Finding struct {
	// ID names it: "protocol-tls10", "fallback-scsv", "cert-trust", ...
	ID string `json:"id"`
	// Severity is "critical", "high", "medium", "low", "info" or "ok".
	Severity string `json:"severity"`
	// Title says what was found, Evidence how.
	Title    string `json:"title"`
	Evidence string `json:"evidence,omitempty"`
	// Fix says what to change; "" when nothing needs to.
	Fix string `json:"fix,omitempty"`
	// Tlsfront is the tlsfront configuration key involved, if any.
	Tlsfront string `json:"tlsfront,omitempty"`
}

// facts extracts what the grade needs from the report.
func (a *auditor) facts(rep *Report, offered []uint16) Facts {
	f := Facts{Protocols: offered, HSTSMaxAge: -1}
	groupBits := func(protocol string) int {
		bits := 0
		for _, g := range rep.KeyExchange.Groups {
			if slices.Contains(g.Protocols, protocol) && (bits == 0 || g.Bits < bits) {
				bits = g.Bits
			}
		}
		return bits
	}
	for _, c := range rep.Certificates {
		if f.CertKeyBits == 0 || c.KeyBits < f.CertKeyBits {
			f.CertKeyBits = c.KeyBits
		}
		if c.rsaBits > 0 && (f.CertRSABits == 0 || c.rsaBits < f.CertRSABits) {
			f.CertRSABits = c.rsaBits
		}
		f.TrustProblems = append(f.TrustProblems, c.trustProblems...)
		if c.NameMatch.State == "no" && f.NameMismatch == "" {
			f.NameMismatch = "certificate name mismatch: " + c.NameMatch.Evidence
		}
		if c.Staple.Status == "revoked" {
			f.TrustProblems = append(f.TrustProblems, c.Staple.Problem)
		}
	}
	if len(rep.Certificates) > 0 {
		c := rep.Certificates[0]
		switch {
		case c.MustStaple && !c.Staple.Present:
			f.StapleProblems = append(f.StapleProblems, "the certificate demands OCSP stapling (must-staple) but no response was stapled")
		case c.Staple.Present && c.Staple.Problem != "" && c.Staple.Status != "revoked":
			f.StapleProblems = append(f.StapleProblems, "the stapled OCSP response is unusable: "+c.Staple.Problem)
		}
	}
	if rep.KeyExchange.DHE != nil {
		f.DHBits = rep.KeyExchange.DHE.Bits
	}
	kx := 0
	lower := func(b int) {
		if b > 0 && (kx == 0 || b < kx) {
			kx = b
		}
	}
	for _, ps := range rep.Suites {
		for _, s := range ps.Suites {
			r := lookupSuite(uint16(s.code))
			if ps.version == VersionSSL2 {
				r = suiteRow{enc: s.Cipher, bits: s.Bits, export: s.Export, kx: "RSA", auth: "RSA"}
			}
			f.Suites = append(f.Suites, SuiteFact{
				Protocol: ps.version, Name: s.Name, Bits: s.Bits, RC4: s.Cipher == "RC4", TripleDES: s.Cipher == "3DES",
				Export: s.Export, Anon: s.Auth == "None", FS: s.ForwardSecrecy, AEAD: s.AEAD,
			})
			switch r.keyExchange() {
			case "RSA", "ECDH", "DH":
				lower(f.CertKeyBits)
			case "RSA-export":
				lower(512)
			case "DHE", "DHE-anon":
				lower(f.DHBits)
			case "ECDHE", "ECDHE-anon":
				lower(groupBits(legacyName(rep)))
			case "TLS1.3":
				lower(groupBits("TLS 1.3"))
			}
		}
	}
	f.KeyExchangeBits = kx
	f.SecureRenegotiation = rep.Features.SecureRenegotiation.State
	f.Compression = rep.Features.Compression.State == "yes"
	f.Heartbleed = rep.Features.Heartbleed.State == "yes"
	f.FallbackSCSV = rep.Features.FallbackSCSV.State
	if rep.HTTP.HSTS != nil {
		f.HSTSMaxAge = rep.HTTP.HSTS.MaxAge
	}
	return f
}

// legacyName is the protocol the TLS ≤ 1.2 group probes ran at.
func legacyName(rep *Report) string {
	for _, g := range rep.KeyExchange.Groups {
		for _, p := range g.Protocols {
			if p != "TLS 1.3" {
				return p
			}
		}
	}
	return ""
}

// noTLSFindings explains a target that negotiated nothing.
func noTLSFindings(protocols []ProtocolResult) []Finding {
	var ev []string
	same := true
	for _, p := range protocols {
		ev = append(ev, p.Name+": "+p.Answer)
		same = same && p.Answer == protocols[0].Answer
	}
	if same && len(protocols) > 1 {
		ev = []string{"every probe: " + protocols[0].Answer}
	}
	return []Finding{{
		ID: "no-tls", Severity: "critical", Title: "no SSL/TLS protocol could be negotiated",
		Evidence: strings.Join(ev, "; "), Fix: "check that the target port serves TLS",
	}}
}

// findings lists every observation, worst first.
func findings(rep *Report, probeErrs []string) []Finding {
	var out []Finding
	add := func(id, sev, title, evidence, fix, key string) {
		out = append(out, Finding{ID: id, Severity: sev, Title: title, Evidence: evidence, Fix: fix, Tlsfront: key})
	}
	const minVersionKey = `tls.min_version = "1.2" (or tls.profile = "intermediate")`
	for _, p := range rep.Protocols {
		id := "protocol-" + strings.ToLower(strings.NewReplacer(" ", "", ".", "").Replace(p.Name))
		switch {
		case p.Offered && p.version <= VersionSSL3:
			add(id, "critical", p.Name+" is offered", p.Answer, "disable "+p.Name, "none: tlsfront never offers SSL")
		case p.Offered && p.version < VersionTLS12:
			add(id, "medium", p.Name+" is offered (deprecated, RFC 8996)", p.Answer, "disable "+p.Name, minVersionKey)
		case p.Offered:
			add(id, "ok", p.Name+" is offered", p.Answer, "", "")
		case p.version == VersionTLS12 && !slices.ContainsFunc(rep.Protocols, func(q ProtocolResult) bool { return q.Offered && q.version == VersionTLS13 }):
			add(id, "high", "TLS 1.2 is not offered", p.Answer, "enable TLS 1.2", minVersionKey)
		case p.version == VersionTLS13:
			add(id, "info", "TLS 1.3 is not offered", p.Answer, "enable TLS 1.3", "")
		default:
			add(id, "ok", p.Name+" is not offered", p.Answer, "", "")
		}
	}
	suiteFindings(rep, add)
	featureFindings(rep, add)
	certFindings(rep, add)
	httpFindings(rep, add)
	for _, e := range probeErrs {
		add("probe-error", "medium", "a probe failed; results may be incomplete", e, "", "")
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return slices.Index(severities, a.Severity) - slices.Index(severities, b.Severity)
	})
	return out
}

type addFunc func(id, sev, title, evidence, fix, key string)

func suiteFindings(rep *Report, add addFunc) {
	type category struct {
		id, sev, title, fix, key string
		match                    func(Suite) bool
	}
	cats := []category{
		{"suites-null", "critical", "suites without encryption are accepted", "add !eNULL to the cipher string", "", func(s Suite) bool { return s.Bits == 0 }},
		{"suites-anonymous", "critical", "anonymous suites are accepted", "add !aNULL to the cipher string", "", func(s Suite) bool { return s.Auth == "None" }},
		{"suites-export", "critical", "export-grade suites are accepted", "add !EXPORT to the cipher string", "", func(s Suite) bool { return s.Export }},
		{"suites-rc4", "high", "RC4 suites are accepted", "add !RC4 to the cipher string", "", func(s Suite) bool { return s.Cipher == "RC4" }},
		{"suites-des", "high", "DES suites are accepted", "add !DES to the cipher string", "", func(s Suite) bool { return s.Cipher == "DES" }},
		{"suites-3des", "medium", "3DES suites (64-bit blocks, Sweet32) are accepted", "add !3DES to the cipher string", "tls.ciphers", func(s Suite) bool { return s.Cipher == "3DES" }},
		{"suites-static-rsa", "low", "suites with static RSA key exchange (no forward secrecy) are accepted", "put ECDHE suites first or drop kRSA", "tls.ciphers", func(s Suite) bool { return s.KeyExchange == "RSA" }},
		{"suites-cbc", "low", "CBC suites are accepted (Lucky13; BEAST with TLS 1.0)", "prefer AEAD suites", "tls.ciphers", func(s Suite) bool { return !s.AEAD && s.Bits > 0 }},
	}
	for _, c := range cats {
		var hits []string
		for _, ps := range rep.Suites {
			for _, s := range ps.Suites {
				if c.match(s) {
					hits = append(hits, ps.Protocol+" "+s.Name)
				}
			}
		}
		if len(hits) > 0 {
			add(c.id, c.sev, c.title, strings.Join(hits, ", "), c.fix, c.key)
		}
	}
	for _, ps := range rep.Suites {
		id := "cipher-order-" + strings.ToLower(strings.NewReplacer(" ", "", ".", "").Replace(ps.Protocol))
		switch ps.Order {
		case "server":
			add(id, "ok", ps.Protocol+": the server imposes its order", suiteList(ps), "", "")
		case "client":
			sev, fix := "low", "make the server choose (SSLHonorCipherOrder on)"
			if ps.version == VersionTLS13 {
				sev, fix = "info", ""
			}
			add(id, sev, ps.Protocol+": the server follows the client's order", suiteList(ps), fix, "")
		}
	}
	kx := rep.KeyExchange
	var gs []string
	for _, g := range kx.Groups {
		gs = append(gs, fmt.Sprintf("%s (%s)", g.Name, strings.Join(g.Protocols, ", ")))
	}
	if len(gs) > 0 {
		ev := strings.Join(gs, ", ")
		if kx.PreferredGroup != "" {
			ev += "; TLS 1.3 preference: " + kx.PreferredGroup
		}
		add("key-exchange-groups", "info", "key exchange groups accepted", ev, "", "")
	}
	if d := kx.DHE; d != nil {
		sev, fix := "ok", ""
		switch {
		case d.Bits < 1024:
			sev, fix = "critical", "use 2048-bit DH parameters or drop DHE"
		case d.Bits < 2048:
			sev, fix = "high", "use 2048-bit DH parameters or drop DHE"
		}
		add("dhe-parameters", sev, fmt.Sprintf("DHE prime of %d bits", d.Bits), fmt.Sprintf("ServerKeyExchange for %s at %s", d.Suite, d.Protocol), fix, "")
	}
}

func suiteList(ps ProtocolSuites) string {
	var names []string
	for _, s := range ps.Suites {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

func featureFindings(rep *Report, add addFunc) {
	f := rep.Features
	type feat struct {
		id             string
		c              Check
		good           string // the state that is fine
		sev            string // severity when not good
		okT, badT, fix string
		key            string
	}
	for _, x := range []feat{
		{"compression", f.Compression, "no", "high", "TLS compression is off", "TLS compression is on (CRIME)", "SSLCompression off", "none: Go never compresses"},
		{"heartbeat", f.Heartbeat, "no", "info", "no heartbeat extension", "the heartbeat extension is enabled", "", ""},
		{"heartbleed", f.Heartbleed, "no", "critical", "not vulnerable to Heartbleed", "vulnerable to Heartbleed (CVE-2014-0160)", "upgrade OpenSSL", ""},
		{"fallback-scsv", f.FallbackSCSV, "yes", "medium", "TLS_FALLBACK_SCSV is honoured", "TLS_FALLBACK_SCSV is not honoured (downgrades go unnoticed)", "upgrade the TLS library", "none: tlsfront honours it"},
		{"secure-renegotiation", f.SecureRenegotiation, "yes", "critical", "secure renegotiation (RFC 5746) is supported", "secure renegotiation is not supported", "upgrade the TLS library", ""},
		{"session-ids", f.SessionIDs, "", "info", "", "", "", ""},
		{"session-tickets", f.SessionTickets, "yes", "info", "session tickets resume", "session tickets do not resume", "", ""},
		{"alpn", f.ALPN, "", "info", "", "", "", ""},
	} {
		switch {
		case x.c.State == "":
			continue
		case x.c.State == "n/a":
			add(x.id, "info", x.id+": not applicable", x.c.Evidence, "", "")
		case x.c.State == "error":
			add(x.id, "medium", x.id+": the test failed", x.c.Evidence, "", "")
		case x.good == "":
			add(x.id, "info", x.id+": "+x.c.State, x.c.Evidence, "", "")
		case x.c.State == x.good:
			add(x.id, "ok", x.okT, x.c.Evidence, "", "")
		default:
			add(x.id, x.sev, x.badT, x.c.Evidence, x.fix, x.key)
		}
	}
}

func certFindings(rep *Report, add addFunc) {
	const key = "[[site.cert]]"
	if len(rep.Certificates) == 0 {
		add("cert-missing", "high", "no certificate could be read", "", "", "")
	}
	for i, c := range rep.Certificates {
		p := fmt.Sprintf("cert-%d-", i+1)
		t := fmt.Sprintf("certificate #%d (%s): ", i+1, c.Key)
		check := func(id string, ch Check, sev, okT, badT, fix string) {
			if ch.State == "yes" {
				add(p+id, "ok", t+okT, ch.Evidence, "", "")
			} else {
				add(p+id, sev, t+badT, ch.Evidence, fix, key)
			}
		}
		check("name", c.NameMatch, "high", "name matches", "name mismatch", "serve a certificate for this name")
		check("validity", c.Validity, "critical", "within its validity period", "outside its validity period", "renew the certificate")
		check("trust", c.Trust, "critical", "trusted", "not trusted", "serve a certificate from a trusted CA with its full chain")
		check("chain-order", c.Order, "low", "chain in order", "chain out of order", "list the leaf first, then each issuer")
		switch {
		case c.KeyBits < 1024:
			add(p+"key", "critical", t+"key too small", c.Key, "use RSA 2048+ or ECDSA P-256", key)
		case c.rsaBits > 0 && c.rsaBits < 2048:
			add(p+"key", "high", t+"RSA key under 2048 bits", c.Key, "use RSA 2048+ or ECDSA P-256", key)
		default:
			add(p+"key", "ok", t+"key "+c.Key, fmt.Sprintf("%d bits RSA-equivalent", c.KeyBits), "", "")
		}
		sig := "ok"
		for _, prob := range c.trustProblems {
			if strings.Contains(prob, "signed with") {
				sig = "high"
			}
		}
		add(p+"signature", sig, t+"signature "+c.Signature, "", "", "")
		st := c.Staple
		switch {
		case !st.Present && c.MustStaple:
			add(p+"ocsp-staple", "medium", t+"must-staple certificate without a stapled OCSP response", "", "staple OCSP", "ocsp.stapling")
		case !st.Present:
			add(p+"ocsp-staple", "info", t+"no OCSP response stapled", "", "staple OCSP", "ocsp.stapling")
		case st.Problem != "":
			add(p+"ocsp-staple", "medium", t+"stapled OCSP response unusable", st.Problem, "", "ocsp.stapling")
		default:
			add(p+"ocsp-staple", "ok", t+"stapled OCSP response verified: "+st.Status,
				fmt.Sprintf("thisUpdate %s, nextUpdate %s", st.ThisUpdate.UTC().Format("2006-01-02 15:04"), st.NextUpdate.UTC().Format("2006-01-02 15:04")), "", "")
		}
		if c.MustStaple {
			add(p+"must-staple", "info", t+"must-staple (TLS Feature status_request)", "", "", "")
		}
	}
}

func httpFindings(rep *Report, add addFunc) {
	h := rep.HTTP
	const key = `headers.hsts = "max-age=63072000; includeSubDomains; preload"`
	switch {
	case h.Error != "":
		add("https-get", "medium", "the HTTPS request failed, HSTS and HPKP unknown", h.Error, "", "")
	case h.HSTS == nil:
		add("hsts", "medium", "no HSTS header", fmt.Sprintf("GET / answered %d", h.Status), "send Strict-Transport-Security", key)
	case h.HSTS.MaxAge < hstsMinAge:
		add("hsts", "low", fmt.Sprintf("HSTS max-age %d s is under 180 days", h.HSTS.MaxAge), h.HSTS.Header, "raise max-age", key)
	default:
		add("hsts", "ok", fmt.Sprintf("HSTS max-age %d s, includeSubDomains %v, preload %v", h.HSTS.MaxAge, h.HSTS.IncludeSubDomains, h.HSTS.Preload), h.HSTS.Header, "", "")
	}
	if p := h.HPKP; p != nil {
		name := "Public-Key-Pins"
		if p.ReportOnly {
			name += "-Report-Only"
		}
		switch {
		case !p.MatchesChain:
			add("hpkp", "high", name+": no pin matches a served key", p.Header, "pin a key of the served chain", "[headers.hpkp]")
		case !p.Backup:
			add("hpkp", "medium", name+": no backup pin", p.Header, "add a pin of a spare key", "headers.hpkp.backup_pins")
		default:
			add("hpkp", "info", name+" with a served and a backup pin", p.Header, "", "")
		}
	}
	switch h.Redirect.State {
	case "yes":
		add("http-redirect", "ok", "plain HTTP redirects to HTTPS", h.Redirect.Evidence, "", "")
	case "no":
		add("http-redirect", "low", "plain HTTP does not redirect to HTTPS", h.Redirect.Evidence, "redirect port 80 to https://", "server.http")
	case "n/a":
		add("http-redirect", "info", "plain HTTP not checked", h.Redirect.Evidence, "", "")
	}
}
