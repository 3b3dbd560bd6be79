package crl

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// ErrRevoked is returned by Check for a certificate a current CRL lists.
var ErrRevoked = errors.New("certificate revoked")

// Defaults for Options' zero values.
const (
	defaultTimeout = 10 * time.Second
	defaultMaxURLs = 64
)

// Options configure a Set. The zero value is usable: CRL files only, no
// downloads, no disk cache, no logging.
type Options struct {
	// Fetch downloads CRLs from the http:// distribution points named in
	// the CA certificates given to New (known at once) and in client
	// certificates whose chain verified (learned when first seen).
	Fetch bool
	// StateDir is the folder caching downloaded CRLs, one file per
	// distribution point; New creates it with mode 0700 (except Offline).
	// Empty means no disk cache.
	StateDir string
	// Timeout bounds one download. Zero means 10 s.
	Timeout time.Duration
	// MaxURLs bounds the distribution points learned from client
	// certificates. Zero means 64.
	MaxURLs int
	// Client performs the downloads. Nil means a private client cloned from
	// http.DefaultTransport (HTTP_PROXY/NO_PROXY honoured).
	Client *http.Client
	// Logger receives one line per download outcome and state changes. The
	// zero Logger discards.
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now. Rand returns a number in
	// [0, 1) that spreads refreshes; nil means math/rand/v2.Float64.
	Now  func() time.Time
	Rand func() float64
	// Offline loads files and the disk cache only: nothing is downloaded
	// or written. For `tlsfront -t`.
	Offline bool
}

// Set holds the CRLs one site checks client certificates against. Build
// it with New, add files, Start it; on reload build a new one on the same
// StateDir (cached downloads are loaded again) and Close the old one.
type Set struct {
	opts    Options
	client  *http.Client
	ownsCli bool
	cas     []*x509.Certificate
	log     zerolog.Logger

	files []*held // from CRL files; fixed after New's caller is done adding

	mu      sync.Mutex
	entries map[string]*entry // by URL
	order   []*entry
	learned int
	started bool
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	wg      sync.WaitGroup
}

// New returns a Set for client certificates that chain to cas (the
// site's trusted CA certificates). With Options.Fetch, the distribution
// points of cas are registered at once; Start downloads them.
func New(opts Options, cas []*x509.Certificate) (*Set, error) {
	s := &Set{opts: opts, client: opts.Client, cas: cas, log: opts.Logger, entries: map[string]*entry{}, done: make(chan struct{})}
	if s.opts.Timeout <= 0 {
		s.opts.Timeout = defaultTimeout
	}
	if s.opts.MaxURLs <= 0 {
		s.opts.MaxURLs = defaultMaxURLs
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.Rand == nil {
		s.opts.Rand = rand.Float64
	}
	if s.client == nil {
		s.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		s.ownsCli = true
	}
	if opts.StateDir != "" && !opts.Offline {
		if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating CRL state dir: %w", err)
		}
	}
	if opts.Fetch {
		for _, ca := range cas {
			issuers := parentsOf(ca, cas)
			for _, u := range httpURLs(ca.CRLDistributionPoints) {
				if len(issuers) == 0 {
					s.log.Warn().Str("url", u).Str("ca", ca.Subject.String()).
						Msg("CRL distribution point of a CA certificate whose issuer is not among the trusted CA certificates: its CRL cannot be verified, not fetching it")
					continue
				}
				s.add(u, issuers, false)
			}
		}
	}
	return s, nil
}

// AddFile loads every CRL in the file at path. Call it before the Set is
// used: files are not re-read (a reload builds a new Set).
func (s *Set) AddFile(path string) error {
	rls, err := ReadFile(path)
	if err != nil {
		return err
	}
	for _, rl := range rls {
		s.files = append(s.files, newHeld(rl, path))
	}
	return nil
}

// Files returns the CRLs loaded by AddFile, for `tlsfront -t`.
func (s *Set) Files() []*x509.RevocationList {
	out := make([]*x509.RevocationList, 0, len(s.files))
	for _, h := range s.files {
		out = append(out, h.rl)
	}
	return out
}

// Check reports whether cert, issued by issuer, is revoked according to
// the newest current CRL issuer signed: nil when it is not, an error
// wrapping ErrRevoked when it is, and one wrapping ErrNoCRL when no
// current CRL of issuer is held (none loaded or downloaded, the last one
// expired, or none verifies with issuer's key). With Options.Fetch, the
// first time cert names a distribution point the Set does not know, it is
// downloaded before the answer (bounded by Options.Timeout), and kept
// fresh from then on.
func (s *Set) Check(cert, issuer *x509.Certificate) error {
	h, why := s.best(issuer)
	if h == nil && s.opts.Fetch && s.learn(cert, issuer) {
		h, why = s.best(issuer)
	}
	if h == nil {
		return fmt.Errorf("%w issued by %q: %s", ErrNoCRL, issuer.Subject.String(), why)
	}
	if h.isRevoked(cert.SerialNumber) {
		return fmt.Errorf("%w (CRL of %q from %s)", ErrRevoked, issuer.Subject.String(), h.source)
	}
	return nil
}

// best returns the newest CRL of issuer that verifies and is current, or
// nil and why none is.
func (s *Set) best(issuer *x509.Certificate) (*held, string) {
	now := s.opts.Now()
	var best *held
	why := "none loaded or downloaded"
	consider := func(h *held) {
		if h == nil {
			return
		}
		if err := h.verifiedBy(issuer); err == errIssuerName {
			return // another issuer's CRL
		} else if err != nil {
			why = fmt.Sprintf("%s: %v", h.source, err)
			return
		}
		if err := h.current(now); err != nil {
			why = fmt.Sprintf("%s: %v", h.source, err)
			return
		}
		if best == nil || newer(h.rl, best.rl) {
			best = h
		}
	}
	for _, h := range s.files {
		consider(h)
	}
	s.mu.Lock()
	entries := s.order
	s.mu.Unlock()
	for _, e := range entries {
		consider(e.held.Load())
	}
	if best == nil {
		// Say why the distribution points of this issuer gave nothing.
		for _, e := range entries {
			if msg := e.failureFor(issuer); msg != "" {
				why = e.url + ": " + msg
			}
		}
	}
	return best, why
}

// learn registers the distribution points of cert (issued by issuer, the
// chain verified) that the Set does not know yet, and waits up to the
// download timeout for their first attempt. It reports whether it waited
// for anything.
func (s *Set) learn(cert, issuer *x509.Certificate) bool {
	var wait []*entry
	for _, u := range httpURLs(cert.CRLDistributionPoints) {
		if e := s.add(u, []*x509.Certificate{issuer}, true); e != nil {
			wait = append(wait, e)
		}
	}
	if len(wait) == 0 {
		return false
	}
	t := time.NewTimer(s.opts.Timeout + time.Second)
	defer t.Stop()
	for _, e := range wait {
		select {
		case <-e.first:
		case <-t.C:
			return true
		case <-s.done:
			return true
		}
	}
	return true
}

// Start begins the download loops. They stop when ctx ends or Close is
// called. Calling it again, after Close, or Offline does nothing.
func (s *Set) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed || s.opts.Offline {
		return
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(ctx)
	for _, e := range s.order {
		if e.fetchable {
			s.wg.Add(1)
			go s.run(s.ctx, e)
		}
	}
}

// Prefetch waits until every distribution point known so far has had its
// first download attempt (or a current CRL came from the disk cache), ctx
// ends, or the Set is closed.
func (s *Set) Prefetch(ctx context.Context) error {
	s.mu.Lock()
	entries := append([]*entry(nil), s.order...)
	s.mu.Unlock()
	for _, e := range entries {
		select {
		case <-e.first:
		case <-s.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("waiting for first CRL downloads: %w", ctx.Err())
		}
	}
	return nil
}

// Close stops the download loops and waits for them. It is safe to call
// more than once.
func (s *Set) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.ownsCli {
		s.client.CloseIdleConnections()
	}
}

// Status describes one CRL held, for metrics and `tlsfront -t`.
type Status struct {
	Issuer     string    // the CRL issuer's name (RFC 2253)
	Source     string    // file path or distribution point URL
	ThisUpdate time.Time // zero when no CRL was obtained from Source yet
	NextUpdate time.Time // zero when the CRL has none
	State      string    // "file", or a download state (see the State constants)
	LastError  string    // why the last download failed; "" when it did not
}

// Status returns one line per CRL file entry and per distribution point.
func (s *Set) Status() []Status {
	var out []Status
	for _, h := range s.files {
		out = append(out, Status{Issuer: issuerName(h.rl), Source: h.source, ThisUpdate: h.rl.ThisUpdate, NextUpdate: h.rl.NextUpdate, State: "file"})
	}
	s.mu.Lock()
	entries := append([]*entry(nil), s.order...)
	s.mu.Unlock()
	for _, e := range entries {
		out = append(out, e.status())
	}
	return out
}

func issuerName(rl *x509.RevocationList) string {
	return rl.Issuer.String()
}

// parentsOf returns the certificates in cas that issued c.
func parentsOf(c *x509.Certificate, cas []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, p := range cas {
		if string(p.RawSubject) == string(c.RawIssuer) && c.CheckSignatureFrom(p) == nil {
			out = append(out, p)
		}
	}
	return out
}

// httpURLs returns the http:// and https:// URLs of points; ldap:// and
// other schemes are not downloaded.
func httpURLs(points []string) []string {
	var out []string
	for _, u := range points {
		if l := strings.ToLower(u); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
			out = append(out, u)
		}
	}
	return out
}
