package headers

import "net/http"

// A claim is a request header through which a client can tell the backend
// it is somewhere it is not: another address, scheme, host, port or path.
// Frameworks, CDN integrations, Apache modules and copied-around PHP
// "real IP" snippets read these; tlsfront is the only one that may set them.
type claim struct {
	name   string      // as usually written; matched case-insensitively
	policy claimPolicy // what a trusted peer's copy becomes
	who    string      // who sets or reads it, and why it is dangerous
}

// claimPolicy says what happens to a claim sent by a trusted peer
// (Forward.TrustedPeer). From every other peer, every claim is removed
// before tlsfront sets its own.
type claimPolicy uint8

const (
	// claimOwn: tlsfront sets it itself; a trusted peer's value is
	// extended or kept as SetForwarded documents.
	claimOwn claimPolicy = iota
	// claimKeep: kept from a trusted peer. The X-Forwarded-* companions and
	// the headers a named CDN or balancer sets on every request it passes,
	// replacing the client's copy, so its value is as good as its
	// X-Forwarded-For (mod_remoteip's RemoteIPHeader CF-Connecting-IP setups
	// keep working behind tlsfront).
	claimKeep
	// claimDrop: removed whatever the peer. Generic names no proxy in front
	// of tlsfront sets, so that a trusted CDN or balancer passing the end
	// client's copy through unchanged cannot hand it to Apache, and path
	// overrides, which make the backend serve another path than the one
	// tlsfront routed and logged.
	claimDrop
)

// claims is the one list of client claims; README's "Forwarding headers"
// table is written from it (TestClaimsInREADME).
var claims = []claim{
	// Set by tlsfront.
	{"X-Forwarded-For", claimOwn, "the de-facto client address chain: mod_remoteip, mod_rpaf, every framework"},
	{"X-Real-IP", claimOwn, "nginx's convention; PHP snippets (HTTP_X_REAL_IP), RemoteIPHeader X-Real-IP"},
	{"X-Forwarded-Host", claimOwn, "the host: Symfony, Laravel, Rails, Django USE_X_FORWARDED_HOST, mod_rpaf RPAF_SetHostName"},
	{"X-Forwarded-Proto", claimOwn, "the scheme: Symfony, Laravel, Rails, Django SECURE_PROXY_SSL_HEADER, mod_rpaf RPAF_SetHTTPS"},
	{"Forwarded", claimOwn, "RFC 7239 address, host and scheme: Symfony, Spring, Werkzeug"},

	// Kept from a trusted peer.
	{"X-Forwarded-Port", claimKeep, "the port of generated URLs: Symfony, Laravel, Rack, mod_rpaf RPAF_SetPort"},
	{"X-Forwarded-Server", claimKeep, "set by mod_proxy; read as the host by mod_auth_openid and others"},
	{"X-Forwarded-Ssl", claimKeep, `"on" means HTTPS to Rack/Rails, Spring, WordPress plugins`},
	{"X-Forwarded-Scheme", claimKeep, "the scheme to Rack and ingress-nginx"},
	{"X-Forwarded-Protocol", claimKeep, "the scheme to mod_rpaf RPAF_SetHTTPS (after X-Forwarded-Proto)"},
	{"X-Forwarded-HTTPS", claimKeep, `"on" means HTTPS to mod_rpaf RPAF_SetHTTPS (read first) and Mojolicious`},
	{"X-Forwarded-Prefix", claimKeep, "path prefix of generated URLs: Symfony, Spring, Werkzeug ProxyFix"},
	{"X-Forwarded-By", claimKeep, "the proxy chain to Tomcat's RemoteIpValve"},
	{"X-Url-Scheme", claimKeep, "the scheme to Rack and Paste"},
	{"Front-End-Https", claimKeep, `"on" means HTTPS: Microsoft OWA/ISA, Rack, Rails`},
	{"X-Cluster-Client-IP", claimKeep, "set by Zeus/Riverbed Stingray and Rackspace balancers; PHP snippets (HTTP_X_CLUSTER_CLIENT_IP)"},
	{"X-Original-Host", claimKeep, "original Host from Azure Application Gateway and IIS ARR"},
	{"X-Original-Forwarded-For", claimKeep, "ingress-nginx's copy of the X-Forwarded-For it received"},
	{"CF-Connecting-IP", claimKeep, "Cloudflare's client address: mod_cloudflare, RemoteIPHeader CF-Connecting-IP"},
	{"CF-Connecting-IPv6", claimKeep, "Cloudflare's IPv6 client address"},
	{"CF-Pseudo-IPv4", claimKeep, "Cloudflare's IPv4 stand-in for an IPv6 client"},
	{"CF-Visitor", claimKeep, `Cloudflare's {"scheme":"https"}, read by Rails and WordPress plugins`},
	{"True-Client-IP", claimKeep, "Akamai's and Cloudflare Enterprise's client address; RemoteIPHeader True-Client-IP"},
	{"Fastly-Client-IP", claimKeep, "Fastly's client address"},
	{"Fastly-SSL", claimKeep, "Fastly's HTTPS flag"},
	{"X-Azure-ClientIP", claimKeep, "Azure Front Door's client address"},
	{"X-Azure-SocketIP", claimKeep, "Azure Front Door's TCP peer address"},
	{"X-AppEngine-User-IP", claimKeep, "Google App Engine's client address"},
	{"CloudFront-Viewer-Address", claimKeep, "Amazon CloudFront's client address and port"},
	{"CloudFront-Forwarded-Proto", claimKeep, "Amazon CloudFront's scheme"},

	// Removed whatever the peer.
	{"Client-IP", claimDrop, "PHP real-IP snippets read HTTP_CLIENT_IP first; Rails RemoteIp reads it"},
	{"X-Client-IP", claimDrop, "read first by Node's request-ip and by PHP snippets"},
	{"X-Originating-IP", claimDrop, "webmail convention; PHP snippets and WAF allow-lists"},
	{"X-Forwarded", claimDrop, "PHP snippets (HTTP_X_FORWARDED), request-ip"},
	{"Forwarded-For", claimDrop, "PHP snippets (HTTP_FORWARDED_FOR), request-ip"},
	{"X-Remote-IP", claimDrop, "PHP snippets and WAF allow-lists"},
	{"X-Remote-Addr", claimDrop, "PHP snippets and WAF allow-lists"},
	{"X-ProxyUser-IP", claimDrop, "Java getClientIp snippets"},
	{"Proxy-Client-IP", claimDrop, "Java getClientIp snippets; set by the WebLogic plug-in behind Apache, never in front"},
	{"WL-Proxy-Client-IP", claimDrop, "WebLogic's client address, set by its plug-in behind Apache"},
	{"WL-Proxy-SSL", claimDrop, `"true" makes WebLogic treat the request as HTTPS`},
	{"X-Host", claimDrop, "mod_rpaf RPAF_SetHostName's fallback host; Host-header attack lists"},
	{"X-HTTP-Host-Override", claimDrop, "host override honoured by some frameworks; Host-header attack lists"},
	{"X-HTTPS", claimDrop, `"on" means HTTPS to mod_rpaf RPAF_SetHTTPS`},
	{"X-Port", claimDrop, "mod_rpaf RPAF_SetPort's fallback port"},
	{"X-Original-URL", claimDrop, "replaces the request path in IIS mode: Zend Framework 1, Symfony before CVE-2018-14773"},
	{"X-Rewrite-URL", claimDrop, "replaces the request path (ISAPI_Rewrite): Zend Framework 1, Symfony before CVE-2018-14773"},
}

// claimIndex maps a claim's canonical header name to its policy.
var claimIndex = func() map[string]claimPolicy {
	m := make(map[string]claimPolicy, len(claims))
	for _, c := range claims {
		m[http.CanonicalHeaderKey(c.name)] = c.policy
	}
	return m
}()

// claimOf reports whether name is a claim, and its policy. name is matched
// case-insensitively; a canonical name (what net/http stores) costs one map
// lookup and no allocation.
func claimOf(name string) (claimPolicy, bool) {
	if p, ok := claimIndex[name]; ok {
		return p, true
	}
	if cn := http.CanonicalHeaderKey(name); cn != name {
		p, ok := claimIndex[cn]
		return p, ok
	}
	return 0, false
}

// keptFromTrusted reports whether a trusted peer's copy of the claim name
// reaches SetForwarded (claimOwn and claimKeep).
func keptFromTrusted(name string) bool {
	p, ok := claimOf(name)
	return ok && p != claimDrop
}
