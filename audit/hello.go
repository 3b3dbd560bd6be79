package audit

import (
	"crypto/rand"
	"encoding/binary"
)

// Protocol versions as they appear on the wire.
const (
	VersionSSL2  uint16 = 0x0002
	VersionSSL3  uint16 = 0x0300
	VersionTLS10 uint16 = 0x0301
	VersionTLS11 uint16 = 0x0302
	VersionTLS12 uint16 = 0x0303
	VersionTLS13 uint16 = 0x0304
)

// versionName names a wire version: "SSLv3", "TLS 1.2", ...
func versionName(v uint16) string {
	switch v {
	case VersionSSL2:
		return "SSLv2"
	case VersionSSL3:
		return "SSLv3"
	case VersionTLS10:
		return "TLS 1.0"
	case VersionTLS11:
		return "TLS 1.1"
	case VersionTLS12:
		return "TLS 1.2"
	case VersionTLS13:
		return "TLS 1.3"
	}
	return "0x" + hex16(v)
}

func hex16(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}

// Extension code points used by the hand-built hellos and the parser.
const (
	extServerName        uint16 = 0
	extStatusRequest     uint16 = 5
	extSupportedGroups   uint16 = 10
	extECPointFormats    uint16 = 11
	extSignatureAlgs     uint16 = 13
	extHeartbeat         uint16 = 15
	extALPN              uint16 = 16
	extExtendedMaster    uint16 = 23
	extSessionTicket     uint16 = 35
	extSupportedVersions uint16 = 43
	extPSKModes          uint16 = 45
	extKeyShare          uint16 = 51
	extRenegotiationInfo uint16 = 0xff01
)

// Signalling suite values.
const (
	scsvRenegotiation uint16 = 0x00ff // TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746)
	scsvFallback      uint16 = 0x5600 // TLS_FALLBACK_SCSV (RFC 7507)
)

// sigAlgs is every signature scheme a server might need, SHA-1 and DSA
// included, so that no server refuses a probe for want of one.
var sigAlgs = []uint16{
	0x0403, 0x0503, 0x0603, // ecdsa_secp256r1_sha256 .. secp521r1_sha512
	0x0807, 0x0808, // ed25519, ed448
	0x0804, 0x0805, 0x0806, // rsa_pss_rsae_sha256 .. sha512
	0x0809, 0x080a, 0x080b, // rsa_pss_pss_sha256 .. sha512
	0x081a, 0x081b, 0x081c, // ecdsa_brainpool tls13
	0x0401, 0x0501, 0x0601, // rsa_pkcs1_sha256 .. sha512
	0x0303, 0x0301, 0x0302, // sha224 ecdsa, rsa, dsa
	0x0203, 0x0201, 0x0202, // sha1 ecdsa, rsa, dsa
	0x0402, 0x0502, 0x0602, // dsa sha256 .. sha512
}

// helloSpec describes a hand-built ClientHello.
type helloSpec struct {
	// version is client_version (legacy_version for TLS 1.3, which is sent
	// as 0x0303 with supported_versions).
	version uint16
	// suites are offered in this order; the renegotiation SCSV is appended
	// unless noRenegSCSV.
	suites []uint16
	// compression lists compression methods; nil means [null].
	compression []byte
	// sni is the server_name; "" sends none.
	sni string
	// groups is supported_groups; nil means defaultGroups.
	groups []uint16
	// keyShares are TLS 1.3 key shares; none makes the server answer with
	// a HelloRetryRequest naming its group.
	keyShares []keyShareEntry
	// heartbeat adds the heartbeat extension (peer_allowed_to_send).
	heartbeat bool
	// statusRequest adds status_request (OCSP).
	statusRequest bool
	// alpn adds ALPN with these protocols.
	alpn []string
	// noExtensions sends a hello without any extension (SSLv3 style).
	noExtensions bool
	// noRenegSCSV leaves out TLS_EMPTY_RENEGOTIATION_INFO_SCSV.
	noRenegSCSV bool
	// fallbackSCSV appends TLS_FALLBACK_SCSV.
	fallbackSCSV bool
}

type keyShareEntry struct {
	group uint16
	data  []byte
}

// defaultGroups is supported_groups when a probe does not choose: every
// elliptic curve and finite-field group a server might insist on.
var defaultGroups = []uint16{
	0x001d, 0x0017, 0x001e, 0x0019, 0x0018, // x25519, secp256r1, x448, secp521r1, secp384r1
	0x001a, 0x001b, 0x001c, // brainpoolP256r1, P384r1, P512r1
	0x0016, 0x0015, 0x0014, 0x0013, 0x0012, // secp256k1, secp224r1, secp224k1, secp192r1, secp192k1
	0x000e, 0x000d, 0x000b, 0x000c, 0x0009, 0x000a, // sect571r1, sect571k1, sect409k1, sect409r1, sect283k1, sect283r1
	0x0100, 0x0101, 0x0102, 0x0103, 0x0104, // ffdhe2048 .. ffdhe8192
}

// builder appends TLS wire structures.
type builder struct{ b []byte }

func (w *builder) u8(v byte)    { w.b = append(w.b, v) }
func (w *builder) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *builder) u24(v int)    { w.b = append(w.b, byte(v>>16), byte(v>>8), byte(v)) }
func (w *builder) bytes(p []byte) {
	w.b = append(w.b, p...)
}

// vec16 appends a vector with a two-byte length prefix filled by f.
func (w *builder) vec16(f func()) {
	at := len(w.b)
	w.u16(0)
	f()
	binary.BigEndian.PutUint16(w.b[at:], uint16(len(w.b)-at-2))
}

func (w *builder) vec8(f func()) {
	at := len(w.b)
	w.u8(0)
	f()
	w.b[at] = byte(len(w.b) - at - 1)
}

func (w *builder) ext(typ uint16, f func()) {
	w.u16(typ)
	w.vec16(f)
}

// buildClientHello returns the records carrying the hello: a TLS record
// of type handshake with version min(spec.version, TLS 1.0) as most
// clients send.
func buildClientHello(s helloSpec) []byte {
	var h builder
	legacy := s.version
	if legacy > VersionTLS12 {
		legacy = VersionTLS12
	}
	h.u16(legacy)
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	h.bytes(random)
	if s.version == VersionTLS13 {
		sid := make([]byte, 32)
		_, _ = rand.Read(sid)
		h.vec8(func() { h.bytes(sid) })
	} else {
		h.u8(0)
	}
	h.vec16(func() {
		for _, c := range s.suites {
			h.u16(c)
		}
		if !s.noRenegSCSV && s.version != VersionTLS13 {
			h.u16(scsvRenegotiation)
		}
		if s.fallbackSCSV {
			h.u16(scsvFallback)
		}
	})
	comp := s.compression
	if comp == nil {
		comp = []byte{0}
	}
	h.vec8(func() { h.bytes(comp) })
	if !s.noExtensions {
		h.vec16(func() { helloExtensions(&h, s) })
	}

	var msg builder
	msg.u8(1) // client_hello
	msg.u24(len(h.b))
	msg.bytes(h.b)

	recVersion := s.version
	if recVersion > VersionTLS10 {
		recVersion = VersionTLS10
	}
	return record(22, recVersion, msg.b)
}

func helloExtensions(h *builder, s helloSpec) {
	if s.sni != "" {
		h.ext(extServerName, func() {
			h.vec16(func() {
				h.u8(0) // host_name
				h.vec16(func() { h.bytes([]byte(s.sni)) })
			})
		})
	}
	groups := s.groups
	if groups == nil {
		groups = defaultGroups
	}
	h.ext(extSupportedGroups, func() {
		h.vec16(func() {
			for _, g := range groups {
				h.u16(g)
			}
		})
	})
	h.ext(extECPointFormats, func() { h.vec8(func() { h.bytes([]byte{0, 1, 2}) }) })
	h.ext(extSignatureAlgs, func() {
		h.vec16(func() {
			for _, a := range sigAlgs {
				h.u16(a)
			}
		})
	})
	h.ext(extSessionTicket, func() {})
	h.ext(extExtendedMaster, func() {})
	if s.statusRequest {
		h.ext(extStatusRequest, func() { h.bytes([]byte{1, 0, 0, 0, 0}) })
	}
	if s.heartbeat {
		h.ext(extHeartbeat, func() { h.u8(1) })
	}
	if len(s.alpn) > 0 {
		h.ext(extALPN, func() {
			h.vec16(func() {
				for _, p := range s.alpn {
					h.vec8(func() { h.bytes([]byte(p)) })
				}
			})
		})
	}
	if s.version == VersionTLS13 {
		h.ext(extSupportedVersions, func() { h.vec8(func() { h.u16(VersionTLS13) }) })
		h.ext(extPSKModes, func() { h.vec8(func() { h.u8(1) }) })
		h.ext(extKeyShare, func() {
			h.vec16(func() {
				for _, ks := range s.keyShares {
					h.u16(ks.group)
					h.vec16(func() { h.bytes(ks.data) })
				}
			})
		})
	}
}

// record wraps payload in TLS records of at most 2^14 bytes.
func record(typ byte, version uint16, payload []byte) []byte {
	var out []byte
	for first := true; first || len(payload) > 0; first = false {
		n := min(len(payload), 1<<14)
		out = append(out, typ, byte(version>>8), byte(version))
		out = binary.BigEndian.AppendUint16(out, uint16(n))
		out = append(out, payload[:n]...)
		payload = payload[n:]
	}
	return out
}

// buildSSLv2Hello returns an SSL 2.0 CLIENT-HELLO offering kinds, with
// version 0x0002 so that servers without SSL 2.0 cannot take it for a
// compatible TLS hello.
func buildSSLv2Hello(kinds []uint32) []byte {
	var m builder
	m.u8(1) // CLIENT-HELLO
	m.u16(VersionSSL2)
	m.u16(uint16(3 * len(kinds)))
	m.u16(0)  // session id length
	m.u16(16) // challenge length
	for _, k := range kinds {
		m.bytes([]byte{byte(k >> 16), byte(k >> 8), byte(k)})
	}
	challenge := make([]byte, 16)
	_, _ = rand.Read(challenge)
	m.bytes(challenge)
	n := len(m.b)
	return append([]byte{0x80 | byte(n>>8), byte(n)}, m.b...)
}

// heartbeatRequest is a heartbeat request record claiming a 16 KiB payload
// while carrying none: a server with the Heartbleed bug answers with its
// memory.
func heartbeatRequest(version uint16) []byte {
	return record(24, version, []byte{1, 0x40, 0x00})
}
