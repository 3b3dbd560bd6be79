package proxy

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestObserveAndCombinedLog(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("12345"))
	}))
	defer backend.Close()
	var buf bytes.Buffer
	var got Entry
	combined := CombinedAccessLog(&buf)
	srv, client := serveTLS(t, Observe(newHandler(t, backend.URL, backend.URL), func(e *Entry) {
		got = *e
		combined(e)
	}))
	req, _ := http.NewRequest("GET", srv.URL+"/a?b=\"c\"", nil)
	req.Host = "b.example"
	req.Header.Set("Referer", "https://ref.example/")
	req.Header.Set("User-Agent", "test\"agent")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got.Site != 1 || got.Status != http.StatusTeapot || got.Bytes != 5 || got.Backend < 0 || got.Backend > got.Duration {
		t.Errorf("entry = site %d status %d bytes %d backend %v duration %v", got.Site, got.Status, got.Bytes, got.Backend, got.Duration)
	}
	re := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /a\?b=\\"c\\" HTTP/2\.0" 418 5 "https://ref\.example/" "test\\"agent"\n$`)
	if !re.Match(buf.Bytes()) {
		t.Errorf("combined line = %q", buf.String())
	}
}
