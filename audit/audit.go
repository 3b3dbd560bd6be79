// Package audit grades a TLS server the way Qualys SSL Labs does, offline:
// `tlsfront audit HOST[:PORT]` probes the one target given with hand-built
// hellos (SSLv2 and SSLv3 included, which Go's client cannot speak) and with
// Go's own client, and reports protocols, suites in server order, key
// exchange, compression, heartbeat, TLS_FALLBACK_SCSV, renegotiation,
// resumption, ALPN, the certificate chain and its OCSP staple, HSTS/HPKP
// and the plain-HTTP redirect, then a grade with every reason.
//
// It sits outside the request path: a client-side tool an operator (or a CI
// gate, with -min-grade) points at tlsfront or at any other HTTPS server.
// All its traffic goes to the target's one resolved address (its HTTPS port
// and the plain-HTTP port); redirects are reported, never followed, and
// OCSP responders are never asked.
package audit

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures Run.
type Options struct {
	// Target is "host", "host:port" or "[v6addr]:port". The port defaults
	// to 443.
	Target string
	// SNI is the server name sent and checked against the certificate.
	// Empty means the target host when it is a name, and no SNI for an IP
	// address (the certificate is then checked against the address).
	SNI string
	// Timeout bounds the name lookup and each connection: the dial and
	// every read and write on it. Zero means 5 s.
	Timeout time.Duration
	// Roots are the trust anchors. Nil means the system roots.
	Roots *x509.CertPool
	// HTTPPort is the plain-HTTP port checked for a redirect to HTTPS. Zero
	// means 80; negative skips the check.
	HTTPPort int
	// Now is the clock for certificate and OCSP validity. Nil means
	// time.Now.
	Now func() time.Time
	// Dial opens every connection of the audit, always to the target's
	// resolved address. Nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxConns bounds concurrent connections. Zero means 4.
	MaxConns int
}

// Report is the audit's result; -json prints it as is.
type Report struct {
	// Target is as given; Address is the "ip:port" probed.
	Target  string `json:"target"`
	Address string `json:"address"`
	// SNI is the server name sent, "" for none.
	SNI  string    `json:"sni"`
	Time time.Time `json:"time"`
	// Connections counts the connections the audit opened.
	Connections int64            `json:"connections"`
	Protocols   []ProtocolResult `json:"protocols"`
	// Suites are per offered protocol, newest first.
	Suites       []ProtocolSuites `json:"suites"`
	KeyExchange  KeyExchange      `json:"key_exchange"`
	Features     Features         `json:"features"`
	Certificates []*CertInfo      `json:"certificates"`
	ClientAuth   ClientAuth       `json:"client_auth"`
	HTTP         HTTPResult       `json:"http"`
	Findings     []Finding        `json:"findings"`
	Rating       Rating           `json:"rating"`
}

// KeyExchange summarises the key exchange options.
type KeyExchange struct {
	// Groups are the accepted groups.
	Groups []Group `json:"groups"`
	// PreferredGroup is the TLS 1.3 group the server picks when offered all.
	PreferredGroup string `json:"preferred_group,omitempty"`
	// DHE is the measured DHE prime; nil when no DHE suite is accepted.
	DHE *DHParams `json:"dhe"`
	// StaticRSA reports suites with RSA key exchange (no forward secrecy).
	StaticRSA bool `json:"static_rsa"`
}

// Features are the protocol features tested.
type Features struct {
	Compression         Check `json:"compression"`
	Heartbeat           Check `json:"heartbeat"`
	Heartbleed          Check `json:"heartbleed"`
	FallbackSCSV        Check `json:"fallback_scsv"`
	SecureRenegotiation Check `json:"secure_renegotiation"`
	SessionIDs          Check `json:"session_ids"`
	SessionTickets      Check `json:"session_tickets"`
	ALPN                Check `json:"alpn"`
}

// auditor is one audit in progress.
type auditor struct {
	p        *prober
	host     string
	port     int
	ip       string
	sni      string
	httpPort int
	roots    *x509.CertPool
	now      time.Time
}

// splitTarget parses HOST[:PORT].
func splitTarget(t string) (host string, port int, err error) {
	if t == "" {
		return "", 0, errors.New("no target given")
	}
	h, p, err := net.SplitHostPort(t)
	if err != nil {
		// No port: a name, an IPv4 address, a bare or bracketed IPv6 address.
		h, p = strings.Trim(t, "[]"), "443"
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("target %q: port %q is not a number in 1..65535", t, p)
	}
	if h == "" {
		return "", 0, fmt.Errorf("target %q has no host", t)
	}
	return h, port, nil
}

func newAuditor(ctx context.Context, o Options) (*auditor, error) {
	host, port, err := splitTarget(o.Target)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ip := host
	if net.ParseIP(host) == nil {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupIPAddr(rctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolving %s: no address", host)
		}
		ip = addrs[0].IP.String()
	}
	a := &auditor{host: host, port: port, ip: ip, sni: o.SNI, roots: o.Roots, httpPort: o.HTTPPort}
	if a.sni == "" && net.ParseIP(host) == nil {
		a.sni = host
	}
	if a.httpPort == 0 {
		a.httpPort = 80
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	a.now = now()
	dial := o.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conns := o.MaxConns
	if conns <= 0 {
		conns = 4
	}
	a.p = &prober{addr: net.JoinHostPort(ip, strconv.Itoa(port)), sni: a.sni, timeout: timeout, dial: dial, sem: make(chan struct{}, conns)}
	return a, nil
}

// Run audits the target. It returns an error only when the target cannot
// be reached at all (bad target, no address, connection refused); a server
// that stalls, resets or answers garbage gets a report saying so.
func Run(ctx context.Context, o Options) (*Report, error) {
	a, err := newAuditor(ctx, o)
	if err != nil {
		return nil, err
	}
	rep := &Report{Target: o.Target, Address: a.p.addr, SNI: a.sni, Time: a.now}
	defer func() { rep.Connections = a.p.conns.Load() }()

	versions := []uint16{VersionSSL2, VersionSSL3, VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13}
	rep.Protocols = make([]ProtocolResult, len(versions))
	var fs []func()
	for i, v := range versions {
		fs = append(fs, func() { rep.Protocols[i] = a.p.probeProtocol(ctx, v) })
	}
	parallel(fs...)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	refused := 0
	var offered []uint16
	for _, pr := range rep.Protocols {
		if pr.err != nil && pr.err.kind == "refused" {
			refused++
		}
		if pr.Offered {
			offered = append(offered, pr.version)
		}
	}
	if refused == len(versions) {
		return nil, fmt.Errorf("connecting to %s: connection refused", a.p.addr)
	}
	if len(offered) == 0 {
		rep.Rating = Rate(Facts{})
		rep.Findings = noTLSFindings(rep.Protocols)
		return rep, nil
	}
	a.audit(ctx, rep, offered)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rep, nil
}

// audit runs everything after protocol detection.
func (a *auditor) audit(ctx context.Context, rep *Report, offered []uint16) {
	var (
		mu        sync.Mutex
		probeErrs []string
	)
	addErr := func(what string, err error) {
		if err != nil {
			mu.Lock()
			defer mu.Unlock()
			probeErrs = append(probeErrs, what+": "+describeErr(err))
		}
	}

	// Suites, per protocol. SSLv2 has no server order to find: its
	// SERVER-HELLO to the protocol probe already named every kind.
	var sslv2Kinds []uint32
	for _, pr := range rep.Protocols {
		if pr.version == VersionSSL2 {
			sslv2Kinds = pr.sslv2Kinds
		}
	}
	suites := map[uint16]ProtocolSuites{}
	results := make([]ProtocolSuites, len(offered))
	errs := make([]error, len(offered))
	var fs []func()
	for i, v := range offered {
		fs = append(fs, func() {
			if v == VersionSSL2 {
				results[i] = sslv2Suites(sslv2Kinds)
				return
			}
			results[i], errs[i] = a.p.enumerate(ctx, v)
		})
	}
	parallel(fs...)
	for i, v := range offered {
		addErr(versionName(v)+" suites", errs[i])
		suites[v] = results[i]
	}
	for i := len(offered) - 1; i >= 0; i-- {
		rep.Suites = append(rep.Suites, suites[offered[i]])
	}

	// The best protocol up to TLS 1.2, where the handshake is in the clear.
	var legacy ProtocolSuites
	for _, v := range []uint16{VersionTLS12, VersionTLS11, VersionTLS10, VersionSSL3} {
		if ps, ok := suites[v]; ok && len(ps.Suites) > 0 {
			legacy = ps
			break
		}
	}
	var dhProto ProtocolSuites
	for _, v := range []uint16{VersionTLS12, VersionTLS11, VersionTLS10, VersionSSL3} {
		if ps, ok := suites[v]; ok && len(suitesWhere(ps, func(r suiteRow) bool { return strings.HasPrefix(r.keyExchange(), "DHE") })) > 0 {
			dhProto = ps
			break
		}
	}

	f := &rep.Features
	var (
		g13, g12   []uint16
		pref13     uint16
		rawChains  [][][]byte
		sess       *session
		dhErr      error
		naLegacy   = na("TLS 1.3 only: no compression, heartbeat or renegotiation in the clear")
		hasLegacy  = len(legacy.Suites) > 0
		tls13Suite = suites[VersionTLS13]
	)
	fs = []func(){
		func() { sess = a.handshake(ctx) },
		func() { rep.ClientAuth = a.probeClientAuth(ctx) },
		func() { f.FallbackSCSV = a.p.probeFallback(ctx, rep.Protocols, suites) },
	}
	if hasLegacy {
		fs = append(fs,
			func() { f.Compression = a.p.probeCompression(ctx, legacy) },
			func() { f.Heartbeat, f.Heartbleed = a.p.probeHeartbeat(ctx, legacy) },
			func() {
				var err error
				g12, err = a.p.probeGroups12(ctx, legacy)
				addErr("TLS ≤ 1.2 groups", err)
			},
			func() {
				var err error
				rawChains, err = a.p.probeCertificates(ctx, legacy)
				addErr("certificates", err)
			})
	} else {
		f.Compression, f.Heartbeat, f.Heartbleed = naLegacy, naLegacy, naLegacy
	}
	if len(tls13Suite.Suites) > 0 {
		fs = append(fs, func() {
			var err error
			g13, pref13, err = a.p.probeGroups13(ctx, tls13Suite)
			addErr("TLS 1.3 groups", err)
		})
	}
	if len(dhProto.Suites) > 0 {
		fs = append(fs, func() { rep.KeyExchange.DHE, dhErr = a.p.probeDHE(ctx, dhProto) })
	}
	parallel(fs...)
	addErr("DHE parameters", dhErr)

	// Renegotiation and session IDs from the protocol probe's ServerHello.
	f.SecureRenegotiation, f.SessionIDs = naLegacy, naLegacy
	if hasLegacy {
		noHello := failed(fmt.Errorf("no %s ServerHello was kept from the protocol probe", legacy.Protocol))
		f.SecureRenegotiation, f.SessionIDs = noHello, noHello
		for _, pr := range rep.Protocols {
			if pr.version == legacy.version && pr.hello != nil {
				h := pr.hello
				if h.has(extRenegotiationInfo) {
					f.SecureRenegotiation = yes("%s ServerHello carries renegotiation_info (RFC 5746)", legacy.Protocol)
				} else {
					f.SecureRenegotiation = no("%s ServerHello lacks renegotiation_info although the client signalled it", legacy.Protocol)
				}
				if len(h.sessionID) > 0 {
					f.SessionIDs = yes("%s ServerHello assigned a %d-byte session ID (resumption by ID not tested)", legacy.Protocol, len(h.sessionID))
				} else {
					f.SessionIDs = no("%s ServerHello assigned no session ID", legacy.Protocol)
				}
			}
		}
	}
	rep.KeyExchange.Groups = mergeGroups(g13, g12, legacy.Protocol)
	if pref13 != 0 {
		rep.KeyExchange.PreferredGroup = groupName(pref13)
	}
	for v, ps := range suites {
		if v != VersionSSL2 && len(suitesWhere(ps, func(r suiteRow) bool { return r.keyExchange() == "RSA" })) > 0 {
			rep.KeyExchange.StaticRSA = true
		}
	}
	if sess.err == nil {
		if sess.alpn != "" {
			f.ALPN = yes("Go's client offering h2 and http/1.1 got %q", sess.alpn)
		} else {
			f.ALPN = no("Go's client offering h2 and http/1.1 got no ALPN protocol")
		}
	} else {
		f.ALPN = failed(fmt.Errorf("go's client could not connect: %w", sess.err))
	}

	// Certificates: Go's view first (with the staple), then any other
	// chain seen in the clear (a second key type).
	name := nameToCheck(a.sni, a.host)
	var primary []*x509.Certificate
	seen := map[string]bool{}
	chains := [][][]byte{}
	staples := [][]byte{}
	if sess.err == nil && len(sess.chain) > 0 {
		chains, staples = append(chains, sess.chain), append(staples, sess.staple)
	}
	for _, c := range rawChains {
		chains, staples = append(chains, c), append(staples, nil)
	}
	for i, c := range chains {
		ci, parsed, err := checkChain(c, name, a.roots, a.now, staples[i])
		if err != nil {
			addErr("certificate chain", err)
			continue
		}
		if seen[ci.SHA256] {
			continue
		}
		seen[ci.SHA256] = true
		if primary == nil {
			primary = parsed
		}
		rep.Certificates = append(rep.Certificates, ci)
	}

	// HTTP: the GET fills the session cache with TLS 1.3 tickets, then
	// resumption is tried; the plain-HTTP check runs alongside.
	var redirect Check
	parallel(
		func() {
			if sess.err == nil {
				rep.HTTP = a.getHTTPS(ctx, sess, primary)
			} else {
				rep.HTTP.Error = "go's client could not connect: " + describeErr(sess.err)
			}
			f.SessionTickets = a.checkResumption(ctx, sess)
		},
		func() { redirect = a.checkRedirect(ctx) },
	)
	rep.HTTP.Redirect = redirect

	rep.Rating = Rate(a.facts(rep, offered))
	rep.Findings = findings(rep, probeErrs)
}

// sslv2Suites lists the SSL 2.0 cipher kinds the server named.
func sslv2Suites(kinds []uint32) ProtocolSuites {
	ps := ProtocolSuites{Protocol: versionName(VersionSSL2), version: VersionSSL2}
	for _, k := range kinds {
		ps.Suites = append(ps.Suites, sslv2Suite(k))
	}
	return ps
}

// mergeGroups lists TLS 1.3 groups and those of legacy (the best protocol
// up to TLS 1.2) together, in table order.
func mergeGroups(g13, g12 []uint16, legacy string) []Group {
	var out []Group
	for _, g := range groups {
		var protos []string
		if slices.Contains(g13, g) {
			protos = append(protos, "TLS 1.3")
		}
		if slices.Contains(g12, g) {
			protos = append(protos, legacy)
		}
		if len(protos) > 0 {
			out = append(out, Group{Name: groupName(g), ID: "0x" + hex16(g), Protocols: protos, Bits: groupTable[g].bits, code: g})
		}
	}
	return out
}
