package tlsconf

import (
	"crypto/tls"
	"testing"
)

// FuzzParseCipherString checks that any string either fails or yields a
// non-empty list of distinct suites that Go implements and the policy
// allows, named consistently.
func FuzzParseCipherString(f *testing.F) {
	for _, p := range csProfiles {
		f.Add(p.Ciphers)
	}
	for _, s := range []string{"DEFAULT", "ALL:!aNULL", "HIGH:!aNULL:!MD5:@STRENGTH", "ECDHE+AES128:+SHA1:-ECDSA",
		"3DES:RC4:!RC4", "EXP-RC4-MD5", "AES+", "@SECLEVEL=3", "kEDH+AESGCM"} {
		f.Add(s)
	}
	goSuites := map[uint16]bool{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		goSuites[cs.ID] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		cl, err := ParseCipherString(s)
		if err != nil {
			if cl.Suites != nil || cl.Names != nil || cl.Dropped != nil || cl.Warnings != nil {
				t.Fatalf("%q: error %v with a non-empty list", s, err)
			}
			return
		}
		if len(cl.Suites) == 0 || len(cl.Names) != len(cl.Suites) {
			t.Fatalf("%q: %d suites, %d names", s, len(cl.Suites), len(cl.Names))
		}
		seen := map[uint16]bool{}
		for i, id := range cl.Suites {
			su := csByID[id]
			switch {
			case seen[id]:
				t.Fatalf("%q: 0x%04X twice", s, id)
			case !goSuites[id] || !csGoImplemented[id] || su == nil:
				t.Fatalf("%q: 0x%04X is not a suite Go implements", s, id)
			case su.enc&(csRC4|csENULL) != 0 || su.auth&csANULL != 0 || su.mac&csMD5 != 0:
				t.Fatalf("%q: forbidden suite %s", s, su.name)
			case cl.Names[i] != su.name || SuiteName(id) != su.name:
				t.Fatalf("%q: name %s for %s", s, cl.Names[i], su.name)
			}
			seen[id] = true
		}
		for _, d := range cl.Dropped {
			if d.Reason == "" || d.Name == "" {
				t.Fatalf("%q: dropped %+v without a reason", s, d)
			}
		}
	})
}
