package audit

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the fuzz seed corpus under testdata/fuzz")

// parserSeeds are valid and broken server answers: the seed corpus of
// FuzzParseServerHello.
func parserSeeds() map[string][]byte {
	renego := extension{typ: extRenegotiationInfo, data: []byte{0}}
	hello12 := serverHelloMsg(VersionTLS12, 0xc02f, nil, renego)
	full := append(append(append(append([]byte{}, hello12...), certificateMsg([]byte("leaf"))...),
		handshakeMsg(12, ecdheKeyExchange(0x1d))...), handshakeMsg(14, nil)...)
	hrr := serverHelloMsg(VersionTLS12, 0x1301, helloRetryRandom,
		extension{typ: extSupportedVersions, data: []byte{3, 4}}, extension{typ: extKeyShare, data: []byte{0, 0x1d}})
	return map[string][]byte{
		"hello12":     record(22, VersionTLS12, hello12),
		"flight12":    record(22, VersionTLS12, full),
		"split":       append(record(22, VersionTLS12, full[:40]), record(22, VersionTLS12, full[40:])...),
		"hrr":         record(22, VersionTLS12, hrr),
		"alert":       record(21, VersionTLS12, []byte{2, 40}),
		"sslv2":       sslv2ServerHello([]uint32{0x010080}),
		"sslv2-error": {0x80, 3, 0, 0, 1},
		"http":        []byte("HTTP/1.1 400 Bad Request\r\n\r\n"),
		"truncated":   record(22, VersionTLS12, hello12)[:30],
		"heartbeat":   append(record(22, VersionTLS12, hello12), record(24, VersionTLS12, make([]byte, 40))...),
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite testdata/fuzz")
	}
	write := func(fuzzer, name string, args ...any) {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s := "go test fuzz v1\n"
		for _, a := range args {
			switch v := a.(type) {
			case []byte:
				s += fmt.Sprintf("[]byte(%q)\n", v)
			case byte:
				s += fmt.Sprintf("byte(%q)\n", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range parserSeeds() {
		write("FuzzParseServerHello", name, data)
	}
	write("FuzzParseServerKeyExchange", "dhe", dheKeyExchange(256), byte(0))
	write("FuzzParseServerKeyExchange", "ecdhe", ecdheKeyExchange(0x17), byte(1))
}

// FuzzParseServerHello feeds arbitrary server answers, whole and cut at
// every length, to the parser the probes use: it must never panic, and a
// complete flight must hold what it claims.
func FuzzParseServerHello(f *testing.F) {
	for _, s := range parserSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, w := range []want{wantHello, wantFlight} {
			fl, complete, err := parseFlight(data, w)
			if fl == nil {
				t.Fatal("nil flight")
			}
			if err != nil && complete {
				t.Fatalf("complete flight with error %v", err)
			}
			if complete && fl.hello == nil && fl.alert == nil && fl.sslv2 == nil && !(len(data) > 2 && data[0]&0x80 != 0) {
				t.Fatalf("complete flight with neither hello nor alert: % x", data)
			}
			if fl.hello != nil && len(fl.hello.sessionID) > 32 {
				t.Fatalf("session id of %d bytes accepted", len(fl.hello.sessionID))
			}
			if err != nil && !errors.Is(err, errNotTLS) && len(err.Error()) == 0 {
				t.Fatal("empty error")
			}
		}
		// A prefix of a valid answer is never an error before it ends
		// mid-structure: parsing is incremental, as on the network.
		for i := 0; i <= len(data) && i < 64; i++ {
			_, _, _ = parseFlight(data[:i], wantFlight)
		}
		_, _ = parseServerHello(data)
		_, _ = parseCertificates(data)
	})
}

// FuzzParseServerKeyExchange checks the DHE/ECDHE parameter parser.
func FuzzParseServerKeyExchange(f *testing.F) {
	f.Add(dheKeyExchange(256), byte(0))
	f.Add(ecdheKeyExchange(0x17), byte(1))
	f.Fuzz(func(t *testing.T, body []byte, kind byte) {
		kx := []string{"DHE", "ECDHE", "RSA"}[int(kind)%3]
		p, err := parseServerKeyExchange(body, kx)
		if err == nil && kx == "DHE" && (p.dhBits <= 0 || p.dhBits > 8*len(body)) {
			t.Fatalf("DH prime of %d bits from %d bytes", p.dhBits, len(body))
		}
	})
}
