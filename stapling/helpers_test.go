package stapling

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ocsp"

	"tlsfront/internal/itest"
)

// fakeClock is an injectable clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// answerFunc produces a responder's answer to one parsed request.
type answerFunc func(req *ocsp.Request) (code int, body []byte)

// testResponder is an OCSP responder on 127.0.0.1 whose answers the test
// swaps at will. It records the method of every request.
type testResponder struct {
	srv     *httptest.Server
	prefix  string
	mu      sync.Mutex
	answer  answerFunc
	methods []string
	raw     [][]byte // DER requests as received
}

func newTestResponder(t testing.TB, answer answerFunc) *testResponder {
	t.Helper()
	r := &testResponder{answer: answer, prefix: "/ocsp/"}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve)) // binds 127.0.0.1
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the responder URL to put in certificates.
func (r *testResponder) URL() string { return r.srv.URL + r.prefix }

func (r *testResponder) set(a answerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = a
}

func (r *testResponder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.methods...)
}

func (r *testResponder) serve(w http.ResponseWriter, hr *http.Request) {
	var der []byte
	var err error
	switch hr.Method {
	case http.MethodGet:
		// hr.URL.Path is already percent-decoded; base64 may contain '/'.
		rest, ok := strings.CutPrefix(hr.URL.Path, r.prefix)
		if !ok {
			http.Error(w, "path", http.StatusNotFound)
			return
		}
		der, err = base64.StdEncoding.DecodeString(rest)
	case http.MethodPost:
		der, err = io.ReadAll(hr.Body)
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.methods = append(r.methods, hr.Method)
	r.raw = append(r.raw, der)
	answer := r.answer
	r.mu.Unlock()
	if answer == nil {
		http.Error(w, "no answer", http.StatusInternalServerError)
		return
	}
	code, body := answer(req)
	if code == 0 {
		code = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.WriteHeader(code)
	w.Write(body)
}

// fixed answers every request with body.
func fixed(body []byte) answerFunc {
	return func(*ocsp.Request) (int, []byte) { return http.StatusOK, body }
}

// failing answers every request with HTTP 500.
func failing() answerFunc {
	return func(*ocsp.Request) (int, []byte) { return http.StatusInternalServerError, []byte("down") }
}

// testStapler builds a Stapler on a fake clock with jitter fixed at 0.5 and
// logs captured; mod adjusts the options first.
func testStapler(t testing.TB, clock *fakeClock, mod func(*Options)) (*Stapler, *itest.SyncBuffer) {
	t.Helper()
	logs := &itest.SyncBuffer{}
	opts := Options{
		Timeout: 5 * time.Second,
		Logger:  zerolog.New(logs),
		Now:     clock.Now,
		Rand:    func() float64 { return 0.5 },
	}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, logs
}
