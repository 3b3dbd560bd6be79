package audit

import (
	"slices"
	"testing"
)

// strong is a TLS 1.2 + 1.3 server with ECDHE AES-GCM, a P-256 key and
// HSTS for two years: an A+ baseline that each case below changes.
func strong() Facts {
	return Facts{
		Protocols: []uint16{VersionTLS12, VersionTLS13},
		Suites: []SuiteFact{
			{Protocol: VersionTLS13, Name: "TLS_AES_128_GCM_SHA256", Bits: 128, FS: true, AEAD: true},
			{Protocol: VersionTLS13, Name: "TLS_AES_256_GCM_SHA384", Bits: 256, FS: true, AEAD: true},
			{Protocol: VersionTLS12, Name: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Bits: 128, FS: true, AEAD: true},
		},
		KeyExchangeBits:     3072,
		CertKeyBits:         3072,
		SecureRenegotiation: "yes",
		FallbackSCSV:        "yes",
		HSTSMaxAge:          63072000,
	}
}

func with(f func(*Facts)) Facts {
	x := strong()
	f(&x)
	return x
}

func TestRate(t *testing.T) {
	tls10 := SuiteFact{Protocol: VersionTLS10, Name: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Bits: 256, FS: true}
	for _, tc := range []struct {
		name  string
		facts Facts
		grade string
		// ignoring is the grade without trust issues; "" means == grade.
		ignoring string
		// rules are rule IDs that must be among caps, warnings or plus.
		rules []string
		score int // 0: not checked
	}{
		{name: "baseline A+", facts: strong(), grade: "A+", rules: []string{"plus"}, score: 93},
		{name: "no HSTS stays A", facts: with(func(f *Facts) { f.HSTSMaxAge = -1 }), grade: "A", rules: []string{"no-hsts"}},
		{name: "HSTS under 180 days stays A", facts: with(func(f *Facts) { f.HSTSMaxAge = hstsMinAge - 1 }), grade: "A", rules: []string{"short-hsts"}},
		{name: "HSTS of exactly 180 days is A+", facts: with(func(f *Facts) { f.HSTSMaxAge = hstsMinAge }), grade: "A+"},
		{name: "no fallback SCSV is A-", facts: with(func(f *Facts) { f.FallbackSCSV = "no" }), grade: "A-", rules: []string{"no-fallback-scsv", "plus-warnings"}},
		{name: "fallback SCSV not applicable is A+", facts: with(func(f *Facts) { f.FallbackSCSV = "n/a" }), grade: "A+"},
		{name: "must-staple without staple is A-", facts: with(func(f *Facts) { f.StapleProblems = []string{"no staple"} }), grade: "A-", rules: []string{"ocsp-staple"}},
		{name: "TLS 1.0 offered caps at B", facts: with(func(f *Facts) {
			f.Protocols = append(f.Protocols, VersionTLS10)
			f.Suites = append(f.Suites, tls10)
		}), grade: "B", rules: []string{"tls10-tls11", "plus-needs-a"}},
		{name: "TLS 1.1 offered caps at B", facts: with(func(f *Facts) { f.Protocols = append(f.Protocols, VersionTLS11) }), grade: "B", rules: []string{"tls10-tls11"}},
		{name: "no TLS 1.2 or 1.3 caps at C", facts: with(func(f *Facts) {
			f.Protocols = []uint16{VersionTLS10}
			f.Suites = []SuiteFact{tls10}
		}), grade: "C", rules: []string{"no-tls12", "tls10-tls11", "no-aead"}},
		{name: "TLS 1.3 only is A+", facts: with(func(f *Facts) {
			f.Protocols = []uint16{VersionTLS13}
			f.Suites = f.Suites[:2]
			f.FallbackSCSV, f.SecureRenegotiation = "n/a", "n/a"
		}), grade: "A+"},
		{name: "SSLv2 is F", facts: with(func(f *Facts) { f.Protocols = append(f.Protocols, VersionSSL2) }), grade: "F", rules: []string{"sslv2"}},
		{name: "SSLv3 caps at C", facts: with(func(f *Facts) { f.Protocols = append(f.Protocols, VersionSSL3) }), grade: "C", rules: []string{"sslv3"}},
		{name: "insecure renegotiation is F", facts: with(func(f *Facts) { f.SecureRenegotiation = "no" }), grade: "F", rules: []string{"insecure-renegotiation"}},
		{name: "key under 1024 bits is F", facts: with(func(f *Facts) { f.CertKeyBits, f.CertRSABits = 768, 768 }), grade: "F", rules: []string{"key-under-1024"}},
		{name: "RSA key under 2048 caps at B", facts: with(func(f *Facts) { f.CertKeyBits, f.CertRSABits = 1024, 1024 }), grade: "B", rules: []string{"rsa-under-2048"}},
		{name: "DH 1024 caps at B", facts: with(func(f *Facts) { f.DHBits = 1024 }), grade: "B", rules: []string{"dh-under-2048"}},
		{name: "DH 512 is F", facts: with(func(f *Facts) { f.DHBits = 512 }), grade: "F", rules: []string{"dh-under-1024"}},
		{name: "RC4 at TLS 1.0 caps at B", facts: with(func(f *Facts) {
			f.Protocols = append(f.Protocols, VersionTLS10)
			f.Suites = append(f.Suites, SuiteFact{Protocol: VersionTLS10, Name: "TLS_RSA_WITH_RC4_128_SHA", Bits: 128, RC4: true})
		}), grade: "B", rules: []string{"rc4"}},
		{name: "RC4 at TLS 1.2 caps at C", facts: with(func(f *Facts) {
			f.Suites = append(f.Suites, SuiteFact{Protocol: VersionTLS12, Name: "TLS_RSA_WITH_RC4_128_SHA", Bits: 128, RC4: true})
		}), grade: "C", rules: []string{"rc4-modern", "rc4"}},
		{name: "3DES at TLS 1.2 caps at C", facts: with(func(f *Facts) {
			f.Suites = append(f.Suites, SuiteFact{Protocol: VersionTLS12, Name: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Bits: 112, TripleDES: true})
		}), grade: "C", rules: []string{"3des-modern"}},
		{name: "3DES at TLS 1.0 only caps at B (TLS 1.0)", facts: with(func(f *Facts) {
			f.Protocols = append(f.Protocols, VersionTLS10)
			f.Suites = append(f.Suites, SuiteFact{Protocol: VersionTLS10, Name: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Bits: 112, TripleDES: true})
		}), grade: "B", rules: []string{"tls10-tls11"}},
		{name: "no forward secrecy caps at B", facts: with(func(f *Facts) {
			f.Protocols = []uint16{VersionTLS12}
			f.Suites = []SuiteFact{{Protocol: VersionTLS12, Name: "TLS_RSA_WITH_AES_128_GCM_SHA256", Bits: 128, AEAD: true}}
		}), grade: "B", rules: []string{"no-forward-secrecy"}},
		{name: "no AEAD caps at B", facts: with(func(f *Facts) {
			f.Protocols = []uint16{VersionTLS12}
			f.Suites = []SuiteFact{{Protocol: VersionTLS12, Name: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Bits: 128, FS: true}}
		}), grade: "B", rules: []string{"no-aead"}},
		{name: "compression caps at C", facts: with(func(f *Facts) { f.Compression = true }), grade: "C", rules: []string{"compression"}},
		{name: "Heartbleed is F", facts: with(func(f *Facts) { f.Heartbleed = true }), grade: "F", rules: []string{"heartbleed"}},
		{name: "export suites are F", facts: with(func(f *Facts) {
			f.Suites = append(f.Suites, SuiteFact{Protocol: VersionTLS12, Name: "TLS_RSA_EXPORT_WITH_RC4_40_MD5", Bits: 40, RC4: true, Export: true})
		}), grade: "F", rules: []string{"export-suites"}},
		{name: "anonymous suites score 0 and are F", facts: with(func(f *Facts) {
			f.Suites = append(f.Suites, SuiteFact{Protocol: VersionTLS12, Name: "TLS_DH_anon_WITH_AES_128_GCM_SHA256", Bits: 128, Anon: true, FS: true, AEAD: true})
		}), grade: "F", rules: []string{"anonymous-suites"}, score: 0},
		{name: "NULL cipher is F", facts: with(func(f *Facts) {
			f.Suites = append(f.Suites, SuiteFact{Protocol: VersionTLS12, Name: "TLS_RSA_WITH_NULL_SHA256", Bits: 0})
		}), grade: "F", rules: []string{"null-cipher"}},
		{name: "name mismatch is M", facts: with(func(f *Facts) { f.NameMismatch = "mismatch" }), grade: "M", ignoring: "A+", rules: []string{"name-mismatch"}},
		{name: "untrusted is T", facts: with(func(f *Facts) { f.TrustProblems = []string{"self-signed"} }), grade: "T", ignoring: "A+", rules: []string{"not-trusted"}},
		{name: "untrusted and mismatch is T", facts: with(func(f *Facts) {
			f.TrustProblems = []string{"expired"}
			f.NameMismatch = "mismatch"
		}), grade: "T", ignoring: "A+", rules: []string{"not-trusted", "name-mismatch"}},
		{name: "T keeps the grade it hides", facts: with(func(f *Facts) {
			f.TrustProblems = []string{"self-signed"}
			f.Protocols = append(f.Protocols, VersionTLS11)
		}), grade: "T", ignoring: "B"},
		{name: "no protocol is F", facts: Facts{}, grade: "F", rules: []string{"no-tls"}},
		{name: "weak server: TLS 1.0, RC4, 3DES, static RSA", facts: Facts{
			Protocols: []uint16{VersionTLS10},
			Suites: []SuiteFact{
				{Protocol: VersionTLS10, Name: "TLS_RSA_WITH_AES_128_CBC_SHA", Bits: 128},
				{Protocol: VersionTLS10, Name: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Bits: 112, TripleDES: true},
				{Protocol: VersionTLS10, Name: "TLS_RSA_WITH_RC4_128_SHA", Bits: 128, RC4: true},
			},
			KeyExchangeBits: 2048, CertKeyBits: 2048, CertRSABits: 2048,
			SecureRenegotiation: "yes", FallbackSCSV: "n/a", HSTSMaxAge: -1,
		}, grade: "C", rules: []string{"no-tls12", "tls10-tls11", "rc4", "no-forward-secrecy", "no-aead"}, score: 86},
		{name: "score below 80 is B by score", facts: with(func(f *Facts) {
			// A 1000-bit key exchange scores 40: 0.3*100 + 0.3*40 + 0.4*90 = 78.
			f.KeyExchangeBits = 1000
		}), grade: "B", score: 78},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Rate(tc.facts)
			if r.Grade != tc.grade {
				t.Errorf("grade %s, want %s; rating %+v", r.Grade, tc.grade, r)
			}
			ignoring := tc.ignoring
			if ignoring == "" {
				ignoring = tc.grade
			}
			if r.IgnoringTrust != ignoring {
				t.Errorf("grade ignoring trust %s, want %s", r.IgnoringTrust, ignoring)
			}
			if tc.score != 0 && r.Score != tc.score {
				t.Errorf("score %d, want %d (%d/%d/%d)", r.Score, tc.score, r.ProtocolScore, r.KeyExchangeScore, r.CipherScore)
			}
			var ids []string
			for _, rs := range [][]Rule{r.Caps, r.Warnings, r.Plus} {
				for _, rl := range rs {
					ids = append(ids, rl.ID)
					if rl.Reason == "" || rl.Cap == "" {
						t.Errorf("rule %s has no reason or cap: %+v", rl.ID, rl)
					}
					if rl.ID != "plus" && rl.ID != "plus-needs-a" && rl.ID != "plus-warnings" && rl.Fix == "" {
						t.Errorf("rule %s names no fix", rl.ID)
					}
				}
			}
			for _, want := range tc.rules {
				if !slices.Contains(ids, want) {
					t.Errorf("rule %s missing; have %v", want, ids)
				}
			}
			// Every cap is at least as bad as the grade it allows.
			for _, c := range r.Caps {
				if c.Cap != "T" && c.Cap != "M" && GradeRank(c.Cap) > GradeRank(r.IgnoringTrust) {
					t.Errorf("cap %s at %s but grade %s", c.ID, c.Cap, r.IgnoringTrust)
				}
			}
		})
	}
}

func TestScores(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  int
		want int
	}{
		{"SSLv2", protocolScore(VersionSSL2), 0},
		{"SSLv3", protocolScore(VersionSSL3), 80},
		{"TLS 1.0", protocolScore(VersionTLS10), 90},
		{"TLS 1.1", protocolScore(VersionTLS11), 95},
		{"TLS 1.2", protocolScore(VersionTLS12), 100},
		{"TLS 1.3", protocolScore(VersionTLS13), 100},
		{"anonymous key exchange", keyExchangeScore(0, false), 0},
		{"key exchange 256 bits", keyExchangeScore(256, false), 20},
		{"export key exchange", keyExchangeScore(2048, true), 40},
		{"key exchange 768 bits", keyExchangeScore(768, false), 40},
		{"key exchange 1024 bits", keyExchangeScore(1024, false), 80},
		{"key exchange 2048 bits", keyExchangeScore(2048, false), 90},
		{"key exchange 4096 bits", keyExchangeScore(4096, false), 100},
		{"NULL cipher", cipherScore(0), 0},
		{"40-bit cipher", cipherScore(40), 20},
		{"56-bit cipher", cipherScore(56), 20},
		{"3DES", cipherScore(112), 80},
		{"128-bit cipher", cipherScore(128), 80},
		{"256-bit cipher", cipherScore(256), 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("score %d, want %d", tc.got, tc.want)
			}
		})
	}
}

func TestLetterAndRank(t *testing.T) {
	for _, tc := range []struct {
		score int
		want  string
	}{{100, "A"}, {80, "A"}, {79, "B"}, {65, "B"}, {64, "C"}, {50, "C"}, {49, "D"}, {35, "D"}, {34, "E"}, {20, "E"}, {19, "F"}, {0, "F"}} {
		if got := letter(tc.score); got != tc.want {
			t.Errorf("letter(%d) = %s, want %s", tc.score, got, tc.want)
		}
	}
	order := []string{"A+", "A", "A-", "B", "C", "D", "E", "F", "M", "T"}
	for i := 1; i < len(order); i++ {
		if GradeRank(order[i-1]) >= GradeRank(order[i]) {
			t.Errorf("%s does not rank above %s", order[i-1], order[i])
		}
	}
	if GradeRank("a+") != 0 || GradeRank("Z") != -1 {
		t.Errorf("GradeRank(a+)=%d GradeRank(Z)=%d", GradeRank("a+"), GradeRank("Z"))
	}
}
