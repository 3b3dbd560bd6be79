package stapling

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestCheckerAnswers: the client-certificate checker gives good and
// revoked only for responses that verify and are current, caches definite
// answers until NextUpdate and failures briefly.
func TestCheckerAnswers(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	ca := newTestCA(t)
	other := newTestCANamed(t, "Other")
	resp := newTestResponder(t, nil)
	leaf := ca.leaf(t, "client", leafOpts{ocspURL: resp.URL()})
	good := respSpec{status: ocsp.Good, thisUpdate: now.Add(-time.Hour), nextUpdate: now.Add(time.Hour)}

	tests := []struct {
		name    string
		answer  answerFunc
		want    string
		wantErr string
	}{
		{"good", fixed(ca.response(t, leaf, good)), ClientGood, ""},
		{"revoked", fixed(ca.response(t, leaf, respSpec{status: ocsp.Revoked, revokedAt: now.Add(-time.Hour), thisUpdate: now.Add(-time.Hour), nextUpdate: now.Add(time.Hour)})), ClientRevoked, "revoked at"},
		{"unknown status", fixed(ca.response(t, leaf, respSpec{status: ocsp.Unknown, thisUpdate: now.Add(-time.Hour), nextUpdate: now.Add(time.Hour)})), ClientUnknown, "status unknown"},
		{"expired", fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now.Add(-2 * time.Hour), nextUpdate: now.Add(-time.Hour)})), ClientUnknown, "expired"},
		{"signed by another CA", fixed(other.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now.Add(-time.Hour), nextUpdate: now.Add(time.Hour), certIDIssuer: ca.issuer})), ClientUnknown, "signature"},
		{"responder failing", failing(), ClientUnknown, "500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp.set(tc.answer)
			c := NewChecker(CheckerOptions{Now: clock.Now, Timeout: 5 * time.Second})
			got, err := c.Check(leaf, ca.issuer)
			if got != tc.want || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Check = %s, %v; want %s, error containing %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestCheckerCaching: one query for many concurrent checks, none while the
// answer is fresh, a new one after NextUpdate; a failure is retried after
// FailureTTL only.
func TestCheckerCaching(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	ca := newTestCA(t)
	var mu sync.Mutex
	queries := 0
	good := ca.response
	var body []byte
	resp := newTestResponder(t, func(*ocsp.Request) (int, []byte) {
		mu.Lock()
		defer mu.Unlock()
		queries++
		if body == nil {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, body
	})
	leaf := ca.leaf(t, "client", leafOpts{ocspURL: resp.URL()})
	body = good(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now.Add(-time.Hour), nextUpdate: now.Add(time.Hour)})
	c := NewChecker(CheckerOptions{Now: clock.Now})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, err := c.Check(leaf, ca.issuer); s != ClientGood {
				t.Errorf("Check = %s, %v", s, err)
			}
		}()
	}
	wg.Wait()
	count := func() int { mu.Lock(); defer mu.Unlock(); return queries }
	if n := count(); n != 1 {
		t.Errorf("%d queries for 20 concurrent checks, want 1", n)
	}
	clock.Add(59 * time.Minute)
	c.Check(leaf, ca.issuer)
	if n := count(); n != 1 {
		t.Errorf("%d queries before NextUpdate, want 1", n)
	}
	mu.Lock()
	body = nil // the responder goes down
	mu.Unlock()
	clock.Add(2 * time.Minute)
	if s, _ := c.Check(leaf, ca.issuer); s != ClientUnknown || count() != 2 {
		t.Errorf("after NextUpdate with the responder down: %s after %d queries, want unknown after 2", s, count())
	}
	c.Check(leaf, ca.issuer)
	if n := count(); n != 2 {
		t.Errorf("%d queries within the failure TTL, want 2", n)
	}
	clock.Add(11 * time.Second)
	c.Check(leaf, ca.issuer)
	if n := count(); n != 3 {
		t.Errorf("%d queries after the failure TTL, want 3", n)
	}
}

func TestCheckerNoResponder(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	leaf := ca.leaf(t, "client", leafOpts{})
	if s, err := NewChecker(CheckerOptions{}).Check(leaf, ca.issuer); s != ClientUnknown || err == nil || !strings.Contains(err.Error(), "no OCSP responder") {
		t.Errorf("Check = %s, %v; want unknown, no responder", s, err)
	}
}
