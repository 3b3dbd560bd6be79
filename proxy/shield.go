package proxy

import (
	"strconv"
	"time"

	"tlsfront/shield"
	"tlsfront/wire"
)

// SetShield plugs access rules and rate limits into h: every request of a
// site with rules is checked, after routing and before the backend is
// asked, against s (whose sites are h's, in the same order). Call it once,
// before h serves; nil checks nothing.
//
// The client the rules see is the connection's address (after the PROXY
// protocol), or, when that is a trusted proxy (ConnInfo.Trusted), the
// rightmost X-Forwarded-For address that is not (shield.Client). A refused
// request never reaches the backend: 403 (an access rule), 429 with
// Retry-After (a rate limit) or 400 (a path Apache reads two ways), with
// the error page; its Entry names the rule and the reason. A request a
// rate limit delays waits here, then goes on.
func (h *Handler) SetShield(s *shield.Shield) { h.shield = s }

// shieldCheck checks the request, for site i, against the shield, holding
// it first when a rate limit delays it. It reports false when it answered
// (a refusal) or the client left while held (499).
func (x *exchange) shieldCheck(i int) bool {
	h, r := x.h, x.r
	client := x.e.Client // an untrusted peer's X-Forwarded-For says nothing
	if r.Conn != nil && r.Conn.Trusted {
		var xff []string
		for _, f := range r.Fields {
			if len(f.Name) == 15 && wire.EqualFold(f.Name, "x-forwarded-for") {
				xff = append(xff, f.Value)
			}
		}
		client = shield.Client(client, xff, h.opts.Trusted)
	}
	d := h.shield.Check(i, r.Target, client)
	if d.Verdict != shield.Pass {
		h.opts.Logger.Debug().Str("client", client.String()).Str("host", r.Authority).Str("target", r.Target).
			Str("rule", d.Rule).Str("reason", d.Reason()).Msg("request refused by the shield")
		x.e.Rule, x.e.Refused = d.Rule, d.Reason()
		switch d.Verdict {
		case shield.Deny:
			x.errorPage(d.Status(), "Your address may not access this path.")
		case shield.Limit:
			x.errorPage(d.Status(), "Too many requests from your address; please retry later.",
				wire.Field{Name: "Retry-After", Value: strconv.Itoa(d.RetryAfterSeconds())})
		default:
			x.errorPage(d.Status(), "The request path has an encoded slash, a backslash or an encoded NUL, which this server does not accept.")
		}
		return false
	}
	if d.Delay > 0 {
		gone := make(chan struct{})
		x.w.Watch(func() { close(gone) })
		t := time.NewTimer(d.Delay)
		select {
		case <-t.C:
		case <-gone:
		}
		t.Stop()
		if x.w.Unwatch() {
			x.e.Status = 499 // the client left while held; nobody reads an answer
			x.w.Abort()
			return false
		}
	}
	return true
}
