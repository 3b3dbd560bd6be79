package tlsconf

import (
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"tlsfront/internal/itest"
)

// csOSSLSuite is one TLS ≤ 1.2 line of `openssl ciphers -V`.
type csOSSLSuite struct {
	id               uint16
	name, version    string
	kx, au, enc, mac string
}

// csOpenSSL runs `openssl ciphers -V STRING:@SECLEVEL=0` and returns the
// TLS ≤ 1.2 suites in order. "no cipher match" is an empty list. The
// security level is lowered so nothing is filtered; without -s openssl
// does not filter by it anyway.
func csOpenSSL(t *testing.T, s string) []csOSSLSuite {
	t.Helper()
	out, err := exec.Command("openssl", "ciphers", "-V", s+":@SECLEVEL=0").CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "no cipher match") {
			return nil
		}
		t.Fatalf("openssl ciphers -V %q: %v\n%s", s, err, out)
	}
	var list []csOSSLSuite
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[1] != "-" {
			t.Fatalf("openssl ciphers -V %q: unexpected line %q", s, line)
		}
		if f[3] == "TLSv1.3" {
			continue // openssl always prints the TLS 1.3 suites
		}
		hi, lo, ok := strings.Cut(f[0], ",")
		h, err1 := strconv.ParseUint(strings.TrimPrefix(hi, "0x"), 16, 8)
		l, err2 := strconv.ParseUint(strings.TrimPrefix(lo, "0x"), 16, 8)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("openssl ciphers -V %q: bad code in %q", s, line)
		}
		su := csOSSLSuite{id: uint16(h<<8 | l), name: f[2], version: f[3]}
		for _, kv := range f[4:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "Kx":
				su.kx = v
			case "Au":
				su.au = v
			case "Enc":
				su.enc = v
			case "Mac":
				su.mac = v
			}
		}
		list = append(list, su)
	}
	return list
}

// csOSSLKnown is the set of TLS ≤ 1.2 suites this openssl has.
var csOSSLKnown = sync.OnceValues(func() (map[uint16]bool, error) {
	out, err := exec.Command("openssl", "ciphers", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0").Output()
	if err != nil {
		return nil, err
	}
	known := map[uint16]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] == "TLSv1.3" {
			continue
		}
		var h, l uint16
		if _, err := fmt.Sscanf(f[0], "0x%02X,0x%02X", &h, &l); err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		known[h<<8|l] = true
	}
	return known, nil
})

func csFormat(ids []uint16) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = SuiteName(id)
	}
	return strings.Join(parts, ":")
}

// csTutorialLong is the tutorial's "backward compatible" SSLCipherSuite
// (line 192 of the tutorial).
const csTutorialLong = "ECDH+AESGCM:EDH+AESGCM:AES256+EECDH:ECDHE-RSA-AES128-SHA:DHE-RSA-AES128-GCM-SHA256:AES256+EDH:" +
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-SHA384:" +
	"ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA:DHE-RSA-AES256-SHA256:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA:" +
	"DHE-RSA-AES128-SHA:ECDHE-RSA-DES-CBC3-SHA:EDH-RSA-DES-CBC3-SHA:AES256-GCM-SHA384:AES128-GCM-SHA256:" +
	"AES256-SHA256:AES128-SHA256:AES256-SHA:AES128-SHA:DES-CBC3-SHA:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!MD5:!PSK:!RC4"

func TestCipherTutorialStringsFromFile(t *testing.T) {
	data, err := os.ReadFile("/work/shared/tutorial-strong-ssl-apache2.txt")
	if err != nil {
		t.Skipf("tutorial not available: %v", err)
	}
	text := string(data)
	for _, s := range []string{csTutorialCiphers, csTutorialLong} {
		if !strings.Contains(text, "SSLCipherSuite "+s+"\n") {
			t.Errorf("tutorial has no line %q", "SSLCipherSuite "+s)
		}
	}
}

// TestCipherStringMatchesOpenSSL runs each string through the real
// openssl and through ParseCipherString. This openssl lacks suites
// (Debian has no RC4, 3DES, IDEA, SEED), so lists are compared on what
// both sides know: the full selection restricted to suites openssl has
// must equal openssl's list, and the Go suites restricted to suites
// openssl has must equal openssl's list restricted to suites Go has.
func TestCipherStringMatchesOpenSSL(t *testing.T) {
	itest.RequireTool(t, "openssl")
	known, err := csOSSLKnown()
	if err != nil {
		t.Fatalf("listing openssl suites: %v", err)
	}
	intermediate, _ := LookupProfile("intermediate")
	old, _ := LookupProfile("old")
	tests := []struct {
		name, str string
		wantErr   string // substring; "" for success
	}{
		{"tutorial short", csTutorialCiphers, ""},
		{"tutorial long", csTutorialLong, ""},
		{"mozilla intermediate", intermediate.Ciphers, ""},
		{"mozilla old", old.Ciphers, ""},
		{"DEFAULT", "DEFAULT", ""},
		{"HIGH has aNULL", "HIGH", "aNULL"},
		{"ALL:!aNULL has RC4", "ALL:!aNULL", "RC4"},
		{"everything", "ALL:COMPLEMENTOFALL", "eNULL"},
		{"kRSA", "kRSA:!eNULL:!RC4:!MD5", ""},
		{"ECDHE+AES128", "ECDHE+AES128", ""},
		{"AES256+EECDH", "AES256+EECDH", ""},
		{"delete and move", "ECDHE:-ECDSA:+AES256:!CHACHA20:!eNULL:!RC4", ""},
		{"move then delete a suite", "RSA:+AES256:-AES128-SHA:!eNULL:!RC4:!MD5", ""},
		{"strength sort", "AES:@STRENGTH:!aNULL:!PSK:!SRP", ""},
		{"DEFAULT minus", "DEFAULT:!DHE:!kRSA", ""},
		{"delete then re-add", "DEFAULT:-kRSA:kRSA", ""},
		{"kill before add", "!RC4:!eNULL:ECDH:!aNULL:RC4", ""},
		{"kill after add", "ECDH:!aNULL", "eNULL"},
		{"separators", ":ECDHE-ECDSA-AES256-SHA,AES128-SHA ECDHE+AES;RSA;!eNULL,!RC4 !MD5", ""},
		{"rule without separator", "AES!RC4:!aNULL:!PSK:!SRP", ""},
		{"suite in combination", "AES128-SHA+RSA:ECDHE-RSA-AES128-GCM-SHA256+kECDHE", ""},
		{"versions", "TLSv1.2:SSLv3:TLSv1:!aNULL:!PSK:!eNULL:!SRP:!RC4", ""},
		{"digests", "SHA384:SHA256:SHA1:!aNULL:!eNULL:!PSK:!RC4", ""},
		{"families", "ARIA:CAMELLIA:AESCCM8:AESCCM:CHACHA20:CBC:!aNULL:!PSK:!SRP", ""},
		{"auth", "aECDSA+SHA1:aRSA+SHA256:aDSS:ECDSA:!eNULL:!RC4", ""},
		{"complement of default has RC4", "COMPLEMENTOFDEFAULT:!aNULL", "RC4"},
		{"FIPS", "FIPS:!aNULL", ""},
		{"EDH alias of 3DES", "EDH-RSA-DES-CBC3-SHA:ECDHE-RSA-AES128-SHA", ""},
		{"NOT_DEFAULT dropped by HIGH", "COMPLEMENTOFDEFAULT+HIGH:!aNULL", ""},
		{"reorder all", "ALL:+kRSA:+aNULL:@STRENGTH:-DHE:DHE+AESGCM:!aNULL:!RC4:!MD5", ""},
		{"EECDH families", "EECDH+CHACHA20:EECDH+AESGCM:EECDH+AES:EECDH+3DES", ""},
		{"kEECDH includes anonymous", "kEECDH+3DES", "AECDH-DES-CBC3-SHA"},
		{"DHE only", "EDH+AESGCM", "finite-field DHE"},
		{"kEDH includes anonymous", "kEDH+AESGCM", "ADH-AES256-GCM-SHA384"},
		{"3DES, absent from this openssl", "3DES:!aNULL", ""},
		{"MEDIUM", "MEDIUM:!aNULL:!RC4:!MD5", ""},
		{"seclevel", "ECDHE+AESGCM:@SECLEVEL=3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full, _, err := csSelect(tt.str)
			if err != nil {
				t.Fatalf("csSelect(%q): %v", tt.str, err)
			}
			ossl := csOpenSSL(t, tt.str)
			var osslIDs, osslGo []uint16
			for _, o := range ossl {
				su := csByID[o.id]
				if su == nil {
					t.Fatalf("openssl selected %s (0x%04X), which the table lacks", o.name, o.id)
				}
				if su.name != o.name {
					t.Errorf("0x%04X: table name %s, openssl %s", o.id, su.name, o.name)
				}
				osslIDs = append(osslIDs, o.id)
				if csGoImplemented[o.id] {
					osslGo = append(osslGo, o.id)
				}
			}
			var fullKnown []uint16
			for _, su := range full {
				if known[su.id] {
					fullKnown = append(fullKnown, su.id)
				}
			}
			if !slices.Equal(fullKnown, osslIDs) {
				t.Fatalf("full selection differs from openssl\n ours:    %s\n openssl: %s", csFormat(fullKnown), csFormat(osslIDs))
			}

			cl, err := ParseCipherString(tt.str)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCipherString(%q) error = %v, want one containing %q", tt.str, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCipherString(%q): %v", tt.str, err)
			}
			var goKnown []uint16
			for _, id := range cl.Suites {
				if known[id] {
					goKnown = append(goKnown, id)
				}
			}
			if !slices.Equal(goKnown, osslGo) {
				t.Errorf("Go suites differ from openssl's restricted to Go\n ours:    %s\n openssl: %s", csFormat(goKnown), csFormat(osslGo))
			}
			// Suites and Dropped partition the full selection, in order.
			var merged []string
			si, di := 0, 0
			for _, su := range full {
				switch {
				case si < len(cl.Suites) && cl.Suites[si] == su.id:
					merged = append(merged, cl.Names[si])
					si++
				case di < len(cl.Dropped) && cl.Dropped[di].Name == su.name:
					merged = append(merged, su.name)
					di++
				}
			}
			if len(merged) != len(full) || si != len(cl.Suites) || di != len(cl.Dropped) {
				t.Errorf("Suites (%d) and Dropped (%d) do not partition the %d selected suites in order", len(cl.Suites), len(cl.Dropped), len(full))
			}
		})
	}
}

// TestCipherTableMatchesOpenSSL checks the table's attributes against
// `openssl ciphers -V` for every suite this openssl has, and its strength
// flags against the HIGH, FIPS and COMPLEMENTOFDEFAULT aliases.
func TestCipherTableMatchesOpenSSL(t *testing.T) {
	itest.RequireTool(t, "openssl")
	kx := map[string]uint32{"RSA": csKRSA, "ECDH": csKECDHE, "DH": csKDHE, "PSK": csKPSK, "RSAPSK": csKRSAPSK,
		"ECDHEPSK": csKECDHEPSK, "DHEPSK": csKDHEPSK, "SRP": csKSRP}
	au := map[string]uint32{"RSA": csARSA, "ECDSA": csAECDSA, "DSS": csADSS, "None": csANULL, "PSK": csAPSK, "SRP": csASRP}
	enc := map[string]uint32{"AESGCM(256)": csAES256GCM, "AESGCM(128)": csAES128GCM, "CHACHA20/POLY1305(256)": csCHACHA20,
		"AESCCM8(256)": csAES256CCM8, "AESCCM8(128)": csAES128CCM8, "AESCCM(256)": csAES256CCM, "AESCCM(128)": csAES128CCM,
		"ARIAGCM(256)": csARIA256GCM, "ARIAGCM(128)": csARIA128GCM, "AES(256)": csAES256, "AES(128)": csAES128,
		"Camellia(256)": csCAMELLIA256, "Camellia(128)": csCAMELLIA128, "None": csENULL}
	mac := map[string]uint32{"AEAD": csAEAD, "SHA384": csSHA384, "SHA256": csSHA256, "SHA1": csSHA1, "MD5": csMD5}
	ver := map[string]uint16{"TLSv1.2": csTLS12, "TLSv1": csTLS1, "SSLv3": csSSL3}
	all := csOpenSSL(t, "ALL:COMPLEMENTOFALL")
	if len(all) < 100 {
		t.Fatalf("openssl lists only %d suites", len(all))
	}
	for _, o := range all {
		su := csByID[o.id]
		if su == nil {
			t.Errorf("table lacks %s (0x%04X)", o.name, o.id)
			continue
		}
		want := csSuite{id: o.id, name: o.name, mkey: kx[o.kx], auth: au[o.au], enc: enc[o.enc], mac: mac[o.mac], minTLS: ver[o.version]}
		got := *su
		got.strength, got.bits = 0, 0
		if got != want || want.mkey == 0 || want.auth == 0 || want.enc == 0 || want.mac == 0 || want.minTLS == 0 {
			t.Errorf("%s: table %+v, openssl says %+v (%s %s %s %s %s)", o.name, got, want, o.kx, o.au, o.enc, o.mac, o.version)
		}
	}
	for _, c := range []struct {
		alias string
		bit   uint32
	}{{"HIGH", csHIGH}, {"FIPS", csFIPS}, {"COMPLEMENTOFDEFAULT", csNOTDEFAULT}} {
		in := map[uint16]bool{}
		for _, o := range csOpenSSL(t, c.alias) {
			in[o.id] = true
		}
		for _, o := range all {
			su := csByID[o.id]
			if su == nil || su.enc == csENULL {
				continue // eNULL suites never match FIPS (it requires non-eNULL)
			}
			if has := su.strength&c.bit != 0; has != in[o.id] {
				t.Errorf("%s: table says %s=%v, openssl %v", su.name, c.alias, has, in[o.id])
			}
		}
	}
}

// TestCipherGoImplemented checks csGoImplemented against crypto/tls.
func TestCipherGoImplemented(t *testing.T) {
	goSuites := map[uint16]*tls.CipherSuite{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if slices.ContainsFunc(cs.SupportedVersions, func(v uint16) bool { return v <= tls.VersionTLS12 }) {
			goSuites[cs.ID] = cs
		}
	}
	for id := range csGoImplemented {
		if goSuites[id] == nil {
			t.Errorf("0x%04X is marked Go-implemented but crypto/tls lacks it", id)
		}
	}
	for id, cs := range goSuites {
		if !csGoImplemented[id] {
			t.Errorf("crypto/tls implements %s (0x%04X) but the table does not say so", cs.Name, id)
		}
		if csByID[id] == nil {
			t.Errorf("crypto/tls suite %s (0x%04X) is not in the OpenSSL table", cs.Name, id)
			continue
		}
		ecdsa := strings.Contains(cs.Name, "_ECDSA_")
		if IsECDSASuite(id) != ecdsa || IsRSASuite(id) == ecdsa {
			t.Errorf("%s: IsECDSASuite=%v IsRSASuite=%v", cs.Name, IsECDSASuite(id), IsRSASuite(id))
		}
	}
}

func TestSuiteNameAndAuth(t *testing.T) {
	tests := []struct {
		id         uint16
		name       string
		ecdsa, rsa bool
	}{
		{0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256", true, false},
		{0xC030, "ECDHE-RSA-AES256-GCM-SHA384", false, true},
		{0x002F, "AES128-SHA", false, true}, // static RSA key exchange
		{0x000A, "DES-CBC3-SHA", false, true},
		{0x009E, "DHE-RSA-AES128-GCM-SHA256", false, true},
		{0x00A6, "ADH-AES128-GCM-SHA256", false, false},
		{0x1301, "TLS_AES_128_GCM_SHA256", false, false}, // TLS 1.3: IANA name, any certificate
		{0xFFFF, "0xFFFF", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SuiteName(tt.id); got != tt.name {
				t.Errorf("SuiteName(0x%04X) = %q, want %q", tt.id, got, tt.name)
			}
			if got := IsECDSASuite(tt.id); got != tt.ecdsa {
				t.Errorf("IsECDSASuite = %v, want %v", got, tt.ecdsa)
			}
			if got := IsRSASuite(tt.id); got != tt.rsa {
				t.Errorf("IsRSASuite = %v, want %v", got, tt.rsa)
			}
		})
	}
}

func TestParseCipherStringErrors(t *testing.T) {
	tests := []struct {
		name, str string
		want      []string // substrings of the error
	}{
		{"empty", "", []string{"empty"}},
		{"only separators", ":: ,;", []string{"selects no cipher suite"}},
		{"RC4 by name", "RC4-SHA:ECDHE-RSA-RC4-SHA:AES128-SHA",
			[]string{"forbidden suites RC4-SHA, ECDHE-RSA-RC4-SHA (RC4 is broken); add !RC4"}},
		{"RC4 alias", "ECDHE+AESGCM:RC4", []string{"ECDHE-ECDSA-RC4-SHA", "RC4 is broken", "!RC4"}},
		{"RC4 not implemented by Go", "AES128-SHA:RC4-MD5", []string{"RC4-MD5", "!RC4"}},
		{"EXPORT alias", "AES128-SHA:EXPORT", []string{"EXPORT", "forbidden", "!EXPORT"}},
		{"EXPORT suite", "EXP-RC4-MD5:AES128-SHA", []string{"EXP-RC4-MD5", "EXPORT"}},
		{"eNULL", "AES128-SHA:eNULL", []string{"NULL-SHA256", "no encryption", "!eNULL"}},
		{"NULL suite", "NULL-SHA:AES128-SHA", []string{"NULL-SHA", "!eNULL"}},
		{"aNULL via HIGH", "HIGH:!PSK", []string{"ADH-AES256-GCM-SHA384", "aNULL", "and 6 more", "!aNULL"}},
		{"aNULL suite", "AECDH-AES128-SHA:AES128-SHA", []string{"AECDH-AES128-SHA", "!aNULL"}},
		{"single DES alias", "AES128-SHA:DES", []string{"DES", "forbidden"}},
		{"single DES suite", "DES-CBC-SHA", []string{"DES-CBC-SHA", "forbidden"}},
		{"MD5 alias", "AES128-SHA:MD5", []string{"RC4-MD5", "NULL-MD5", "ADH-RC4-MD5", "!eNULL:!aNULL:!RC4"}},
		{"MD5 SSLv2 suite", "DES-CBC3-MD5", []string{"DES-CBC3-MD5", "MD5"}},
		{"DHE only", "EDH+AESGCM", []string{"only finite-field DHE suites", "DHE-RSA-AES256-GCM-SHA384",
			"Go has no finite-field DHE (so Logjam cannot happen); use ECDHE suites (EECDH/ECDHE)"}},
		{"nothing Go has", "CAMELLIA:ARIA:!aNULL:!PSK", []string{"no suite Go implements", "Camellia", "ARIA"}},
		{"unknown token", "ECDHE+AESGCM:FOO", []string{`unknown cipher suite or alias "FOO"`}},
		{"unknown part of combination", "ECDHE+BAR", []string{`"BAR"`}},
		{"unknown version alias", "TLSv1.1", []string{`"TLSv1.1"`}},
		{"misspelt suite", "ECDHE-RSA-AES128-GCM-SHA265", []string{`"ECDHE-RSA-AES128-GCM-SHA265"`}},
		{"DEFAULT not first", "HIGH:DEFAULT", []string{"DEFAULT is only recognised at the very start"}},
		{"invalid character", "AES128-SHA:AES*", []string{"invalid character '*'"}},
		{"TLS 1.3 name", "ECDHE+AESGCM:TLS_AES_128_GCM_SHA256", []string{"TLS 1.3 suites such as TLS_AES_128_GCM_SHA256"}},
		{"dangling plus", "ECDHE+", []string{"missing name"}},
		{"dangling bang", "ECDHE:!", []string{"missing name"}},
		{"unknown command", "ECDHE:@SPEED", []string{"unknown command @SPEED"}},
		{"bad security level", "ECDHE:@SECLEVEL=9", []string{"security level"}},
		{"Suite B", "SUITEB128", []string{"Suite B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := ParseCipherString(tt.str)
			if err == nil {
				t.Fatalf("ParseCipherString(%q) = %v, want an error", tt.str, cl.Names)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if cl.Suites != nil || cl.Dropped != nil || cl.Warnings != nil {
				t.Errorf("error return carries a list: %+v", cl)
			}
		})
	}
}

func TestParseCipherStringWarnings(t *testing.T) {
	tests := []struct {
		name, str string
		want      []string // substrings, each in some warning; nil for none
	}{
		{"3DES", "ECDHE-RSA-AES128-GCM-SHA256:3DES:!aNULL",
			[]string{"3DES suites ECDHE-RSA-DES-CBC3-SHA, DES-CBC3-SHA are vulnerable to SWEET32"}},
		{"no 3DES", "ECDHE+AESGCM", nil},
		{"3DES that Go lacks is not warned about", "ECDHE-RSA-AES128-SHA:DHE-RSA-DES-CBC3-SHA", nil},
		{"security level", "ECDHE+AESGCM:@SECLEVEL=2", []string{"@SECLEVEL=2 has no effect"}},
		{"static ECDH alias", "ECDHE+AESGCM:kECDH", []string{"kECDH (static ECDH) selects nothing"}},
		{"static ECDH suite", "ECDH-RSA-AES128-SHA:ECDHE+AESGCM", []string{"ECDH-RSA-AES128-SHA (static ECDH)"}},
		{"legacy exclusions are quiet", "ECDHE+AESGCM:!EXPORT:!DES:!KRB5-DES-CBC3-SHA:!SSLv2:-EXP", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := ParseCipherString(tt.str)
			if err != nil {
				t.Fatalf("ParseCipherString(%q): %v", tt.str, err)
			}
			if tt.want == nil && len(cl.Warnings) != 0 {
				t.Errorf("unexpected warnings %q", cl.Warnings)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(cl.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("no warning contains %q; warnings: %q", w, cl.Warnings)
				}
			}
		})
	}
}

func TestCipherDroppedReasons(t *testing.T) {
	want := []Dropped{
		{"DHE-RSA-AES128-GCM-SHA256", "Go has no finite-field DHE"},
		{"CAMELLIA128-SHA", "Go has no Camellia"},
		{"ARIA128-GCM-SHA256", "Go has no ARIA"},
		{"AES128-CCM", "Go has no AES-CCM"},
		{"ECDHE-ECDSA-AES128-CCM8", "Go has no AES-CCM"},
		{"PSK-AES128-CBC-SHA", "Go has no PSK cipher suites"},
		{"DHE-PSK-AES128-GCM-SHA256", "Go has no PSK cipher suites"},
		{"SRP-RSA-AES-128-CBC-SHA", "Go has no SRP cipher suites"},
		{"ECDHE-RSA-AES256-SHA384", "Go implements no CBC suite with SHA-384"},
		{"ECDHE-ECDSA-AES256-SHA384", "Go implements no CBC suite with SHA-384"},
		{"AES256-SHA256", "Go implements CBC with SHA-256 only for AES-128"},
		{"ECDHE-ECDSA-DES-CBC3-SHA", "Go implements 3DES only with RSA authentication"},
		{"SEED-SHA", "Go has no SEED"},
		{"IDEA-CBC-SHA", "Go has no IDEA"},
	}
	names := []string{"ECDHE-RSA-AES128-GCM-SHA256"}
	for _, d := range want {
		names = append(names, d.Name)
	}
	s := strings.Join(names, ":")
	cl, err := ParseCipherString(s)
	if err != nil {
		t.Fatalf("ParseCipherString(%q): %v", s, err)
	}
	if !slices.Equal(cl.Names, []string{"ECDHE-RSA-AES128-GCM-SHA256"}) || !slices.Equal(cl.Suites, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}) {
		t.Errorf("Suites = %v %v", cl.Names, cl.Suites)
	}
	if !slices.Equal(cl.Dropped, want) {
		t.Errorf("Dropped =\n%v\nwant\n%v", cl.Dropped, want)
	}
}

// TestCipherOrderKnownAnswers pins orders worked out from ssl_ciph.c, so
// the translation is checked even where openssl is not installed.
func TestCipherOrderKnownAnswers(t *testing.T) {
	tests := []struct{ str, want string }{
		{csTutorialCiphers, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:" +
			"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"},
		{"DEFAULT:!DHE:!kRSA:!SHA1:!SHA256:!SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" +
			"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"},
		{"kRSA:!eNULL:!RC4:!MD5:@STRENGTH", "AES256-GCM-SHA384:AES256-SHA:AES128-GCM-SHA256:AES128-SHA256:AES128-SHA:DES-CBC3-SHA"},
		{"ECDHE+AES128:+SHA1:-ECDSA", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA"},
		{"AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:RSA:-AES128-SHA:AES128-SHA:!eNULL:!RC4:!MD5", "ECDHE-RSA-AES128-GCM-SHA256:" +
			"AES256-GCM-SHA384:AES128-GCM-SHA256:AES128-SHA256:AES256-SHA:DES-CBC3-SHA:AES128-SHA"},
	}
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			cl, err := ParseCipherString(tt.str)
			if err != nil {
				t.Fatalf("ParseCipherString: %v", err)
			}
			if got := strings.Join(cl.Names, ":"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if got := csFormat(cl.Suites); got != tt.want {
				t.Errorf("Suites name to %s", got)
			}
		})
	}
}

func TestCipherTableConsistent(t *testing.T) {
	seen := map[string]bool{}
	for i, su := range csSuites {
		if i > 0 && csSuites[i-1].id >= su.id {
			t.Errorf("table not sorted by ID at %s", su.name)
		}
		if seen[su.name] || csAliasByName[su.name] != nil {
			t.Errorf("name %s is not unique", su.name)
		}
		seen[su.name] = true
		if su.mkey == 0 || su.auth == 0 || su.enc == 0 || su.mac == 0 || su.minTLS == 0 || su.strength&csStrongMask == 0 {
			t.Errorf("%s has an empty attribute: %+v", su.name, su)
		}
	}
	for name := range csLegacyAliases {
		if csAliasByName[name] != nil || csByName[name] != nil {
			t.Errorf("legacy alias %s shadows a current one", name)
		}
	}
}
