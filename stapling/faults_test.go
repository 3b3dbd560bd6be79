package stapling

import (
	"crypto/x509"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestFlappingResponderNeverStale runs a responder that flaps between good
// answers and every kind of failure (down, garbage, stale, from the future,
// for another certificate, Unknown, too slow) over thirty simulated days, then
// revokes the certificate and goes down. At every refresh and between
// refreshes, the staple is a verified Good response for the certificate
// that is current at that moment, or there is none; it is never dropped
// while the last good answer is still current; after the revocation there
// is none, whatever the responder does.
func TestFlappingResponderNeverStale(t *testing.T) {
	ca := newTestCA(t)
	srv := newTestResponder(t, nil)
	leaf := ca.leaf(t, "flap.test", leafOpts{ocspURL: srv.URL()})
	other := ca.leaf(t, "other.test", leafOpts{ocspURL: srv.URL()})
	clock := newFakeClock()
	st, _ := testStapler(t, clock, func(o *Options) {
		o.Timeout = 50 * time.Millisecond
		o.StateDir = t.TempDir()
	})
	e := st.Add("flap", []*x509.Certificate{leaf, ca.issuer}, nil)

	var slow atomic.Bool
	rng := rand.New(rand.NewPCG(1, 2))
	var lastGood time.Time // NextUpdate of the newest good answer fetched
	revoked := false
	kinds := map[string]int{}

	check := func(at time.Time, when string) {
		t.Helper()
		clock.Set(at)
		der := e.Staple()
		if der == nil {
			if !revoked && at.Before(lastGood) {
				t.Fatalf("%s (%v): no staple although the last good answer is current until %v", when, at, lastGood)
			}
			return
		}
		if revoked {
			t.Fatalf("%s (%v): stapling after the revocation", when, at)
		}
		resp, err := ocsp.ParseResponseForCert(der, leaf, ca.issuer)
		if err != nil {
			t.Fatalf("%s (%v): staple does not parse for the certificate: %v", when, at, err)
		}
		if resp.Status != ocsp.Good || resp.ThisUpdate.After(at) || !at.Before(resp.NextUpdate) {
			t.Fatalf("%s (%v): stapled status %d valid %v..%v: not current", when, at, resp.Status, resp.ThisUpdate, resp.NextUpdate)
		}
	}

	answer := func(kind string, now time.Time) answerFunc {
		kinds[kind]++
		switch kind {
		case "good":
			nu := now.Add(time.Duration(4+rng.IntN(44)) * time.Hour)
			return fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now.Add(-time.Minute), nextUpdate: nu}))
		case "down":
			return failing()
		case "garbage":
			return fixed([]byte("<html>maintenance</html>"))
		case "stale":
			return fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now.Add(-10 * 24 * time.Hour), nextUpdate: now.Add(-time.Hour)}))
		case "future":
			return fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now.Add(2 * time.Hour), nextUpdate: now.Add(9 * time.Hour)}))
		case "other":
			return fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, serial: other.SerialNumber, thisUpdate: now, nextUpdate: now.Add(8 * time.Hour)}))
		case "unknown":
			return fixed(ca.response(t, leaf, respSpec{status: ocsp.Unknown, thisUpdate: now, nextUpdate: now.Add(8 * time.Hour)}))
		case "slow":
			slow.Store(true)
			good := ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(8 * time.Hour)})
			return func(*ocsp.Request) (int, []byte) {
				time.Sleep(200 * time.Millisecond) // past Options.Timeout
				return http.StatusOK, good
			}
		}
		t.Fatalf("unknown kind %q", kind)
		return nil
	}
	failures := []string{"down", "garbage", "stale", "future", "other", "unknown", "slow"}

	start := clock.Now()
	end := start.Add(30 * 24 * time.Hour)
	for now, steps := start, 0; now.Before(end); steps++ {
		if steps > 5000 {
			t.Fatal("too many refreshes in thirty days")
		}
		kind := "good"
		if rng.Float64() < 0.6 { // mostly failing, in runs
			kind = failures[rng.IntN(len(failures))]
			if kind == "slow" && rng.Float64() < 0.7 {
				kind = "down" // keep real-time waits rare
			}
		}
		clock.Set(now)
		srv.set(answer(kind, now))
		next := st.refresh(t.Context(), e)
		if kind == "good" {
			lastGood = e.Status().GoodUntil
		}
		check(now, "after a "+kind+" answer")
		if !next.After(now) {
			t.Fatalf("refresh at %v scheduled the next one at %v", now, next)
		}
		for _, f := range []float64{0.25, 0.5, 0.75} {
			check(now.Add(time.Duration(float64(next.Sub(now))*f)), "between refreshes")
		}
		check(next.Add(-time.Nanosecond), "just before the next refresh")
		now = next
	}
	for _, k := range append([]string{"good"}, failures...) {
		if kinds[k] == 0 {
			t.Errorf("the schedule never produced a %q answer", k)
		}
	}
	t.Logf("answers over 30 days: %v", kinds)

	// Revoked mid-way, then the responder flaps between down and garbage.
	now := clock.Now()
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Revoked, revokedAt: now.Add(-time.Minute), thisUpdate: now, nextUpdate: now.Add(8 * time.Hour)})))
	next := st.refresh(t.Context(), e)
	revoked = true
	check(now, "after the revocation")
	for i := 0; i < 20; i++ {
		now = next
		clock.Set(now)
		srv.set(answer([]string{"down", "garbage"}[i%2], now))
		next = st.refresh(t.Context(), e)
		check(now, "responder failing after the revocation")
		check(next.Add(-time.Nanosecond), "just before the next refresh")
	}
	if got := e.Status().State; got != StateRevoked {
		t.Errorf("state after revocation and failures = %q, want %q", got, StateRevoked)
	}
}

// TestSlowResponderWithinTimeout checks that a responder slower than usual
// but within Options.Timeout is simply waited for.
func TestSlowResponderWithinTimeout(t *testing.T) {
	ca := newTestCA(t)
	clock := newFakeClock()
	now := clock.Now()
	srv := newTestResponder(t, nil)
	leaf := ca.leaf(t, "slow-ok.test", leafOpts{ocspURL: srv.URL()})
	good := ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(8 * time.Hour)})
	srv.set(func(*ocsp.Request) (int, []byte) {
		time.Sleep(150 * time.Millisecond)
		return http.StatusOK, good
	})
	st, _ := testStapler(t, clock, func(o *Options) { o.Timeout = 2 * time.Second })
	e := st.Add("slow-ok", []*x509.Certificate{leaf, ca.issuer}, nil)
	st.refresh(t.Context(), e)
	if e.Staple() == nil || e.Status().State != StateGood {
		t.Fatalf("slow but timely responder: state %q, staple %v", e.Status().State, e.Staple() != nil)
	}
}

// TestCacheUnwritable checks the disk fault: when the cache folder can no
// longer be written (read-only or full; here it is replaced by a file, which
// fails even for root), good responses are still stapled, the entry reports
// that it is not cached, and the problem is logged.
func TestCacheUnwritable(t *testing.T) {
	ca := newTestCA(t)
	clock := newFakeClock()
	now := clock.Now()
	srv := newTestResponder(t, nil)
	leaf := ca.leaf(t, "disk.test", leafOpts{ocspURL: srv.URL()})
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(8 * time.Hour)})))
	dir := filepath.Join(t.TempDir(), "ocsp")
	st, logs := testStapler(t, clock, func(o *Options) { o.StateDir = dir })
	e := st.Add("disk", []*x509.Certificate{leaf, ca.issuer}, nil)

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	st.refresh(t.Context(), e)
	if e.Staple() == nil {
		t.Fatal("a good response was not stapled because the cache could not be written")
	}
	if got := e.Status(); got.State != StateGood || got.Cached {
		t.Errorf("status: state %q cached %v; want good, not cached", got.State, got.Cached)
	}
	if !strings.Contains(logs.String(), "not cached; stapling it anyway") {
		t.Errorf("the cache failure was not logged:\n%s", logs)
	}
}
