package proxy

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
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
		got = append(got, *e)
		mu.Unlock()
		combined(e)
	}
	srv, _ := serveTLS(t, h)
	for _, nc := range testClients(t, srv, 0) {
		buf.Reset()
		mu.Lock()
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
		mu.Lock()
		if len(got) != 1 {
			t.Fatalf("%s: %d entries, want 1", nc.name, len(got))
		}
		e := got[0]
		mu.Unlock()
		if e.Site != "b.example" || e.Status != http.StatusTeapot || e.Bytes != 5 || e.Backend < 0 || e.Backend > e.Duration ||
			e.Path() != "/a" || e.Host != "b.example" {
			t.Errorf("%s: entry = %+v", nc.name, e)
		}
		proto := map[string]string{"h1": `HTTP/1\.1`, "h2": `HTTP/2\.0`}[nc.name]
		re := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /a\?b=\\"c\\" ` + proto +
			`" 418 5 "https://ref\.example/" "test\\"agent"\n$`)
		if !re.Match(buf.Bytes()) {
			t.Errorf("%s: combined line = %q", nc.name, buf.String())
		}
	}
}
