package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// serverHelloMsg builds a ServerHello handshake message.
func serverHelloMsg(version, suite uint16, random []byte, exts ...extension) []byte {
	var h builder
	h.u16(version)
	if random == nil {
		random = make([]byte, 32)
	}
	h.bytes(random)
	h.vec8(func() { h.bytes([]byte{1, 2, 3, 4}) })
	h.u16(suite)
	h.u8(0)
	if len(exts) > 0 {
		h.vec16(func() {
			for _, e := range exts {
				h.u16(e.typ)
				h.vec16(func() { h.bytes(e.data) })
			}
		})
	}
	return handshakeMsg(2, h.b)
}

func handshakeMsg(typ byte, body []byte) []byte {
	var m builder
	m.u8(typ)
	m.u24(len(body))
	m.bytes(body)
	return m.b
}

func certificateMsg(certs ...[]byte) []byte {
	var b builder
	b.u24(0)
	for _, c := range certs {
		b.u24(len(c))
		b.bytes(c)
	}
	binary.BigEndian.PutUint16(b.b[1:], uint16(len(b.b)-3))
	return handshakeMsg(11, b.b)
}

func ecdheKeyExchange(group uint16) []byte {
	var b builder
	b.u8(3)
	b.u16(group)
	b.vec8(func() { b.bytes(bytes.Repeat([]byte{4}, 65)) })
	b.bytes([]byte{4, 3, 0, 2, 0xaa, 0xbb}) // signature
	return b.b
}

func dheKeyExchange(pBytes int) []byte {
	var b builder
	p := append([]byte{0x80}, make([]byte, pBytes-1)...)
	b.vec16(func() { b.bytes(p) })
	b.vec16(func() { b.u8(2) })
	b.vec16(func() { b.bytes(make([]byte, pBytes)) })
	return b.b
}

func TestParseFlight(t *testing.T) {
	renego := extension{typ: extRenegotiationInfo, data: []byte{0}}
	hello12 := serverHelloMsg(VersionTLS12, 0xc02f, nil, renego, extension{typ: extHeartbeat, data: []byte{1}})
	cert := certificateMsg([]byte("leaf"), []byte("intermediate"))
	ske := handshakeMsg(12, ecdheKeyExchange(0x001d))
	done := handshakeMsg(14, nil)
	full := append(append(append(append([]byte{}, hello12...), cert...), ske...), done...)
	hrr := serverHelloMsg(VersionTLS12, 0x1301, helloRetryRandom,
		extension{typ: extSupportedVersions, data: []byte{3, 4}}, extension{typ: extKeyShare, data: []byte{0x11, 0xec}})

	for _, tc := range []struct {
		name     string
		data     []byte
		w        want
		complete bool
		notTLS   bool
		check    func(*testing.T, *flight)
	}{
		{name: "ServerHello alone", data: record(22, VersionTLS12, hello12), w: wantHello, complete: true,
			check: func(t *testing.T, f *flight) {
				if f.hello.version != VersionTLS12 || f.hello.suite != 0xc02f || !f.hello.has(extRenegotiationInfo) || !f.hello.has(extHeartbeat) {
					t.Errorf("hello %+v", f.hello)
				}
			}},
		{name: "full flight in one record", data: record(22, VersionTLS12, full), w: wantFlight, complete: true,
			check: func(t *testing.T, f *flight) {
				if len(f.certificates) != 2 || string(f.certificates[1]) != "intermediate" || !f.helloDone {
					t.Errorf("certificates %q done %v", f.certificates, f.helloDone)
				}
				kp, err := parseServerKeyExchange(f.keyExchange, "ECDHE")
				if err != nil || kp.group != 0x001d {
					t.Errorf("key exchange %+v %v", kp, err)
				}
			}},
		{name: "flight split over records mid-message", data: append(record(22, VersionTLS12, full[:50]), record(22, VersionTLS12, full[50:])...), w: wantFlight, complete: true,
			check: func(t *testing.T, f *flight) {
				if !f.helloDone || len(f.certificates) != 2 {
					t.Errorf("flight %+v", f)
				}
			}},
		{name: "flight without ServerHelloDone is incomplete", data: record(22, VersionTLS12, full[:len(full)-4]), w: wantFlight, complete: false},
		{name: "half a record is incomplete", data: record(22, VersionTLS12, hello12)[:20], w: wantHello, complete: false},
		{name: "HelloRetryRequest", data: record(22, VersionTLS12, hrr), w: wantFlight, complete: true,
			check: func(t *testing.T, f *flight) {
				if !f.hello.hrr || f.hello.version != VersionTLS13 || f.hello.group != 0x11ec || f.hello.suite != 0x1301 {
					t.Errorf("hello %+v", f.hello)
				}
			}},
		{name: "alert", data: record(21, VersionTLS12, []byte{2, 70}), w: wantHello, complete: true,
			check: func(t *testing.T, f *flight) {
				if f.alert == nil || f.alert.desc != 70 || f.alert.String() != "protocol_version (70)" {
					t.Errorf("alert %+v", f.alert)
				}
			}},
		{name: "TLS 1.3 encrypted records end the flight", data: append(record(22, VersionTLS12, serverHelloMsg(VersionTLS12, 0x1301, nil,
			extension{typ: extSupportedVersions, data: []byte{3, 4}})), record(23, VersionTLS12, []byte("secret"))...), w: wantFlight, complete: true},
		{name: "heartbeat records are counted", data: append(record(22, VersionTLS12, hello12), record(24, VersionTLS12, make([]byte, 100))...), w: wantFlight,
			check: func(t *testing.T, f *flight) {
				if f.heartbeat != 100 {
					t.Errorf("heartbeat bytes %d", f.heartbeat)
				}
			}},
		{name: "HTTP is not TLS", data: []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), notTLS: true},
		{name: "SSH banner is not TLS", data: []byte("SSH-2.0-OpenSSH_9.2\r\n"), notTLS: true},
		{name: "wrong record version", data: []byte{22, 4, 0, 0, 1, 0}, notTLS: true},
		{name: "oversized record", data: []byte{22, 3, 3, 0xff, 0xff}, notTLS: true},
		{name: "SSLv2 SERVER-HELLO", data: sslv2ServerHello([]uint32{0x010080, 0x0700c0}), complete: true,
			check: func(t *testing.T, f *flight) {
				if f.sslv2 == nil || len(f.sslv2.kinds) != 2 || f.sslv2.kinds[1] != 0x0700c0 || string(f.sslv2.certificate) != "cert" {
					t.Errorf("sslv2 %+v", f.sslv2)
				}
			}},
		{name: "SSLv2 ERROR", data: []byte{0x80, 3, 0, 0, 1}, complete: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, complete, err := parseFlight(tc.data, tc.w)
			if tc.notTLS {
				if !errors.Is(err, errNotTLS) {
					t.Fatalf("err %v, want errNotTLS", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlight: %v", err)
			}
			if complete != tc.complete {
				t.Errorf("complete %v, want %v", complete, tc.complete)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func sslv2ServerHello(kinds []uint32) []byte {
	var m builder
	m.u8(4)
	m.u8(0)
	m.u8(1)
	m.u16(VersionSSL2)
	m.u16(4)
	m.u16(uint16(3 * len(kinds)))
	m.u16(16)
	m.bytes([]byte("cert"))
	for _, k := range kinds {
		m.bytes([]byte{byte(k >> 16), byte(k >> 8), byte(k)})
	}
	m.bytes(make([]byte, 16))
	n := len(m.b)
	return append([]byte{0x80 | byte(n>>8), byte(n)}, m.b...)
}

func TestParseServerKeyExchange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  []byte
		kx    string
		bits  int
		group uint16
		fail  bool
	}{
		{name: "DHE 2048", body: dheKeyExchange(256), kx: "DHE", bits: 2048},
		{name: "DHE 1024", body: dheKeyExchange(128), kx: "DHE", bits: 1024},
		{name: "ECDHE secp256r1", body: ecdheKeyExchange(0x17), kx: "ECDHE", group: 0x17},
		{name: "ECDHE explicit curve", body: []byte{1, 0, 0}, kx: "ECDHE", fail: true},
		{name: "DHE truncated", body: dheKeyExchange(256)[:100], kx: "DHE", fail: true},
		{name: "static RSA has none", body: []byte{0}, kx: "RSA", fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseServerKeyExchange(tc.body, tc.kx)
			if (err != nil) != tc.fail {
				t.Fatalf("err %v, want failure %v", err, tc.fail)
			}
			if p.dhBits != tc.bits || p.group != tc.group {
				t.Errorf("params %+v", p)
			}
		})
	}
}

// TestClientHello parses the hand-built hellos back with the same reader
// the server side uses, so that a malformed hello cannot go unnoticed.
func TestClientHello(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    helloSpec
		recVers uint16
		legacy  uint16
		suites  int // suites on the wire, SCSVs included
		exts    []uint16
		noExts  bool
	}{
		{name: "TLS 1.2", spec: helloSpec{version: VersionTLS12, suites: []uint16{0xc02f, 0x009c}, sni: "example.org"},
			recVers: VersionTLS10, legacy: VersionTLS12, suites: 3, exts: []uint16{extServerName, extSupportedGroups, extSignatureAlgs}},
		{name: "TLS 1.3 with key share", spec: helloSpec{version: VersionTLS13, suites: []uint16{0x1301}, keyShares: []keyShareEntry{x25519Share()}},
			recVers: VersionTLS10, legacy: VersionTLS12, suites: 1, exts: []uint16{extSupportedVersions, extKeyShare}},
		{name: "SSLv3 without extensions", spec: helloSpec{version: VersionSSL3, suites: []uint16{0x000a}, noExtensions: true},
			recVers: VersionSSL3, legacy: VersionSSL3, suites: 2, noExts: true},
		{name: "fallback SCSV and heartbeat", spec: helloSpec{version: VersionTLS11, suites: []uint16{0x002f}, fallbackSCSV: true, heartbeat: true},
			recVers: VersionTLS10, legacy: VersionTLS11, suites: 3, exts: []uint16{extHeartbeat}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := buildClientHello(tc.spec)
			if b[0] != 22 || binary.BigEndian.Uint16(b[1:]) != tc.recVers || int(binary.BigEndian.Uint16(b[3:])) != len(b)-5 {
				t.Fatalf("record header % x (len %d)", b[:5], len(b))
			}
			msg := b[5:]
			if msg[0] != 1 || int(msg[1])<<16|int(msg[2])<<8|int(msg[3]) != len(msg)-4 {
				t.Fatalf("handshake header % x", msg[:4])
			}
			r := &reader{b: msg[4:]}
			if v := r.u16(); v != tc.legacy {
				t.Errorf("client_version %04x, want %04x", v, tc.legacy)
			}
			r.next(32)
			r.vec8()
			suites := r.vec16()
			if len(suites) != 2*tc.suites {
				t.Errorf("%d suite bytes, want %d", len(suites), 2*tc.suites)
			}
			r.vec8()
			if tc.noExts {
				if len(r.b) != 0 || r.bad {
					t.Errorf("trailing bytes % x", r.b)
				}
				return
			}
			exts := &reader{b: r.vec16()}
			if r.bad || len(r.b) != 0 {
				t.Fatalf("extensions block malformed")
			}
			seen := map[uint16]bool{}
			for len(exts.b) > 0 {
				typ := exts.u16()
				exts.vec16()
				seen[typ] = true
			}
			if exts.bad {
				t.Fatal("malformed extension")
			}
			for _, e := range tc.exts {
				if !seen[e] {
					t.Errorf("extension %d missing", e)
				}
			}
		})
	}
}

func TestSuitesFor(t *testing.T) {
	has := func(list []uint16, id uint16) bool {
		for _, x := range list {
			if x == id {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		name    string
		version uint16
		in, out []uint16
	}{
		{"TLS 1.3 offers only TLS 1.3 suites", VersionTLS13, []uint16{0x1301, 0x1303}, []uint16{0xc02f, 0x0005}},
		{"TLS 1.2 offers GCM, CBC and RC4", VersionTLS12, []uint16{0xc02f, 0x002f, 0x0005, 0xc0a3}, []uint16{0x1301, 0x0000}},
		{"TLS 1.0 offers no TLS 1.2-only suites", VersionTLS10, []uint16{0x002f, 0x0005, 0x000a, 0x0003}, []uint16{0xc02f, 0x003c, 0xc0a3, 0xcca8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := suitesFor(tc.version)
			for _, id := range tc.in {
				if !has(list, id) {
					t.Errorf("0x%04x not offered", id)
				}
			}
			for _, id := range tc.out {
				if has(list, id) {
					t.Errorf("0x%04x offered", id)
				}
			}
		})
	}
}

func TestSuiteAttributes(t *testing.T) {
	for _, tc := range []struct {
		id       uint16
		kx       string
		fs, aead bool
		bits     int
		strength string
	}{
		{0xc02f, "ECDHE", true, true, 128, "strong"},
		{0x009e, "DHE", true, true, 128, "strong"},
		{0x002f, "RSA", false, false, 128, "weak"},
		{0x000a, "RSA", false, false, 112, "weak"},
		{0x0005, "RSA", false, false, 128, "insecure"},
		{0x0003, "RSA-export", false, false, 40, "insecure"},
		{0x0034, "DHE-anon", true, false, 128, "insecure"},
		{0x1301, "TLS1.3", true, true, 128, "strong"},
		{0x0002, "RSA", false, false, 0, "insecure"},
	} {
		s := lookupSuite(tc.id).suite()
		if s.KeyExchange != tc.kx || s.ForwardSecrecy != tc.fs || s.AEAD != tc.aead || s.Bits != tc.bits || s.Strength != tc.strength {
			t.Errorf("0x%04x %s: got kx %s fs %v aead %v bits %d %s", tc.id, s.Name, s.KeyExchange, s.ForwardSecrecy, s.AEAD, s.Bits, s.Strength)
		}
	}
	if id, ok := SuiteByName("ECDHE-RSA-AES128-GCM-SHA256"); !ok || id != 0xc02f {
		t.Errorf("SuiteByName(OpenSSL name) = %04x %v", id, ok)
	}
	if id, ok := SuiteByName("TLS_RSA_WITH_RC4_128_SHA"); !ok || id != 0x0005 {
		t.Errorf("SuiteByName(IANA name) = %04x %v", id, ok)
	}
}
