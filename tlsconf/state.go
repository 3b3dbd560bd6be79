package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// Site is one virtual host's names and certificates, as given to New.
type Site struct {
	Names []string
	Certs []*Cert // at least one; ECDSA is preferred where the client supports it

	// ClientAuth, when set with a level other than VerifyNone, asks this
	// site's clients for certificates and verifies them. Nil asks none.
	ClientAuth *ClientAuth
}

// Options configure New.
type Options struct {
	Policy *Policy
	Sites  []Site // the first site answers clients without SNI or with unknown names

	// NextProtos are the ALPN protocols offered; nil means "h2", "http/1.1".
	NextProtos []string

	// SessionTicketsDisabled turns TLS session tickets off.
	SessionTicketsDisabled bool

	// TicketKeys encrypt and decrypt the session tickets of this State's
	// handshakes (the first encrypts, all decrypt: tls.ticket_keys). Nil
	// leaves them to the listener config: its own keys, or Go's automatic
	// ones, rotated daily and kept across States.
	TicketKeys [][32]byte

	// ACME, when set, answers TLS-ALPN-01 challenges (hellos offering
	// only "acme-tls/1") with certmagic's challenge certificate, and adds
	// "acme-tls/1" to the listener config's NextProtos. nil: no ACME, and
	// the handshake path is unchanged.
	ACME *ACME
}

// State is one immutable TLS configuration: policy, sites and the
// per-ClientHello configs derived from them. A reload builds a new State and
// swaps it into a Holder.
type State struct {
	policy *Policy
	sites  []*siteState
	exact  map[string]int
	wild   map[string]int // "example.com" for "*.example.com"
	base   *tls.Config

	// ACME (see Options.ACME): the config for TLS-ALPN-01 challenge
	// hellos, nil without ACME; and the listener's NextProtos.
	acmeChallenge  *tls.Config
	listenerProtos []string
}

type siteState struct {
	names  []string
	certs  []*Cert
	client *clientVerifier // nil: no client certificates
	tls13  []*tls.Config   // per cert: TLS 1.3 hellos (Go chooses the suite)
	plan   []choice        // TLS ≤ 1.2: server order over (suite, cert)
	any    *tls.Config     // fallback: every cert and suite, Go decides
}

// choice is one step of the server's order: a suite and a certificate it
// fits, with the config narrowed to exactly that pair.
type choice struct {
	suite uint16
	info  suite
	cert  *Cert
	cfg   *tls.Config
}

// New builds a State. It fails when a site has no certificate.
func New(opts Options) (*State, error) {
	if opts.Policy == nil {
		return nil, errors.New("no TLS policy")
	}
	if len(opts.Sites) == 0 {
		return nil, errors.New("no sites")
	}
	protos := opts.NextProtos
	if protos == nil {
		protos = []string{"h2", "http/1.1"}
	}
	base := &tls.Config{
		MinVersion:       opts.Policy.MinVersion,
		MaxVersion:       tls.VersionTLS13,
		CipherSuites:     opts.Policy.Suites,
		CurvePreferences: Groups,
		NextProtos:       protos,

		SessionTicketsDisabled: opts.SessionTicketsDisabled,
	}
	if len(opts.TicketKeys) > 0 {
		base.SetSessionTicketKeys(opts.TicketKeys) // every per-hello config is a clone of base: crypto/tls prefers its keys
	}
	st := &State{policy: opts.Policy, base: base, exact: map[string]int{}, wild: map[string]int{}, listenerProtos: protos}
	if opts.ACME != nil {
		st.acmeChallenge = opts.ACME.challengeConfig(base)
		st.listenerProtos = append(append([]string(nil), protos...), acmeTLS1)
	}
	for i, s := range opts.Sites {
		if len(s.Certs) == 0 {
			return nil, fmt.Errorf("site %q has no certificate", strings.Join(s.Names, ", "))
		}
		for _, n := range s.Names {
			n = strings.ToLower(n)
			if d, ok := strings.CutPrefix(n, "*."); ok {
				st.wild[d] = i
			} else {
				st.exact[n] = i
			}
		}
		var cv *clientVerifier
		if s.ClientAuth != nil {
			var err error
			if cv, err = newClientVerifier(*s.ClientAuth); err != nil {
				return nil, fmt.Errorf("site %q: %w", strings.Join(s.Names, ", "), err)
			}
		}
		st.sites = append(st.sites, st.buildSite(s, cv))
	}
	return st, nil
}

func (st *State) buildSite(s Site, cv *clientVerifier) *siteState {
	ss := &siteState{names: s.Names, client: cv}
	// ECDSA first: it is cheaper and preferred where both fit.
	for _, c := range s.Certs {
		if c.IsECDSA() {
			ss.certs = append(ss.certs, c)
		}
	}
	for _, c := range s.Certs {
		if !c.IsECDSA() {
			ss.certs = append(ss.certs, c)
		}
	}
	for _, c := range ss.certs {
		ss.tls13 = append(ss.tls13, st.narrow(c, st.base.CipherSuites, cv))
	}
	for _, id := range st.policy.Suites {
		info := suiteInfo(id)
		for _, c := range ss.certs {
			if info.ecdsa != c.IsECDSA() {
				continue // ECDSA suites need an ECDSA (or Ed25519) key, the others RSA
			}
			ss.plan = append(ss.plan, choice{suite: id, info: info, cert: c, cfg: st.narrow(c, []uint16{id}, cv)})
		}
	}
	anyCfg := st.base.Clone()
	cv.apply(anyCfg)
	certs := ss.certs
	anyCfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		for _, c := range certs {
			if cert, _ := c.certFor(hello); cert != nil && hello.SupportsCertificate(cert) == nil {
				return cert, nil
			}
		}
		return certs[0].certFor(hello) // an ACME certificate not issued yet: its error
	}
	ss.any = anyCfg
	return ss
}

// narrow returns a copy of the base config serving only c with suites,
// asking for client certificates as cv says (nil: none).
func (st *State) narrow(c *Cert, suites []uint16, cv *clientVerifier) *tls.Config {
	cfg := st.base.Clone()
	cfg.CipherSuites = suites
	cfg.GetCertificate = c.certFor
	cv.apply(cfg)
	return cfg
}

// Site returns the index of the site serving name (an SNI or Host value
// without port): exact match, then one-label wildcard, else the first site.
// known reports whether a site names it.
func (st *State) Site(name string) (index int, known bool) {
	if name == "" {
		return 0, false
	}
	name = strings.TrimSuffix(name, ".")
	if i, ok := st.exact[name]; ok {
		return i, true
	}
	lower := strings.ToLower(name)
	if i, ok := st.exact[lower]; ok {
		return i, true
	}
	if _, rest, ok := strings.Cut(lower, "."); ok {
		if i, ok := st.wild[rest]; ok {
			return i, true
		}
	}
	return 0, false
}

// Policy returns the policy the State enforces.
func (st *State) Policy() *Policy { return st.policy }

// ConfigForClient picks the config for one ClientHello. For TLS 1.3 it picks
// the certificate; for TLS ≤ 1.2 it walks the server's order and returns the
// config narrowed to the first suite the client offers that fits one of the
// site's certificates, which is how the server's order is enforced although
// Go ignores the order of CipherSuites. MaxVersion is never lowered, so
// TLS_FALLBACK_SCSV keeps working.
func (st *State) ConfigForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if st.acmeChallenge != nil && isACMEChallenge(hello) {
		return st.acmeChallenge, nil
	}
	i, _ := st.Site(hello.ServerName)
	ss := st.sites[i]
	vers := st.mutualVersion(hello.SupportedVersions)
	if vers == 0 {
		return ss.any, nil // Go sends the protocol_version alert
	}
	if vers == tls.VersionTLS13 {
		for j, c := range ss.certs {
			if fits13(hello, c) {
				return ss.tls13[j], nil
			}
		}
		return ss.tls13[len(ss.tls13)-1], nil
	}
	for k := range ss.plan {
		ch := &ss.plan[k]
		if vers < tls.VersionTLS12 && !ch.info.pre12 {
			continue
		}
		if !offers(hello.CipherSuites, ch.suite) || !fits12(hello, ch.cert, ch.info, vers) {
			continue
		}
		return ch.cfg, nil
	}
	return ss.any, nil
}

func (st *State) mutualVersion(client []uint16) uint16 {
	var best uint16
	for _, v := range client {
		if v >= st.policy.MinVersion && v <= tls.VersionTLS13 && v > best {
			best = v
		}
	}
	return best
}

func offers(list []uint16, id uint16) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}

// fits13 reports whether a TLS 1.3 client can verify a signature by c.
func fits13(hello *tls.ClientHelloInfo, c *Cert) bool {
	for _, s := range hello.SignatureSchemes {
		if schemeFits(s, c, tls.VersionTLS13) {
			return true
		}
	}
	return false
}

// fits12 reports whether a TLS ≤ 1.2 client can use suite info with c.
func fits12(hello *tls.ClientHelloInfo, c *Cert, info suite, vers uint16) bool {
	if !info.ecdhe {
		return true // static RSA: the client encrypts to the key
	}
	if !hasGroup(hello.SupportedCurves) {
		return false
	}
	if info.ecdsa {
		if pub, ok := c.publicKey().(*ecdsa.PublicKey); ok && !offersCurve(hello.SupportedCurves, pub.Curve) {
			return false
		}
	}
	if vers < tls.VersionTLS12 || len(hello.SignatureSchemes) == 0 {
		return true
	}
	for _, s := range hello.SignatureSchemes {
		if schemeFits(s, c, vers) {
			return true
		}
	}
	return false
}

func hasGroup(client []tls.CurveID) bool {
	for _, c := range client {
		for _, g := range Groups {
			if c == g && c != tls.X25519MLKEM768 {
				return true
			}
		}
	}
	return false
}

func offersCurve(client []tls.CurveID, curve elliptic.Curve) bool {
	want := map[elliptic.Curve]tls.CurveID{elliptic.P256(): tls.CurveP256, elliptic.P384(): tls.CurveP384, elliptic.P521(): tls.CurveP521}[curve]
	for _, c := range client {
		if c == want {
			return true
		}
	}
	return false
}

// schemeFits reports whether signature scheme s can be made with c's key.
func schemeFits(s tls.SignatureScheme, c *Cert, vers uint16) bool {
	switch pub := c.publicKey().(type) {
	case *ecdsa.PublicKey:
		switch s {
		case tls.ECDSAWithP256AndSHA256:
			return vers < tls.VersionTLS13 || pub.Curve == elliptic.P256()
		case tls.ECDSAWithP384AndSHA384:
			return vers < tls.VersionTLS13 || pub.Curve == elliptic.P384()
		case tls.ECDSAWithP521AndSHA512:
			return vers < tls.VersionTLS13 || pub.Curve == elliptic.P521()
		case tls.ECDSAWithSHA1:
			return vers < tls.VersionTLS13
		}
	case interface{ Size() int }: // *rsa.PublicKey
		switch s {
		case tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512:
			return true
		case tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512, tls.PKCS1WithSHA1:
			return vers < tls.VersionTLS13
		}
	default: // Ed25519
		return s == tls.Ed25519
	}
	return false
}

// ListenerConfig returns the *tls.Config of a listener serving States:
// for each ClientHello, state picks the State (the connection's, or the
// current one) whose per-hello config answers it. Its own session ticket
// keys (SetSessionTicketKeys, or Go's automatic ones) serve the States
// that have no TicketKeys of their own.
func ListenerConfig(state func(*tls.ClientHelloInfo) *State) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS10,
		MaxVersion: tls.VersionTLS13,
		NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			return state(hello).ConfigForClient(hello)
		},
	}
}

// Holder is a listener config serving whichever State was swapped in
// last: Swap changes policy and certificates for new handshakes without
// touching established connections. Session tickets are encrypted with the
// listener config's keys, so they survive swaps.
type Holder struct {
	cur atomic.Pointer[State]
	cfg *tls.Config
}

// NewHolder returns a Holder serving st.
func NewHolder(st *State) *Holder {
	h := &Holder{}
	h.cur.Store(st)
	h.cfg = ListenerConfig(func(*tls.ClientHelloInfo) *State { return h.cur.Load() })
	h.cfg.NextProtos = st.listenerProtos
	return h
}

// Config returns the listener's *tls.Config.
func (h *Holder) Config() *tls.Config { return h.cfg }

// State returns the State serving new handshakes.
func (h *Holder) State() *State { return h.cur.Load() }

// Swap makes st serve every handshake from now on.
func (h *Holder) Swap(st *State) { h.cur.Store(st) }

// NameWarnings returns, per site, the names no certificate of the site covers.
func (st *State) NameWarnings() []string {
	var w []string
	for _, ss := range st.sites {
		for _, n := range ss.names {
			if !coveredByAny(ss.certs, n) {
				w = append(w, fmt.Sprintf("name %q is not covered by any certificate of its site: clients will see a name mismatch", n))
			}
		}
	}
	return w
}

func coveredByAny(certs []*Cert, name string) bool {
	for _, c := range certs {
		if c.acme != nil {
			return true // ACME orders a certificate for each of the site's names
		}
		if covers(c, []string{name}) {
			return true
		}
	}
	return false
}
