package proxy

import (
	"net/http"
	"sort"
	"strings"
	"sync/atomic"

	"tlsfront/headers"
	"tlsfront/wire"
)

// buildRequest rebuilds the client's fields into the fields of the request
// to the backend (x.out), from parsed values only:
//
//   - hop-by-hop fields (RFC 9110 §7.6.1: Connection, Keep-Alive,
//     Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
//     Proxy-Authenticate, Proxy-Authorization) and every field a Connection
//     field lists are removed; HTTP2-Settings too (issue 13: only WebSocket
//     upgrades pass). "TE: trailers" is kept as "Te: trailers", and a
//     WebSocket handshake gets "Connection: Upgrade" and "Upgrade: <the
//     client's value>" back, as httputil.ReverseProxy did;
//   - fields whose name has a byte outside [A-Za-z0-9-] are removed
//     (headers.ValidName: Apache hands X.Forwarded.For to CGI as a second
//     HTTP_X_FORWARDED_FOR);
//   - the client's forwarding claims are removed, or handed to
//     headers.SetForwarded for a trusted peer, and tlsfront's forwarding
//     headers added;
//   - several Cookie fields (HTTP/2 splits them) become one, joined with
//     "; " (RFC 9113 §8.2.3);
//   - names are canonical and sorted as net/http writes them, so the bytes
//     Apache gets are what http.Transport sent.
//
// Request trailers are never forwarded (and so neither is Trailer): Apache
// 2.2 merges trailers into the request's headers, after tlsfront vetted them.
func (x *exchange) buildRequest() {
	r := x.r
	x.tokens = x.tokens[:0]
	for _, f := range r.Fields {
		if len(f.Name) == 10 && wire.EqualFold(f.Name, "connection") {
			wire.Tokens(f.Value, func(t string) { x.tokens = append(x.tokens, t) })
		}
	}
	var claims http.Header // a trusted peer's forwarding headers
	var dropped []string
	teTrailers, cookies := false, 0
	out := x.out[:0]
	for _, f := range r.Fields {
		switch {
		case !headers.ValidName(f.Name):
			dropped = append(dropped, wire.CanonicalName(f.Name))
			continue
		case headers.SSLHeader(f.Name): // only tlsfront states mod_ssl's variables (Site.SSLHeaders)
			continue
		case hopByHop(f.Name):
			if len(f.Name) == 2 && wire.HasToken(f.Value, "trailers") {
				teTrailers = true
			}
			continue
		case x.listed(f.Name):
			continue
		case headers.ForwardingClaim(wire.CanonicalName(f.Name)):
			if r.Conn != nil && r.Conn.Trusted {
				if claims == nil {
					claims = http.Header{}
				}
				claims.Add(f.Name, f.Value)
			}
			continue
		case len(f.Name) == 6 && wire.EqualFold(f.Name, "cookie"):
			if cookies > 0 {
				x.cookie = append(x.cookie, "; "...)
			}
			x.cookie = append(x.cookie, f.Value...)
			cookies++
			if cookies > 1 {
				continue // joined below
			}
		}
		out = append(out, wire.Field{Name: wire.CanonicalName(f.Name), Value: f.Value})
	}
	if cookies > 1 {
		for i := range out {
			if out[i].Name == "Cookie" {
				out[i].Value = string(x.cookie)
				break
			}
		}
	}
	if teTrailers {
		out = append(out, wire.Field{Name: "Te", Value: "trailers"})
	}
	if r.Upgrade != "" {
		out = append(out, wire.Field{Name: "Connection", Value: "Upgrade"}, wire.Field{Name: "Upgrade", Value: r.Upgrade})
	}
	out = append(out, x.forwarding(claims)...)
	if x.st.sslHeaders != nil && r.Conn != nil && r.Conn.TLS != nil {
		h := http.Header{}
		x.st.sslHeaders(h, r.Conn.TLS)
		for k, vs := range h {
			for _, v := range vs {
				out = append(out, wire.Field{Name: k, Value: v})
			}
		}
	}
	wire.SortFields(out)
	x.out = out
	if len(dropped) > 0 {
		x.e.HeadersDropped = len(dropped)
		if ev := x.h.opts.Logger.Debug(); ev.Enabled() { // by name only: values may be secrets
			sort.Strings(dropped)
			ev.Str("client", x.e.Client.String()).Str("host", r.Authority).Strs("headers", dropped).
				Msg("request headers with names other than letters, digits and '-' dropped")
		}
	}
}

// listed reports whether name is one a Connection field listed.
func (x *exchange) listed(name string) bool {
	for _, t := range x.tokens {
		if wire.EqualFold(t, name) {
			return true
		}
	}
	return false
}

// hopByHop reports whether a request field named name is never forwarded
// as it is: the hop-by-hop fields, the framing (the path sets its own) and
// HTTP2-Settings.
func hopByHop(name string) bool {
	switch len(name) {
	case 2:
		return wire.EqualFold(name, "te")
	case 4:
		return wire.EqualFold(name, "host")
	case 7:
		return wire.EqualFold(name, "upgrade") || wire.EqualFold(name, "trailer")
	case 10:
		return wire.EqualFold(name, "connection") || wire.EqualFold(name, "keep-alive")
	case 14:
		return wire.EqualFold(name, "content-length") || wire.EqualFold(name, "http2-settings")
	case 16:
		return wire.EqualFold(name, "proxy-connection")
	case 17:
		return wire.EqualFold(name, "transfer-encoding")
	case 18:
		return wire.EqualFold(name, "proxy-authenticate")
	case 19:
		return wire.EqualFold(name, "proxy-authorization")
	}
	return false
}

// forwarding returns the forwarding fields of the request, from
// headers.SetForwarded. An untrusted peer's depend only on the connection
// and the authority: they are computed once and reused by the next
// keep-alive requests with the same authority.
func (x *exchange) forwarding(claims http.Header) []wire.Field {
	r := x.r
	c := r.Conn
	if c == nil {
		c = &ConnInfo{}
	}
	if claims == nil && !c.Trusted && c.Fwd != nil {
		if e := c.Fwd.p.Load(); e != nil && e.authority == r.Authority {
			return e.fields
		}
	}
	h := claims
	if h == nil {
		h = http.Header{}
	}
	headers.SetForwarded(h, headers.Forward{
		ClientIP:    c.Remote.Addr().Unmap(),
		Host:        r.Authority,
		Proto:       "https",
		TrustedPeer: c.Trusted,
	})
	fields := make([]wire.Field, 0, len(h)+1)
	for k, vs := range h {
		for _, v := range vs {
			fields = append(fields, wire.Field{Name: k, Value: v})
		}
	}
	if !c.Trusted && c.Fwd != nil {
		c.Fwd.p.Store(&forwardEntry{authority: strings.Clone(r.Authority), fields: fields})
	}
	return fields
}

// ForwardCache holds a connection's forwarding fields for its last
// authority (ConnInfo.Fwd). Its zero value is ready.
type ForwardCache struct{ p atomic.Pointer[forwardEntry] }

type forwardEntry struct {
	authority string
	fields    []wire.Field // never modified once cached
}

// outboundHost is the Host the backend gets: the validated authority the
// request was routed on, or the backend's own address for an HTTP/1.0
// request without one (what net/http's client sent).
func (x *exchange) outboundHost() string {
	if x.r.Authority != "" {
		return x.r.Authority
	}
	return x.st.backends[0]
}
