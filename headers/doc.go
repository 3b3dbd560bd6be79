// Package headers holds the pure header rewrites that tlsfront applies between
// the client and the legacy Apache backend. It does no I/O and keeps no state:
// every function takes an http.Header (or a small value type) and edits it in
// place or returns a string.
//
// Where it sits in the request path:
//
//	client ──TLS──▶ tlsconf (handshake) ──▶ proxy (httputil.ReverseProxy) ──HTTP──▶ Apache
//	                                         │
//	     request, in ReverseProxy.Rewrite:   │  DropInvalidNames, CopyForwarded + SetForwarded
//	                                         │  (client claims: claims.go), Extra.Apply
//	     response, in ModifyResponse:        │  RewriteResponse (Location, Content-Location,
//	                                         │  Refresh), SecureCookies, HideBackendVersion,
//	                                         │  SetHSTS, HPKP header, Extra.Apply
//
// The response rewrites assume the client reached tlsfront over HTTPS: the
// caller applies them (and SetHSTS / the HPKP header, which browsers ignore on
// plain HTTP anyway) only to responses served on the HTTPS listener. The
// plain-HTTP listener only redirects and never reaches this package.
//
// The tlsfront pins subcommand uses PinsFromFile and PinSHA256; config
// validation uses ParseTrustedProxies, HPKP.Validate, HPKP.Warnings,
// Extra.Validate and ValidateHSTS.
package headers
