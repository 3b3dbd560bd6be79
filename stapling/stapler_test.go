package stapling

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// countingTransport fails every request and counts them: proof that no
// fetch was attempted.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("no network in this test")
}

// TestRestartFromCache checks that a new Stapler on the same state dir
// staples the cached response right in Add while the responder is down,
// and that the cache file is private and written atomically.
func TestRestartFromCache(t *testing.T) {
	ca := newTestCA(t)
	srv := newTestResponder(t, nil)
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: srv.URL()})
	clock := newFakeClock()
	now := clock.Now()
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(4 * time.Hour)})))
	dir := filepath.Join(t.TempDir(), "ocsp")
	chain := []*x509.Certificate{leaf, ca.issuer}

	st1, _ := testStapler(t, clock, func(o *Options) { o.StateDir = dir })
	e1 := st1.Add("www", chain, nil)
	st1.refresh(t.Context(), e1)
	want := e1.Staple()
	if want == nil {
		t.Fatal("no staple from the first Stapler")
	}
	st1.Close()

	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name() != cacheFileName(leaf) {
		t.Fatalf("state dir holds %v, want exactly %s (no temp files left)", files, cacheFileName(leaf))
	}
	fi, err := files[0].Info()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file mode %v, want 0600", fi.Mode().Perm())
	}

	srv.set(failing())
	clock.Add(time.Hour)
	st2, _ := testStapler(t, clock, func(o *Options) { o.StateDir = dir })
	e2 := st2.Add("www", chain, nil)
	if got := e2.Staple(); !bytes.Equal(got, want) {
		t.Fatal("new Stapler does not staple the cached response right after Add")
	}
	if got := e2.Status(); !got.Cached || got.State != StateGood || !got.GoodUntil.Equal(now.Add(4*time.Hour)) {
		t.Fatalf("status after load: %+v", got)
	}
	if want := now.Add(2 * time.Hour); !e2.next.Equal(want) {
		t.Errorf("cached response refresh due %v, want %v (its half-life)", e2.next, want)
	}
	// The cached response is fresh, so Prefetch does not wait for a fetch
	// (no Start at all here: it would block until ctx otherwise).
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := st2.Prefetch(ctx); err != nil {
		t.Fatalf("Prefetch with a fresh cache: %v", err)
	}

	// Past its half-life, a cached response is still stapled and is
	// refreshed at once.
	clock.Add(2 * time.Hour)
	st3, _ := testStapler(t, clock, func(o *Options) { o.StateDir = dir })
	e3 := st3.Add("www", chain, nil)
	if e3.Staple() == nil || !e3.next.Equal(clock.Now()) {
		t.Fatalf("old cached response: staple %v, refresh due %v, want now %v", e3.Staple() != nil, e3.next, clock.Now())
	}
}

// TestCacheIgnored checks that a cache file which does not verify fully at
// load time is not stapled.
func TestCacheIgnored(t *testing.T) {
	ca := newTestCA(t)
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: "http://ocsp.example.test/"})
	otherLeaf := ca.leaf(t, "other.example.test", leafOpts{ocspURL: "http://ocsp.example.test/"})
	clock := newFakeClock()
	now := clock.Now()
	tests := []struct {
		name string
		data []byte
	}{
		{"corrupt", []byte("not an OCSP response")},
		{"empty", nil},
		{"expired", ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now.Add(-8 * time.Hour), nextUpdate: now.Add(-time.Minute)})},
		{"another certificate", ca.response(t, otherLeaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(time.Hour)})},
		{"revoked", ca.response(t, leaf, respSpec{status: ocsp.Revoked, revokedAt: now.Add(-time.Hour), thisUpdate: now, nextUpdate: now.Add(time.Hour)})},
		{"no NextUpdate", ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, cacheFileName(leaf)), tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			st, logs := testStapler(t, clock, func(o *Options) { o.StateDir = dir })
			e := st.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil)
			if e.Staple() != nil {
				t.Fatal("stapled a cache file that should be ignored")
			}
			if got := e.Status(); got.Cached || got.State != StatePending {
				t.Fatalf("status %+v", got)
			}
			if !strings.Contains(logs.String(), "OCSP cache not usable") {
				t.Errorf("ignored cache not logged:\n%s", logs)
			}
		})
	}
}

func TestGetURL(t *testing.T) {
	req := bytes.Repeat([]byte{0xfb, 0xff, 0xfe}, 10) // base64 full of '+' and '/'
	tests := []struct {
		name    string
		base    string
		req     []byte
		wantGET bool
	}{
		{"short", "http://ocsp.example.test", req, true},
		{"trailing slash", "http://ocsp.example.test/", req, true},
		{"with path", "http://ocsp.example.test/ocsp/", req, true},
		{"too long", "http://ocsp.example.test/" + strings.Repeat("p", 200), req, false},
		{"query", "http://ocsp.example.test/?x=1", req, false},
		{"padding", "http://ocsp.example.test", req[:4], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, ok := getURL(tc.base, tc.req)
			if ok != tc.wantGET {
				t.Fatalf("GET = %v (len %d), want %v", ok, len(u), tc.wantGET)
			}
			if !ok {
				return
			}
			if len(u) > maxGETURL {
				t.Fatalf("GET URL of %d bytes", len(u))
			}
			pu, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			last := pu.EscapedPath()[strings.LastIndex(pu.EscapedPath(), "/")+1:]
			if strings.ContainsAny(last, "+/=") {
				t.Fatalf("unescaped base64 in %q", last)
			}
			dec, err := url.PathUnescape(last)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := base64.StdEncoding.DecodeString(dec)
			if err != nil || !bytes.Equal(raw, tc.req) {
				t.Fatalf("URL %q does not carry the request: %v", u, err)
			}
		})
	}
}

// TestGetOrPost checks the method on the wire: GET for a short responder
// URL, POST when the GET URL would exceed 255 bytes; both succeed.
func TestGetOrPost(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range []struct {
		name   string
		suffix string
		want   string
	}{
		{"short URL uses GET", "", http.MethodGet},
		{"long URL uses POST", strings.Repeat("x", 200), http.MethodPost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestResponder(t, nil)
			leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: srv.URL() + tc.suffix})
			clock := newFakeClock()
			now := clock.Now()
			srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(time.Hour)})))
			st, _ := testStapler(t, clock, nil)
			e := st.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil)
			st.refresh(t.Context(), e)
			if e.Staple() == nil {
				t.Fatalf("no staple: %s", e.Status().LastError)
			}
			if got := srv.seen(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("responder saw %v, want [%s]", got, tc.want)
			}
		})
	}
}

// TestNoOCSPURL checks that a certificate without responder is logged once
// at info and never fetched, even with the loops running.
func TestNoOCSPURL(t *testing.T) {
	ca := newTestCA(t)
	leaf := ca.leaf(t, "plain.test", leafOpts{})
	tr := &countingTransport{}
	clock := newFakeClock()
	st, logs := testStapler(t, clock, func(o *Options) { o.Client = &http.Client{Transport: tr} })
	e := st.Add("plain.test", []*x509.Certificate{leaf, ca.issuer}, nil)
	st.Start(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := st.Prefetch(ctx); err != nil {
		t.Fatalf("Prefetch: %v", err)
	}
	st.Close()
	if n := tr.n.Load(); n != 0 {
		t.Fatalf("%d fetches attempted for a certificate without OCSP URL", n)
	}
	got := e.Status()
	if got.HasURL || got.State != StateNoURL || got.LastError != "" || e.Staple() != nil {
		t.Fatalf("status %+v", got)
	}
	lines := logs.Lines()
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"info"`) {
		t.Fatalf("want one info line, got:\n%s", logs)
	}
}

// TestOverrides checks that the URL from the certificate is replaced by
// its override, and that others are left alone.
func TestOverrides(t *testing.T) {
	ca := newTestCA(t)
	srv := newTestResponder(t, nil)
	const certURL = "http://ocsp.unreachable.invalid/"
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: certURL})
	clock := newFakeClock()
	now := clock.Now()
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(time.Hour)})))
	st, logs := testStapler(t, clock, func(o *Options) {
		o.Overrides = map[string]string{certURL: srv.URL(), "http://other.invalid/": "http://127.0.0.1:1/"}
	})
	e := st.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil)
	st.refresh(t.Context(), e)
	if e.Staple() == nil {
		t.Fatalf("no staple through the override: %s", e.Status().LastError)
	}
	if got := e.Status(); got.Responder != srv.URL() || !got.HasURL {
		t.Fatalf("status responder %q, want %q", got.Responder, srv.URL())
	}
	if !strings.Contains(logs.String(), srv.URL()) {
		t.Errorf("log does not name the responder asked:\n%s", logs)
	}
}

// TestLogSpam checks that a responder that stays down yields one line when
// it goes down, one reminder per hour and one when it comes back, however
// often it is retried.
func TestLogSpam(t *testing.T) {
	ca := newTestCA(t)
	srv := newTestResponder(t, failing())
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: srv.URL()})
	clock := newFakeClock()
	st, logs := testStapler(t, clock, nil)
	e := st.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil)

	for range 50 { // 50 failures within 50 minutes
		st.refresh(t.Context(), e)
		clock.Add(time.Minute)
	}
	if n := len(logs.Lines()); n != 1 {
		t.Fatalf("50 failures in 50 min logged %d lines, want 1:\n%s", n, logs)
	}
	clock.Add(11 * time.Minute) // an hour after the first line
	st.refresh(t.Context(), e)
	st.refresh(t.Context(), e)
	if n := len(logs.Lines()); n != 2 || !strings.Contains(logs.Lines()[1], "still failing") {
		t.Fatalf("want one hourly reminder, got:\n%s", logs)
	}
	if !strings.Contains(logs.Lines()[1], `"failures":51`) {
		t.Errorf("reminder does not count the failures: %s", logs.Lines()[1])
	}

	now := clock.Now()
	srv.set(fixed(ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(time.Hour)})))
	st.refresh(t.Context(), e)
	lines := logs.Lines()
	if len(lines) != 3 {
		t.Fatalf("want a recovery line, got:\n%s", logs)
	}
	for _, field := range []string{`"cert":"www"`, `"responder":"` + srv.URL(), `"status":"good"`, `"next_update"`} {
		if !strings.Contains(lines[2], field) {
			t.Errorf("outcome line lacks %s: %s", field, lines[2])
		}
	}
}

// TestStartPrefetch runs the real loops on the real clock: every entry, the
// RSA and the ECDSA certificate of one site, gets its own staple before
// Prefetch returns.
func TestStartPrefetch(t *testing.T) {
	ca := newTestCA(t)
	srv := newTestResponder(t, nil)
	rsaLeaf := ca.leaf(t, "www.example.test", leafOpts{rsa: true, ocspURL: srv.URL()})
	ecLeaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: srv.URL()})
	bySerial := map[string][]byte{}
	for _, l := range []*x509.Certificate{rsaLeaf, ecLeaf} {
		now := time.Now()
		bySerial[l.SerialNumber.String()] = ca.response(t, l, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(time.Hour)})
	}
	srv.set(func(req *ocsp.Request) (int, []byte) {
		return http.StatusOK, bySerial[req.SerialNumber.String()]
	})
	st, err := New(Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eRSA := st.Add("www.example.test/rsa", []*x509.Certificate{rsaLeaf, ca.issuer}, nil)
	st.Start(t.Context())
	eEC := st.Add("www.example.test/ecdsa", []*x509.Certificate{ecLeaf}, ca.issuer) // after Start, issuer separate
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := st.Prefetch(ctx); err != nil {
		t.Fatalf("Prefetch: %v; status %+v", err, st.Status())
	}
	for _, tc := range []struct {
		e    *Entry
		leaf *x509.Certificate
	}{{eRSA, rsaLeaf}, {eEC, ecLeaf}} {
		staple := tc.e.Staple()
		if staple == nil {
			t.Fatalf("%s: no staple after Prefetch: %+v", tc.e.Name(), tc.e.Status())
		}
		if _, err := ocsp.ParseResponseForCert(staple, tc.leaf, nil); err != nil {
			t.Fatalf("%s: staple is not about its own certificate: %v", tc.e.Name(), err)
		}
		if st := tc.e.Status(); st.NextAttempt.IsZero() {
			t.Errorf("%s: no next attempt reported while running", tc.e.Name())
		}
	}
	done := make(chan struct{})
	go func() { st.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the loops")
	}
}

// TestOffline checks the `tlsfront -t` mode: the cache is loaded and
// verified, nothing is fetched or written.
func TestOffline(t *testing.T) {
	ca := newTestCA(t)
	leaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: "http://ocsp.example.test/", mustStaple: true})
	bare := ca.leaf(t, "new.example.test", leafOpts{ocspURL: "http://ocsp.example.test/", mustStaple: true})
	clock := newFakeClock()
	now := clock.Now()
	dir := t.TempDir()
	der := ca.response(t, leaf, respSpec{status: ocsp.Good, thisUpdate: now, nextUpdate: now.Add(time.Hour)})
	if err := os.WriteFile(filepath.Join(dir, cacheFileName(leaf)), der, 0o600); err != nil {
		t.Fatal(err)
	}
	tr := &countingTransport{}
	st, _ := testStapler(t, clock, func(o *Options) {
		o.StateDir, o.Offline, o.Client = dir, true, &http.Client{Transport: tr}
	})
	st.Add("www", []*x509.Certificate{leaf, ca.issuer}, nil)
	st.Add("new", []*x509.Certificate{bare, ca.issuer}, nil)
	st.Start(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := st.Prefetch(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if tr.n.Load() != 0 {
		t.Fatal("offline Stapler fetched")
	}
	got := st.Status()
	if !got[0].Cached || !got[0].MustStaple || got[0].StapleMissing() || !got[0].GoodUntil.Equal(now.Add(time.Hour)) {
		t.Errorf("cached entry: %+v", got[0])
	}
	if got[1].Cached || !got[1].StapleMissing() || got[1].State != StatePending || got[1].Serial != strings.ToUpper(bare.SerialNumber.Text(16)) {
		t.Errorf("uncached must-staple entry: %+v", got[1])
	}
}

func TestSchedule(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		h    held
		now  time.Time
		r    float64
		want time.Time
	}{
		{"half window", held{thisUpdate: t0, nextUpdate: t0.Add(4 * time.Hour)}, t0, 0.5, t0.Add(2 * time.Hour)},
		{"jitter low", held{thisUpdate: t0, nextUpdate: t0.Add(10 * time.Hour)}, t0, 0, t0.Add(4 * time.Hour)},
		{"jitter high", held{thisUpdate: t0, nextUpdate: t0.Add(10 * time.Hour)}, t0, 0.75, t0.Add(5*time.Hour + 30*time.Minute)},
		{"stale response: floor", held{thisUpdate: t0, nextUpdate: t0.Add(4 * time.Hour)}, t0.Add(3 * time.Hour), 0.5, t0.Add(3 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Stapler{opts: Options{Rand: func() float64 { return tc.r }}}
			if got := s.nextAfterGood(&tc.h, tc.now); !got.Equal(tc.want) {
				t.Fatalf("next refresh %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0.5, 54 * time.Second},
		{2, 0, 96 * time.Second},
		{6, 0.5, 28*time.Minute + 48*time.Second},
		{7, 0.999999999, maxBackoff},
		{40, 0.5, 54 * time.Minute},
	} {
		got := backoff(tc.n, tc.r)
		if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.n, tc.r, got, tc.want)
		}
	}
}
