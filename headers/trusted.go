package headers

import (
	"fmt"
	"net/netip"
	"strings"
)

// TrustedProxies is the set of peers (load balancers, CDNs) whose forwarding
// headers tlsfront keeps and extends instead of replacing. The zero value
// trusts nobody.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies parses a trusted_proxies list. Each entry is a CIDR
// prefix ("10.0.0.0/8", "2001:db8::/32") or a bare address, which means that
// one host (/32 or /128). Host bits set in a prefix are masked off
// ("192.168.1.7/24" means 192.168.1.0/24). Zones ("fe80::1%eth0") are not
// allowed. The error names the first bad entry.
func ParseTrustedProxies(cidrs []string) (TrustedProxies, error) {
	var t TrustedProxies
	for i, raw := range cidrs {
		s := strings.TrimSpace(raw)
		if strings.Contains(s, "%") {
			return TrustedProxies{}, fmt.Errorf("trusted proxy %d %q: zones are not allowed", i, raw)
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return TrustedProxies{}, fmt.Errorf("trusted proxy %d %q: not a CIDR prefix (want e.g. \"10.0.0.0/8\" or \"2001:db8::/32\"): %w", i, raw, err)
			}
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return TrustedProxies{}, fmt.Errorf("trusted proxy %d %q: not an IP address or CIDR prefix (want e.g. \"192.0.2.7\" or \"10.0.0.0/8\"): %w", i, raw, err)
		}
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return t, nil
}

// Contains reports whether a is one of the trusted proxies. IPv4-mapped IPv6
// addresses (::ffff:192.0.2.7, as a dual-stack listener reports them) match
// IPv4 entries; an address's zone is ignored.
func (t TrustedProxies) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.WithZone("")
	u := a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) || p.Contains(u) {
			return true
		}
	}
	return false
}

// Prefixes returns a copy of the parsed prefixes, for logging.
func (t TrustedProxies) Prefixes() []netip.Prefix {
	return append([]netip.Prefix(nil), t.prefixes...)
}
