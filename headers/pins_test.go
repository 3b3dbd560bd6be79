package headers

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// openssl runs openssl with args in dir.
func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// pipeline runs one of the tutorial's shell pipelines in dir and returns its
// output, the pin.
func pipeline(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -euo pipefail; "+script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	pin := strings.TrimSpace(string(out))
	if len(pin) != 44 || checkPin(pin) != nil {
		t.Fatalf("%s printed %q, not a pin", script, pin)
	}
	return pin
}

func TestPinsFromFileAgreesWithOpenSSL(t *testing.T) {
	itest.RequireTool(t, "openssl")
	itest.RequireTool(t, "bash")
	dir := t.TempDir()
	run := func(args ...string) { openssl(t, dir, args...) }

	// Keys: RSA in PKCS #8 (openssl 3's default), ECDSA in SEC 1 with its
	// EC PARAMETERS block, Ed25519.
	run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem")
	run("ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.pem")
	run("genpkey", "-algorithm", "ed25519", "-out", "ed.pem")
	// Other encodings of the same keys.
	run("pkey", "-in", "rsa.pem", "-traditional", "-out", "rsa-pkcs1.pem")
	run("pkey", "-in", "rsa.pem", "-traditional", "-outform", "der", "-out", "rsa-pkcs1.der")
	run("pkcs8", "-topk8", "-nocrypt", "-in", "rsa.pem", "-outform", "der", "-out", "rsa-pkcs8.der")
	run("pkey", "-in", "ec.pem", "-traditional", "-outform", "der", "-out", "ec-sec1.der")
	run("pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-out", "ec-pkcs8.pem")
	run("pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-outform", "der", "-out", "ec-pkcs8.der")
	// Public keys.
	run("pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa-pub.pem")
	run("pkey", "-in", "rsa.pem", "-pubout", "-outform", "der", "-out", "rsa-pub.der")
	run("rsa", "-in", "rsa.pem", "-RSAPublicKey_out", "-out", "rsa-pkcs1pub.pem")
	run("pkey", "-in", "ec.pem", "-pubout", "-out", "ec-pub.pem")
	run("pkey", "-in", "ec.pem", "-pubout", "-outform", "der", "-out", "ec-pub.der")
	// Certificates and requests.
	run("req", "-x509", "-new", "-key", "rsa.pem", "-subj", "/CN=rsa.tlsfront.test/O=Test/C=NL", "-days", "1", "-out", "rsa-cert.pem")
	run("x509", "-in", "rsa-cert.pem", "-outform", "der", "-out", "rsa-cert.der")
	run("x509", "-in", "rsa-cert.pem", "-trustout", "-addtrust", "serverAuth", "-out", "rsa-trusted.pem")
	run("req", "-x509", "-new", "-key", "ec.pem", "-subj", "/CN=ec.tlsfront.test", "-days", "1", "-out", "ec-cert.pem")
	run("x509", "-in", "ec-cert.pem", "-outform", "der", "-out", "ec-cert.der")
	run("req", "-new", "-key", "ec.pem", "-subj", "/CN=csr.tlsfront.test", "-out", "ec.csr")
	run("req", "-in", "ec.csr", "-outform", "der", "-out", "ec-csr.der")
	run("req", "-new", "-key", "rsa.pem", "-subj", "/CN=rsacsr.tlsfront.test", "-out", "rsa.csr")

	// The tutorial's pipelines, as written.
	const dgst = " | openssl dgst -sha256 -binary | base64"
	keyPin := func(k string) string {
		return pipeline(t, dir, "openssl pkey -in "+k+" -pubout -outform der"+dgst)
	}
	certPin := func(c string) string {
		return pipeline(t, dir, "openssl x509 -in "+c+" -pubkey -noout | openssl pkey -pubin -outform der"+dgst)
	}
	csrPin := func(r string) string {
		return pipeline(t, dir, "openssl req -in "+r+" -pubkey -noout | openssl pkey -pubin -outform der"+dgst)
	}
	pubPin := func(p string) string {
		return pipeline(t, dir, "openssl pkey -pubin -in "+p+" -outform der"+dgst)
	}
	rsaPin, ecPin, edPin := keyPin("rsa.pem"), keyPin("ec.pem"), keyPin("ed.pem")
	// Subjects as openssl prints them in RFC 2253 form.
	out, err := exec.Command("openssl", "x509", "-in", filepath.Join(dir, "rsa-cert.pem"), "-noout", "-subject", "-nameopt", "RFC2253").Output()
	if err != nil {
		t.Fatal(err)
	}
	rsaSubject := strings.TrimPrefix(strings.TrimSpace(string(out)), "subject=")
	if rsaSubject != "C=NL,O=Test,CN=rsa.tlsfront.test" {
		t.Fatalf("openssl prints the subject as %q", rsaSubject)
	}
	if rsaPin == ecPin || ecPin == edPin {
		t.Fatal("distinct keys gave equal pins")
	}
	// The pipelines agree with each other, else comparing against one proves little.
	for name, got := range map[string]string{
		"rsa cert": certPin("rsa-cert.pem"), "ec cert": certPin("ec-cert.pem"),
		"ec csr": csrPin("ec.csr"), "rsa csr": csrPin("rsa.csr"),
		"rsa pub": pubPin("rsa-pub.pem"), "ec pub": pubPin("ec-pub.pem"),
	} {
		if want := map[bool]string{true: rsaPin, false: ecPin}[strings.HasPrefix(name, "rsa")]; got != want {
			t.Fatalf("openssl pipelines disagree for %s: %s vs %s", name, got, want)
		}
	}

	tests := []struct {
		name string
		file string
		want []Pin
	}{
		{"RSA private key PKCS#8 PEM", "rsa.pem", []Pin{{KindPrivateKey, "", "RSA 2048", rsaPin}}},
		{"RSA private key PKCS#1 PEM", "rsa-pkcs1.pem", []Pin{{KindPrivateKey, "", "RSA 2048", rsaPin}}},
		{"RSA private key PKCS#1 DER", "rsa-pkcs1.der", []Pin{{KindPrivateKey, "", "RSA 2048", rsaPin}}},
		{"RSA private key PKCS#8 DER", "rsa-pkcs8.der", []Pin{{KindPrivateKey, "", "RSA 2048", rsaPin}}},
		{"ECDSA private key SEC1 PEM with EC PARAMETERS", "ec.pem", []Pin{{KindPrivateKey, "", "ECDSA P-256", ecPin}}},
		{"ECDSA private key SEC1 DER", "ec-sec1.der", []Pin{{KindPrivateKey, "", "ECDSA P-256", ecPin}}},
		{"ECDSA private key PKCS#8 PEM", "ec-pkcs8.pem", []Pin{{KindPrivateKey, "", "ECDSA P-256", ecPin}}},
		{"ECDSA private key PKCS#8 DER", "ec-pkcs8.der", []Pin{{KindPrivateKey, "", "ECDSA P-256", ecPin}}},
		{"Ed25519 private key PEM", "ed.pem", []Pin{{KindPrivateKey, "", "Ed25519", edPin}}},
		{"RSA public key PEM", "rsa-pub.pem", []Pin{{KindPublicKey, "", "RSA 2048", rsaPin}}},
		{"RSA public key DER", "rsa-pub.der", []Pin{{KindPublicKey, "", "RSA 2048", rsaPin}}},
		{"RSA PUBLIC KEY (PKCS#1) PEM", "rsa-pkcs1pub.pem", []Pin{{KindPublicKey, "", "RSA 2048", rsaPin}}},
		{"ECDSA public key PEM", "ec-pub.pem", []Pin{{KindPublicKey, "", "ECDSA P-256", ecPin}}},
		{"ECDSA public key DER", "ec-pub.der", []Pin{{KindPublicKey, "", "ECDSA P-256", ecPin}}},
		{"RSA certificate PEM", "rsa-cert.pem", []Pin{{KindCertificate, rsaSubject, "RSA 2048", rsaPin}}},
		{"RSA certificate DER", "rsa-cert.der", []Pin{{KindCertificate, rsaSubject, "RSA 2048", rsaPin}}},
		{"RSA TRUSTED CERTIFICATE PEM", "rsa-trusted.pem", []Pin{{KindCertificate, rsaSubject, "RSA 2048", rsaPin}}},
		{"ECDSA certificate PEM", "ec-cert.pem", []Pin{{KindCertificate, "CN=ec.tlsfront.test", "ECDSA P-256", ecPin}}},
		{"ECDSA certificate DER", "ec-cert.der", []Pin{{KindCertificate, "CN=ec.tlsfront.test", "ECDSA P-256", ecPin}}},
		{"ECDSA CSR PEM", "ec.csr", []Pin{{KindRequest, "CN=csr.tlsfront.test", "ECDSA P-256", ecPin}}},
		{"ECDSA CSR DER", "ec-csr.der", []Pin{{KindRequest, "CN=csr.tlsfront.test", "ECDSA P-256", ecPin}}},
		{"RSA CSR PEM", "rsa.csr", []Pin{{KindRequest, "CN=rsacsr.tlsfront.test", "RSA 2048", rsaPin}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := PinsFromFile(data)
			if err != nil {
				t.Fatalf("PinsFromFile(%s): %v", tc.file, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("PinsFromFile(%s) =\n  %+v\nwant\n  %+v", tc.file, got, tc.want)
			}
		})
	}

	t.Run("bundle in file order", func(t *testing.T) {
		var bundle []byte
		for _, f := range []string{"ec-cert.pem", "rsa-cert.pem", "ec.pem", "rsa.csr", "ed.pem"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			bundle = append(append(bundle, "comment line between blocks\n"...), b...)
		}
		got, err := PinsFromFile(bundle)
		if err != nil {
			t.Fatal(err)
		}
		var pins, kinds []string
		for _, p := range got {
			pins, kinds = append(pins, p.SHA256), append(kinds, p.Kind)
		}
		wantPins := []string{ecPin, rsaPin, ecPin, rsaPin, edPin}
		wantKinds := []string{KindCertificate, KindCertificate, KindPrivateKey, KindRequest, KindPrivateKey}
		if !reflect.DeepEqual(pins, wantPins) || !reflect.DeepEqual(kinds, wantKinds) {
			t.Errorf("got %v %v, want %v %v", kinds, pins, wantKinds, wantPins)
		}
	})
}

// mintCert makes a self-signed certificate for key, in DER.
func mintCert(t testing.TB, key crypto.Signer, cn string) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Unix(0, 0).Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestPinsFromFileGoKeys(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSPKI, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecSEC1, _ := x509.MarshalECPrivateKey(ec)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edSPKI, _ := x509.MarshalPKIXPublicKey(ed.Public())
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(ed)
	xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	xSPKI, _ := x509.MarshalPKIXPublicKey(xk.PublicKey())
	xPKCS8, _ := x509.MarshalPKCS8PrivateKey(xk)
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rSPKI, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	certDER := mintCert(t, ec, "go.tlsfront.test")

	tests := []struct {
		name string
		data []byte
		want Pin
	}{
		{"P-384 SEC1 PEM", pemBytes("EC PRIVATE KEY", ecSEC1), Pin{KindPrivateKey, "", "ECDSA P-384", PinSHA256(ecSPKI)}},
		{"P-384 certificate PEM", pemBytes("CERTIFICATE", certDER), Pin{KindCertificate, "CN=go.tlsfront.test", "ECDSA P-384", PinSHA256(ecSPKI)}},
		{"X509 CERTIFICATE block type", pemBytes("X509 CERTIFICATE", certDER), Pin{KindCertificate, "CN=go.tlsfront.test", "ECDSA P-384", PinSHA256(ecSPKI)}},
		{"Ed25519 PKCS#8 DER", edPKCS8, Pin{KindPrivateKey, "", "Ed25519", PinSHA256(edSPKI)}},
		{"Ed25519 public key DER", edSPKI, Pin{KindPublicKey, "", "Ed25519", PinSHA256(edSPKI)}},
		{"X25519 PKCS#8 PEM", pemBytes("PRIVATE KEY", xPKCS8), Pin{KindPrivateKey, "", "X25519", PinSHA256(xSPKI)}},
		{"RSA PKCS#1 public key DER", x509.MarshalPKCS1PublicKey(&rk.PublicKey), Pin{KindPublicKey, "", "RSA 1024", PinSHA256(rSPKI)}},
		{"PEM with CRLF line endings", bytes.ReplaceAll(pemBytes("PUBLIC KEY", edSPKI), []byte("\n"), []byte("\r\n")), Pin{KindPublicKey, "", "Ed25519", PinSHA256(edSPKI)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PinsFromFile(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("got %+v, want [%+v]", got, tc.want)
			}
		})
	}
}

func TestPinsFromFileErrors(t *testing.T) {
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   []byte("ciphertext"),
	})
	tests := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty", nil, "pins: file is empty"},
		{"whitespace", []byte(" \n\t"), "pins: file is empty"},
		{"text", []byte("[tls]\ncert = \"a.pem\"\n"), "no PEM block and not DER (found text"},
		{"PEM without END", []byte("-----BEGIN CERTIFICATE-----\nMIIB\n"), "found a malformed PEM block"},
		{"only unsupported blocks", append(pemBytes("EC PARAMETERS", []byte{6, 1, 0}), pemBytes("DH PARAMETERS", []byte{0x30, 0})...),
			`no certificate, certificate request or key in the file (found PEM blocks: "EC PARAMETERS", "DH PARAMETERS")`},
		{"encrypted PKCS#8", pemBytes("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}), `"ENCRYPTED PRIVATE KEY" (encrypted)); decrypt keys first`},
		{"legacy encrypted PEM", legacyEncrypted, `"RSA PRIVATE KEY" (encrypted)`},
		{"corrupt certificate block", pemBytes("CERTIFICATE", []byte{0x30, 3, 1, 2, 3}), "pins: PEM block 1 (CERTIFICATE): x509:"},
		{"corrupt key block after a good one", append(pemBytes("EC PARAMETERS", nil), pemBytes("EC PRIVATE KEY", []byte("junk"))...), "pins: PEM block 2 (EC PRIVATE KEY):"},
		{"DER that is nothing known", []byte{0x30, 3, 2, 1, 0}, "pins: DER: not a certificate, certificate request, PKIX public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PinsFromFile(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PinsFromFile = %+v, %v; want error containing %q", got, err, tc.want)
			}
		})
	}
}
