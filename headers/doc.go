// Package headers holds the pure header rewrites that tlsfront applies between
// the client and the legacy Apache backend. It does no I/O and keeps no state:
// every function takes an http.Header (or a small value type) and edits it in
// place or returns a string.
//
// Where it sits in the request path:
//
//	client ──TLS──▶ tlsconf (handshake) ──▶ proxy (httputil.ReverseProxy) ──HTTP──▶ Apache
//	                                         │
//	     per site, once, in proxy.New:       │  SetHSTS, plus the HPKP header and the
//	                                         │  operator's set/remove, which the server
//	                                         │  package computes (HPKP, PinSHA256)
//	     request, in ReverseProxy.Rewrite:   │  DropInvalidNames, CopyForwarded + SetForwarded
//	                                         │  (client claims: claims.go)
//	     response, in ModifyResponse:        │  RewriteResponse (Location, Content-Location,
//	                                         │  Refresh), SecureCookies, HideBackendVersion
//
// The response rewrites assume the client reached tlsfront over HTTPS: the
// caller applies them (and the HSTS and HPKP headers, which browsers ignore
// on plain HTTP anyway) only to responses served on the HTTPS listener. The
// plain-HTTP listener only redirects and never reaches this package.
//
// Each rule on a header value has its one check here, and config calls it
// for the key that holds the value: ValidateHSTS (headers.hsts),
// ParseTrustedProxies (headers.trusted_proxies), Extra.Validate
// (headers.set/remove and a site's). HPKP.Validate and HPKP.Warnings need
// the pins of the keys actually served, so the server package calls them
// when it builds a generation. The tlsfront pins subcommand uses
// PinsFromFile and PinSHA256.
package headers
