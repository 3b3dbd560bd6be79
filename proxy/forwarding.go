package proxy

// Which peer is trusted with its forwarding headers: the engines set
// ConnInfo.Trusted with TrustedPeer (the forwarding rules themselves are
// outbound.go's).

import (
	"context"
	"net"
	"net/netip"
)

// connKey is the request-context key of the client connection.
type connKey struct{}

// withConn returns ctx carrying c, the client connection a request came on.
// NewServer's ConnContext sets it; an engine serving connections itself
// must set it too, or PROXY connections whose header named no client are
// judged by the balancer's address alone (see trustedPeer).
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// connFrom returns the client connection withConn stored; nil if none.
func connFrom(ctx context.Context) net.Conn {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	return c
}

// trustedPeer reports whether the forwarding headers of a request from ip
// (the client address: the PROXY header's source when it named one) over
// c come from a trusted proxy: ip is in trusted_proxies, and c is not a
// PROXY protocol connection whose header named no client (v1 UNKNOWN, v2
// LOCAL, AF_UNSPEC, AF_UNIX). There ip is the balancer's own address while
// the headers are whatever the end client sent, so the client is untrusted.
// c may be nil (no connection known): then ip alone decides.
func (h *Handler) trustedPeer(ip netip.Addr, c net.Conn) bool {
	return TrustedPeer(h.opts.Trusted, ip, c)
}

// TrustedPeer is trustedPeer for an engine's dispatch: trusted is
// Options.Trusted, c the accepted connection or a wrapper of it (a
// *tls.Conn).
func TrustedPeer(trusted func(netip.Addr) bool, ip netip.Addr, c net.Conn) bool {
	if trusted == nil || !ip.IsValid() || !trusted(ip) {
		return false
	}
	if proxied, named := ProxyHeader(c); proxied && !named {
		return false
	}
	return true
}
