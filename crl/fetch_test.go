package crl

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tlsfront/internal/testca"
)

// crlServer is a distribution point on 127.0.0.1 whose answers a test
// changes as it goes: the body per path, or a status.
type crlServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]byte
	status int
	hits   atomic.Int64
	paths  sync.Map // path -> *atomic.Int64
}

func (s *crlServer) hitsOf(path string) int64 {
	v, _ := s.paths.LoadOrStore(path, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

func newCRLServer(t *testing.T) *crlServer {
	t.Helper()
	s := &crlServer{bodies: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		v, _ := s.paths.LoadOrStore(r.URL.Path, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		s.mu.Lock()
		body, ok := s.bodies[r.URL.Path]
		status := s.status
		s.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *crlServer) set(path string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies[path] = body
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func newSet(t *testing.T, opts Options, cas ...*x509.Certificate) *Set {
	t.Helper()
	s, err := New(opts, cas)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestFetchFromCADistributionPoint: the intermediate CA certificate names
// the root's CRL; a Set built with Fetch downloads it before Prefetch
// returns and uses it for the intermediate.
func TestFetchFromCADistributionPoint(t *testing.T) {
	t.Parallel()
	srv := newCRLServer(t)
	ca := testca.New(t, testca.Options{Now: now0, CRLURL: srv.URL})
	inter, root := ca.Intermediate(), ca.Root()
	srv.set("/0.crl", ca.CRL(t, testca.CRLOptions{Level: 0}))

	clock := &fakeClock{now: now0}
	s := newSet(t, Options{Fetch: true, Now: clock.Now}, root, inter)
	s.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Prefetch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(inter, root); err != nil {
		t.Fatalf("Check(intermediate) = %v, want nil", err)
	}
	st := s.Status()
	if len(st) != 1 || st[0].State != StateGood || st[0].Source != ca.CRLURL(0) || !st[0].NextUpdate.Equal(now0.Add(24*time.Hour)) {
		t.Errorf("Status = %+v, want one good CRL from %s", st, ca.CRLURL(0))
	}

	// The root revokes the intermediate: the next download says so.
	srv.set("/0.crl", ca.CRL(t, testca.CRLOptions{Level: 0, Number: big.NewInt(2), Revoked: []*big.Int{inter.SerialNumber}}))
	s.refresh(context.Background(), s.entries[ca.CRLURL(0)])
	if err := s.Check(inter, root); !errors.Is(err, ErrRevoked) {
		t.Errorf("Check(intermediate) after the root revoked it = %v, want revoked", err)
	}
}

// TestLearnFromClientCertificate: a client certificate names its issuer's
// CRL; the first Check downloads it (revoked and good certificates are
// told apart), later ones do not, and a new Set on the same state_dir
// serves the cached CRL while the distribution point is down.
func TestLearnFromClientCertificate(t *testing.T) {
	t.Parallel()
	srv := newCRLServer(t)
	ca := testca.New(t, testca.Options{Now: now0, CRLURL: srv.URL})
	good := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	bad := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	inter := ca.Intermediate()
	srv.set("/1.crl", ca.CRLPEM(t, testca.CRLOptions{Level: 1, Revoked: []*big.Int{bad.Cert().SerialNumber}}))
	dir := t.TempDir()

	clock := &fakeClock{now: now0}
	s := newSet(t, Options{Fetch: true, StateDir: dir, Now: clock.Now}, ca.Root(), inter)
	s.Start(context.Background())
	if err := s.Check(good.Cert(), inter); err != nil {
		t.Fatalf("Check(good) = %v, want nil", err)
	}
	if err := s.Check(bad.Cert(), inter); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Check(revoked) = %v, want revoked", err)
	}
	if n := srv.hitsOf("/1.crl"); n != 1 {
		t.Errorf("%d downloads, want 1", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.crl"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode: %v %v, want 0600", fi.Mode(), err)
	}

	srv.Close()
	s2 := newSet(t, Options{Fetch: true, StateDir: dir, Now: clock.Now}, ca.Root(), inter)
	s2.Start(context.Background())
	if err := s2.Check(bad.Cert(), inter); !errors.Is(err, ErrRevoked) {
		t.Errorf("after restart with the distribution point down: Check(revoked) = %v, want revoked from the cache", err)
	}
}

// TestRefusedDownloads: what a distribution point serves is used only when
// it verifies, is current and is not older than what is held. Each bad
// answer leaves a Set without a CRL with none (ErrNoCRL), and one that
// holds a good CRL keeps using it until its nextUpdate.
func TestRefusedDownloads(t *testing.T) {
	t.Parallel()
	ca := testca.New(t, testca.Options{Now: now0})
	other := testca.New(t, testca.Options{Now: now0, Name: "other"})
	leaf := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	revoked := []*big.Int{leaf.Cert().SerialNumber}
	inter := ca.Intermediate()

	tests := []struct {
		name    string
		body    []byte
		status  int
		down    bool
		wantErr string
	}{
		{name: "expired", body: ca.CRL(t, testca.CRLOptions{Level: 1, Number: big.NewInt(9), ThisUpdate: now0.Add(-72 * time.Hour), NextUpdate: now0.Add(-time.Hour)}), wantErr: "expired"},
		{name: "not yet valid", body: ca.CRL(t, testca.CRLOptions{Level: 1, Number: big.NewInt(9), ThisUpdate: now0.Add(time.Hour), NextUpdate: now0.Add(72 * time.Hour)}), wantErr: "future"},
		{name: "wrongly signed", body: ca.CRL(t, testca.CRLOptions{Level: 1, Number: big.NewInt(9), Signer: otherKey(t)}), wantErr: "signature"},
		{name: "another issuer", body: other.CRL(t, testca.CRLOptions{Level: 1, Number: big.NewInt(9)}), wantErr: "issuer name"},
		{name: "not a CRL", body: []byte("<html>proxy error</html>"), wantErr: "parsing CRL"},
		{name: "HTTP 500", status: http.StatusInternalServerError, wantErr: "500"},
		{name: "unreachable", down: true, wantErr: "downloading CRL"},
	}
	for _, tc := range tests {
		for _, hasGood := range []bool{false, true} {
			name := tc.name + "/without a CRL"
			if hasGood {
				name = tc.name + "/with a good CRL"
			}
			t.Run(name, func(t *testing.T) {
				srv := newCRLServer(t)
				url := srv.URL + "/inter.crl"
				clock := &fakeClock{now: now0}
				s := newSet(t, Options{Fetch: true, Now: clock.Now}, ca.Root(), inter)
				e := s.add(url, []*x509.Certificate{inter}, true)
				if hasGood {
					srv.set("/inter.crl", ca.CRL(t, testca.CRLOptions{Level: 1, Number: big.NewInt(5), Revoked: revoked}))
					s.refresh(context.Background(), e)
					if err := s.Check(leaf.Cert(), inter); !errors.Is(err, ErrRevoked) {
						t.Fatalf("with the good CRL: Check = %v, want revoked", err)
					}
				}
				srv.set("/inter.crl", tc.body)
				srv.mu.Lock()
				srv.status = tc.status
				srv.mu.Unlock()
				if tc.down {
					srv.Close()
				}
				clock.set(now0.Add(time.Minute))
				next := s.refresh(context.Background(), e)
				st := e.status()
				if !strings.Contains(st.LastError, tc.wantErr) {
					t.Errorf("last error %q, want it to mention %q", st.LastError, tc.wantErr)
				}
				if !next.After(clock.Now()) {
					t.Errorf("next attempt %v is not after now %v", next, clock.Now())
				}
				err := s.Check(leaf.Cert(), inter)
				if hasGood {
					if !errors.Is(err, ErrRevoked) || st.State != StateFailing {
						t.Errorf("Check = %v (state %s), want the last good CRL still used (revoked, failing)", err, st.State)
					}
					// Past the good CRL's nextUpdate it is no longer used.
					srv.mu.Lock()
					srv.status = http.StatusServiceUnavailable
					srv.mu.Unlock()
					clock.set(now0.Add(25 * time.Hour))
					s.refresh(context.Background(), e)
					if err := s.Check(leaf.Cert(), inter); !errors.Is(err, ErrNoCRL) {
						t.Errorf("after nextUpdate: Check = %v, want no current CRL", err)
					}
					if st := e.status(); st.State != StateExpired {
						t.Errorf("after nextUpdate: state %s, want %s", st.State, StateExpired)
					}
				} else if !errors.Is(err, ErrNoCRL) {
					t.Errorf("Check = %v, want no current CRL", err)
				}
			})
		}
	}
}

// TestOlderCRLRefused: a lagging mirror handing out an older CRL (lower
// number) does not replace a newer one that is still current.
func TestOlderCRLRefused(t *testing.T) {
	t.Parallel()
	ca := testca.New(t, testca.Options{Now: now0})
	leaf := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	inter := ca.Intermediate()
	srv := newCRLServer(t)
	clock := &fakeClock{now: now0}
	s := newSet(t, Options{Fetch: true, Now: clock.Now}, ca.Root(), inter)
	e := s.add(srv.URL+"/c.crl", []*x509.Certificate{inter}, true)
	srv.set("/c.crl", ca.CRL(t, testca.CRLOptions{Level: 1, Number: big.NewInt(3), Revoked: []*big.Int{leaf.Cert().SerialNumber}}))
	s.refresh(context.Background(), e)
	srv.set("/c.crl", ca.CRL(t, testca.CRLOptions{Level: 1, Number: big.NewInt(2)}))
	s.refresh(context.Background(), e)
	if err := s.Check(leaf.Cert(), inter); !errors.Is(err, ErrRevoked) {
		t.Errorf("Check = %v, want revoked (CRL 3 kept over CRL 2)", err)
	}
	if st := e.status(); !strings.Contains(st.LastError, "older") {
		t.Errorf("last error %q, want it to say the CRL is older", st.LastError)
	}
}

// TestRefreshSchedule: a good CRL is downloaded again at 40–60 % of its
// validity window, failures back off from a minute to an hour but never
// past the held CRL's nextUpdate.
func TestRefreshSchedule(t *testing.T) {
	t.Parallel()
	ca := testca.New(t, testca.Options{Now: now0})
	inter := ca.Intermediate()
	srv := newCRLServer(t)
	clock := &fakeClock{now: now0}
	s := newSet(t, Options{Fetch: true, Now: clock.Now, Rand: func() float64 { return 0.5 }}, ca.Root(), inter)
	e := s.add(srv.URL+"/c.crl", []*x509.Certificate{inter}, true)
	this, next := now0.Add(-time.Hour), now0.Add(23*time.Hour)
	srv.set("/c.crl", ca.CRL(t, testca.CRLOptions{Level: 1, ThisUpdate: this, NextUpdate: next}))
	if got, want := s.refresh(context.Background(), e), this.Add(12*time.Hour); !got.Equal(want) {
		t.Errorf("after a good CRL: next %v, want %v (half of the window)", got, want)
	}
	srv.mu.Lock()
	srv.status = http.StatusServiceUnavailable
	srv.mu.Unlock()
	for i, want := range []time.Duration{54 * time.Second, 108 * time.Second, 216 * time.Second} {
		if got := s.refresh(context.Background(), e); !got.Equal(now0.Add(want)) {
			t.Errorf("failure %d: next %v, want now + %v", i+1, got, want)
		}
	}
	clock.set(next.Add(-10 * time.Second))
	if got := s.refresh(context.Background(), e); !got.Equal(next) {
		t.Errorf("failure close to nextUpdate: next %v, want nextUpdate %v", got, next)
	}
}
