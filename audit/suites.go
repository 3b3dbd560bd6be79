package audit

import (
	"fmt"
	"strings"
)

// suiteRow is one line of suiteTable or sslv2Table.
type suiteRow struct {
	id      uint32 // two-byte TLS code, or three-byte SSL 2.0 cipher kind
	openssl string // OpenSSL's name; "" when OpenSSL has none
	iana    string // IANA (RFC) name; "" for the few vendor codes without one
	kx      string // OpenSSL's Kx= column: "ECDH", "DH", "RSA", "DH(512)", "any", ...
	auth    string // OpenSSL's Au= column: "RSA", "ECDSA", "None", "any", ...
	enc     string // OpenSSL's Enc= column without the bits: "AESGCM", "3DES", "None", ...
	bits    int    // the cipher's key bits as OpenSSL states them (3DES: 168)
	mac     string // "AEAD", "SHA1", "SHA256", "MD5", ...
	export  bool   // export grade (40/56-bit ciphers, 512/1024-bit key exchange)
}

// Suite describes one cipher suite the server accepted.
type Suite struct {
	// ID is the code in hex, "0xc02f" (SSL 2.0: six hex digits).
	ID string `json:"id"`
	// Name is the IANA name, or OpenSSL's when IANA has none.
	Name string `json:"name"`
	// OpenSSL is OpenSSL's name, "" when OpenSSL has none.
	OpenSSL string `json:"openssl,omitempty"`
	// KeyExchange is "ECDHE", "DHE", "RSA", "ECDH", "DH", "PSK", "TLS1.3", ...
	KeyExchange string `json:"key_exchange"`
	// Auth is the authentication: "RSA", "ECDSA", "DSS", "None" (anonymous), ...
	Auth string `json:"auth"`
	// Cipher is the bulk cipher as OpenSSL names it ("AESGCM", "3DES", "None").
	Cipher string `json:"cipher"`
	// Bits is the cipher's effective strength in bits (3DES counts 112).
	Bits int `json:"bits"`
	// AEAD reports an AEAD mode (GCM, CCM, ChaCha20-Poly1305).
	AEAD bool `json:"aead"`
	// ForwardSecrecy reports an ephemeral key exchange.
	ForwardSecrecy bool `json:"forward_secrecy"`
	// Export reports an export-grade suite.
	Export bool `json:"export,omitempty"`
	// Strength is "strong", "weak" or "insecure" (see suiteStrength).
	Strength string `json:"strength"`
	code     uint32
}

// suiteByID indexes suiteTable.
var suiteByID = func() map[uint16]suiteRow {
	m := make(map[uint16]suiteRow, len(suiteTable))
	for _, r := range suiteTable {
		m[uint16(r.id)] = r
	}
	return m
}()

// suiteByName indexes suiteTable by OpenSSL and IANA name.
var suiteByName = func() map[string]suiteRow {
	m := make(map[string]suiteRow, 2*len(suiteTable))
	for _, r := range suiteTable {
		if r.iana != "" {
			m[r.iana] = r
		}
		if r.openssl != "" {
			m[r.openssl] = r
		}
	}
	return m
}()

// lookupSuite returns the suite with this code; unknown codes get a
// placeholder row so that a server answering a code we did not offer is
// still reported.
func lookupSuite(id uint16) suiteRow {
	if r, ok := suiteByID[id]; ok {
		return r
	}
	return suiteRow{id: uint32(id), iana: fmt.Sprintf("unknown 0x%04x", id), kx: "?", auth: "?", enc: "?"}
}

// SuiteByName returns the code of a suite given its OpenSSL or IANA name.
func SuiteByName(name string) (uint16, bool) {
	r, ok := suiteByName[name]
	return uint16(r.id), ok
}

// keyExchange names the key exchange of r the way reports do.
func (r suiteRow) keyExchange() string {
	switch {
	case r.kx == "any":
		return "TLS1.3"
	case r.kx == "ECDH" && r.auth == "None":
		return "ECDHE-anon"
	case r.kx == "ECDH":
		return "ECDHE"
	case strings.HasPrefix(r.kx, "ECDH/"):
		return "ECDH"
	case r.kx == "DH" && r.auth == "None":
		return "DHE-anon"
	case r.kx == "DH" || strings.HasPrefix(r.kx, "DH("):
		return "DHE"
	case strings.HasPrefix(r.kx, "DH/"):
		return "DH"
	case strings.HasPrefix(r.kx, "RSA"):
		if r.kx == "RSA" {
			return "RSA"
		}
		return "RSA-export"
	case r.kx == "DHEPSK":
		return "DHE-PSK"
	case r.kx == "ECDHEPSK":
		return "ECDHE-PSK"
	}
	return r.kx
}

// forwardSecret reports whether r's key exchange is ephemeral.
func (r suiteRow) forwardSecret() bool {
	switch r.keyExchange() {
	case "TLS1.3", "ECDHE", "DHE", "ECDHE-anon", "DHE-anon", "DHE-PSK", "ECDHE-PSK", "CECPQ1":
		return true
	}
	return false
}

// anonymous reports whether r authenticates nobody.
func (r suiteRow) anonymous() bool { return r.auth == "None" && r.kx != "None" }

// effectiveBits is the cipher strength SSL Labs scores: 3DES counts 112.
func (r suiteRow) effectiveBits() int {
	if r.enc == "None" {
		return 0
	}
	if r.enc == "3DES" {
		return 112
	}
	return r.bits
}

// rc4 reports an RC4 suite.
func (r suiteRow) rc4() bool { return r.enc == "RC4" }

// block64 reports a 64-bit block cipher (3DES, DES, IDEA, RC2): Sweet32.
func (r suiteRow) block64() bool {
	switch r.enc {
	case "3DES", "DES", "IDEA", "RC2":
		return true
	}
	return false
}

// tls12Only reports whether r exists only in TLS 1.2 (SHA-256/384 MACs and
// PRFs, GCM, CCM, ChaCha20): such suites are not offered in older hellos.
func (r suiteRow) tls12Only() bool {
	n := r.iana
	if n == "" {
		n = r.openssl
	}
	return r.mac == "AEAD" || strings.Contains(n, "SHA256") || strings.Contains(n, "SHA384") ||
		strings.HasSuffix(n, "_CCM") || strings.HasSuffix(n, "_CCM_8") || r.mac == "STREEBOG256"
}

// tls13 reports a TLS 1.3 suite (0x13xx).
func (r suiteRow) tls13() bool { return r.kx == "any" }

// strength grades one suite: "insecure" for NULL, anonymous, export, RC4,
// DES, RC2 and MD5-MAC suites; "weak" for 64-bit blocks, static key
// exchange and CBC modes; otherwise "strong".
func (r suiteRow) strength() string {
	switch {
	case r.enc == "None", r.anonymous(), r.export, r.rc4(), r.enc == "DES", r.enc == "RC2", r.mac == "MD5":
		return "insecure"
	case r.block64(), !r.forwardSecret(), r.mac != "AEAD":
		return "weak"
	}
	return "strong"
}

// suite returns the report form of r.
func (r suiteRow) suite() Suite {
	name := r.iana
	if name == "" {
		name = r.openssl
	}
	id := fmt.Sprintf("0x%04x", r.id)
	if r.id > 0xffff {
		id = fmt.Sprintf("0x%06x", r.id)
	}
	return Suite{
		ID: id, Name: name, OpenSSL: r.openssl,
		KeyExchange: r.keyExchange(), Auth: r.auth, Cipher: r.enc, Bits: r.effectiveBits(),
		AEAD: r.mac == "AEAD", ForwardSecrecy: r.forwardSecret(), Export: r.export,
		Strength: r.strength(), code: r.id,
	}
}

// suitesFor returns the codes a hello for protocol version v offers:
// TLS 1.3 suites for TLS 1.3, everything else for TLS 1.2, and no TLS
// 1.2-only suites below. TLS_NULL_WITH_NULL_NULL is never offered.
func suitesFor(v uint16) []uint16 {
	var out []uint16
	for _, r := range suiteTable {
		switch {
		case r.id == 0:
			continue
		case v == VersionTLS13:
			if !r.tls13() {
				continue
			}
		case r.tls13():
			continue
		case v < VersionTLS12 && r.tls12Only():
			continue
		}
		out = append(out, uint16(r.id))
	}
	return out
}

// sslv2Suite returns the report form of an SSL 2.0 cipher kind.
func sslv2Suite(kind uint32) Suite {
	for _, r := range sslv2Table {
		if r.id == kind {
			return r.suite()
		}
	}
	return suiteRow{id: kind, iana: fmt.Sprintf("unknown SSLv2 0x%06x", kind), kx: "RSA", auth: "RSA", enc: "?"}.suite()
}
