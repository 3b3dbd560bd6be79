//go:build openssl && cgo

package tlsconf

// The optional OpenSSL RSA signer. An RSA handshake is one private-key
// operation plus everything else, and Go's crypto/rsa signs RSA-2048 about
// three times slower than OpenSSL 3's assembly (BENCHMARKS.md), which caps
// RSA full handshakes well below what the same core does with OpenSSL.
// Built with -tags openssl (cgo, libcrypto from libssl-dev), every RSA key
// tlsfront loads signs through libcrypto instead; everything else —
// handshakes, key exchange, record encryption, ECDSA — stays Go's. The
// default build is pure Go and static.

/*
#cgo LDFLAGS: -lcrypto
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/err.h>

// The error queue is per thread, and a goroutine may change threads
// between two cgo calls: each function reads and clears it before it
// returns.

static EVP_PKEY *tf_rsa_load(const unsigned char *der, long len) {
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
	ERR_clear_error();
	return k;
}

// tf_md maps Go's crypto.Hash numbers (crypto.SHA1 = 3, SHA256 = 5,
// SHA384 = 6, SHA512 = 7, MD5SHA1 = 8) to OpenSSL digests.
static const EVP_MD *tf_md(int h) {
	switch (h) {
	case 3: return EVP_sha1();
	case 5: return EVP_sha256();
	case 6: return EVP_sha384();
	case 7: return EVP_sha512();
	case 8: return EVP_md5_sha1();
	}
	return NULL;
}

// tf_rsa_sign signs a digest. pss: RSASSA-PSS with MGF1 over the same hash
// and the given salt length (an OpenSSL RSA_PSS_SALTLEN_* value or a byte
// count); otherwise PKCS #1 v1.5 (for MD5SHA1 without a DigestInfo, as TLS
// 1.0 and 1.1 sign). Returns the signature length, or 0 with *err set to
// libcrypto's first error code.
static size_t tf_rsa_sign(EVP_PKEY *pkey, int hash, int pss, int saltlen,
		const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t siglen,
		unsigned long *err) {
	const EVP_MD *md = tf_md(hash);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	int ok = md != NULL && ctx != NULL
		&& EVP_PKEY_sign_init(ctx) > 0
		&& EVP_PKEY_CTX_set_rsa_padding(ctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) > 0
		&& EVP_PKEY_CTX_set_signature_md(ctx, md) > 0
		&& (!pss || EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, saltlen) > 0)
		&& EVP_PKEY_sign(ctx, sig, &siglen, dgst, dlen) > 0;
	EVP_PKEY_CTX_free(ctx);
	*err = ok ? 0 : ERR_get_error();
	ERR_clear_error();
	return ok ? siglen : 0;
}

static const char *tf_version(void) { return OpenSSL_version(OPENSSL_VERSION); }
*/
import "C"

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"runtime"
	"unsafe"
)

// RSASigner names what signs with RSA keys in this build.
func RSASigner() string {
	return C.GoString(C.tf_version()) + " (cgo, -tags openssl)"
}

// opensslRSA is a crypto.Signer over an RSA key held by libcrypto, and a
// crypto.Decrypter through Go's own key: crypto/tls decrypts with it only
// for the RSA key exchange suites of the "old" profile (TLS_RSA_WITH_*),
// where crypto/rsa's constant-time PKCS #1 v1.5 handling is what TLS needs,
// and that path is rare. Each Sign uses its own EVP_PKEY_CTX, so
// concurrent handshakes share the key safely.
type opensslRSA struct {
	priv *rsa.PrivateKey
	pkey *C.EVP_PKEY
	size int
}

// fastSigner returns k signing through libcrypto when it is an RSA key
// libcrypto accepts, and k itself otherwise.
func fastSigner(k crypto.Signer) crypto.Signer {
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return k
	}
	der := x509.MarshalPKCS1PrivateKey(rk)
	defer clear(der) // the encoded copy; the key itself stays in rk for Decrypt
	pkey := C.tf_rsa_load((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)))
	if pkey == nil {
		return k
	}
	s := &opensslRSA{priv: rk, pkey: pkey, size: int(C.EVP_PKEY_get_size(pkey))}
	runtime.AddCleanup(s, func(p *C.EVP_PKEY) { C.EVP_PKEY_free(p) }, pkey)
	return s
}

func (s *opensslRSA) Public() crypto.PublicKey { return &s.priv.PublicKey }

// Decrypt is crypto/rsa's, for the RSA key exchange (see the type).
func (s *opensslRSA) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return s.priv.Decrypt(rand, msg, opts)
}

// Sign signs digest, a hash computed with opts.HashFunc(): RSASSA-PSS when
// opts is *rsa.PSSOptions, PKCS #1 v1.5 otherwise. libcrypto brings its
// own randomness (for the PSS salt and RSA blinding); rand is unused.
func (s *opensslRSA) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	if h == 0 || len(digest) != h.Size() {
		return nil, fmt.Errorf("tlsconf: OpenSSL RSA signer: digest of %d bytes for hash %v", len(digest), h)
	}
	pss, salt := C.int(0), C.int(0)
	if o, ok := opts.(*rsa.PSSOptions); ok {
		pss = 1
		switch {
		case o.SaltLength == rsa.PSSSaltLengthEqualsHash:
			salt = -1 // RSA_PSS_SALTLEN_DIGEST
		case o.SaltLength == rsa.PSSSaltLengthAuto:
			salt = -3 // RSA_PSS_SALTLEN_MAX, what crypto/rsa signs with for Auto
		case o.SaltLength < 0: // OpenSSL would read other negatives as its own modes
			return nil, fmt.Errorf("tlsconf: OpenSSL RSA signer: invalid PSS salt length %d", o.SaltLength)
		default:
			salt = C.int(o.SaltLength)
		}
	}
	sig := make([]byte, s.size)
	var code C.ulong
	n := C.tf_rsa_sign(s.pkey, C.int(h), pss, salt,
		(*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), C.size_t(len(sig)), &code)
	runtime.KeepAlive(s)
	if n == 0 {
		return nil, fmt.Errorf("tlsconf: OpenSSL RSA signer: %w (libcrypto error %#x)", errOpenSSLSign, uint64(code))
	}
	return sig[:n], nil
}

var errOpenSSLSign = errors.New("signing failed")
