package integration

import (
	"crypto/tls"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"tlsfront/headers"
	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// tutorialCiphers is the tutorial's recommended SSLCipherSuite.
const tutorialCiphers = "ECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH"

// tutorialSuites returns the suites tlsfront should offer for a protocol
// version under the tutorial profile: OpenSSL's expansion of the tutorial
// string, in OpenSSL's order, kept to the suites Go implements for that
// version. OpenSSL computes the order, not this test.
func tutorialSuites(t *testing.T, version uint16) []string {
	t.Helper()
	openssl := itest.RequireTool(t, "openssl")
	out, err := exec.Command(openssl, "ciphers", "-stdname", tutorialCiphers).Output()
	if err != nil {
		t.Fatalf("openssl ciphers: %v", err)
	}
	goSuites := map[string]*tls.CipherSuite{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		goSuites[s.Name] = s
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name := strings.Fields(line)[0]
		s, ok := goSuites[name]
		if ok && slices.Contains(s.SupportedVersions, version) && !slices.Contains(s.SupportedVersions, tls.VersionTLS13) {
			want = append(want, name)
		}
	}
	if len(want) == 0 {
		t.Fatalf("no Go suites in the tutorial string for version %x:\n%s", version, out)
	}
	return want
}

// weakSuite reports whether an IANA suite name is one the tutorial bans or
// that this test rejects: RC4, (3)DES, NULL, EXPORT, anonymous, MD5.
func weakSuite(name string) bool {
	for _, bad := range []string{"RC4", "DES", "NULL", "EXPORT", "anon", "MD5"} {
		if strings.Contains(name, bad) {
			return true
		}
	}
	return false
}

// TestTestssl runs testssl.sh once against the tutorial profile with RSA
// and ECDSA certificates and checks, finding by finding, what the tutorial
// promises. It is the slowest test (30-120 s).
func TestTestssl(t *testing.T) {
	t.Parallel()
	itest.RequireTool(t, "testssl")
	// HPKP enforcing, with a backup pin of a key that is not served, so
	// testssl's -h parses Public-Key-Pins too.
	spare := testca.New(t).Leaf(t, testca.LeafOptions{})
	backup := headers.PinSHA256(spare.Cert().RawSubjectPublicKeyInfo)
	f := startFront(t, frontOptions{Profile: "tutorial", Certs: []string{"rsa2048", "ecdsa256"}, NoHTTP: true,
		Headers: fmt.Sprintf("[headers.hpkp]\nenabled = true\nreport_only = false\nbackup_pins = [%q]\n", backup)})
	r := itest.Testssl(t, fmt.Sprintf("https://127.0.0.1:%d/", f.Front.HTTPSPort))
	t.Logf("testssl findings:\n%s", r)

	t.Run("protocols", func(t *testing.T) {
		for id, want := range map[string]bool{
			"SSLv2": false, "SSLv3": false, "TLS1": true, "TLS1_1": true, "TLS1_2": true, "TLS1_3": true,
		} {
			if got := r.Offered(t, id); got != want {
				t.Errorf("%s offered = %v, want %v (%v)", id, got, want, r.All(id))
			}
		}
	})
	t.Run("cipher categories", func(t *testing.T) {
		for _, id := range []string{"cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA"} {
			if r.Offered(t, id) {
				t.Errorf("%s offered: %v", id, r.All(id))
			}
		}
		if !r.Offered(t, "cipherlist_STRONG") {
			t.Errorf("no strong ciphers offered: %v", r.All("cipherlist_STRONG"))
		}
	})
	t.Run("forward secrecy", func(t *testing.T) {
		fs := r.ForwardSecrecy(t)
		if fs.Severity != "OK" || !strings.HasPrefix(fs.Finding, "offered") {
			t.Errorf("forward secrecy: %+v, want OK offered", fs)
		}
	})
	t.Run("server cipher order", func(t *testing.T) {
		if co := r.Require(t, "cipher_order"); co.Severity != "OK" || !strings.HasPrefix(co.Finding, "server") {
			t.Errorf("cipher_order = %+v, want OK server", co)
		}
	})
	t.Run("fallback SCSV", func(t *testing.T) {
		if fb := r.Require(t, "fallback_SCSV"); fb.Severity != "OK" || !strings.HasPrefix(fb.Finding, "supported") {
			t.Errorf("fallback_SCSV = %+v, want OK supported", fb)
		}
	})
	t.Run("not vulnerable", func(t *testing.T) {
		for _, id := range []string{"heartbleed", "CCS", "ticketbleed", "ROBOT", "CRIME_TLS", "POODLE_SSL",
			"FREAK", "LOGJAM", "DROWN", "SWEET32", "RC4", "secure_client_renego"} {
			if !r.NotVulnerable(t, id) {
				t.Errorf("%s: %v, want not vulnerable", id, r.All(id))
			}
		}
	})
	t.Run("HSTS", func(t *testing.T) {
		if h := r.Require(t, "HSTS_time"); h.Severity != "OK" || !strings.Contains(h.Finding, "(=63072000 seconds)") {
			t.Errorf("HSTS_time = %+v, want OK with 63072000 seconds", h)
		}
		if h := r.Require(t, "HSTS_subdomains"); h.Finding != "includes subdomains" {
			t.Errorf("HSTS_subdomains = %+v", h)
		}
		if h := r.Require(t, "HSTS_preload"); h.Finding != "domain IS marked for preloading" {
			t.Errorf("HSTS_preload = %+v", h)
		}
	})
	t.Run("HPKP", func(t *testing.T) {
		if h := r.Require(t, "HPKP_SPKIs"); h.Finding != "3 keys pinned in header" {
			t.Errorf("HPKP_SPKIs = %+v, want the 2 served keys and the backup", h)
		}
		// testssl 3.0.8 compares the pins with the one certificate its own
		// handshake got (ECDSA, preferred by the server); the RSA pin is
		// listed like a backup. Both served pins must be in the header.
		for kt, leaf := range f.Leaves {
			pin := headers.PinSHA256(leaf.Cert().RawSubjectPublicKeyInfo)
			h := r.Require(t, "HPKP_"+strings.TrimRight(pin, "="))
			if kt == "ecdsa256" && !strings.Contains(h.Finding, "matches the host certificate") {
				t.Errorf("%s pin %s: %+v, want it to match the host certificate", kt, pin, h)
			}
		}
		if h := r.Require(t, "HPKP_"+strings.TrimRight(backup, "=")); !strings.Contains(h.Finding, "doesn't match anything") {
			t.Errorf("backup pin: %+v, want a backup matching nothing served", h)
		}
	})
	t.Run("certificates", func(t *testing.T) {
		if n := r.Require(t, "cert_numbers"); n.Finding != "2" {
			t.Errorf("cert_numbers = %q, want 2 (RSA and ECDSA)", n.Finding)
		}
	})
}
