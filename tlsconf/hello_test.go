package tlsconf

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"tlsfront/internal/testca"
)

// rawHello builds a TLS 1.2 ClientHello by hand, so that it can offer what Go's
// client never sends (DEFLATE compression).
func rawHello(suites []uint16, compression []byte) []byte {
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	ext := func(b []byte, typ int, body []byte) []byte { return append(u16(u16(b, typ), len(body)), body...) }

	var exts []byte
	exts = ext(exts, 10, []byte{0, 4, 0, 0x1d, 0, 0x17}) // supported_groups: x25519, P-256
	exts = ext(exts, 11, []byte{1, 0})                   // ec_point_formats: uncompressed
	exts = ext(exts, 13, []byte{0, 6, 4, 3, 8, 4, 4, 1}) // signature_algorithms
	exts = ext(exts, 0xff01, []byte{0})                  // renegotiation_info
	body := []byte{3, 3}                                 // client_version TLS 1.2
	random := make([]byte, 32)
	rand.Read(random)
	body = append(body, random...)
	body = append(body, 0) // empty session id
	body = u16(body, 2*len(suites))
	for _, s := range suites {
		body = u16(body, int(s))
	}
	body = append(body, byte(len(compression)))
	body = append(body, compression...)
	body = u16(body, len(exts))
	body = append(body, exts...)

	hs := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{22, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

// readServerHello returns the ServerHello's suite and compression method.
func readServerHello(t *testing.T, r io.Reader) (suite uint16, compression byte) {
	t.Helper()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(r, hdr); err != nil {
		t.Fatalf("reading record header: %v", err)
	}
	if hdr[0] != 22 {
		t.Fatalf("record type %d, want handshake (22); alert? %x", hdr[0], hdr)
	}
	rec := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(r, rec); err != nil {
		t.Fatal(err)
	}
	if rec[0] != 2 {
		t.Fatalf("handshake type %d, want ServerHello", rec[0])
	}
	p := rec[4+2+32:] // type+length, version, random
	p = p[1+int(p[0]):]
	return binary.BigEndian.Uint16(p), p[2]
}

// TestNoCompression proves CRIME cannot happen: a client offering DEFLATE
// before null gets the null compression method.
func TestNoCompression(t *testing.T) {
	ca := testca.New(t)
	st, err := New(Options{Policy: &Policy{MinVersion: tls.VersionTLS10, Suites: tutorialOrder},
		Sites: []Site{testSite(t, ca, "a.example")}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tls.Server(c, NewHolder(st).Config()).Handshake()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// Client order puts AES128 first; the server's order must still win.
	if _, err := c.Write(rawHello([]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, []byte{1, 0})); err != nil {
		t.Fatal(err)
	}
	suite, comp := readServerHello(t, c)
	if comp != 0 {
		t.Errorf("server chose compression method %d, want null (0)", comp)
	}
	if suite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Errorf("suite = %s, want the server's first choice", tls.CipherSuiteName(suite))
	}
}
