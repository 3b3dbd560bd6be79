package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// maxFlight bounds how much a server may send before a probe gives up on
// it, in bytes.
const maxFlight = 256 << 10

// helloRetryRandom marks a ServerHello as a HelloRetryRequest (RFC 8446
// section 4.1.3).
var helloRetryRandom = []byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// errNotTLS is wrapped by parse errors for bytes that are not SSL/TLS.
var errNotTLS = errors.New("not SSL/TLS")

// serverHello is a parsed ServerHello (or HelloRetryRequest).
type serverHello struct {
	legacyVersion uint16
	// version is the negotiated version: supported_versions when present,
	// else legacyVersion.
	version     uint16
	sessionID   []byte
	suite       uint16
	compression byte
	hrr         bool
	extensions  []extension
	// group is the key_share group: HelloRetryRequest's selected_group or
	// ServerHello's share. Zero when absent.
	group uint16
}

type extension struct {
	typ  uint16
	data []byte
}

// has reports whether the ServerHello carries extension typ.
func (h *serverHello) has(typ uint16) bool {
	for _, e := range h.extensions {
		if e.typ == typ {
			return true
		}
	}
	return false
}

// alertProtocolVersion is the alert a server sends for a version it does
// not speak.
const alertProtocolVersion = 70

// alert is a TLS alert.
type alert struct {
	level, desc byte
}

func (a alert) String() string {
	name, ok := alertNames[a.desc]
	if !ok {
		name = fmt.Sprintf("alert %d", a.desc)
	}
	return fmt.Sprintf("%s (%d)", name, a.desc)
}

var alertNames = map[byte]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
	40: "handshake_failure", 42: "bad_certificate", 47: "illegal_parameter", 50: "decode_error",
	51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
	86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
	110: "unsupported_extension", 112: "unrecognized_name", 120: "no_application_protocol",
}

// sslv2Hello is an SSL 2.0 SERVER-HELLO.
type sslv2Hello struct {
	version     uint16
	certificate []byte
	kinds       []uint32
}

// flight is what a server sent in answer to a hello, as far as read.
type flight struct {
	hello        *serverHello
	alert        *alert
	sslv2        *sslv2Hello
	certificates [][]byte
	keyExchange  []byte // ServerKeyExchange body
	certStatus   []byte // CertificateStatus OCSP response
	helloDone    bool
	// heartbeat counts the bytes of heartbeat records received.
	heartbeat int
}

// want says when a flight is complete.
type want int

const (
	wantHello  want = iota // the ServerHello (or an alert) suffices
	wantFlight             // read up to ServerHelloDone (TLS ≤ 1.2)
)

// parseFlight parses the bytes a server sent so far. complete reports
// that w is satisfied (or the server ended the handshake with an alert or
// an SSL 2.0 answer); an incomplete flight without error needs more
// bytes. Errors mean the bytes are not a valid SSL/TLS answer.
func parseFlight(data []byte, w want) (f *flight, complete bool, err error) {
	f = &flight{}
	if len(data) == 0 {
		return f, false, nil
	}
	if data[0]&0x80 != 0 && (len(data) < 3 || data[2] == 4 || data[2] == 0) {
		return parseSSLv2(data)
	}
	var hs []byte // handshake bytes not yet parsed
	for len(data) > 0 {
		if len(data) < 5 {
			return f, false, checkHeader(data)
		}
		if err := checkHeader(data); err != nil {
			return f, false, err
		}
		n := int(binary.BigEndian.Uint16(data[3:5]))
		if n > 1<<14+2048 {
			return f, false, fmt.Errorf("record of %d bytes exceeds the maximum: %w", n, errNotTLS)
		}
		if len(data) < 5+n {
			return f, false, nil
		}
		typ, body := data[0], data[5:5+n]
		data = data[5+n:]
		switch typ {
		case 21:
			if len(body) < 2 {
				return f, false, fmt.Errorf("alert record of %d bytes", len(body))
			}
			f.alert = &alert{level: body[0], desc: body[1]}
			return f, true, nil
		case 22:
			hs = append(hs, body...)
			var done bool
			hs, done, err = f.handshake(hs, w)
			if err != nil || done {
				return f, done, err
			}
		case 24:
			f.heartbeat += len(body)
		case 23:
			// Encrypted: TLS 1.3 after the ServerHello, nothing more to read.
			return f, f.hello != nil, nil
		}
	}
	return f, false, nil
}

// checkHeader checks the (possibly partial) record header at data.
func checkHeader(data []byte) error {
	if data[0] < 20 || data[0] > 24 {
		return fmt.Errorf("first byte 0x%02x is no record type: %w", data[0], errNotTLS)
	}
	if len(data) > 1 && data[1] != 3 {
		return fmt.Errorf("record version %d.x: %w", data[1], errNotTLS)
	}
	return nil
}

// handshake consumes the complete handshake messages in hs.
func (f *flight) handshake(hs []byte, w want) (rest []byte, done bool, err error) {
	for len(hs) >= 4 {
		n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
		if n > maxFlight {
			return nil, false, fmt.Errorf("handshake message of %d bytes", n)
		}
		if len(hs) < 4+n {
			return hs, false, nil
		}
		typ, body := hs[0], hs[4:4+n]
		hs = hs[4+n:]
		if typ != 2 && f.hello == nil {
			return nil, false, fmt.Errorf("handshake message %d before ServerHello", typ)
		}
		switch typ {
		case 2:
			if f.hello != nil {
				return nil, false, errors.New("second ServerHello")
			}
			h, err := parseServerHello(body)
			if err != nil {
				return nil, false, err
			}
			f.hello = h
			if w == wantHello || h.version >= VersionTLS13 || h.hrr {
				return hs, true, nil
			}
		case 11:
			certs, err := parseCertificates(body)
			if err != nil {
				return nil, false, err
			}
			f.certificates = certs
		case 12:
			f.keyExchange = body
		case 22:
			if len(body) >= 4 && body[0] == 1 {
				f.certStatus = body[4:]
			}
		case 14:
			f.helloDone = true
			return hs, true, nil
		}
	}
	return hs, false, nil
}

// reader reads TLS structures from a byte slice.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) next(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() byte {
	if p := r.next(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.next(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u24() int {
	if p := r.next(3); p != nil {
		return int(p[0])<<16 | int(p[1])<<8 | int(p[2])
	}
	return 0
}

func (r *reader) vec8() []byte  { return r.next(int(r.u8())) }
func (r *reader) vec16() []byte { return r.next(int(r.u16())) }
func (r *reader) vec24() []byte { return r.next(r.u24()) }

// parseServerHello parses a ServerHello body (without the handshake
// header).
func parseServerHello(body []byte) (*serverHello, error) {
	r := &reader{b: body}
	h := &serverHello{legacyVersion: r.u16()}
	random := r.next(32)
	h.sessionID = r.vec8()
	h.suite = r.u16()
	h.compression = r.u8()
	if r.bad {
		return nil, errors.New("truncated ServerHello")
	}
	if len(h.sessionID) > 32 {
		return nil, fmt.Errorf("ServerHello session id of %d bytes", len(h.sessionID))
	}
	h.hrr = bytes.Equal(random, helloRetryRandom)
	h.version = h.legacyVersion
	if len(r.b) > 0 {
		exts := &reader{b: r.vec16()}
		if r.bad {
			return nil, errors.New("truncated ServerHello extensions")
		}
		for len(exts.b) > 0 {
			e := extension{typ: exts.u16(), data: exts.vec16()}
			if exts.bad {
				return nil, errors.New("malformed ServerHello extension")
			}
			h.extensions = append(h.extensions, e)
			switch e.typ {
			case extSupportedVersions:
				if len(e.data) != 2 {
					return nil, errors.New("malformed supported_versions")
				}
				h.version = binary.BigEndian.Uint16(e.data)
			case extKeyShare:
				if len(e.data) < 2 {
					return nil, errors.New("malformed key_share")
				}
				h.group = binary.BigEndian.Uint16(e.data)
			}
		}
	}
	if h.legacyVersion>>8 != 3 {
		return nil, fmt.Errorf("ServerHello version 0x%04x: %w", h.legacyVersion, errNotTLS)
	}
	return h, nil
}

// parseCertificates parses a TLS ≤ 1.2 Certificate body into DER blobs.
func parseCertificates(body []byte) ([][]byte, error) {
	r := &reader{b: body}
	list := &reader{b: r.vec24()}
	var out [][]byte
	for len(list.b) > 0 && !list.bad {
		out = append(out, list.vec24())
	}
	if r.bad || list.bad {
		return nil, errors.New("malformed Certificate message")
	}
	return out, nil
}

// parseSSLv2 parses an SSL 2.0 answer: SERVER-HELLO or ERROR.
func parseSSLv2(data []byte) (*flight, bool, error) {
	f := &flight{}
	if len(data) < 2 {
		return f, false, nil
	}
	n := int(data[0]&0x7f)<<8 | int(data[1])
	if len(data) < 2+n {
		return f, false, nil
	}
	if n == 0 {
		return f, false, fmt.Errorf("empty SSLv2 record: %w", errNotTLS)
	}
	r := &reader{b: data[2 : 2+n]}
	switch r.u8() {
	case 0: // ERROR
		return f, true, nil
	case 4:
	default:
		return f, false, fmt.Errorf("SSLv2 message type 0x%02x: %w", data[2], errNotTLS)
	}
	r.u8() // session id hit
	r.u8() // certificate type
	h := &sslv2Hello{version: r.u16()}
	certLen, specLen, idLen := int(r.u16()), int(r.u16()), int(r.u16())
	h.certificate = r.next(certLen)
	specs := r.next(specLen)
	r.next(idLen)
	if r.bad || specLen%3 != 0 {
		return f, false, fmt.Errorf("malformed SSLv2 SERVER-HELLO: %w", errNotTLS)
	}
	for i := 0; i < len(specs); i += 3 {
		h.kinds = append(h.kinds, uint32(specs[i])<<16|uint32(specs[i+1])<<8|uint32(specs[i+2]))
	}
	f.sslv2 = h
	return f, true, nil
}

// keyExchangeParams is what a ServerKeyExchange says about the ephemeral
// key.
type keyExchangeParams struct {
	dhBits int    // bit length of the DH prime p; 0 when not DHE
	group  uint16 // named curve of ECDHE; 0 when not ECDHE
}

// parseServerKeyExchange reads the parameters at the start of a
// ServerKeyExchange for kx ("DHE" or "ECDHE"); the signature after them is
// not checked.
func parseServerKeyExchange(body []byte, kx string) (keyExchangeParams, error) {
	r := &reader{b: body}
	var p keyExchangeParams
	switch kx {
	case "DHE", "DHE-anon":
		prime := r.vec16()
		r.vec16() // g
		r.vec16() // Ys
		if r.bad || len(prime) == 0 {
			return p, errors.New("malformed DHE ServerKeyExchange")
		}
		p.dhBits = new(big.Int).SetBytes(prime).BitLen()
		if p.dhBits == 0 {
			return p, errors.New("DHE ServerKeyExchange with a zero prime")
		}
	case "ECDHE", "ECDHE-anon":
		if r.u8() != 3 {
			return p, errors.New("ECDHE ServerKeyExchange without a named curve")
		}
		p.group = r.u16()
		r.vec8()
		if r.bad {
			return p, errors.New("malformed ECDHE ServerKeyExchange")
		}
	default:
		return p, fmt.Errorf("no ServerKeyExchange parameters for key exchange %q", kx)
	}
	return p, nil
}
