package audit

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Facts are the measurements the grade is computed from. Rate is a pure
// function of them, so every rule has a table test.
type Facts struct {
	// Protocols are the offered versions (VersionSSL2 ... VersionTLS13).
	Protocols []uint16
	// Suites are the accepted suites with the protocol they were accepted at.
	Suites []SuiteFact
	// KeyExchangeBits is the weakest key exchange, as RSA-equivalent bits
	// (static RSA: the certificate key; DHE: the prime; ECDHE: the weakest
	// accepted group). Zero means unknown and is scored as the certificate key.
	KeyExchangeBits int
	// CertKeyBits is the weakest certificate key, RSA-equivalent; zero
	// when no certificate was seen.
	CertKeyBits int
	// CertRSABits is the smallest RSA certificate key; zero without RSA.
	CertRSABits int
	// DHBits is the DHE prime size; zero when DHE is not offered.
	DHBits int
	// SecureRenegotiation is "yes", "no" or "n/a" (TLS 1.3 only).
	SecureRenegotiation string
	// Compression reports TLS compression (CRIME).
	Compression bool
	// Heartbleed reports a server that leaked memory to a heartbeat.
	Heartbleed bool
	// FallbackSCSV is "yes", "no", "n/a" or "error".
	FallbackSCSV string
	// TrustProblems make the grade T; NameMismatch makes it M.
	TrustProblems []string
	NameMismatch  string
	// StapleProblems are warnings about OCSP stapling (must-staple
	// without a staple, an invalid or expired staple).
	StapleProblems []string
	// HSTSMaxAge is the HSTS max-age in seconds; negative when absent.
	HSTSMaxAge int64
}

// SuiteFact is one accepted suite as the grade sees it.
type SuiteFact struct {
	Protocol  uint16
	Name      string
	Bits      int // effective cipher strength (3DES: 112)
	RC4       bool
	TripleDES bool
	Export    bool
	Anon      bool
	FS        bool
	AEAD      bool
}

// Rule is a cap, warning or requirement with its reason and fix.
type Rule struct {
	// ID names the rule: "tls10-tls11", "no-fallback-scsv", ...
	ID string `json:"id"`
	// Cap is the best grade the rule allows ("B", "A-", "F", "T", "M").
	Cap string `json:"cap"`
	// Reason says what was found.
	Reason string `json:"reason"`
	// Fix says what to change.
	Fix string `json:"fix"`
	// Tlsfront is the tlsfront configuration key that changes it, when the
	// target is tlsfront.
	Tlsfront string `json:"tlsfront,omitempty"`
}

// Rating is the grade with every reason.
type Rating struct {
	// Grade is "A+", "A", "A-", "B", "C", "D", "E", "F", "M" (certificate
	// name mismatch) or "T" (certificate not trusted).
	Grade string `json:"grade"`
	// IgnoringTrust is the grade the server would get with a trusted,
	// matching certificate; equal to Grade unless Grade is T or M.
	IgnoringTrust string `json:"grade_ignoring_trust"`
	// Score is 0.3 protocol + 0.3 key exchange + 0.4 cipher, 0..100.
	Score            int `json:"score"`
	ProtocolScore    int `json:"protocol_score"`
	KeyExchangeScore int `json:"key_exchange_score"`
	CipherScore      int `json:"cipher_score"`
	// Caps lowered the grade (or would have, had it been higher).
	Caps []Rule `json:"caps"`
	// Warnings cap the grade at A- and rule out A+.
	Warnings []Rule `json:"warnings"`
	// Plus explains the A+ decision: what was missing, or why it was given.
	Plus []Rule `json:"plus"`
}

// gradeOrder ranks grades, best first; -min-grade compares with it.
var gradeOrder = []string{"A+", "A", "A-", "B", "C", "D", "E", "F", "M", "T"}

// GradeRank returns the position of g in the ranking (0 is A+), or -1 for
// an unknown grade.
func GradeRank(g string) int { return slices.Index(gradeOrder, strings.ToUpper(g)) }

// worse returns the worse of two grades.
func worse(a, b string) string {
	if GradeRank(b) > GradeRank(a) {
		return b
	}
	return a
}

// hstsMinAge is the max-age A+ requires: 180 days.
const hstsMinAge = 180 * 24 * 3600

// protocolScore is SSL Labs' score of one protocol version.
func protocolScore(v uint16) int {
	switch v {
	case VersionSSL2:
		return 0
	case VersionSSL3:
		return 80
	case VersionTLS10:
		return 90
	case VersionTLS11:
		return 95
	}
	return 100
}

// keyExchangeScore is SSL Labs' score of a key exchange of that many
// RSA-equivalent bits (zero: anonymous).
func keyExchangeScore(bits int, export bool) int {
	switch {
	case bits <= 0:
		return 0
	case bits < 512:
		return 20
	case export, bits < 1024:
		return 40
	case bits < 2048:
		return 80
	case bits < 4096:
		return 90
	}
	return 100
}

// cipherScore is SSL Labs' score of a cipher of that many bits. The guide
// puts "< 128 bits (40, 56)" at 20% and "< 256 bits (128, 168)" at 80%:
// 3DES, reported as 112 effective bits, scores 80%.
func cipherScore(bits int) int {
	switch {
	case bits <= 0:
		return 0
	case bits < 112:
		return 20
	case bits < 256:
		return 80
	}
	return 100
}

// letter converts a score into A..F.
func letter(score int) string {
	switch {
	case score >= 80:
		return "A"
	case score >= 65:
		return "B"
	case score >= 50:
		return "C"
	case score >= 35:
		return "D"
	case score >= 20:
		return "E"
	}
	return "F"
}

// Rate grades f following the SSL Labs Server Rating Guide (2009r) and its
// amendments up to 2020: certificate failures first (T, M), then the
// numeric score, then the caps, warnings (A-) and the A+ rule.
func Rate(f Facts) Rating {
	var r Rating
	if len(f.Protocols) == 0 {
		r.Grade, r.IgnoringTrust = "F", "F"
		r.Caps = []Rule{{ID: "no-tls", Cap: "F", Reason: "no SSL/TLS protocol could be negotiated",
			Fix: "make the server answer TLS on this port"}}
		return r
	}
	best, worst := 0, 100
	for _, v := range f.Protocols {
		best, worst = max(best, protocolScore(v)), min(worst, protocolScore(v))
	}
	r.ProtocolScore = (best + worst) / 2

	export, anon := false, false
	cbest, cworst := 0, math.MaxInt
	for _, s := range f.Suites {
		export = export || s.Export
		anon = anon || s.Anon
		cbest, cworst = max(cbest, cipherScore(s.Bits)), min(cworst, cipherScore(s.Bits))
	}
	if cworst == math.MaxInt {
		cworst = 0
	}
	r.CipherScore = (cbest + cworst) / 2

	kx := f.KeyExchangeBits
	if kx == 0 {
		kx = f.CertKeyBits
	}
	if anon {
		kx = 0
	}
	r.KeyExchangeScore = keyExchangeScore(kx, export)

	if r.ProtocolScore > 0 && r.KeyExchangeScore > 0 && r.CipherScore > 0 {
		r.Score = int(math.Round(0.3*float64(r.ProtocolScore) + 0.3*float64(r.KeyExchangeScore) + 0.4*float64(r.CipherScore)))
	}
	grade := letter(r.Score)
	for _, c := range caps(f) {
		r.Caps = append(r.Caps, c)
		grade = worse(grade, c.Cap)
	}
	r.Warnings = warnings(f)
	if len(r.Warnings) > 0 && grade == "A" {
		grade = "A-"
	}
	grade, r.Plus = plus(f, grade, len(r.Warnings) > 0)
	r.IgnoringTrust = grade

	if f.NameMismatch != "" {
		r.Caps = append(r.Caps, Rule{ID: "name-mismatch", Cap: "M", Reason: f.NameMismatch,
			Fix: "serve a certificate that covers the name clients use", Tlsfront: "[[site.cert]] (and site.names)"})
		grade = "M"
	}
	if len(f.TrustProblems) > 0 {
		r.Caps = append(r.Caps, Rule{ID: "not-trusted", Cap: "T", Reason: strings.Join(f.TrustProblems, "; "),
			Fix: "serve a valid certificate from a trusted CA with its complete chain (leaf first)", Tlsfront: "[[site.cert]]"})
		grade = "T"
	}
	r.Grade = grade
	return r
}

// has reports whether any suite satisfies p.
func hasSuite(f Facts, p func(SuiteFact) bool) bool { return slices.ContainsFunc(f.Suites, p) }

func suiteNames(f Facts, p func(SuiteFact) bool) string {
	var names []string
	for _, s := range f.Suites {
		if p(s) && !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	return strings.Join(names, ", ")
}

// caps returns every cap rule that applies, worst first.
func caps(f Facts) []Rule {
	var out []Rule
	add := func(id, c, reason, fix, key string) {
		out = append(out, Rule{ID: id, Cap: c, Reason: reason, Fix: fix, Tlsfront: key})
	}
	offered := func(v uint16) bool { return slices.Contains(f.Protocols, v) }
	// F
	if offered(VersionSSL2) {
		add("sslv2", "F", "SSLv2 is offered (DROWN)", "disable SSLv2", "none: tlsfront never offers SSLv2")
	}
	if f.SecureRenegotiation == "no" {
		add("insecure-renegotiation", "F", "the server does not support secure renegotiation (RFC 5746)",
			"upgrade the TLS library", "none: Go always supports RFC 5746")
	}
	if f.CertKeyBits > 0 && f.CertKeyBits < 1024 {
		add("key-under-1024", "F", fmt.Sprintf("the certificate key is %d bits (RSA-equivalent)", f.CertKeyBits),
			"use an RSA key of 2048 bits or more, or ECDSA P-256", "[[site.cert]]")
	}
	if f.DHBits > 0 && f.DHBits < 1024 {
		add("dh-under-1024", "F", fmt.Sprintf("DHE uses a %d-bit prime (Logjam)", f.DHBits),
			"use 2048-bit DH parameters or drop DHE suites", "none: tlsfront has no DHE")
	}
	if isExp := func(s SuiteFact) bool { return s.Export }; hasSuite(f, isExp) {
		add("export-suites", "F", "export-grade suites are accepted (FREAK, Logjam): "+suiteNames(f, isExp),
			"remove EXPORT suites (add !EXPORT to the cipher string)", "none: tlsfront refuses EXPORT")
	}
	if isAnon := func(s SuiteFact) bool { return s.Anon }; hasSuite(f, isAnon) {
		add("anonymous-suites", "F", "anonymous suites are accepted (no authentication): "+suiteNames(f, isAnon),
			"remove anonymous suites (add !aNULL)", "none: tlsfront refuses aNULL")
	}
	if isNull := func(s SuiteFact) bool { return s.Bits == 0 }; hasSuite(f, isNull) {
		add("null-cipher", "F", "suites without encryption are accepted: "+suiteNames(f, isNull),
			"remove NULL suites (add !eNULL)", "none: tlsfront refuses eNULL")
	}
	if f.Heartbleed {
		add("heartbleed", "F", "the server leaks memory through heartbeats (Heartbleed, CVE-2014-0160)",
			"upgrade OpenSSL to 1.0.1g or later", "none: Go has no heartbeat extension")
	}
	// C
	if offered(VersionSSL3) {
		add("sslv3", "C", "SSLv3 is offered (POODLE)", "disable SSLv3", "none: tlsfront never offers SSLv3")
	}
	if !offered(VersionTLS12) && !offered(VersionTLS13) {
		add("no-tls12", "C", "TLS 1.2 is not offered", "enable TLS 1.2",
			`tls.min_version = "1.2" (or tls.profile = "intermediate")`)
	}
	if modern := func(s SuiteFact) bool { return s.Protocol >= VersionTLS11 && s.RC4 }; hasSuite(f, modern) {
		add("rc4-modern", "C", "RC4 is accepted with TLS 1.1 or newer: "+suiteNames(f, modern),
			"remove RC4 suites (add !RC4)", "none: tlsfront refuses RC4")
	}
	if modern := func(s SuiteFact) bool { return s.Protocol >= VersionTLS11 && s.TripleDES }; hasSuite(f, modern) {
		add("3des-modern", "C", "3DES (64-bit blocks, Sweet32) is accepted with TLS 1.1 or newer: "+suiteNames(f, modern),
			"remove 3DES suites (add !3DES)", `tls.ciphers without DES-CBC3-SHA (or tls.profile = "intermediate")`)
	}
	if f.Compression {
		add("compression", "C", "TLS compression is enabled (CRIME)", "disable TLS compression (SSLCompression off)",
			"none: Go never compresses")
	}
	// B
	if offered(VersionTLS10) || offered(VersionTLS11) {
		var old []string
		for _, v := range []uint16{VersionTLS10, VersionTLS11} {
			if offered(v) {
				old = append(old, versionName(v))
			}
		}
		add("tls10-tls11", "B", strings.Join(old, " and ")+" offered (deprecated since 2020, RFC 8996)",
			"offer TLS 1.2 and TLS 1.3 only", `tls.min_version = "1.2" (or tls.profile = "intermediate")`)
	}
	if isRC4 := func(s SuiteFact) bool { return s.RC4 }; hasSuite(f, isRC4) {
		add("rc4", "B", "RC4 is accepted: "+suiteNames(f, isRC4), "remove RC4 suites (add !RC4)", "none: tlsfront refuses RC4")
	}
	if len(f.Suites) > 0 && !hasSuite(f, func(s SuiteFact) bool { return s.FS }) {
		add("no-forward-secrecy", "B", "no suite has forward secrecy (no ECDHE, DHE or TLS 1.3)",
			"offer ECDHE suites first", `tls.ciphers starting with ECDHE suites (or tls.profile = "intermediate")`)
	}
	if len(f.Suites) > 0 && !hasSuite(f, func(s SuiteFact) bool { return s.AEAD }) {
		add("no-aead", "B", "no AEAD suite (AES-GCM, ChaCha20-Poly1305) is accepted",
			"offer ECDHE with AES-GCM or ChaCha20-Poly1305", `tls.ciphers with ECDHE+AESGCM (or tls.profile = "intermediate")`)
	}
	if f.CertRSABits > 0 && f.CertRSABits < 2048 && f.CertRSABits >= 1024 {
		add("rsa-under-2048", "B", fmt.Sprintf("the RSA certificate key is %d bits", f.CertRSABits),
			"use an RSA key of 2048 bits or more, or ECDSA P-256", "[[site.cert]]")
	}
	if f.DHBits >= 1024 && f.DHBits < 2048 {
		add("dh-under-2048", "B", fmt.Sprintf("DHE uses a %d-bit prime (Logjam)", f.DHBits),
			"use 2048-bit DH parameters or drop DHE suites", "none: tlsfront has no DHE")
	}
	slices.SortStableFunc(out, func(a, b Rule) int { return GradeRank(b.Cap) - GradeRank(a.Cap) })
	return out
}

// warnings returns the rules that cap the grade at A-.
func warnings(f Facts) []Rule {
	var out []Rule
	if f.FallbackSCSV == "no" {
		out = append(out, Rule{ID: "no-fallback-scsv", Cap: "A-",
			Reason: "TLS_FALLBACK_SCSV is not honoured: a downgrade to an older protocol is not detected",
			Fix:    "upgrade the TLS library or offer a single protocol version", Tlsfront: "none: tlsfront honours TLS_FALLBACK_SCSV"})
	}
	for _, p := range f.StapleProblems {
		out = append(out, Rule{ID: "ocsp-staple", Cap: "A-", Reason: p,
			Fix: "staple a valid OCSP response", Tlsfront: "ocsp.stapling = true (and an OCSP URL in the certificate)"})
	}
	return out
}

// plus decides A+: grade A, no warnings and HSTS with max-age of at least
// 180 days.
func plus(f Facts, grade string, warned bool) (string, []Rule) {
	const key = `headers.hsts = "max-age=63072000; includeSubDomains; preload"`
	switch {
	case warned && grade == "A-":
		return grade, []Rule{{ID: "plus-warnings", Cap: "A-", Reason: "A+ needs a configuration without warnings", Fix: "fix the warnings above"}}
	case grade != "A":
		return grade, []Rule{{ID: "plus-needs-a", Cap: grade, Reason: "A+ needs grade A first", Fix: "remove the caps above"}}
	case f.HSTSMaxAge < 0:
		return grade, []Rule{{ID: "no-hsts", Cap: "A", Reason: "no Strict-Transport-Security header on the HTTPS response",
			Fix: "send HSTS with max-age of at least 180 days", Tlsfront: key}}
	case f.HSTSMaxAge < hstsMinAge:
		return grade, []Rule{{ID: "short-hsts", Cap: "A",
			Reason: fmt.Sprintf("HSTS max-age is %d s, less than 180 days (%d s)", f.HSTSMaxAge, hstsMinAge),
			Fix:    "raise the HSTS max-age to at least 15552000", Tlsfront: key}}
	}
	return "A+", []Rule{{ID: "plus", Cap: "A+", Reason: fmt.Sprintf("grade A without warnings and HSTS max-age %d s (at least 180 days)", f.HSTSMaxAge)}}
}
