package stapling

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"time"
)

// States reported in Status.State.
const (
	StatePending  = "pending"   // no response yet: not fetched, or Offline without a cache
	StateGood     = "good"      // a verified Good response is stapled
	StateFailing  = "failing"   // the last attempt failed; the last good response (if any) is still stapled
	StateExpired  = "expired"   // attempts fail and the last good response's NextUpdate passed: no staple
	StateRevoked  = "revoked"   // the responder says the certificate is revoked: no staple
	StateNoURL    = "no-url"    // the certificate names no OCSP responder: never stapled
	StateNoIssuer = "no-issuer" // the issuer is missing or did not sign the certificate: never stapled
)

// Status describes one certificate's stapling state, for `tlsfront -t`
// and for logs.
type Status struct {
	Name        string    // as given to Add
	Serial      string    // leaf serial number, upper-case hex
	Responder   string    // URL asked (after Overrides); "" when the certificate names none
	HasURL      bool      // the certificate names an OCSP responder
	MustStaple  bool      // the certificate carries the TLS Feature status_request (must-staple)
	Cached      bool      // the disk cache holds the response being stapled
	GoodUntil   time.Time // NextUpdate of the response being stapled; zero when none is
	State       string    // one of the State constants
	LastError   string    // why the last attempt failed or the staple was withdrawn; "" if it did not
	NextAttempt time.Time // when the next fetch is due; zero when none will be made
}

// StapleMissing reports whether the certificate is must-staple and no valid
// staple is held: clients that honour must-staple will refuse the handshake.
func (st Status) StapleMissing() bool {
	return st.MustStaple && st.GoodUntil.IsZero()
}

// Status returns the state of every certificate, in the order they were added.
func (s *Stapler) Status() []Status {
	s.mu.Lock()
	entries := append([]*Entry(nil), s.entries...)
	s.mu.Unlock()
	out := make([]Status, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Status())
	}
	return out
}

// Status returns this certificate's state.
func (e *Entry) Status() Status {
	st := Status{
		Name:       e.name,
		Responder:  e.responder,
		HasURL:     e.certURL != "",
		MustStaple: e.mustStaple,
	}
	if e.leaf != nil {
		st.Serial = fmt.Sprintf("%X", e.leaf.SerialNumber)
	}
	running := e.s.isRunning()
	now := e.s.now()
	h := e.held.Load()
	valid := h != nil && now.Before(h.nextUpdate)
	e.mu.Lock()
	defer e.mu.Unlock()
	st.State, st.LastError = e.state, e.lastErr
	if valid {
		st.GoodUntil = h.nextUpdate
		st.Cached = e.onDisk
	} else if h != nil && (st.State == StateGood || st.State == StateFailing) {
		// The staple lapsed before the loop noticed.
		st.State = StateExpired
	}
	if e.fetchable && running {
		st.NextAttempt = e.next
	}
	return st
}

// isRunning reports whether the refresh loops are running.
func (s *Stapler) isRunning() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started && !s.closed
}

// oidTLSFeature is the TLS Feature extension (RFC 7633), a SEQUENCE OF
// INTEGER listing TLS extensions the server must use.
var oidTLSFeature = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}

// statusRequest is the TLS extension number of status_request (RFC 6066).
const statusRequest = 5

// hasMustStaple reports whether leaf's TLS Feature extension lists
// status_request.
func hasMustStaple(leaf *x509.Certificate) bool {
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(oidTLSFeature) {
			continue
		}
		var features []int
		if rest, err := asn1.Unmarshal(ext.Value, &features); err != nil || len(rest) > 0 {
			return false
		}
		return slices.Contains(features, statusRequest)
	}
	return false
}
