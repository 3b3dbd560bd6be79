package stapling

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ocsp"
)

// Refresh schedule.
const (
	// minRefresh is the shortest wait after a good response, so that a
	// responder (or a CDN in front of it) handing out an old response whose
	// half-life has passed does not cause a tight loop.
	minRefresh = time.Minute
	// minBackoff and maxBackoff bound the wait after a failure: it starts
	// at minBackoff and doubles up to maxBackoff.
	minBackoff = time.Minute
	maxBackoff = time.Hour
	// remindEvery is how often a persisting failure is logged again.
	remindEvery = time.Hour
)

// refresh makes one fetch attempt for e, updates its staple and state, logs
// the outcome and returns when the next attempt is due. The loop in run
// calls it; tests call it directly and move a fake clock instead of
// sleeping. It returns e's unchanged schedule when ctx ended mid-fetch.
func (s *Stapler) refresh(ctx context.Context, e *Entry) time.Time {
	defer e.markFirst()
	der, err := s.fetch(ctx, e)
	if ctx.Err() != nil {
		// Closing, not failing: leave the state alone.
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.next
	}
	now := s.now()
	var resp *ocsp.Response
	if err == nil {
		resp, err = verifyResponse(der, e.leaf, e.issuer, now)
	}
	if err == nil && resp.Status == ocsp.Revoked {
		return s.revoked(e, resp, now)
	}
	if err == nil {
		err = checkCurrent(resp, now)
	}
	if err != nil {
		return s.failed(e, err, now)
	}
	return s.good(e, der, resp, now)
}

// good records a verified Good response, caches it and schedules the next
// refresh at about half of its validity window.
func (s *Stapler) good(e *Entry, der []byte, resp *ocsp.Response, now time.Time) time.Time {
	nh := &held{der: der, thisUpdate: resp.ThisUpdate, nextUpdate: resp.NextUpdate}
	// Keep a newer response we already hold over an older one handed out
	// by a lagging cache.
	if old := e.held.Load(); old == nil || !now.Before(old.nextUpdate) || !nh.thisUpdate.Before(old.thisUpdate) {
		e.held.Store(nh)
	} else {
		nh = old
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cachePath != "" && e.held.Load() == nh {
		if err := writeCache(e.cachePath, nh.der); err != nil {
			s.log.Warn().Str("cert", e.name).Err(err).Msg("OCSP response not cached; stapling it anyway")
		} else {
			e.onDisk = true
		}
	}
	prevFailures := e.failures
	e.state, e.lastErr, e.failures = StateGood, "", 0
	e.next = s.nextAfterGood(nh, now.Add(minRefresh))
	ev := s.log.Info().Str("cert", e.name).Str("responder", e.responder).Str("status", "good").
		Time("this_update", resp.ThisUpdate).Time("next_update", nh.nextUpdate).Time("next_refresh", e.next)
	if prevFailures > 0 {
		ev = ev.Int("failures_before", prevFailures)
	}
	ev.Msg("OCSP response fetched")
	return e.next
}

// revoked withdraws e's staple at once, deletes the cached response so a
// restart cannot bring it back, and keeps checking hourly (a certificate on
// hold may be released).
func (s *Stapler) revoked(e *Entry, resp *ocsp.Response, now time.Time) time.Time {
	e.held.Store(nil)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cachePath != "" {
		if err := removeCache(e.cachePath); err != nil {
			s.log.Error().Str("cert", e.name).Err(err).Msg("revoked certificate's cached OCSP response not removed")
		}
		e.onDisk = false
	}
	e.failures++
	e.lastErr = "certificate revoked at " + resp.RevokedAt.UTC().Format(time.RFC3339)
	e.next = now.Add(jitter(maxBackoff, s.rand()))
	if e.state != StateRevoked || now.Sub(e.lastLog) >= remindEvery {
		e.lastLog = now
		s.log.Error().Str("cert", e.name).Str("responder", e.responder).Str("status", "revoked").
			Time("revoked_at", resp.RevokedAt).Int("reason", resp.RevocationReason).
			Time("next_update", resp.NextUpdate).Bool("must_staple", e.mustStaple).
			Msg("certificate is REVOKED; OCSP staple withdrawn, replace the certificate")
	}
	e.state = StateRevoked
	return e.next
}

// failed records a failed attempt (network error, refused or non-Good
// response). The last good staple stays until its NextUpdate; the next
// attempt backs off from 1 min doubling to 1 h but never later than that
// NextUpdate. Only state changes are logged, plus a reminder every hour.
func (s *Stapler) failed(e *Entry, err error, now time.Time) time.Time {
	h := e.held.Load()
	valid := h != nil && now.Before(h.nextUpdate)

	e.mu.Lock()
	defer e.mu.Unlock()
	e.failures++
	if e.state == StateRevoked {
		// A failed re-check does not make a revoked certificate any less
		// revoked: keep the state, its reason and the hourly pace quietly.
		e.next = now.Add(jitter(maxBackoff, s.rand()))
		return e.next
	}
	e.lastErr = err.Error()
	next := now.Add(backoff(e.failures, s.rand()))
	if valid && next.After(h.nextUpdate) {
		next = h.nextUpdate
	}
	e.next = next

	state := StateFailing
	if h != nil && !valid {
		state = StateExpired
	}
	changed := state != e.state
	if !changed && now.Sub(e.lastLog) < remindEvery {
		e.state = state
		return next
	}
	e.lastLog = now
	e.state = state

	level, msg := zerolog.WarnLevel, "OCSP fetch failed; no staple"
	switch {
	case state == StateExpired && changed:
		level, msg = zerolog.ErrorLevel, "OCSP staple expired and no fresh response; no longer stapling"
	case !changed:
		msg = "OCSP responder still failing"
	case valid:
		msg = "OCSP fetch failed; still stapling the last good response"
	}
	if e.mustStaple && !valid {
		level = zerolog.ErrorLevel
		msg += " (certificate is must-staple: clients will refuse it)"
	}
	status := "error"
	if errors.Is(err, errStatusUnknown) {
		status = "unknown"
	}
	ev := s.log.WithLevel(level).Str("cert", e.name).Str("responder", e.responder).Str("status", status).Err(err).
		Int("failures", e.failures).Time("next_attempt", next)
	if valid {
		ev = ev.Time("next_update", h.nextUpdate)
	}
	ev.Msg(msg)
	return next
}

// nextAfterGood returns when to refresh a held response: at 40–60 % of its
// validity window, but not before notBefore.
func (s *Stapler) nextAfterGood(h *held, notBefore time.Time) time.Time {
	w := h.nextUpdate.Sub(h.thisUpdate)
	at := h.thisUpdate.Add(time.Duration(float64(w) * (0.4 + 0.2*s.rand())))
	return later(at, notBefore)
}

// backoff returns the wait after the n-th consecutive failure: minBackoff
// doubling up to maxBackoff, shortened by up to 20 % of jitter (r in [0, 1)).
func backoff(n int, r float64) time.Duration {
	d := maxBackoff
	if n >= 1 && n <= 30 {
		d = min(minBackoff<<(n-1), maxBackoff)
	}
	return jitter(d, r)
}

// jitter scales d by a factor in [0.8, 1) chosen by r in [0, 1), so that
// loops started together drift apart but never wait longer than d.
func jitter(d time.Duration, r float64) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.2*r))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
