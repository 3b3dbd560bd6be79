//go:build !openssl || !cgo

package tlsconf

import "crypto"

// RSASigner names what signs with RSA keys in this build: Go's crypto/rsa.
// A build with -tags openssl (and cgo) signs through OpenSSL's libcrypto
// instead, about three times faster for RSA-2048 (signer_openssl.go).
func RSASigner() string { return "Go crypto/rsa" }

// fastSigner is the identity in the pure-Go build.
func fastSigner(k crypto.Signer) crypto.Signer { return k }
