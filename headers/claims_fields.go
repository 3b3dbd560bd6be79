package headers

// ForwardingClaim reports whether a request header named name is a client
// claim (claims.go): SetForwarded removes it when the peer is not trusted
// and decides what a trusted peer's copy becomes. An engine that builds
// the backend's header from its own field list drops such fields from
// untrusted peers and hands a trusted peer's to SetForwarded. A canonical
// name costs one map lookup and no allocation.
func ForwardingClaim(name string) bool {
	_, ok := claimOf(name)
	return ok
}

// SSLHeader reports whether a request header named name is one of the
// X-SSL-* or X-HTTPS headers only tlsfront may send (RemoveSSLHeaders): an
// engine working on a field list drops a client's copies by it.
func SSLHeader(name string) bool { return isSSLHeader(name) }
