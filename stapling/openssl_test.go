package stapling

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"tlsfront/internal/itest"
)

// netnsMarker is set in the environment of the copy of this test binary
// that runs inside a private network namespace.
const netnsMarker = "TLSFRONT_STAPLING_NETNS"

// opensslPort is where `openssl ocsp` listens inside the namespace; the
// namespace is empty, so any port is free.
const opensslPort = 2560

// TestOpenSSLResponder staples from a real `openssl ocsp` responder. That
// responder binds every interface, so the test re-runs itself inside a
// private network namespace (unshare -n) where only loopback exists.
func TestOpenSSLResponder(t *testing.T) {
	if os.Getenv(netnsMarker) == "1" {
		runOpenSSLResponder(t)
		return
	}
	if os.Geteuid() != 0 {
		itest.SkipOrFail(t, "root (for unshare -n)")
	}
	for _, tool := range []string{"unshare", "ip", "openssl"} {
		itest.RequireTool(t, tool)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "--", "sh", "-c",
		`ip link set lo up && exec "$0" -test.run='^TestOpenSSLResponder$' -test.v -test.count=1`, os.Args[0])
	cmd.Env = append(os.Environ(), netnsMarker+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("test inside the network namespace: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestOpenSSLResponder")) {
		t.Fatal("the test did not run inside the namespace")
	}
}

// runOpenSSLResponder is the part that runs inside the namespace.
func runOpenSSLResponder(t *testing.T) {
	ca := newTestCA(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", opensslPort)
	rsaLeaf := ca.leaf(t, "www.example.test", leafOpts{rsa: true, ocspURL: url})
	ecLeaf := ca.leaf(t, "www.example.test", leafOpts{ocspURL: url})
	revLeaf := ca.leaf(t, "revoked.example.test", leafOpts{ocspURL: url})

	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "issuer.pem"), "CERTIFICATE", ca.issuer.Raw)
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "issuer.key"), "PRIVATE KEY", keyDER)
	var index strings.Builder
	for _, l := range []*x509.Certificate{rsaLeaf, ecLeaf, revLeaf} {
		index.WriteString(indexLine(l, l == revLeaf))
	}
	if err := os.WriteFile(filepath.Join(dir, "index.txt"), []byte(index.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// The RSA and ECDSA leaves share a subject; openssl refuses the index
	// unless told that subjects need not be unique.
	if err := os.WriteFile(filepath.Join(dir, "index.txt.attr"), []byte("unique_subject = no\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// -timeout bounds how long a silent client can hold the responder,
	// which serves one connection at a time.
	out := &itest.SyncBuffer{}
	cmd := exec.Command("openssl", "ocsp", "-index", "index.txt", "-port", fmt.Sprint(opensslPort),
		"-rsigner", "issuer.pem", "-rkey", "issuer.key", "-CA", "issuer.pem", "-nmin", "5",
		"-ignore_err", "-timeout", "2")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		t.Logf("openssl ocsp output:\n%s", out.String())
	})
	waitReady(t, out, exited)

	st, err := New(Options{StateDir: t.TempDir(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eRSA := st.Add("www/rsa", []*x509.Certificate{rsaLeaf, ca.issuer}, nil)
	eEC := st.Add("www/ecdsa", []*x509.Certificate{ecLeaf, ca.issuer}, nil)
	eRev := st.Add("revoked", []*x509.Certificate{revLeaf, ca.issuer}, nil)
	st.Start(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
	defer cancel()
	if err := st.Prefetch(ctx); err != nil {
		t.Fatalf("Prefetch: %v; status %+v", err, st.Status())
	}

	for _, tc := range []struct {
		e    *Entry
		leaf *x509.Certificate
	}{{eRSA, rsaLeaf}, {eEC, ecLeaf}} {
		staple := tc.e.Staple()
		if staple == nil {
			t.Fatalf("%s: no staple from openssl ocsp: %+v", tc.e.Name(), tc.e.Status())
		}
		resp, err := ocsp.ParseResponseForCert(staple, tc.leaf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if w := resp.NextUpdate.Sub(resp.ThisUpdate); resp.Status != ocsp.Good || w != 5*time.Minute {
			t.Fatalf("%s: status %d, window %v; want good for 5m (-nmin 5)", tc.e.Name(), resp.Status, w)
		}
		if resp.Certificate == nil || !resp.Certificate.Equal(ca.issuer) {
			t.Logf("%s: openssl did not embed the issuer certificate", tc.e.Name())
		}
	}
	if eRev.Staple() != nil || eRev.Status().State != StateRevoked {
		t.Fatalf("revoked certificate: %+v", eRev.Status())
	}
}

// indexLine is the openssl ca database line for leaf: status, expiry,
// revocation date, serial in upper-case hex of whole bytes, file, subject.
func indexLine(leaf *x509.Certificate, revoked bool) string {
	const layout = "060102150405Z"
	serial := fmt.Sprintf("%X", leaf.SerialNumber)
	if len(serial)%2 == 1 {
		serial = "0" + serial
	}
	status, revokedAt := "V", ""
	if revoked {
		status, revokedAt = "R", time.Now().Add(-time.Hour).UTC().Format(layout)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\tunknown\t/CN=%s\n",
		status, leaf.NotAfter.UTC().Format(layout), revokedAt, serial, leaf.Subject.CommonName)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitReady waits (at most 5 s) until openssl ocsp says it has loaded the
// index and waits for clients. Probing the port instead does not work: a
// connection closed without a request wedges the OpenSSL 3.0 responder.
func waitReady(t *testing.T, out *itest.SyncBuffer, exited chan error) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !strings.Contains(out.String(), "waiting for OCSP client connections") {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("openssl ocsp exited: %v", err)
		case <-deadline:
			t.Fatal("openssl ocsp not ready after 5 s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
