package proxy

import (
	"net/http"
	"strconv"
	"time"

	"tlsfront/shield"
)

// SetShield plugs access rules and rate limits into h: every request of a
// site with rules is checked, after routing and before the backend is
// asked, against s (whose sites are h's, in the same order). Call it once,
// before h serves; nil checks nothing.
//
// The client the rules see is the connection's address (after the PROXY
// protocol), or, when that is a trusted proxy (Options.Trusted), the
// rightmost X-Forwarded-For address that is not (shield.Client). A refused
// request never reaches the backend: 403 (an access rule), 429 with
// Retry-After (a rate limit) or 400 (a path Apache reads two ways), with
// the error page; its Entry names the rule and the reason. A request a
// rate limit delays waits here, then goes on.
func (h *Handler) SetShield(s *shield.Shield) { h.shield = s }

// shieldCheck checks r, a request for site, against the shield. A request
// a rate limit delays is held here first; gone reports that its client
// left meanwhile (499 is written). It runs before the request body is
// wrapped, so a delay never eats into proxy.client_body_timeout.
func (h *Handler) shieldCheck(w http.ResponseWriter, r *http.Request, site int) (d shield.Decision, gone bool) {
	target := r.RequestURI // as the client sent it: the raw path
	if target == "" {
		target = r.URL.RequestURI()
	}
	client := shield.Client(clientIP(r.RemoteAddr), r.Header["X-Forwarded-For"], h.opts.Trusted)
	d = h.shield.Check(site, target, client)
	if d.Verdict != shield.Pass {
		h.opts.Logger.Debug().Str("client", client.String()).Str("host", r.Host).Str("target", target).
			Str("rule", d.Rule).Str("reason", d.Reason()).Msg("request refused by the shield")
		return d, false
	}
	if d.Delay > 0 {
		t := time.NewTimer(d.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			w.WriteHeader(499) // the client left while held; nobody reads this
			return d, true
		}
	}
	return d, false
}

// shieldRefuse answers a request the shield refused.
func (h *Handler) shieldRefuse(w http.ResponseWriter, r *http.Request, d shield.Decision) {
	if e := entryFrom(r.Context()); e != nil {
		e.Rule, e.Refused = d.Rule, d.Reason()
	}
	switch d.Verdict {
	case shield.Deny:
		errorPage(w, d.Status(), "Your address may not access this path.")
	case shield.Limit:
		w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
		errorPage(w, d.Status(), "Too many requests from your address; please retry later.")
	default:
		errorPage(w, d.Status(), "The request path has an encoded slash, a backslash or an encoded NUL, which this server does not accept.")
	}
}
