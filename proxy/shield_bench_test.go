package proxy

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"
	"time"

	"tlsfront/shield"
)

// BenchmarkServeShield is BenchmarkServe's proxied request with and
// without a shield of 10 rules (access lists, a case-insensitive rule and
// a site-wide rate limit that never refuses): the difference is what the
// shield costs a request in the request path.
func BenchmarkServeShield(b *testing.B) {
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
		h    *Handler
	}{{"without", plain}, {"with", shielded}} {
		b.Run(c.name, func(b *testing.B) {
			ci := &ConnInfo{Remote: netipAddrPortMust("192.0.2.7:50000"), TLS: &tls.ConnectionState{ServerName: "a.example", Version: tls.VersionTLS13}, Fwd: new(ForwardCache)} // as the engines make it
			r := &Request{Method: "GET", Authority: "a.example", Target: "/index.php?id=1", Proto: "HTTP/1.1", Fields: browserFields, Conn: ci}
			s := &discardSink{}
			b.ReportAllocs()
			for b.Loop() {
				r.Start = time.Now()
				c.h.Serve(s, r)
				if s.status != http.StatusOK {
					b.Fatalf("status %d", s.status)
				}
			}
		})
	}
}
