package proxy

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"tlsfront/shield"
)

// BenchmarkServeHTTPShield is BenchmarkServeHTTP's proxied request with and
// without a shield of 10 rules (access lists, a case-insensitive rule and
// a site-wide rate limit that never refuses): the difference is what the
// shield costs a request in the handler.
func BenchmarkServeHTTPShield(b *testing.B) {
	rules := []shield.Rule{{Path: "/", Rate: "1000000r/s", Burst: 1000}}
	for i := range 8 {
		rules = append(rules, shield.Rule{Path: fmt.Sprintf("/app%d/admin", i), Allow: []string{"10.0.0.0/8"}, Deny: []string{"all"}})
	}
	rules = append(rules, shield.Rule{Path: "/Manager", CaseInsensitive: true, Allow: []string{"10.0.0.0/8"}, Deny: []string{"all"}})
	s, err := shield.New(shield.Options{Sites: []shield.Site{{Name: "a.example", Rules: rules}}})
	if err != nil {
		b.Fatal(err)
	}
	backend := benchBackend(b)
	plain, shielded := benchHandler(b, backend), benchHandler(b, backend)
	shielded.SetShield(s)
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"without", Observe(plain, func(*Entry) {})}, {"with", Observe(shielded, func(*Entry) {})}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "https://a.example/index.php?id=1", nil)
			req.RemoteAddr = "192.0.2.7:50000"
			req.TLS = &tls.ConnectionState{ServerName: "a.example", Version: tls.VersionTLS13}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.status = 0
				c.h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
