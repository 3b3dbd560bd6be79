// Package stapling fetches, verifies, caches and refreshes the OCSP
// responses that the TLS handshake staples. It sits beside the request
// path rather than in it: tlsconf asks an Entry for its current staple
// (Entry.Staple, a lock-free load) while answering a ClientHello, and
// background loops here keep those staples fresh from the responders named
// in the certificates (RFC 6960, RFC 5019), caching good responses on disk
// so that a restart or reload staples at once even while a responder is down.
//
// A staple is served only while it is a verified Good response for exactly
// that certificate and issuer whose NextUpdate has not passed; a Revoked
// answer withdraws it at once.
//
// Checker applies the same verification to client certificates during the
// handshake (tlsconf's ClientAuth.OCSP), with an in-memory cache.
package stapling

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// defaultTimeout bounds one fetch when Options.Timeout is zero.
const defaultTimeout = 10 * time.Second

// maxWait is the longest a refresh loop sleeps before it looks at the clock
// again; it keeps schedules honest across a suspended machine or a clock step.
const maxWait = 10 * time.Minute

// Options configure a Stapler. The zero value is usable: no disk cache,
// 10 s fetches, no overrides, no logging.
type Options struct {
	// StateDir is the folder holding the disk cache of good responses, one
	// file per certificate. New creates it with mode 0700 when missing
	// (except Offline). Empty means no disk cache.
	StateDir string
	// Timeout bounds each fetch: connecting, sending the request and reading
	// the whole response. Zero means 10 s.
	Timeout time.Duration
	// Overrides maps a responder URL exactly as written in a certificate to
	// the absolute http(s) URL to ask instead (an internal mirror, say). Nil
	// means none; an empty value is ignored.
	Overrides map[string]string
	// Client performs the fetches; Timeout applies to it through the request
	// context. Nil means a private client whose transport is a clone of
	// http.DefaultTransport: it honours HTTP_PROXY/NO_PROXY from the
	// environment (set them in the service unit when responders are only
	// reachable through a proxy) and follows up to 10 redirects.
	Client *http.Client
	// Logger receives one line per fetch outcome, state changes while a
	// responder is down, and an hourly reminder. The zero Logger discards.
	Logger zerolog.Logger
	// Now is the clock. Nil means time.Now. Tests inject a fake clock.
	Now func() time.Time
	// Rand returns a number in [0, 1) that spreads refreshes (jitter).
	// Nil means math/rand/v2.Float64.
	Rand func() float64
	// Offline loads and verifies the disk cache only: nothing is fetched,
	// nothing written, Start and Prefetch return at once. For `tlsfront -t`.
	Offline bool
}

// Stapler holds one Entry per served certificate and the loops that keep
// their staples fresh. Build one with New, Add every certificate, then
// Start it; on reload build a new one on the same StateDir (its Add loads
// still-valid responses from disk, so there is no gap), swap, and Close the
// old one.
type Stapler struct {
	opts    Options
	client  *http.Client
	ownsCli bool
	timeout time.Duration
	log     zerolog.Logger

	mu      sync.Mutex
	entries []*Entry
	started bool
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
}

// New returns a Stapler with opts. It fails only when StateDir cannot be
// created.
func New(opts Options) (*Stapler, error) {
	s := &Stapler{
		opts:    opts,
		client:  opts.Client,
		timeout: opts.Timeout,
		log:     opts.Logger,
		done:    make(chan struct{}),
	}
	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	if s.client == nil {
		s.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		s.ownsCli = true
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.Rand == nil {
		s.opts.Rand = rand.Float64
	}
	if opts.StateDir != "" && !opts.Offline {
		if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating OCSP state dir: %w", err)
		}
	}
	return s, nil
}

func (s *Stapler) now() time.Time { return s.opts.Now() }

// rand returns a jitter factor in [0, 1), clamped in case an injected
// source strays.
func (s *Stapler) rand() float64 {
	return min(max(s.opts.Rand(), 0), 1)
}

// Entry is one certificate's stapling state. Its methods are safe for
// concurrent use.
type Entry struct {
	s          *Stapler
	name       string
	leaf       *x509.Certificate
	issuer     *x509.Certificate
	certURL    string // responder URL as written in the certificate
	responder  string // URL actually asked (after Overrides)
	mustStaple bool
	cachePath  string // "" = no disk cache
	fetchable  bool   // has a URL and a matching issuer, not Offline

	held      atomic.Pointer[held]
	first     chan struct{} // closed after the first fetch attempt
	firstOnce sync.Once

	mu       sync.Mutex // guards the fields below
	state    string
	lastErr  string
	failures int       // consecutive failed attempts
	lastLog  time.Time // last failure line, for the hourly reminder
	onDisk   bool      // the disk cache holds the held response
	next     time.Time // next attempt
}

// held is a verified Good response ready to staple.
type held struct {
	der        []byte
	thisUpdate time.Time
	nextUpdate time.Time
}

// Staple returns the DER OCSP response to staple for this certificate, or
// nil when there is none: no responder, not fetched yet, revoked, or the
// last good response's NextUpdate has passed (checked against the clock on
// every call). It is a lock-free load, cheap enough for every handshake.
// The caller must not modify the returned bytes.
func (e *Entry) Staple() []byte {
	h := e.held.Load()
	if h == nil || !e.s.now().Before(h.nextUpdate) {
		return nil
	}
	return h.der
}

// Name returns the name given to Add.
func (e *Entry) Name() string { return e.name }

// Add registers a certificate chain, leaf first. issuer may be nil: then
// chain[1] is the issuer. name appears in logs and Status (for example the
// site's first name and the key type). A still-valid response in the disk
// cache is verified and served at once. Add may be called after Start.
func (s *Stapler) Add(name string, chain []*x509.Certificate, issuer *x509.Certificate) *Entry {
	e := &Entry{s: s, name: name, first: make(chan struct{}), state: StatePending}
	log := s.log.With().Str("cert", name).Logger()
	if len(chain) == 0 || chain[0] == nil {
		e.state = StateNoIssuer
		e.lastErr = "no certificate given"
		log.Error().Msg("OCSP stapling: no certificate given; not stapling")
		e.markFirst()
		return s.register(e)
	}
	e.leaf = chain[0]
	e.mustStaple = hasMustStaple(e.leaf)
	if issuer == nil && len(chain) > 1 {
		issuer = chain[1]
	}
	e.issuer = issuer
	e.certURL = responderURL(e.leaf)
	e.responder = e.certURL
	if o := s.opts.Overrides[e.certURL]; o != "" && e.certURL != "" {
		e.responder = o
	}
	switch {
	case e.certURL == "":
		e.state = StateNoURL
		log.Info().Msg("OCSP stapling: certificate names no OCSP responder; not stapling")
	case issuer == nil:
		e.state = StateNoIssuer
		e.lastErr = "issuer certificate missing from chain"
		log.Warn().Msg("OCSP stapling: issuer certificate missing from chain; not stapling")
	default:
		if err := e.leaf.CheckSignatureFrom(issuer); err != nil {
			e.state = StateNoIssuer
			e.lastErr = fmt.Sprintf("issuer did not sign the certificate: %v", err)
			log.Error().Err(err).Msg("OCSP stapling: issuer did not sign the certificate; not stapling")
			break
		}
		e.fetchable = !s.opts.Offline
		if s.opts.StateDir != "" {
			e.cachePath = filepath.Join(s.opts.StateDir, cacheFileName(e.leaf))
			s.loadCache(e)
		}
	}
	now := s.now()
	e.next = now
	if h := e.held.Load(); h != nil {
		// Refresh a cached response on its own schedule (at once when
		// that has passed), but Prefetch need not wait: the staple is in.
		e.next = s.nextAfterGood(h, now)
		e.markFirst()
	}
	if !e.fetchable {
		e.markFirst()
	}
	return s.register(e)
}

// register appends e and starts its loop when the Stapler is running.
func (s *Stapler) register(e *Entry) *Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = append(s.entries, e)
	if s.started && !s.closed && e.fetchable {
		s.wg.Add(1)
		go s.run(s.ctx, e)
	}
	return e
}

// loadCache serves e's cached response if it still verifies fully.
func (s *Stapler) loadCache(e *Entry) {
	log := s.log.With().Str("cert", e.name).Str("file", e.cachePath).Logger()
	der, err := readCache(e.cachePath)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		log.Warn().Err(err).Msg("OCSP cache unreadable; ignoring it")
		return
	}
	now := s.now()
	resp, err := verifyResponse(der, e.leaf, e.issuer, now)
	if err == nil {
		err = checkCurrent(resp, now)
	}
	if err != nil {
		log.Info().Err(err).Msg("OCSP cache not usable; ignoring it")
		return
	}
	e.held.Store(&held{der: der, thisUpdate: resp.ThisUpdate, nextUpdate: resp.NextUpdate})
	e.state = StateGood
	e.onDisk = true
	log.Info().Time("next_update", resp.NextUpdate).Msg("OCSP response loaded from cache")
}

// markFirst records that e had its first fetch attempt (or needs none).
func (e *Entry) markFirst() { e.firstOnce.Do(func() { close(e.first) }) }

// Start begins one background refresh loop per certificate that has a
// responder. The loops stop when ctx ends or Close is called. Calling it
// again, after Close, or on an Offline Stapler does nothing.
func (s *Stapler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed || s.opts.Offline {
		return
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(ctx)
	for _, e := range s.entries {
		if e.fetchable {
			s.wg.Add(1)
			go s.run(s.ctx, e)
		}
	}
}

// Prefetch waits until every certificate has had its first fetch attempt
// (or served a fresh cached response), ctx ends, or the Stapler is closed,
// so that the caller can delay accepting clients until staples are in. It
// returns ctx's error if ctx ended first. Without Start it waits for ctx.
func (s *Stapler) Prefetch(ctx context.Context) error {
	s.mu.Lock()
	entries := append([]*Entry(nil), s.entries...)
	s.mu.Unlock()
	for _, e := range entries {
		select {
		case <-e.first:
		case <-s.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("waiting for first OCSP fetches: %w", ctx.Err())
		}
	}
	return nil
}

// Close stops all loops and waits for them. Staples already held stay
// readable. It is safe to call more than once.
func (s *Stapler) Close() {
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

// run is e's refresh loop: wait until the next attempt is due by the
// Stapler's clock, refresh, repeat.
func (s *Stapler) run(ctx context.Context, e *Entry) {
	defer s.wg.Done()
	for {
		e.mu.Lock()
		due := e.next
		e.mu.Unlock()
		if d := due.Sub(s.now()); d > 0 {
			t := time.NewTimer(min(d, maxWait))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue // look at the clock again
		}
		if ctx.Err() != nil {
			return
		}
		s.refresh(ctx, e)
	}
}

// responderURL returns the first http(s) OCSP responder URL of leaf, or "".
func responderURL(leaf *x509.Certificate) string {
	for _, u := range leaf.OCSPServer {
		l := strings.ToLower(u)
		if strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
			return u
		}
	}
	return ""
}
