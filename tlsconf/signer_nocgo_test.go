//go:build openssl && !cgo

package tlsconf

import "testing"

// A -tags openssl build without cgo silently falls back to Go's RSA: a test
// run that asked for the OpenSSL signer must not pass without it.
func TestOpenSSLSignerBuilt(t *testing.T) {
	t.Fatalf("built with -tags openssl but CGO_ENABLED=0: the OpenSSL signer is not in this build (RSA signing: %s)", RSASigner())
}
