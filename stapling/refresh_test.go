package stapling

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestRefreshOutcomes runs one refresh against an in-test responder for
// each kind of answer and checks what gets stapled and reported.
func TestRefreshOutcomes(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCANamed(t, "Other")
	deleg, delegKey := ca.delegate(t, true, nil, nil, time.Time{}, time.Time{})
	delegNoEKU, delegNoEKUKey := ca.delegate(t, false, nil, nil, time.Time{}, time.Time{})

	type spec = func(now time.Time, s *respSpec)
	tests := []struct {
		name      string
		spec      spec   // response to mint, or
		code      int    // HTTP status with body
		body      string //
		wantState string
		wantErr   string // substring of Status.LastError
	}{
		{name: "good", spec: func(time.Time, *respSpec) {}, wantState: StateGood},
		{name: "delegated with OCSPSigning", spec: func(_ time.Time, s *respSpec) { s.signer, s.signerKey = deleg, delegKey }, wantState: StateGood},
		{name: "delegated without OCSPSigning", spec: func(_ time.Time, s *respSpec) { s.signer, s.signerKey = delegNoEKU, delegNoEKUKey },
			wantState: StateFailing, wantErr: "OCSPSigning"},
		{name: "revoked", spec: func(now time.Time, s *respSpec) { s.status = ocsp.Revoked; s.revokedAt = now.Add(-time.Hour) },
			wantState: StateRevoked, wantErr: "revoked"},
		{name: "unknown", spec: func(_ time.Time, s *respSpec) { s.status = ocsp.Unknown }, wantState: StateFailing, wantErr: "unknown"},
		{name: "wrong serial", spec: func(_ time.Time, s *respSpec) { s.serial = randSerial(t) }, wantState: StateFailing, wantErr: "not about this certificate"},
		{name: "bad signature", spec: func(_ time.Time, s *respSpec) { s.signerKey = other.issuerKey }, wantState: StateFailing, wantErr: "signature"},
		{name: "expired", spec: func(now time.Time, s *respSpec) {
			s.thisUpdate, s.nextUpdate = now.Add(-9*time.Hour), now.Add(-time.Hour)
		},
			wantState: StateFailing, wantErr: "expired"},
		{name: "no NextUpdate", spec: func(_ time.Time, s *respSpec) { s.nextUpdate = time.Time{} }, wantState: StateFailing, wantErr: "no NextUpdate"},
		{name: "ThisUpdate in the future", spec: func(now time.Time, s *respSpec) { s.thisUpdate = now.Add(time.Hour) },
			wantState: StateFailing, wantErr: "future"},
		{name: "HTTP 500", code: http.StatusInternalServerError, body: "oops", wantState: StateFailing, wantErr: "500"},
		{name: "garbage body", code: http.StatusOK, body: "<html>hello</html>", wantState: StateFailing, wantErr: "parsing OCSP response"},
		{name: "empty body", code: http.StatusOK, wantState: StateFailing, wantErr: "parsing OCSP response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			now := clock.Now()
			resp := newTestResponder(t, nil)
			leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: resp.URL()})
			if tc.spec != nil {
				s := respSpec{status: ocsp.Good, thisUpdate: now.Add(-time.Minute), nextUpdate: now.Add(4 * time.Hour)}
				tc.spec(now, &s)
				resp.set(fixed(ca.response(t, leaf, s)))
			} else {
				resp.set(func(*ocsp.Request) (int, []byte) { return tc.code, []byte(tc.body) })
			}
			st, logs := testStapler(t, clock, nil)
			e := st.Add("www.example.test/ecdsa", []*x509.Certificate{leaf, ca.issuer}, nil)
			st.refresh(t.Context(), e)

			got := e.Status()
			if got.State != tc.wantState {
				t.Fatalf("state %q, want %q (last error %q)", got.State, tc.wantState, got.LastError)
			}
			if !strings.Contains(got.LastError, tc.wantErr) {
				t.Errorf("last error %q, want it to mention %q", got.LastError, tc.wantErr)
			}
			staple := e.Staple()
			if (tc.wantState == StateGood) != (staple != nil) {
				t.Fatalf("staple held = %v in state %q", staple != nil, got.State)
			}
			if staple != nil && got.GoodUntil.IsZero() {
				t.Error("GoodUntil not reported for a held staple")
			}
			if len(logs.Lines()) != 1 {
				t.Errorf("want exactly one log line for one fetch outcome, got:\n%s", logs)
			}
		})
	}
}

// TestHangingResponder checks that a responder that never answers costs
// one Timeout, reported as a timeout error.
func TestHangingResponder(t *testing.T) {
	ca := newTestCA(t)
	release := make(chan struct{})
	srv := newTestResponder(t, func(*ocsp.Request) (int, []byte) {
		<-release
		return http.StatusOK, nil
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	leaf := ca.leaf(t, "slow.test", leafOpts{ocspURL: srv.URL()})
	clock := newFakeClock()
	st, _ := testStapler(t, clock, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	e := st.Add("slow.test", []*x509.Certificate{leaf, ca.issuer}, nil)

	_, err := st.fetch(t.Context(), e)
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("fetch from a hanging responder: got %v, want a timeout", err)
	}
	st.refresh(t.Context(), e)
	if got := e.Status(); got.State != StateFailing || e.Staple() != nil {
		t.Fatalf("after timeout: state %q, staple %v", got.State, e.Staple() != nil)
	}
}

// TestResponderDownKeepsStaple checks the outage path: the last good
// response stays stapled until its NextUpdate, retries back off but are
// never scheduled past NextUpdate, and the staple goes at NextUpdate.
func TestResponderDownKeepsStaple(t *testing.T) {
	ca := newTestCA(t)
	srv := newTestResponder(t, nil)
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: srv.URL()})
	clock := newFakeClock()
	t0 := clock.Now()
	nextUpdate := t0.Add(4 * time.Hour)
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: t0, nextUpdate: nextUpdate})))
	st, _ := testStapler(t, clock, nil)
	e := st.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil)

	next := st.refresh(t.Context(), e)
	if want := t0.Add(2 * time.Hour); !next.Equal(want) { // half of 4 h with jitter 0.5
		t.Fatalf("first refresh scheduled at %v, want %v", next, want)
	}
	good := e.Staple()
	if good == nil {
		t.Fatal("no staple after a good response")
	}

	srv.set(failing())
	var waits []time.Duration
	for attempts := 0; clock.Now().Before(nextUpdate); attempts++ {
		if attempts > 100 {
			t.Fatal("too many retries before NextUpdate")
		}
		clock.Set(next)
		if clock.Now().Before(nextUpdate) && e.Staple() == nil {
			t.Fatalf("staple dropped at %v, before NextUpdate %v", clock.Now(), nextUpdate)
		}
		prev := clock.Now()
		next = st.refresh(t.Context(), e)
		waits = append(waits, next.Sub(prev))
		if prev.Before(nextUpdate) && next.After(nextUpdate) {
			t.Fatalf("retry scheduled at %v, past NextUpdate %v", next, nextUpdate)
		}
	}
	// Backoff 0.9 min doubling: 54s, 1m48s, 3m36s, ... up to 54 min.
	if waits[0] != 54*time.Second || waits[1] != 108*time.Second {
		t.Errorf("backoff starts %v, %v; want 54s, 1m48s", waits[0], waits[1])
	}
	for _, w := range waits {
		if w > maxBackoff {
			t.Errorf("wait %v exceeds %v", w, maxBackoff)
		}
	}
	clock.Set(nextUpdate.Add(-time.Second))
	if e.Staple() == nil {
		t.Fatal("staple gone one second before NextUpdate")
	}
	clock.Set(nextUpdate)
	if e.Staple() != nil {
		t.Fatal("expired staple still served at NextUpdate")
	}
	if got := e.Status(); got.State != StateExpired || !got.GoodUntil.IsZero() {
		t.Fatalf("after NextUpdate: state %q, good until %v", got.State, got.GoodUntil)
	}

	// The responder comes back: stapling resumes.
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: nextUpdate, nextUpdate: nextUpdate.Add(4 * time.Hour)})))
	st.refresh(t.Context(), e)
	if e.Staple() == nil || e.Status().State != StateGood {
		t.Fatal("stapling did not resume after the responder recovered")
	}
}

// TestRevokedMidway checks that a revocation withdraws a good staple at
// once and removes it from the disk cache.
func TestRevokedMidway(t *testing.T) {
	ca := newTestCA(t)
	srv := newTestResponder(t, nil)
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: srv.URL()})
	clock := newFakeClock()
	now := clock.Now()
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(4 * time.Hour)})))
	dir := t.TempDir()
	st, logs := testStapler(t, clock, func(o *Options) { o.StateDir = dir })
	e := st.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil)
	st.refresh(t.Context(), e)
	if e.Staple() == nil || !e.Status().Cached {
		t.Fatal("no cached staple after a good response")
	}

	clock.Add(10 * time.Minute)
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Revoked, revokedAt: clock.Now().Add(-time.Minute),
		thisUpdate: clock.Now(), nextUpdate: clock.Now().Add(4 * time.Hour)})))
	st.refresh(t.Context(), e)
	if e.Staple() != nil {
		t.Fatal("revoked certificate still stapled")
	}
	got := e.Status()
	if got.State != StateRevoked || got.Cached {
		t.Fatalf("after revocation: state %q cached %v", got.State, got.Cached)
	}
	if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), "REVOKED") {
		t.Errorf("revocation not logged as an error:\n%s", logs)
	}
	// The responder failing afterwards does not turn "revoked" into a
	// mere outage, nor add log lines.
	nLines := len(logs.Lines())
	srv.set(failing())
	clock.Add(time.Hour)
	st.refresh(t.Context(), e)
	if got := e.Status(); got.State != StateRevoked || !strings.Contains(got.LastError, "revoked") || len(logs.Lines()) != nLines {
		t.Fatalf("after a failed re-check: state %q, error %q, logs:\n%s", got.State, got.LastError, logs)
	}
	// A restart must not bring the old good response back.
	st2, _ := testStapler(t, clock, func(o *Options) { o.StateDir = dir })
	if e2 := st2.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil); e2.Staple() != nil {
		t.Fatal("restart re-served the good response of a revoked certificate")
	}
}

// TestUnknownKeepsLastGood checks that an Unknown answer is a failure, not
// a revocation: the previous good staple stays.
func TestUnknownKeepsLastGood(t *testing.T) {
	ca := newTestCA(t)
	srv := newTestResponder(t, nil)
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: srv.URL()})
	clock := newFakeClock()
	now := clock.Now()
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(4 * time.Hour)})))
	st, _ := testStapler(t, clock, nil)
	e := st.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil)
	st.refresh(t.Context(), e)
	good := e.Staple()
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Unknown, thisUpdate: now, nextUpdate: now.Add(4 * time.Hour)})))
	st.refresh(t.Context(), e)
	if got := e.Staple(); got == nil || string(got) != string(good) {
		t.Fatal("unknown answer replaced or dropped the good staple")
	}
	if got := e.Status(); got.State != StateFailing {
		t.Fatalf("state %q, want %q", got.State, StateFailing)
	}
}

// TestMustStapleMissing checks that a must-staple certificate without a
// staple is reported in Status and logged as an error, not a warning.
func TestMustStapleMissing(t *testing.T) {
	ca := newTestCA(t)
	srv := newTestResponder(t, failing())
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: srv.URL(), mustStaple: true})
	clock := newFakeClock()
	st, logs := testStapler(t, clock, nil)
	e := st.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil)
	st.refresh(t.Context(), e)
	if got := e.Status(); !got.MustStaple || !got.StapleMissing() {
		t.Fatalf("status %+v: want must-staple reported missing", got)
	}
	if l := logs.String(); !strings.Contains(l, `"level":"error"`) || !strings.Contains(l, "must-staple") {
		t.Fatalf("missing must-staple staple not logged as an error:\n%s", l)
	}
	now := clock.Now()
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(time.Hour)})))
	st.refresh(t.Context(), e)
	if got := e.Status(); got.StapleMissing() {
		t.Fatalf("status %+v: staple held but reported missing", got)
	}
}
