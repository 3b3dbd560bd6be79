package audit

import (
	"encoding/binary"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/testca"
)

// fakeServer is a scripted SSL/TLS server for what no real server on this
// machine does any more: SSLv2, SSLv3, compression, the heartbeat
// extension, Heartbleed, no secure renegotiation. It speaks only as far as
// ServerHelloDone, with static-RSA suites.
type fakeServer struct {
	versions  []uint16 // SSLv3 .. TLS 1.2 versions it accepts
	sslv2     []uint32 // SSLv2 cipher kinds it answers with; nil: no SSLv2
	suites    []uint16 // in its order of preference
	compress  bool     // choose DEFLATE when offered
	heartbeat bool     // echo the heartbeat extension
	bleed     bool     // answer heartbeat requests with 16 KiB
	renego    bool     // echo renegotiation_info
	maxSuites int      // close hellos offering more suites than this; 0: no limit
	chain     [][]byte
}

// clientHello is what the fake reads from a hello.
type clientHello struct {
	version     uint16
	suites      []uint16
	compression []byte
	exts        map[uint16]bool
}

func parseClientHello(rec []byte) (clientHello, bool) {
	var ch clientHello
	if len(rec) < 9 || rec[0] != 22 || rec[5] != 1 {
		return ch, false
	}
	r := &reader{b: rec[9:]}
	ch.version = r.u16()
	r.next(32)
	r.vec8()
	s := &reader{b: r.vec16()}
	for len(s.b) > 1 {
		ch.suites = append(ch.suites, s.u16())
	}
	ch.compression = r.vec8()
	ch.exts = map[uint16]bool{}
	if len(r.b) == 0 || r.bad { // SSLv3 hellos have no extensions
		return ch, !r.bad
	}
	e := &reader{b: r.vec16()}
	for len(e.b) > 3 && !e.bad {
		ch.exts[e.u16()] = true
		e.vec16()
	}
	return ch, !r.bad
}

func (fs *fakeServer) serve(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 32<<10)
	n, err := io.ReadAtLeast(c, buf, 5)
	if err != nil {
		return
	}
	if buf[0]&0x80 != 0 { // SSLv2 CLIENT-HELLO
		if fs.sslv2 != nil {
			_, _ = c.Write(sslv2ServerHello(fs.sslv2))
		}
		return
	}
	need := 5 + int(binary.BigEndian.Uint16(buf[3:5]))
	if n < need {
		if _, err := io.ReadFull(c, buf[n:need]); err != nil {
			return
		}
	}
	ch, ok := parseClientHello(buf[:need])
	if !ok {
		return
	}
	if fs.maxSuites > 0 && len(ch.suites) > fs.maxSuites {
		return // as some servers do with long hellos
	}
	alert := func(desc byte) { _, _ = c.Write(record(21, VersionTLS10, []byte{2, desc})) }
	top := slices.Max(fs.versions)
	v := min(ch.version, top)
	if !slices.Contains(fs.versions, v) {
		alert(70)
		return
	}
	if slices.Contains(ch.suites, scsvFallback) && v < top {
		alert(86)
		return
	}
	suite := uint16(0)
	for _, s := range fs.suites {
		if slices.Contains(ch.suites, s) {
			suite = s
			break
		}
	}
	if suite == 0 {
		alert(40)
		return
	}
	var exts []extension
	if fs.renego && (ch.exts[extRenegotiationInfo] || slices.Contains(ch.suites, scsvRenegotiation)) {
		exts = append(exts, extension{typ: extRenegotiationInfo, data: []byte{0}})
	}
	if fs.heartbeat && ch.exts[extHeartbeat] {
		exts = append(exts, extension{typ: extHeartbeat, data: []byte{1}})
	}
	hello := serverHelloMsg(v, suite, randomBytes(32), exts...)
	if fs.compress && slices.Contains(ch.compression, 1) {
		hello[4+2+32+1+4+2] = 1 // compression_method after version, random, session id, suite
	}
	flight := append(append(hello, certificateMsg(fs.chain...)...), handshakeMsg(14, nil)...)
	if _, err := c.Write(record(22, v, flight)); err != nil {
		return
	}
	if !fs.bleed {
		_, _ = io.Copy(io.Discard, c)
		return
	}
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c, hdr); err == nil && hdr[0] == 24 {
		_, _ = c.Write(record(24, v, randomBytes(1<<14)))
	}
}

// TestFakeServers audits scripted servers for the weaknesses real servers
// here no longer have, so that each probe is shown to detect its problem.
func TestFakeServers(t *testing.T) {
	ca := testca.New(t)
	chain := [][]byte{ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}, KeyType: "rsa2048"}).Cert().Raw, ca.Intermediate().Raw}
	for _, tc := range []struct {
		name      string
		fake      fakeServer
		protocols []string
		features  map[string]string // feature -> state
		rules     []string
		grade     string
	}{
		{
			name: "SSLv2, SSLv3, compression, insecure renegotiation",
			fake: fakeServer{
				versions: []uint16{VersionSSL3, VersionTLS10}, sslv2: []uint32{0x010080, 0x0700c0},
				suites: []uint16{0x000a, 0x0005}, compress: true, chain: chain,
			},
			protocols: []string{"SSLv2", "SSLv3", "TLS 1.0"},
			features:  map[string]string{"compression": "yes", "secure renegotiation": "no", "fallback SCSV": "yes", "heartbeat": "no"},
			rules:     []string{"sslv2", "insecure-renegotiation", "sslv3", "compression", "no-tls12"},
			grade:     "F",
		},
		{
			name: "Heartbleed",
			fake: fakeServer{
				versions: []uint16{VersionTLS12}, suites: []uint16{0x009c, 0x002f},
				heartbeat: true, bleed: true, renego: true, chain: chain,
			},
			protocols: []string{"TLS 1.2"},
			features:  map[string]string{"heartbeat": "yes", "heartbleed": "yes", "compression": "no", "secure renegotiation": "yes"},
			rules:     []string{"heartbleed", "no-forward-secrecy"},
			grade:     "F",
		},
		{
			name: "heartbeat without the bug",
			fake: fakeServer{
				versions: []uint16{VersionTLS11, VersionTLS12}, suites: []uint16{0x002f},
				heartbeat: true, renego: true, chain: chain,
			},
			protocols: []string{"TLS 1.1", "TLS 1.2"},
			features:  map[string]string{"heartbeat": "yes", "heartbleed": "no", "fallback SCSV": "yes"},
			rules:     []string{"tls10-tls11", "no-aead"},
			grade:     "B",
		},
		{
			// Hellos of at most 128 suites (and the SCSVs) are answered.
			name: "hellos over 130 suites closed",
			fake: fakeServer{
				versions: []uint16{VersionTLS12}, suites: []uint16{0x009c, 0x002f},
				renego: true, maxSuites: 130, chain: chain,
			},
			protocols: []string{"TLS 1.2"},
			features:  map[string]string{"compression": "no", "secure renegotiation": "yes", "heartbeat": "no"},
			rules:     []string{"no-forward-secrecy"},
			grade:     "B",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := tc.fake
			addr := hostile(t, fs.serve)
			rep := auditTarget(t, target{addr: addr, httpPort: -1}, ca, time.Second)
			var offered []string
			for _, p := range rep.Protocols {
				if p.Offered {
					offered = append(offered, p.Name)
				}
			}
			if !slices.Equal(offered, tc.protocols) {
				t.Errorf("protocols %v, want %v", offered, tc.protocols)
			}
			f := rep.Features
			got := map[string]Check{"compression": f.Compression, "secure renegotiation": f.SecureRenegotiation,
				"fallback SCSV": f.FallbackSCSV, "heartbeat": f.Heartbeat, "heartbleed": f.Heartbleed}
			for name, want := range tc.features {
				if got[name].State != want {
					t.Errorf("%s %+v, want %s", name, got[name], want)
				}
			}
			var ids []string
			for _, r := range rep.Rating.Caps {
				ids = append(ids, r.ID)
			}
			for _, r := range tc.rules {
				if !slices.Contains(ids, r) {
					t.Errorf("cap %s missing; have %v", r, ids)
				}
			}
			if rep.Rating.Grade != tc.grade {
				t.Errorf("grade %s, want %s", rep.Rating.Grade, tc.grade)
			}
			if len(rep.Certificates) != 1 || rep.Certificates[0].Trust.State != "yes" {
				t.Errorf("certificates read in the clear: %+v", rep.Certificates)
			}
			if t.Failed() {
				var b strings.Builder
				_ = rep.WriteText(&b)
				t.Logf("report:\n%s", b.String())
			}
		})
	}
}
