package shield

import (
	"fmt"
	"net/netip"
	"testing"
)

// benchShield is a site with 10 rules, one of them a site-wide rate limit
// high enough never to refuse the benchmark's clients.
func benchShield(b *testing.B) *Shield {
	b.Helper()
	rules := []Rule{{Path: "/", Rate: "1000000r/s", Burst: 1000}}
	for i := range 8 {
		rules = append(rules, Rule{Path: fmt.Sprintf("/app%d/admin", i), Allow: []string{"10.0.0.0/8", "192.168.0.0/16"}, Deny: []string{"all"}})
	}
	rules = append(rules, Rule{Path: "/Manager", CaseInsensitive: true, Allow: []string{"10.0.0.0/8"}, Deny: []string{"all"}})
	s, err := New(Options{Sites: []Site{{Name: "bench", Rules: rules}}})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkCheck is the cost the shield adds to one request: a typical
// path from one of 1000 clients on a site with 10 rules and a rate limit.
func BenchmarkCheck(b *testing.B) {
	s := benchShield(b)
	clients := make([]netip.Addr, 1000)
	for i := range clients {
		clients[i] = netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
	}
	for _, target := range []string{"/index.php?id=42", "/app3/admin/users/edit.php?id=7", "/static/css/../img/%7Euser//logo.png"} {
		b.Run(target, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if d := s.Check(0, target, clients[i%len(clients)]); d.Verdict == Limit {
					b.Fatal("rate-limited")
				}
				i++
			}
		})
	}
}
