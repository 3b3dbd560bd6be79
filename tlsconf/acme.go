package tlsconf

// ACME: automatic certificates through certmagic, strictly contained. The
// ACME type owns its own certmagic Cache, Config and ACMEIssuer (never
// certmagic.NewDefault, HTTPS or the package-level Default* values), keeps
// its files under StorageDir, logs through our zerolog, and leaves OCSP to
// the stapling package. Our *tls.Config stays ours: an ACME site is a Site
// whose Cert (from ACME.Cert) asks certmagic's cache at each handshake, and
// State answers TLS-ALPN-01 challenge hellos with certmagic's challenge
// certificate (see Options.ACME).

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/rs/zerolog"
)

// acmeTLS1 is the ALPN protocol of TLS-ALPN-01 challenges (RFC 8737).
const acmeTLS1 = "acme-tls/1"

// Challenge types accepted in ACMEOptions.Challenges.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// ACME certificate states reported by ACME.Status.
const (
	ACMEPending = "pending" // no certificate yet; being ordered (or not tried yet)
	ACMEValid   = "valid"   // a certificate is served (or stored, before Manage)
	ACMEExpired = "expired" // the certificate there is has expired; renewal is retried
	ACMEFailed  = "failed"  // no certificate, and the last order failed (LastError)
)

// acmeKeyTypes maps ACMEOptions.KeyType to certmagic's key types.
var acmeKeyTypes = map[string]certmagic.KeyType{
	"ecdsa256": certmagic.P256,
	"rsa2048":  certmagic.RSA2048,
}

// ACMEOptions configure NewACME.
type ACMEOptions struct {
	// Email is the ACME account's contact; "" registers without one.
	Email string
	// CA is the ACME directory URL; "" is Let's Encrypt production.
	CA string
	// CARoot is a PEM file of the roots trusted for the CA's HTTPS API
	// (private CAs such as step-ca, or Pebble); "" trusts the system roots.
	CARoot string
	// AgreeTOS must be true: ordering a certificate accepts the CA's
	// subscriber agreement, which certmagic would otherwise do silently.
	AgreeTOS bool
	// KeyType is the certificates' key: "ecdsa256" ("" means this) or
	// "rsa2048". The suite plan relies on it, so a stored certificate of
	// another type is never served and is replaced by a new order.
	KeyType string
	// Challenges are the challenge types offered: "http-01" (answered by
	// HandleHTTPChallenge on the http listener) and "tls-alpn-01"
	// (answered by State on the https listener). nil means both, minus
	// http-01 when HTTPAddr is "".
	Challenges []string
	// HTTPAddr and HTTPSAddr are where tlsfront's plain and TLS listeners
	// are bound (host:port, the listeners' Addr().String()). certmagic
	// tries to bind the challenge port itself and stands back when it is
	// taken, so these must be our bound listeners: call Manage only once
	// they are listening. HTTPAddr "" means no http listener (no http-01);
	// HTTPSAddr is required for tls-alpn-01.
	HTTPAddr, HTTPSAddr string
	// StorageDir holds the account, keys and certificates (state_dir/acme);
	// required.
	StorageDir string
	// Logger receives certmagic's logs (its info level as our debug) and
	// one line per order outcome. The zero Logger discards.
	Logger zerolog.Logger
	// Staple, when set, is called once for each certificate ACME starts
	// serving, in a goroutine of its own, with a label and the chain (leaf
	// first); it returns the source of that certificate's OCSP staple (nil
	// for none). nil: no stapling of ACME certificates.
	Staple func(label string, chain []*x509.Certificate) func() []byte
	// Now is the clock for Status; nil means time.Now.
	Now func() time.Time
}

// ACME obtains and renews certificates for ACME sites, in the background,
// and hands them to handshakes. Build one per configuration; Close it when
// a reload replaced it.
type ACME struct {
	opts   ACMEOptions
	log    zerolog.Logger
	ecdsa  bool             // KeyType is ECDSA
	shape  crypto.PublicKey // a public key of KeyType, for the suite plan
	cache  *certmagic.Cache
	cfg    *certmagic.Config
	issuer *certmagic.ACMEIssuer

	ctx    context.Context // ended by Close: stops orders, retries, renewals
	cancel context.CancelFunc
	wg     sync.WaitGroup // our goroutines (forced renewals, staple hooks)
	once   sync.Once

	servedBy sync.Map // certmagic certificate hash -> *Cert (with its staple)

	mu      sync.Mutex
	lastErr map[string]string // name -> last failed order or renewal, until a success
	managed map[string]bool   // names given to Manage
	closed  bool              // Close began: start no more goroutines
}

// NewACME checks opts and builds the certmagic machinery without touching
// the network: nothing is ordered before Manage.
func NewACME(opts ACMEOptions) (*ACME, error) {
	if !opts.AgreeTOS {
		return nil, errors.New("acme: agree_tos must be true: ordering certificates accepts the CA's subscriber agreement")
	}
	if opts.StorageDir == "" {
		return nil, errors.New("acme: no storage directory")
	}
	if opts.KeyType == "" {
		opts.KeyType = "ecdsa256"
	}
	kt, ok := acmeKeyTypes[opts.KeyType]
	if !ok {
		return nil, fmt.Errorf(`acme: key type %q is not supported (want "ecdsa256" or "rsa2048")`, opts.KeyType)
	}
	httpPort, tlsPort, host, err := challengePorts(&opts)
	if err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if opts.CARoot != "" {
		pemBytes, err := os.ReadFile(opts.CARoot)
		if err != nil {
			return nil, fmt.Errorf("acme: reading ca_root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("acme: ca_root %s holds no PEM certificate", opts.CARoot)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &ACME{
		opts: opts, log: opts.Logger, ecdsa: kt == certmagic.P256,
		lastErr: map[string]string{}, managed: map[string]bool{},
	}
	a.shape = &rsa.PublicKey{}
	if a.ecdsa {
		a.shape = &ecdsa.PublicKey{Curve: elliptic.P256()}
	}
	zl := newZapLogger(opts.Logger)
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return a.cfg, nil },
		Logger:           zl,
	})
	// Every field certmagic.New would fill from certmagic.Default is set
	// here, so the package-level defaults never reach this Config.
	a.cfg = certmagic.New(a.cache, certmagic.Config{
		RenewalWindowRatio: certmagic.DefaultRenewalWindowRatio,
		OnEvent:            a.onEvent,
		Issuers:            []certmagic.Issuer{}, // set below; empty, not nil, so no default issuer is made
		KeySource:          certmagic.StandardKeyGenerator{KeyType: kt},
		OCSP:               certmagic.OCSPConfig{DisableStapling: true}, // the stapling package staples
		Storage:            &certmagic.FileStorage{Path: opts.StorageDir},
		Logger:             zl,
	})
	ca := opts.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	a.issuer = certmagic.NewACMEIssuer(a.cfg, certmagic.ACMEIssuer{
		CA:                      ca,
		Email:                   opts.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    httpPort == 0,
		DisableTLSALPNChallenge: tlsPort == 0,
		ListenHost:              host,
		AltHTTPPort:             httpPort,
		AltTLSALPNPort:          tlsPort,
		TrustedRoots:            roots,
		Logger:                  zl,
	})
	a.cfg.Issuers = []certmagic.Issuer{a.issuer}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a, nil
}

// challengePorts resolves opts.Challenges against the listeners: the ports
// certmagic must find taken (0 disables that challenge) and the host.
func challengePorts(opts *ACMEOptions) (httpPort, tlsPort int, host string, err error) {
	want := map[string]bool{}
	if opts.Challenges == nil {
		want[ChallengeTLSALPN01] = true
		want[ChallengeHTTP01] = opts.HTTPAddr != ""
	}
	for _, c := range opts.Challenges {
		if c != ChallengeHTTP01 && c != ChallengeTLSALPN01 {
			return 0, 0, "", fmt.Errorf(`acme: challenge %q is not supported (want "http-01" or "tls-alpn-01")`, c)
		}
		want[c] = true
	}
	if !want[ChallengeHTTP01] && !want[ChallengeTLSALPN01] {
		return 0, 0, "", errors.New("acme: no challenge type enabled")
	}
	port := func(kind, addr string) (int, string, error) {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return 0, "", fmt.Errorf("acme: %s needs the %s listener's address: %w", kind, map[string]string{ChallengeHTTP01: "http", ChallengeTLSALPN01: "https"}[kind], err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return 0, "", fmt.Errorf("acme: %s: listener address %q has no usable port", kind, addr)
		}
		return n, h, nil
	}
	if want[ChallengeHTTP01] {
		if httpPort, host, err = port(ChallengeHTTP01, opts.HTTPAddr); err != nil {
			return 0, 0, "", err
		}
	}
	if want[ChallengeTLSALPN01] {
		if tlsPort, host, err = port(ChallengeTLSALPN01, opts.HTTPSAddr); err != nil {
			return 0, 0, "", err
		}
	}
	return httpPort, tlsPort, host, nil
}

// Manage starts obtaining (or loading from storage) and renewing the
// certificates for names, one per name, in the background: it never
// blocks serving, and a failed order is retried with certmagic's backoff
// while other sites serve. Renewal needs no reload. It fails only for
// names ACME cannot order (wildcards, empty). Work stops at Close or when
// ctx ends.
func (a *ACME) Manage(ctx context.Context, names []string) error {
	norm := make([]string, 0, len(names))
	for _, n := range names {
		n = normalizeName(n)
		switch {
		case n == "":
			return errors.New("acme: empty name")
		case strings.Contains(n, "*"):
			return fmt.Errorf("acme: %q: wildcard names need the dns-01 challenge, which tlsfront does not offer", n)
		case !certmagic.SubjectQualifiesForCert(n):
			return fmt.Errorf("acme: %q is not a name a certificate can be ordered for", n)
		}
		norm = append(norm, n)
	}
	mctx, cancel := context.WithCancel(a.ctx)
	context.AfterFunc(ctx, cancel)
	var plain []string
	for _, n := range norm {
		a.mu.Lock()
		again := a.managed[n]
		a.managed[n] = true
		a.mu.Unlock()
		if again {
			continue // certmagic maintains it already
		}
		if have := a.storedKeyType(n); have != "" && have != a.opts.KeyType {
			a.log.Warn().Str("name", n).Str("stored", have).Str("key_type", a.opts.KeyType).
				Msg("ACME: stored certificate has another key type; ordering a new one")
			a.goBackground(func() {
				// Forced renewal with a new key of KeyType, retried with
				// backoff (failures reach onEvent); then manage as usual.
				if err := a.cfg.RenewCertAsync(mctx, n, true); err == nil {
					_ = a.cfg.ManageAsync(mctx, []string{n})
				}
			})
			continue
		}
		plain = append(plain, n)
	}
	if err := a.cfg.ManageAsync(mctx, plain); err != nil {
		return fmt.Errorf("acme: %w", err)
	}
	return nil
}

// Cert returns the certificate of an ACME site with names, for Site.Certs:
// each handshake gets certmagic's current certificate for the hello's name
// (the first name when the hello names none of them). Until one is issued
// handshakes for the site fail with an internal_error alert and an error
// saying so in the server's log: there is no self-signed stand-in, which
// HSTS would make impossible to click through anyway.
func (a *ACME) Cert(names []string) *Cert {
	ac := &acmeCert{a: a}
	for _, n := range names {
		ac.names = append(ac.names, normalizeName(n))
	}
	kt := "ECDSA P-256"
	if !a.ecdsa {
		kt = "RSA 2048"
	}
	return &Cert{KeyType: kt, acme: ac}
}

// HandleHTTPChallenge answers r when it is an ACME HTTP-01 challenge for a
// token this ACME (or another instance on the same storage) is presenting,
// and reports whether it did. The http listener calls it before
// redirecting to HTTPS.
func (a *ACME) HandleHTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	if a == nil || !certmagic.LooksLikeHTTPChallenge(r) {
		return false
	}
	return a.issuer.HandleHTTPChallenge(w, r)
}

// ACMEStatus is one name's certificate state, for -t and logs.
type ACMEStatus struct {
	Name     string
	State    string    // ACMEPending, ACMEValid, ACMEExpired or ACMEFailed
	NotAfter time.Time // of the certificate served or stored; zero when none
	// LastError is the last failed order or renewal since the last
	// success, "" when none (a valid certificate may have one: renewal
	// failing).
	LastError string
}

// Status reports each name's state: once Manage was called for it, from
// the certificate served; before (as for -t), from storage, which it only
// reads.
func (a *ACME) Status(names []string) []ACMEStatus {
	now := a.opts.Now()
	var out []ACMEStatus
	for _, n := range names {
		n = normalizeName(n)
		s := ACMEStatus{Name: n, State: ACMEPending}
		a.mu.Lock()
		lastErr, managed := a.lastErr[n], a.managed[n]
		a.mu.Unlock()
		s.LastError = lastErr
		var leaf *x509.Certificate
		if c := a.lookup(n); c != nil {
			leaf = c.Leaf()
		} else if !managed {
			leaf = a.storedUsable(n)
		}
		switch {
		case leaf != nil && now.After(leaf.NotAfter):
			s.State, s.NotAfter = ACMEExpired, leaf.NotAfter
		case leaf != nil:
			s.State, s.NotAfter = ACMEValid, leaf.NotAfter
		case s.LastError != "":
			s.State = ACMEFailed
		}
		out = append(out, s)
	}
	return out
}

// Close stops orders, retries and renewals and waits for ACME's own
// goroutines. Certificates already handed out stay usable. It is safe to
// call more than once.
func (a *ACME) Close() {
	a.once.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		a.cancel()
		a.wg.Wait()
		a.cache.Stop()
	})
}

// goBackground runs f in a goroutine Close waits for, unless Close began.
func (a *ACME) goBackground(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// onEvent records order outcomes for Status and logs them. certmagic
// calls it synchronously.
func (a *ACME) onEvent(_ context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	switch event {
	case "cert_obtaining":
		a.log.Info().Str("name", name).Bool("renewal", renewal).Msg("ACME: ordering certificate")
	case "cert_obtained":
		a.mu.Lock()
		delete(a.lastErr, name)
		a.mu.Unlock()
		a.log.Info().Str("name", name).Bool("renewal", renewal).Msg("ACME: certificate obtained")
	case "cert_failed":
		err, _ := data["error"].(error)
		msg := "unknown error"
		if err != nil {
			msg = err.Error()
		}
		a.mu.Lock()
		a.lastErr[name] = msg
		a.mu.Unlock()
		a.log.Error().Str("name", name).Bool("renewal", renewal).Str("error", msg).
			Msg("ACME: ordering certificate failed; retrying later")
	}
	return nil
}

// storedLeaf reads name's certificate from certmagic's storage (it only
// reads), nil when there is none.
func (a *ACME) storedLeaf(name string) *x509.Certificate {
	data, err := a.cfg.Storage.Load(a.ctx, certmagic.StorageKeys.SiteCert(a.issuer.IssuerKey(), name))
	if err != nil {
		return nil
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	return leaf
}

// storedUsable is storedLeaf restricted to the configured key type.
func (a *ACME) storedUsable(name string) *x509.Certificate {
	if leaf := a.storedLeaf(name); leaf != nil && isECDSAKey(leaf.PublicKey) == a.ecdsa {
		return leaf
	}
	return nil
}

// storedKeyType returns the KeyType name of name's stored certificate
// ("ecdsa256", "rsa2048", "other"), "" when none is stored.
func (a *ACME) storedKeyType(name string) string {
	leaf := a.storedLeaf(name)
	if leaf == nil {
		return ""
	}
	switch p := leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return "ecdsa256"
		}
	case *rsa.PublicKey:
		if p.N.BitLen() == 2048 {
			return "rsa2048"
		}
	}
	return "other"
}
