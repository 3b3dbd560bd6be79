package crl

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Download states, the values of Status.State for distribution points.
const (
	StatePending = "pending" // no CRL yet: not downloaded, or Offline without a cache
	StateGood    = "good"    // a verified current CRL is held
	StateFailing = "failing" // the last download failed or was refused; the last good CRL (if any) is still used
	StateExpired = "expired" // downloads fail and the last good CRL's nextUpdate passed: none is used
)

// Refresh schedule.
const (
	minRefresh   = time.Minute      // shortest wait after a good CRL
	noNextUpdate = time.Hour        // refresh period of a CRL without nextUpdate
	minBackoff   = time.Minute      // first wait after a failure, doubling ...
	maxBackoff   = time.Hour        // ... up to this
	remindEvery  = time.Hour        // a persisting failure is logged again this often
	maxWait      = 10 * time.Minute // longest sleep before looking at the clock again
)

// entry is one distribution point: its URL, the certificates that may
// sign its CRL, and the last good CRL downloaded from it.
type entry struct {
	s         *Set
	url       string
	learned   bool   // from a client certificate, not a CA certificate
	cachePath string // "" = no disk cache
	fetchable bool

	held      atomic.Pointer[held]
	first     chan struct{} // closed after the first attempt (or a current cached CRL)
	firstOnce sync.Once

	mu       sync.Mutex // guards the fields below
	issuers  []*x509.Certificate
	state    string
	lastErr  string
	failures int
	lastLog  time.Time
	next     time.Time
}

func (e *entry) markFirst() { e.firstOnce.Do(func() { close(e.first) }) }

// failureFor returns the last download error of e when its CRL is one
// issuer signs, else "".
func (e *entry) failureFor(issuer *x509.Certificate) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, is := range e.issuers {
		if string(is.RawSubject) == string(issuer.RawSubject) && string(is.RawSubjectPublicKeyInfo) == string(issuer.RawSubjectPublicKeyInfo) {
			return e.lastErr
		}
	}
	return ""
}

// add registers url, whose CRL one of issuers signs, and returns its
// entry (an existing one gains the issuers it lacks). It returns nil when
// a learned URL would exceed Options.MaxURLs or the Set is closed.
func (s *Set) add(url string, issuers []*x509.Certificate, learned bool) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if e := s.entries[url]; e != nil {
		e.addIssuers(issuers)
		return e
	}
	if learned {
		if s.learned >= s.opts.MaxURLs {
			return nil
		}
		s.learned++
	}
	e := &entry{s: s, url: url, learned: learned, issuers: issuers, first: make(chan struct{}), state: StatePending, fetchable: !s.opts.Offline}
	if s.opts.StateDir != "" {
		sum := sha256.Sum256([]byte(url))
		e.cachePath = filepath.Join(s.opts.StateDir, hex.EncodeToString(sum[:])+".crl")
		s.loadCache(e)
	}
	e.next = s.opts.Now()
	if h := e.held.Load(); h != nil {
		e.next = s.nextAfterGood(h.rl, e.next)
		e.markFirst()
	}
	s.entries[url] = e
	s.order = append(s.order, e)
	switch {
	case s.started && e.fetchable:
		s.wg.Add(1)
		go s.run(s.ctx, e)
	case !e.fetchable || learned:
		// Nothing will download it now (Offline, or learned before
		// Start): nobody should wait for it.
		e.markFirst()
	}
	if learned {
		s.log.Info().Str("url", url).Str("issuer", issuers[0].Subject.String()).Msg("CRL distribution point learned from a client certificate")
	}
	return e
}

func (e *entry) addIssuers(issuers []*x509.Certificate) {
	e.mu.Lock()
	defer e.mu.Unlock()
next:
	for _, n := range issuers {
		for _, have := range e.issuers {
			if string(have.RawSubjectPublicKeyInfo) == string(n.RawSubjectPublicKeyInfo) && string(have.RawSubject) == string(n.RawSubject) {
				continue next
			}
		}
		e.issuers = append(e.issuers, n)
	}
}

// accept parses and verifies der for e: one of e's issuers signed it, it
// is current at now, and it is not older than the CRL held.
func (e *entry) accept(der []byte, now time.Time) (*held, error) {
	ders, err := decode(der)
	if err != nil {
		return nil, err
	}
	rl, err := parse(ders[0])
	if err != nil {
		return nil, err
	}
	h := newHeld(rl, e.url)
	e.mu.Lock()
	issuers := append([]*x509.Certificate(nil), e.issuers...)
	e.mu.Unlock()
	err = errIssuerName
	for _, is := range issuers {
		if err = h.verifiedBy(is); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := checkTime(rl, now); err != nil {
		return nil, err
	}
	if old := e.held.Load(); old != nil && old.current(now) == nil && newer(old.rl, rl) {
		return nil, fmt.Errorf("%w (number %v, thisUpdate %s)", errOlder, rl.Number, rl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	return h, nil
}

// loadCache holds e's cached CRL if it still verifies and is current.
func (s *Set) loadCache(e *entry) {
	log := s.log.With().Str("url", e.url).Str("file", e.cachePath).Logger()
	der, err := readLimited(e.cachePath)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		var h *held
		if h, err = e.accept(der, s.opts.Now()); err == nil {
			e.held.Store(h)
			e.state = StateGood
			log.Info().Time("next_update", h.rl.NextUpdate).Msg("CRL loaded from cache")
			return
		}
	}
	log.Info().Err(err).Msg("cached CRL not usable; ignoring it")
}

// run is e's refresh loop.
func (s *Set) run(ctx context.Context, e *entry) {
	defer s.wg.Done()
	for {
		e.mu.Lock()
		due := e.next
		e.mu.Unlock()
		if d := due.Sub(s.opts.Now()); d > 0 {
			t := time.NewTimer(min(d, maxWait))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.refresh(ctx, e)
	}
}

// refresh makes one download attempt for e and returns when the next one
// is due. Tests call it directly with a fake clock.
func (s *Set) refresh(ctx context.Context, e *entry) time.Time {
	defer e.markFirst()
	der, err := s.download(ctx, e.url)
	if ctx.Err() != nil {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.next
	}
	now := s.opts.Now()
	var h *held
	if err == nil {
		h, err = e.accept(der, now)
	}
	if err != nil {
		return s.failed(e, err, now)
	}
	return s.good(e, h, der, now)
}

func (s *Set) good(e *entry, h *held, der []byte, now time.Time) time.Time {
	e.held.Store(h)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cachePath != "" {
		if err := writeCache(e.cachePath, der); err != nil {
			s.log.Warn().Str("url", e.url).Err(err).Msg("CRL not cached on disk; using it anyway")
		}
	}
	prev := e.failures
	e.state, e.lastErr, e.failures = StateGood, "", 0
	e.next = s.nextAfterGood(h.rl, now.Add(minRefresh))
	ev := s.log.Info().Str("url", e.url).Str("issuer", h.rl.Issuer.String()).Int("revoked", len(h.revoked)).
		Time("this_update", h.rl.ThisUpdate).Time("next_update", h.rl.NextUpdate).Time("next_refresh", e.next)
	if prev > 0 {
		ev = ev.Int("failures_before", prev)
	}
	ev.Msg("CRL downloaded")
	return e.next
}

// failed records a refused or failed download: the last good CRL stays in
// use until its nextUpdate; attempts back off from 1 min doubling to 1 h,
// never later than that nextUpdate. State changes are logged, and a
// persisting failure hourly.
func (s *Set) failed(e *entry, err error, now time.Time) time.Time {
	h := e.held.Load()
	valid := h != nil && h.current(now) == nil
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failures++
	e.lastErr = err.Error()
	next := now.Add(backoff(e.failures, s.rand()))
	if valid && !h.rl.NextUpdate.IsZero() && next.After(h.rl.NextUpdate) {
		next = h.rl.NextUpdate
	}
	e.next = next
	state := StateFailing
	if h != nil && !valid {
		state = StateExpired
	}
	changed := state != e.state
	if !changed && now.Sub(e.lastLog) < remindEvery {
		return next
	}
	e.lastLog, e.state = now, state
	level, msg := zerolog.WarnLevel, "CRL download failed or refused; no CRL from this distribution point"
	switch {
	case state == StateExpired && changed:
		level, msg = zerolog.ErrorLevel, "CRL expired and no fresh one could be downloaded; it is no longer used"
	case !changed:
		msg = "CRL distribution point still failing"
	case valid:
		msg = "CRL download failed or refused; still using the last good CRL"
	}
	ev := s.log.WithLevel(level).Str("url", e.url).Err(err).Int("failures", e.failures).Time("next_attempt", next)
	if valid {
		ev = ev.Time("next_update", h.rl.NextUpdate)
	}
	ev.Msg(msg)
	return next
}

// nextAfterGood returns when to download again after rl: at 40–60 % of its
// validity window, not before notBefore; hourly without a nextUpdate.
func (s *Set) nextAfterGood(rl *x509.RevocationList, notBefore time.Time) time.Time {
	if rl.NextUpdate.IsZero() {
		return notBefore.Add(noNextUpdate)
	}
	w := rl.NextUpdate.Sub(rl.ThisUpdate)
	at := rl.ThisUpdate.Add(time.Duration(float64(w) * (0.4 + 0.2*s.rand())))
	if at.Before(notBefore) {
		return notBefore
	}
	return at
}

func (s *Set) rand() float64 { return min(max(s.opts.Rand(), 0), 1) }

// backoff returns the wait after the n-th consecutive failure: minBackoff
// doubling up to maxBackoff, shortened by up to 20 % (r in [0, 1)).
func backoff(n int, r float64) time.Duration {
	d := maxBackoff
	if n >= 1 && n <= 30 {
		d = min(minBackoff<<(n-1), maxBackoff)
	}
	return time.Duration(float64(d) * (0.8 + 0.2*r))
}

// download GETs url; the whole exchange is bounded by the Set's timeout.
func (s *Set) download(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("building CRL request for %q: %w", url, err)
	}
	req.Header.Set("Accept", "application/pkix-crl, application/x-pkcs7-crl;q=0.5, */*;q=0.1")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading CRL: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("downloading CRL from %q: HTTP status %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCRLSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading CRL from %q: %w", url, err)
	}
	if len(body) > maxCRLSize {
		return nil, fmt.Errorf("reading CRL from %q: larger than %d bytes", url, maxCRLSize)
	}
	return body, nil
}

func (e *entry) status() Status {
	st := Status{Source: e.url}
	if h := e.held.Load(); h != nil {
		st.Issuer, st.ThisUpdate, st.NextUpdate = issuerName(h.rl), h.rl.ThisUpdate, h.rl.NextUpdate
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if st.Issuer == "" && len(e.issuers) > 0 {
		st.Issuer = e.issuers[0].Subject.String()
	}
	st.State, st.LastError = e.state, e.lastErr
	return st
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCRLSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCRLSize {
		return nil, fmt.Errorf("larger than %d bytes", maxCRLSize)
	}
	return b, nil
}

// writeCache replaces path with data atomically (temporary file in the
// same folder, mode 0600, synced, renamed).
func writeCache(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.crl")
	if err != nil {
		return fmt.Errorf("writing CRL cache: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("writing CRL cache: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing CRL cache: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing CRL cache: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing CRL cache: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing CRL cache: %w", err)
	}
	return nil
}
