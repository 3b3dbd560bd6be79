package tlsconf

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

func TestProfileContents(t *testing.T) {
	tests := []struct {
		name       string
		minVersion uint16
		ciphers    string
		suites     []uint16 // what ParseCipherString makes of ciphers, in order
		dropped    []string
		sweet32    bool
	}{
		{
			name:       "tutorial",
			minVersion: tls.VersionTLS10,
			ciphers:    "ECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH",
			suites: []uint16{
				tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
			},
			dropped: []string{
				"DHE-DSS-AES256-GCM-SHA384", "DHE-RSA-AES256-GCM-SHA384", "DHE-DSS-AES128-GCM-SHA256",
				"DHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-CCM8", "ECDHE-ECDSA-AES256-CCM",
				"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES256-CCM8", "DHE-RSA-AES256-CCM",
				"DHE-RSA-AES256-SHA256", "DHE-DSS-AES256-SHA256", "DHE-RSA-AES256-SHA", "DHE-DSS-AES256-SHA",
			},
		},
		{
			// Mozilla 5.7 "go" list for intermediate.
			name:       "intermediate",
			minVersion: tls.VersionTLS12,
			ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
				"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
				"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305",
			suites: []uint16{
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
				tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
			},
			dropped: []string{"DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305"},
		},
		{
			// Mozilla 5.7 "go" list for old.
			name:       "old",
			minVersion: tls.VersionTLS10,
			ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
				"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
				"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:" +
				"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:" +
				"ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:" +
				"DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:" +
				"AES256-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA",
			suites: []uint16{
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
				tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
				tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
				tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
				tls.TLS_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA,
				tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
			},
			dropped: []string{
				"DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
				"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-SHA256",
				"DHE-RSA-AES256-SHA256", "AES256-SHA256",
			},
			sweet32: true,
		},
		{name: "modern", minVersion: tls.VersionTLS13, ciphers: ""},
	}
	if got, want := ProfileNames(), []string{"tutorial", "intermediate", "old", "modern"}; !slices.Equal(got, want) {
		t.Errorf("ProfileNames() = %v, want %v", got, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := LookupProfile(tt.name)
			if !ok {
				t.Fatalf("LookupProfile(%q) not found", tt.name)
			}
			if p.Name != tt.name || p.MinVersion != tt.minVersion || p.Ciphers != tt.ciphers {
				t.Fatalf("profile = %+v, want %s/%x/%q", p, tt.name, tt.minVersion, tt.ciphers)
			}
			if p.Ciphers == "" {
				return
			}
			cl, err := ParseCipherString(p.Ciphers)
			if err != nil {
				t.Fatalf("ParseCipherString: %v", err)
			}
			if !slices.Equal(cl.Suites, tt.suites) {
				t.Errorf("Suites = %s\nwant     %s", csFormat(cl.Suites), csFormat(tt.suites))
			}
			var dropped []string
			for _, d := range cl.Dropped {
				dropped = append(dropped, d.Name)
			}
			if !slices.Equal(dropped, tt.dropped) {
				t.Errorf("Dropped = %v\nwant      %v", dropped, tt.dropped)
			}
			warned := slices.ContainsFunc(cl.Warnings, func(w string) bool { return strings.Contains(w, "SWEET32") })
			if warned != tt.sweet32 || len(cl.Warnings) > 1 {
				t.Errorf("Warnings = %q, want SWEET32 warning only: %v", cl.Warnings, tt.sweet32)
			}
		})
	}
}

func TestLookupProfileUnknown(t *testing.T) {
	for _, name := range []string{"", "Tutorial", "MODERN", "strict", "intermediate "} {
		if p, ok := LookupProfile(name); ok {
			t.Errorf("LookupProfile(%q) = %+v, want not found", name, p)
		}
	}
}

func TestProfileNamesIsACopy(t *testing.T) {
	ProfileNames()[0] = "changed"
	if _, ok := LookupProfile("tutorial"); !ok || ProfileNames()[0] != "tutorial" {
		t.Error("changing the slice ProfileNames returned changed the profiles")
	}
}

// TestPolicyErrorKeys: each bad setting is reported under its own
// configuration key, every one at once, so that a caller never guesses
// which key an error belongs to (a bad min_version beside a cipher string
// is not a cipher problem).
func TestPolicyErrorKeys(t *testing.T) {
	tests := []struct {
		name                     string
		profile, version, cipher string
		want                     []string // "key: text" of each error, in order
	}{
		{"bad version with good ciphers", "tutorial", "1.4", "ECDHE+AESGCM", []string{`tls.min_version: "1.4" is not a TLS version`}},
		{"bad version and bad ciphers", "tutorial", "1.4", "RC4", []string{`tls.min_version: "1.4"`, "tls.ciphers: "}},
		{"bad profile", "paranoid", "", "", []string{`tls.profile: "paranoid" is not a profile (want one of tutorial, intermediate, old, modern)`}},
		{"bad profile and version", "paranoid", "2", "", []string{"tls.profile: ", `tls.min_version: "2"`}},
		{"forbidden ciphers", "tutorial", "", "RC4-SHA", []string{"tls.ciphers: "}},
		{"modern below 1.3 without ciphers", "modern", "1.2", "", []string{`tls.min_version: "1.2" enables TLS 1.2 or older, but profile "modern" has no suites`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.profile, tt.version, tt.cipher)
			if p != nil || err == nil {
				t.Fatalf("NewPolicy = %v, %v; want an error", p, err)
			}
			got := PolicyErrors(err)
			if len(got) != len(tt.want) {
				t.Fatalf("PolicyErrors = %q, want %d errors like %q", got, len(tt.want), tt.want)
			}
			for i, pe := range got {
				if !strings.HasPrefix(pe.Error(), tt.want[i]) {
					t.Errorf("error %d = %q, want it to start with %q", i, pe.Error(), tt.want[i])
				}
			}
		})
	}
	if _, err := NewPolicy("modern", "", "RC4"); err != nil {
		t.Errorf("TLS 1.3 only ignores ciphers (with a warning), got %v", err)
	}
}
