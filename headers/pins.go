package headers

import (
	"bytes"
	"crypto"
	//lint:ignore SA1019 only to name DSA keys found in old files
	"crypto/dsa"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Pin is the RFC 7469 pin of one object found in a file by PinsFromFile.
type Pin struct {
	// Kind is "certificate", "certificate request", "public key" or
	// "private key".
	Kind string
	// Subject is the certificate's or request's subject in RFC 2253 form,
	// most significant attribute last ("CN=www.example.com,O=Example,C=NL");
	// "" for keys.
	Subject string
	// Key names the public key: "RSA 2048", "ECDSA P-256", "Ed25519", ...
	Key string
	// SHA256 is the pin: PinSHA256 of the public key's SubjectPublicKeyInfo.
	// For a private key it is the pin of its public half.
	SHA256 string
}

// Kinds of Pin.
const (
	KindCertificate = "certificate"
	KindRequest     = "certificate request"
	KindPublicKey   = "public key"
	KindPrivateKey  = "private key"
)

// PinsFromFile computes the pin of every certificate, certificate request,
// public key and private key in a file, for "tlsfront pins FILE...". The
// results agree with the tutorial's openssl pipelines, e.g.
//
//	openssl x509 -in c.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64
//
// PEM files may hold any number of blocks of types CERTIFICATE (or X509
// CERTIFICATE), TRUSTED CERTIFICATE, CERTIFICATE REQUEST, NEW CERTIFICATE
// REQUEST, PUBLIC KEY, RSA PUBLIC KEY, PRIVATE KEY (PKCS #8), RSA PRIVATE KEY
// (PKCS #1) and EC PRIVATE KEY (SEC 1), in file order; other blocks (EC PARAMETERS, encrypted keys,
// ...) are skipped. A file without PEM blocks is read as one DER object:
// certificate, request, PKIX public key, PKCS #8, PKCS #1 or SEC 1 key, tried
// in that order. A block of a supported type that does not parse is an error;
// so is a file with nothing usable, and the error names what was found.
func PinsFromFile(data []byte) ([]Pin, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("pins: file is empty")
	}
	var (
		pins  []Pin
		found []string
		n     int
	)
	for rest := data; ; {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
		n++
		name := fmt.Sprintf("%q", block.Type)
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") || block.Type == "ENCRYPTED PRIVATE KEY" {
			found = append(found, name+" (encrypted)")
			continue
		}
		found = append(found, name)
		pin, ok, err := pinPEM(block)
		if err != nil {
			return nil, fmt.Errorf("pins: PEM block %d (%s): %w", n, block.Type, err)
		}
		if ok {
			pins = append(pins, pin)
		}
	}
	if n > 0 {
		if len(pins) == 0 {
			msg := "pins: no certificate, certificate request or key in the file (found PEM blocks: " + strings.Join(found, ", ") + ")"
			if strings.Contains(msg, "(encrypted)") {
				msg += `; decrypt keys first: openssl pkey -in KEY.pem -out plain.pem`
			}
			return nil, errors.New(msg)
		}
		return pins, nil
	}
	if data[0] != 0x30 {
		what := "text"
		if bytes.Contains(data, []byte("-----BEGIN")) {
			what = "a malformed PEM block"
		}
		return nil, fmt.Errorf("pins: no PEM block and not DER (found %s, want PEM or an ASN.1 SEQUENCE)", what)
	}
	pin, err := pinDER(data)
	if err != nil {
		return nil, fmt.Errorf("pins: DER: %w", err)
	}
	return []Pin{pin}, nil
}

// pinPEM pins one PEM block; ok is false for block types it does not handle.
func pinPEM(b *pem.Block) (pin Pin, ok bool, err error) {
	der := b.Bytes
	switch b.Type {
	case "CERTIFICATE", "X509 CERTIFICATE":
		pin, err = pinCert(der)
	case "TRUSTED CERTIFICATE":
		// OpenSSL's -trustout form: the certificate, then trust settings.
		var raw asn1.RawValue
		if _, err = asn1.Unmarshal(der, &raw); err == nil {
			pin, err = pinCert(raw.FullBytes)
		}
	case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		pin, err = pinRequest(der)
	case "PUBLIC KEY":
		pin, err = pinPKIX(der)
	case "RSA PUBLIC KEY":
		var k *rsa.PublicKey
		if k, err = x509.ParsePKCS1PublicKey(der); err == nil {
			pin, err = pinPublic(KindPublicKey, k)
		}
	case "PRIVATE KEY":
		pin, err = pinPrivate(x509.ParsePKCS8PrivateKey(der))
	case "RSA PRIVATE KEY":
		pin, err = pinPrivate(x509.ParsePKCS1PrivateKey(der))
	case "EC PRIVATE KEY":
		pin, err = pinPrivate(x509.ParseECPrivateKey(der))
	default:
		return Pin{}, false, nil
	}
	return pin, err == nil, err
}

// pinDER tries each DER form in turn.
func pinDER(der []byte) (Pin, error) {
	if p, err := pinCert(der); err == nil {
		return p, nil
	}
	if p, err := pinRequest(der); err == nil {
		return p, nil
	}
	if p, err := pinPKIX(der); err == nil {
		return p, nil
	}
	if p, err := pinPrivate(x509.ParsePKCS8PrivateKey(der)); err == nil {
		return p, nil
	}
	if p, err := pinPrivate(x509.ParsePKCS1PrivateKey(der)); err == nil {
		return p, nil
	}
	if p, err := pinPrivate(x509.ParseECPrivateKey(der)); err == nil {
		return p, nil
	}
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return pinPublic(KindPublicKey, k)
	}
	return Pin{}, errors.New("not a certificate, certificate request, PKIX public key, " +
		"or PKCS #8, PKCS #1 or SEC 1 private key (encrypted keys are not read)")
}

func pinCert(der []byte) (Pin, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return Pin{}, err
	}
	return Pin{
		Kind:    KindCertificate,
		Subject: subject(c.RawSubject, c.Subject),
		Key:     keyName(c.PublicKey, c.PublicKeyAlgorithm),
		SHA256:  PinSHA256(c.RawSubjectPublicKeyInfo),
	}, nil
}

func pinRequest(der []byte) (Pin, error) {
	r, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return Pin{}, err
	}
	return Pin{
		Kind:    KindRequest,
		Subject: subject(r.RawSubject, r.Subject),
		Key:     keyName(r.PublicKey, r.PublicKeyAlgorithm),
		SHA256:  PinSHA256(r.RawSubjectPublicKeyInfo),
	}, nil
}

// pinPKIX pins a DER SubjectPublicKeyInfo as it is, after checking it parses.
func pinPKIX(der []byte) (Pin, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return Pin{}, err
	}
	return Pin{Kind: KindPublicKey, Key: keyName(k, x509.UnknownPublicKeyAlgorithm), SHA256: PinSHA256(der)}, nil
}

// pinPrivate pins the public half of a parsed private key.
func pinPrivate[K any](key K, err error) (Pin, error) {
	if err != nil {
		return Pin{}, err
	}
	s, ok := any(key).(crypto.Signer)
	if !ok {
		if d, isDH := any(key).(*ecdh.PrivateKey); isDH {
			return pinPublic(KindPrivateKey, d.PublicKey())
		}
		return Pin{}, fmt.Errorf("private key of type %T has no public key to pin", key)
	}
	return pinPublic(KindPrivateKey, s.Public())
}

func pinPublic(kind string, pub crypto.PublicKey) (Pin, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Pin{}, fmt.Errorf("encoding public key: %w", err)
	}
	return Pin{Kind: kind, Key: keyName(pub, x509.UnknownPublicKeyAlgorithm), SHA256: PinSHA256(der)}, nil
}

// subject formats a raw subject as RFC 2253 in the certificate's own RDN
// order (pkix.Name.String reorders attributes).
func subject(raw []byte, parsed pkix.Name) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err == nil && len(rest) == 0 {
		return seq.String()
	}
	return parsed.String()
}

// keyName describes a public key; alg names keys Go does not parse.
func keyName(pub any, alg x509.PublicKeyAlgorithm) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdh.PublicKey:
		return fmt.Sprint(k.Curve())
	case *dsa.PublicKey:
		return fmt.Sprintf("DSA %d", k.P.BitLen())
	}
	if alg != x509.UnknownPublicKeyAlgorithm {
		return alg.String()
	}
	return "unknown"
}
