package proxy

import (
	"tlsfront/headers"
	"tlsfront/wire"
)

// responseFields rebuilds the backend response's fields (x.res) into the
// client's: hop-by-hop fields, the ones a Connection field lists, the
// framing and Date (the engine writes its own) are removed; for a final
// response, the site's Remove list and the names of the headers it sets
// are removed, legacy-backend leaks rewritten (redirects to http://,
// cookies without Secure, version banners), then the site's headers (HSTS,
// HPKP, the operator's) added. Names and order are the backend's.
func (x *exchange) responseFields(final bool) []wire.Field {
	res, st, o := &x.res, x.st, &x.h.opts
	x.tokens = x.tokens[:0]
	for _, f := range res.Fields {
		if len(f.Name) == 10 && wire.EqualFold(f.Name, "connection") {
			wire.Tokens(f.Value, func(t string) { x.tokens = append(x.tokens, t) })
		}
	}
	upgrade := res.Status == 101
	redirect := headers.Redirect{Host: hostOnly(x.r.Authority), HTTPSPort: o.HTTPSPort, BackendHosts: st.backends}
	servers := 0
	out := x.resOut[:0]
	for _, f := range res.Fields {
		name := f.Name
		switch {
		case responseHop(name, upgrade):
			continue
		case x.listed(name) && !(upgrade && wire.EqualFold(name, "upgrade")):
			continue
		case final && removed(st, name):
			continue
		case o.RewriteRedirects && (wire.EqualFold(name, "location") || wire.EqualFold(name, "content-location")):
			f.Value = redirect.Rewrite(f.Value)
		case o.RewriteRedirects && wire.EqualFold(name, "refresh"):
			f.Value = redirect.RewriteRefresh(f.Value)
		case o.SecureCookies && wire.EqualFold(name, "set-cookie"):
			f.Value = headers.SecureCookie(f.Value)
		case o.HideBackendVersion && wire.EqualFold(name, "x-powered-by"):
			continue
		case o.HideBackendVersion && wire.EqualFold(name, "server"):
			servers++
			if servers > 1 {
				continue
			}
			if f.Value = headers.ServerProduct(f.Value); f.Value == "" {
				continue
			}
		}
		out = append(out, f)
	}
	if upgrade {
		out = append(out, wire.Field{Name: "Connection", Value: "Upgrade"})
	}
	if final {
		out = append(out, st.set...)
	}
	x.resOut = out
	return out
}

// responseHop reports whether a response field is the connection's, not
// the message's (the Upgrade of a 101 excepted).
func responseHop(name string, upgrade bool) bool {
	switch len(name) {
	case 2:
		return wire.EqualFold(name, "te")
	case 4:
		return wire.EqualFold(name, "date")
	case 7:
		return !upgrade && wire.EqualFold(name, "upgrade")
	case 10:
		return wire.EqualFold(name, "connection") || wire.EqualFold(name, "keep-alive")
	case 14:
		return wire.EqualFold(name, "content-length")
	case 16:
		return wire.EqualFold(name, "proxy-connection")
	case 17:
		return wire.EqualFold(name, "transfer-encoding")
	case 18:
		return wire.EqualFold(name, "proxy-authenticate")
	}
	return false
}

// removed reports whether the site drops a backend response field named
// name: its Remove list, and the headers it sets itself (never two).
func removed(st *site, name string) bool {
	for _, d := range st.del {
		if wire.EqualFold(d, name) {
			return true
		}
	}
	return false
}

// trailerFields keeps the backend's trailers that may be forwarded: not
// the framing, routing, authentication or control fields some clients
// would act on (wire.ValidTrailerName), nor the connection's, nor what the
// site removes.
func (x *exchange) trailerFields(in []wire.Field) []wire.Field {
	out := x.trail[:0]
	for _, f := range in {
		if !wire.ValidTrailerName(f.Name) || responseHop(f.Name, false) || removed(x.st, f.Name) {
			continue
		}
		out = append(out, f)
	}
	x.trail = out
	return out
}
