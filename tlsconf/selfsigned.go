package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SelfSigned returns a self-signed ECDSA P-256 certificate for names, stored
// under stateDir/selfsigned so that a restart serves the same one. It is
// regenerated when missing, unreadable, expiring within 30 days, or not
// covering every name. created reports whether a new one was made. With
// write false (for checks) a new certificate is only made in memory.
func SelfSigned(stateDir string, names []string, now time.Time, write bool) (c *Cert, created bool, err error) {
	dir := filepath.Join(stateDir, "selfsigned")
	sum := sha256.Sum256([]byte(strings.ToLower(strings.Join(names, "\n"))))
	base := filepath.Join(dir, hex.EncodeToString(sum[:6]))
	certFile, keyFile := base+".crt", base+".key"
	if c, err := LoadCert(certFile, keyFile); err == nil && covers(c, names) && now.Add(30*24*time.Hour).Before(c.Leaf().NotAfter) {
		return c, false, nil
	}
	certPEM, keyPEM, err := mintSelfSigned(names, now)
	if err != nil {
		return nil, false, err
	}
	if !write {
		c, err := ParseCert(certPEM, keyPEM)
		return c, true, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return nil, false, err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return nil, false, err
	}
	c, err = LoadCert(certFile, keyFile)
	return c, true, err
}

func covers(c *Cert, names []string) bool {
	for _, n := range names {
		if c.Leaf().VerifyHostname(strings.TrimPrefix(n, "*.")) != nil && c.Leaf().VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

func mintSelfSigned(names []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"tlsfront self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating self-signed certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// writeFileAtomic writes data to a temporary file in the same folder and
// renames it over path, so readers never see a partial file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
