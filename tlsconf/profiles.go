package tlsconf

import "crypto/tls"

// Profile is a named TLS policy: a minimum version and a cipher string.
type Profile struct {
	Name       string
	MinVersion uint16 // tls.VersionTLS10 ...; never zero in a built-in profile
	Ciphers    string // OpenSSL cipher string for TLS ≤1.2; "" when the profile is TLS 1.3 only
}

// The cipher strings of Mozilla's Server Side TLS guidelines, version 5.7
// (https://ssl-config.mozilla.org/guidelines/5.7.json, "ciphers"/"openssl").
const (
	csMozillaIntermediate57 = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" +
		"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" +
		"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
		"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

	csMozillaOld57 = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" +
		"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" +
		"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
		"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:" +
		"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:" +
		"ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:" +
		"DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:" +
		"AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:" +
		"DES-CBC3-SHA"
)

// csTutorialCiphers is the recommended SSLCipherSuite of the "Strong SSL
// Security on Apache2" tutorial.
const csTutorialCiphers = "ECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH"

// csProfiles lists the built-in profiles; the first is the default.
var csProfiles = []Profile{
	// The tutorial: SSLProtocol All -SSLv2 -SSLv3 and its short suite list.
	{Name: "tutorial", MinVersion: tls.VersionTLS10, Ciphers: csTutorialCiphers},
	// Mozilla intermediate 5.7: TLS 1.2 and 1.3.
	{Name: "intermediate", MinVersion: tls.VersionTLS12, Ciphers: csMozillaIntermediate57},
	// Mozilla old 5.7: TLS 1.0 to 1.3, with 3DES for IE8 on Windows XP.
	{Name: "old", MinVersion: tls.VersionTLS10, Ciphers: csMozillaOld57},
	// Mozilla modern 5.7: TLS 1.3 only; its suites are not configurable in Go.
	{Name: "modern", MinVersion: tls.VersionTLS13, Ciphers: ""},
}

// LookupProfile returns the built-in profile with that name: "tutorial"
// (the default), "intermediate", "old" or "modern". Names are case-sensitive.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range csProfiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// ProfileNames returns the built-in profile names, the default first.
func ProfileNames() []string {
	names := make([]string, len(csProfiles))
	for i, p := range csProfiles {
		names[i] = p.Name
	}
	return names
}
