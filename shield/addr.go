package shield

import (
	"fmt"
	"net/netip"
	"strings"
)

// addrList is a parsed allow or deny list.
type addrList struct {
	all      bool
	prefixes []netip.Prefix
}

// ParseList parses an allow or deny list: "all", CIDRs ("10.0.0.0/8",
// "2001:db8::/32") or single addresses ("192.0.2.7", "2001:db8::7"). The
// error names the first bad entry and what is allowed.
func ParseList(list []string) error {
	_, err := parseList(list)
	return err
}

func parseList(list []string) (addrList, error) {
	var l addrList
	for _, s := range list {
		p, all, err := parseEntry(s)
		if err != nil {
			return addrList{}, err
		}
		if all {
			l.all = true
			continue
		}
		l.prefixes = append(l.prefixes, p)
	}
	return l, nil
}

func parseEntry(s string) (p netip.Prefix, all bool, err error) {
	if s == "all" {
		return netip.Prefix{}, true, nil
	}
	const want = `(want "all", an address such as "192.0.2.7" or a CIDR such as "10.0.0.0/8")`
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return p, false, fmt.Errorf("%q is not a CIDR %s", s, want)
		}
		if p.Addr().Is4In6() {
			return p, false, fmt.Errorf("%q is an IPv4-mapped IPv6 prefix (want the IPv4 form, e.g. %q: clients are matched as IPv4)",
				s, netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0)).String())
		}
		if p.Masked() != p {
			return p, false, fmt.Errorf("%q has bits set past the prefix length (want %q)", s, p.Masked().String())
		}
		return p, false, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return p, false, fmt.Errorf("%q is not an address %s", s, want)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), false, nil
}

func (l addrList) empty() bool { return !l.all && len(l.prefixes) == 0 }

func (l addrList) contains(a netip.Addr) bool {
	if l.all {
		return true
	}
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l addrList) String() string {
	var parts []string
	if l.all {
		parts = append(parts, "all")
	}
	for _, p := range l.prefixes {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}

// clientKey is what per-client state is kept by: an IPv4 address, or the
// /64 of an IPv6 address (one subscriber's network, as a single client).
type clientKey struct{ hi, lo uint64 }

// keyOf returns a's key. IPv4-mapped IPv6 addresses are IPv4. Every
// invalid (unknown) address has one key.
func keyOf(a netip.Addr) clientKey {
	a = a.Unmap()
	if !a.IsValid() {
		return clientKey{hi: ^uint64(0), lo: ^uint64(0)}
	}
	if a.Is4() {
		b := a.As4()
		return clientKey{lo: 0xffff<<32 | uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var hi uint64
	for _, x := range b[:8] {
		hi = hi<<8 | uint64(x)
	}
	return clientKey{hi: hi} // lo 0: never an IPv4 key, whose lo has 0xffff<<32
}

// shard picks one of n (a power of two) shards for k.
func (k clientKey) shard(n int) int {
	h := k.hi*0x9E3779B97F4A7C15 ^ k.lo*0xC2B2AE3D27D4EB4F
	h ^= h >> 29
	return int(h & uint64(n-1))
}

// Client returns the address rules and limits apply to for a request from
// peer (the connection's client, after the PROXY protocol) carrying the
// X-Forwarded-For header values xff. From a peer trusted (a proxy in
// headers.trusted_proxies) it is the rightmost X-Forwarded-For address
// that is not trusted, as nginx's realip module with real_ip_recursive on
// finds it: proxies append the address they received from, so everything
// left of the first untrusted hop is the client's own claim. All hops
// trusted: the leftmost. An entry that is not an address ends the walk at
// the last hop read (the trusted proxy that forwarded it). From any other
// peer, and when trusted is nil, it is peer: a client cannot choose its
// address by sending the header.
func Client(peer netip.Addr, xff []string, trusted func(netip.Addr) bool) netip.Addr {
	peer = peer.Unmap()
	if trusted == nil || !peer.IsValid() || !trusted(peer) {
		return peer
	}
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for v != "" {
			var elem string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				elem, v = v[j+1:], v[:j]
			} else {
				elem, v = v, ""
			}
			elem = strings.Trim(elem, " \t")
			if elem == "" {
				continue // "a, , b" and a trailing comma: empty list elements (RFC 9110 §5.6.1)
			}
			a, ok := parseHop(elem)
			if !ok {
				return client
			}
			client = a
			if !trusted(a) {
				return a
			}
		}
	}
	return client
}

// parseHop parses one X-Forwarded-For element: an address, optionally with
// a port ("192.0.2.7:1234", "[2001:db8::7]:1234").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}
