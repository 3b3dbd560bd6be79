package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
)

// Check is the outcome of one yes/no test with its evidence.
type Check struct {
	// State is "yes", "no", "n/a" (not applicable to this server) or
	// "error" (the test could not run; Evidence says why).
	State string `json:"state"`
	// Evidence is what the server did.
	Evidence string `json:"evidence"`
}

func yes(format string, a ...any) Check {
	return Check{State: "yes", Evidence: fmt.Sprintf(format, a...)}
}
func no(format string, a ...any) Check {
	return Check{State: "no", Evidence: fmt.Sprintf(format, a...)}
}
func na(format string, a ...any) Check {
	return Check{State: "n/a", Evidence: fmt.Sprintf(format, a...)}
}
func failed(err error) Check { return Check{State: "error", Evidence: describeErr(err)} }

// Group is a key exchange group the server accepted.
type Group struct {
	// Name is the IANA name: "X25519MLKEM768", "x25519", "secp256r1", ...
	Name string `json:"name"`
	// ID is the code point in hex.
	ID string `json:"id"`
	// Protocols are where it was accepted: "TLS 1.3", "TLS 1.2".
	Protocols []string `json:"protocols"`
	// Bits is the equivalent RSA strength SSL Labs scores it with.
	Bits int `json:"bits"`

	code uint16
}

// groupInfo names a group and gives its RSA-equivalent strength.
type groupInfo struct {
	name  string
	bits  int
	tls13 bool // defined for TLS 1.3
	tls12 bool // an elliptic curve usable in TLS ≤ 1.2 ECDHE
}

// groups lists the groups probed, in the order reports list them.
var groups = []uint16{
	0x11ec, 0x11eb, 0x11ed, 0x001d, 0x001e, 0x0017, 0x0018, 0x0019,
	0x001f, 0x0020, 0x0021, 0x001a, 0x001b, 0x001c, 0x0016, 0x0015, 0x0014, 0x0013, 0x0012,
	0x000e, 0x000d, 0x000b, 0x000c, 0x0009, 0x000a,
	0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
}

var groupTable = map[uint16]groupInfo{
	0x11ec: {"X25519MLKEM768", 3072, true, false},
	0x11eb: {"SecP256r1MLKEM768", 3072, true, false},
	0x11ed: {"SecP384r1MLKEM1024", 7680, true, false},
	0x001d: {"x25519", 3072, true, true},
	0x001e: {"x448", 7680, true, true},
	0x0017: {"secp256r1", 3072, true, true},
	0x0018: {"secp384r1", 7680, true, true},
	0x0019: {"secp521r1", 15360, true, true},
	0x001f: {"brainpoolP256r1tls13", 3072, true, false},
	0x0020: {"brainpoolP384r1tls13", 7680, true, false},
	0x0021: {"brainpoolP512r1tls13", 15360, true, false},
	0x001a: {"brainpoolP256r1", 3072, false, true},
	0x001b: {"brainpoolP384r1", 7680, false, true},
	0x001c: {"brainpoolP512r1", 15360, false, true},
	0x0016: {"secp256k1", 3072, false, true},
	0x0015: {"secp224r1", 2048, false, true},
	0x0014: {"secp224k1", 2048, false, true},
	0x0013: {"secp192r1", 1536, false, true},
	0x0012: {"secp192k1", 1536, false, true},
	0x000e: {"sect571r1", 15360, false, true},
	0x000d: {"sect571k1", 15360, false, true},
	0x000b: {"sect409k1", 7680, false, true},
	0x000c: {"sect409r1", 7680, false, true},
	0x0009: {"sect283k1", 3072, false, true},
	0x000a: {"sect283r1", 3072, false, true},
	0x0100: {"ffdhe2048", 2048, true, false},
	0x0101: {"ffdhe3072", 3072, true, false},
	0x0102: {"ffdhe4096", 4096, true, false},
	0x0103: {"ffdhe6144", 6144, true, false},
	0x0104: {"ffdhe8192", 8192, true, false},
}

func groupName(id uint16) string {
	if g, ok := groupTable[id]; ok {
		return g.name
	}
	return fmt.Sprintf("group 0x%04x", id)
}

// suitesWhere filters the accepted suites of one protocol.
func suitesWhere(ps ProtocolSuites, keep func(suiteRow) bool) []uint16 {
	var out []uint16
	for _, s := range ps.Suites {
		r := lookupSuite(uint16(s.code))
		if keep(r) {
			out = append(out, uint16(s.code))
		}
	}
	return out
}

// probeCompression offers DEFLATE before null at version v.
func (p *prober) probeCompression(ctx context.Context, ps ProtocolSuites) Check {
	s := p.hello(ps.version, suitesWhere(ps, func(suiteRow) bool { return true }))
	s.compression = []byte{1, 0}
	f, err := p.exchange(ctx, buildClientHello(s), wantHello, nil)
	switch {
	case err != nil:
		return failed(err)
	case f.hello == nil:
		return failed(fmt.Errorf("%s hello offering DEFLATE was refused: %s", ps.Protocol, answerOf(f)))
	case f.hello.compression != 0:
		return yes("%s ServerHello chose compression method %d (DEFLATE) when offered", ps.Protocol, f.hello.compression)
	}
	return no("%s ServerHello chose null compression although DEFLATE was offered first", ps.Protocol)
}

// probeHeartbeat offers the heartbeat extension at version v; when the
// server accepts it, a heartbeat request claiming 16 KiB of payload while
// carrying none tests for Heartbleed on the same connection (a patched
// server answers nothing or an alert; a vulnerable one its memory).
func (p *prober) probeHeartbeat(ctx context.Context, ps ProtocolSuites) (ext, bleed Check) {
	s := p.hello(ps.version, suitesWhere(ps, func(suiteRow) bool { return true }))
	s.heartbeat = true
	got := 0
	f, err := p.exchange(ctx, buildClientHello(s), wantFlight, func(c net.Conn, f *flight) error {
		if f.hello == nil || !f.hello.has(extHeartbeat) {
			return nil
		}
		if _, err := c.Write(heartbeatRequest(ps.version)); err != nil {
			return nil // hung up: not answering is not vulnerable
		}
		var buf []byte
		tmp := make([]byte, 16<<10)
		for {
			n, err := c.Read(tmp)
			buf = append(buf, tmp[:n]...)
			if f2, _, _ := parseFlight(buf, wantFlight); f2 != nil && f2.heartbeat > 0 {
				got = f2.heartbeat
				return nil
			}
			if err != nil || len(buf) > maxFlight {
				return nil
			}
		}
	})
	switch {
	case err != nil:
		return failed(err), failed(err)
	case f.hello == nil:
		err := fmt.Errorf("%s hello with the heartbeat extension was refused: %s", ps.Protocol, answerOf(f))
		return failed(err), failed(err)
	case !f.hello.has(extHeartbeat):
		return no("%s ServerHello has no heartbeat extension", ps.Protocol),
			no("not exposed: no heartbeat extension")
	}
	ext = yes("%s ServerHello carries the heartbeat extension", ps.Protocol)
	if got > 3 {
		return ext, yes("answered a heartbeat request claiming 16384 bytes of payload with %d bytes (Heartbleed, CVE-2014-0160)", got)
	}
	return ext, no("ignored a heartbeat request with a false payload length")
}

// probeFallback sends a hello at the second-highest protocol with
// TLS_FALLBACK_SCSV: a server that knows its highest should refuse it
// with inappropriate_fallback.
func (p *prober) probeFallback(ctx context.Context, protocols []ProtocolResult, suites map[uint16]ProtocolSuites) Check {
	var offered []uint16
	for _, pr := range protocols {
		if pr.Offered && pr.version != VersionSSL2 {
			offered = append(offered, pr.version)
		}
	}
	slices.Sort(offered)
	if len(offered) < 2 {
		if len(offered) == 1 {
			return na("only %s is offered: there is no lower protocol to fall back to", versionName(offered[0]))
		}
		return na("no protocol offered")
	}
	high, low := offered[len(offered)-1], offered[len(offered)-2]
	offer := suitesWhere(suites[low], func(suiteRow) bool { return true })
	if len(offer) == 0 {
		offer = suitesFor(low) // enumeration failed: offer everything
	}
	s := p.hello(low, offer)
	s.fallbackSCSV = true
	f, err := p.exchange(ctx, buildClientHello(s), wantHello, nil)
	switch {
	case err != nil:
		return failed(err)
	case f.alert != nil && f.alert.desc == 86:
		return yes("a %s hello with TLS_FALLBACK_SCSV (server's highest: %s) got alert %s", versionName(low), versionName(high), f.alert)
	case f.hello != nil:
		return no("a %s hello with TLS_FALLBACK_SCSV (server's highest: %s) was accepted", versionName(low), versionName(high))
	}
	return no("a %s hello with TLS_FALLBACK_SCSV got %s, not inappropriate_fallback", versionName(low), answerOf(f))
}

// probeGroups13 offers each TLS 1.3 group alone without a key share: a
// server that accepts the group answers with a HelloRetryRequest naming
// it.
func (p *prober) probeGroups13(ctx context.Context, ps ProtocolSuites) (accepted []uint16, preferred uint16, err error) {
	suites := suitesWhere(ps, func(suiteRow) bool { return true })
	try := func(offer ...uint16) (uint16, error) {
		s := p.hello(VersionTLS13, suites)
		s.groups, s.keyShares = offer, nil
		f, err := p.exchange(ctx, buildClientHello(s), wantHello, nil)
		if hungUp(err) {
			return 0, nil
		}
		if err != nil || f.hello == nil || f.hello.version != VersionTLS13 {
			return 0, err
		}
		return f.hello.group, nil
	}
	var all []uint16
	for _, g := range groups {
		if groupTable[g].tls13 {
			all = append(all, g)
		}
	}
	var prefErr error
	accepted, err = acceptedGroups(all, func(g uint16) (uint16, error) { return try(g) },
		func() { preferred, prefErr = try(all...) })
	return accepted, preferred, cmp.Or(prefErr, err)
}

// probeGroups12 offers the ECDHE suites of ps with one curve at a time and
// reads the curve from the ServerKeyExchange.
func (p *prober) probeGroups12(ctx context.Context, ps ProtocolSuites) ([]uint16, error) {
	ecdhe := suitesWhere(ps, func(r suiteRow) bool { return r.keyExchange() == "ECDHE" })
	if len(ecdhe) == 0 {
		return nil, nil
	}
	var list []uint16
	for _, g := range groups {
		if groupTable[g].tls12 {
			list = append(list, g)
		}
	}
	return acceptedGroups(list, func(g uint16) (uint16, error) {
		s := p.hello(ps.version, ecdhe)
		s.groups = []uint16{g}
		f, err := p.exchange(ctx, buildClientHello(s), wantFlight, nil)
		if hungUp(err) {
			return 0, nil
		}
		if err != nil || f.hello == nil || f.keyExchange == nil {
			return 0, err
		}
		kp, err := parseServerKeyExchange(f.keyExchange, "ECDHE")
		if err != nil {
			return 0, nil
		}
		return kp.group, nil
	})
}

// acceptedGroups offers each group of list alone, in parallel with extra,
// through try, which returns the group the server chose (0 for none); it
// returns the groups the server chose when offered alone and the first
// error.
func acceptedGroups(list []uint16, try func(g uint16) (uint16, error), extra ...func()) ([]uint16, error) {
	results := make([]uint16, len(list))
	errs := make([]error, len(list))
	fs := extra
	for i, g := range list {
		fs = append(fs, func() { results[i], errs[i] = try(g) })
	}
	parallel(fs...)
	var accepted []uint16
	for i, g := range list {
		if results[i] == g {
			accepted = append(accepted, g)
		}
	}
	for _, err := range errs {
		if err != nil {
			return accepted, err
		}
	}
	return accepted, nil
}

// hungUp reports whether err is the server closing or resetting the
// connection: some servers hang up instead of alerting.
func hungUp(err error) bool {
	var pe *probeError
	return errors.As(err, &pe) && (pe.kind == "closed" || pe.kind == "reset")
}

// DHParams is what a DHE ServerKeyExchange showed.
type DHParams struct {
	// Bits is the size of the prime p.
	Bits int `json:"bits"`
	// Suite is the suite the measurement was made with.
	Suite string `json:"suite"`
	// Protocol is where.
	Protocol string `json:"protocol"`
}

// probeDHE offers only the DHE suites of ps and measures the prime.
func (p *prober) probeDHE(ctx context.Context, ps ProtocolSuites) (*DHParams, error) {
	dhe := suitesWhere(ps, func(r suiteRow) bool { return r.keyExchange() == "DHE" || r.keyExchange() == "DHE-anon" })
	if len(dhe) == 0 {
		return nil, nil
	}
	f, err := p.exchange(ctx, buildClientHello(p.hello(ps.version, dhe)), wantFlight, nil)
	if err != nil {
		return nil, err
	}
	if f.hello == nil || f.keyExchange == nil {
		return nil, fmt.Errorf("%s hello with DHE suites only got %s", ps.Protocol, answerOf(f))
	}
	kp, err := parseServerKeyExchange(f.keyExchange, "DHE")
	if err != nil {
		return nil, err
	}
	return &DHParams{Bits: kp.dhBits, Suite: lookupSuite(f.hello.suite).suite().Name, Protocol: ps.Protocol}, nil
}

// probeCertificates collects the chains served at version v (≤ 1.2, where
// certificates travel in the clear), one per authentication type the
// accepted suites use, so that RSA and ECDSA certificates are both seen.
func (p *prober) probeCertificates(ctx context.Context, ps ProtocolSuites) ([][][]byte, error) {
	byAuth := map[string][]uint16{}
	var auths []string
	for _, s := range ps.Suites {
		if s.Auth == "None" {
			continue
		}
		if _, ok := byAuth[s.Auth]; !ok {
			auths = append(auths, s.Auth)
		}
		byAuth[s.Auth] = append(byAuth[s.Auth], uint16(s.code))
	}
	var chains [][][]byte
	for _, a := range auths {
		f, err := p.exchange(ctx, buildClientHello(p.hello(ps.version, byAuth[a])), wantFlight, nil)
		if err != nil {
			return chains, err
		}
		if len(f.certificates) > 0 {
			chains = append(chains, f.certificates)
		}
	}
	return chains, nil
}

// answerOf describes a flight without a ServerHello.
func answerOf(f *flight) string {
	switch {
	case f == nil:
		return "nothing"
	case f.alert != nil:
		return "alert " + f.alert.String()
	case f.hello != nil:
		return "ServerHello " + versionName(f.hello.version)
	}
	return "no ServerHello"
}
