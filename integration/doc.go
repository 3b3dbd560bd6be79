// Package integration holds the end-to-end tests of tlsfront: the real
// binary, built from cmd/tlsfront, between real clients and scanners (curl,
// openssl s_client, nmap, testssl.sh) and a real Apache backend. It covers
// the whole request path, from the TLS handshake to the backend's access
// log. The package has no non-test code besides this comment; the harness
// is tlsfront/internal/itest.
package integration
