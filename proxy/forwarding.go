package proxy

// The forwarding-header step of the request path: which peer is trusted,
// invalid header names, and the headers package's X-Forwarded-* rules. Both
// engines call setForwarded on the header of the request they send to the
// backend.

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sort"

	"tlsfront/headers"
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

// setForwarded applies tlsfront's forwarding rules to out, the header of the
// request to the backend made from in (the client's request; its
// RemoteAddr, Host, Header and context are read): headers with invalid
// names are dropped, counted in the request's Entry and logged at debug
// level, client copies of the X-SSL-* and X-HTTPS headers tlsfront sets
// are removed (whatever the peer), then headers.CopyForwarded (trusted
// peers only: ReverseProxy removed their chains from out) and
// headers.SetForwarded.
func (h *Handler) setForwarded(out http.Header, in *http.Request) {
	ip := clientIP(in.RemoteAddr)
	if dropped := headers.DropInvalidNames(out); dropped != nil {
		h.noteDropped(in, dropped)
	}
	headers.RemoveSSLHeaders(out) // only tlsfront states mod_ssl's variables (Site.SSLHeaders)
	trusted := h.trustedPeer(ip, connFrom(in.Context()))
	if trusted {
		headers.CopyForwarded(out, in.Header)
	}
	headers.SetForwarded(out, headers.Forward{
		ClientIP:    ip,
		Host:        in.Host,
		Proto:       "https",
		TrustedPeer: trusted,
	})
}

// trustedPeer reports whether the forwarding headers of a request from ip
// (the client address: the PROXY header's source when it named one) over
// c come from a trusted proxy: ip is in trusted_proxies, and c is not a
// PROXY protocol connection whose header named no client (v1 UNKNOWN, v2
// LOCAL, AF_UNSPEC, AF_UNIX). There ip is the balancer's own address while
// the headers are whatever the end client sent, so the client is untrusted.
// c may be nil (no connection known): then ip alone decides.
func (h *Handler) trustedPeer(ip netip.Addr, c net.Conn) bool {
	if h.opts.Trusted == nil || !ip.IsValid() || !h.opts.Trusted(ip) {
		return false
	}
	if proxied, named := ProxyHeader(c); proxied && !named {
		return false
	}
	return true
}

// noteDropped records request headers dropped for their names: in the
// request's Entry (for metrics) and, at debug level, in the log, by name
// only (values may be secrets).
func (h *Handler) noteDropped(in *http.Request, names []string) {
	if e := entryFrom(in.Context()); e != nil {
		e.HeadersDropped += len(names)
	}
	if ev := h.opts.Logger.Debug(); ev.Enabled() {
		sort.Strings(names)
		ip, _, _ := net.SplitHostPort(in.RemoteAddr)
		ev.Str("client", ip).Str("host", in.Host).Strs("headers", names).
			Msg("request headers with names other than letters, digits and '-' dropped")
	}
}
