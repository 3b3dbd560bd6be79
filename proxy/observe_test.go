package proxy

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"
)

// The access-log entry is written once per request by the request path,
// with the site's name, for HTTP/1.1 (the H1 engine) and HTTP/2 alike.
func TestObserveAndCombinedLog(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("12345"))
	}))
	defer backend.Close()
	var mu sync.Mutex
	var buf bytes.Buffer
	var got []Entry
	combined := CombinedAccessLog(&buf)
	h := newHandler(t, backend.URL, backend.URL)
	h.opts.Observe = func(e *Entry) {
		mu.Lock()
		defer mu.Unlock()
		combined(e)
		got = append(got, *e)
	}
	srv, _ := serveTLS(t, h)
	for _, nc := range testClients(t, srv, 0) {
		mu.Lock()
		buf.Reset()
		got = nil
		mu.Unlock()
		req, _ := http.NewRequest("GET", srv.URL+"/a?b=\"c\"", nil)
		req.Host = "b.example"
		req.Header.Set("Referer", "https://ref.example/")
		req.Header.Set("User-Agent", "test\"agent")
		res, err := nc.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		// The entry is written once the response has ended, which the
		// client may see first: wait for it.
		var e Entry
		var line []byte
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			n := len(got)
			if n > 0 {
				e, line = got[0], bytes.Clone(buf.Bytes())
			}
			mu.Unlock()
			if n == 1 {
				break
			}
			if n > 1 || time.Now().After(deadline) {
				t.Fatalf("%s: %d entries, want 1", nc.name, n)
			}
		}
		if e.Site != "b.example" || e.Status != http.StatusTeapot || e.Bytes != 5 || e.Backend < 0 || e.Backend > e.Duration ||
			e.Path() != "/a" || e.Host != "b.example" {
			t.Errorf("%s: entry = %+v", nc.name, e)
		}
		proto := map[string]string{"h1": `HTTP/1\.1`, "h2": `HTTP/2\.0`}[nc.name]
		re := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /a\?b=\\"c\\" ` + proto +
			`" 418 5 "https://ref\.example/" "test\\"agent"\n$`)
		if !re.Match(line) {
			t.Errorf("%s: combined line = %q", nc.name, line)
		}
	}
}
