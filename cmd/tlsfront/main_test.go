package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tlsfront/headers"
	"tlsfront/internal/testca"
)

// writeConfig writes a config with an RSA and an ECDSA certificate and
// returns its path. extra is appended verbatim.
func writeConfig(t *testing.T, extra string) (path string, leaves []*testca.Leaf) {
	t.Helper()
	dir := t.TempDir()
	ca := testca.New(t)
	var certs string
	for _, kt := range []string{"rsa2048", "ecdsa256"} {
		l := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}, KeyType: kt})
		chain, key := l.WriteFilesAs(dir, kt)
		certs += "[[site.cert]]\ncert = \"" + filepath.Base(chain) + "\"\nkey = \"" + filepath.Base(key) + "\"\n"
		leaves = append(leaves, l)
	}
	src := "[server]\nhttps = \"127.0.0.1:18443\"\nhttp = \"\"\n" + extra +
		"\n[[site]]\nnames = [\"localhost\"]\nbackend = \"http://127.0.0.1:18081\"\n" + certs
	path = filepath.Join(dir, "tlsfront.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, leaves
}

func runCLI(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

func TestCheckSummary(t *testing.T) {
	path, _ := writeConfig(t, "")
	out, errOut, code := runCLI("-t", "-config", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"configuration ok", "profile tutorial, TLS 1.0 to TLS 1.3",
		"1. ECDHE-ECDSA-AES256-GCM-SHA384", "DHE-RSA-AES256-GCM-SHA384        Go has no finite-field DHE",
		"site 0: localhost", "RSA 2048", "ECDSA P-256", "ocsp: no OCSP URL",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckListsEveryProblem(t *testing.T) {
	path, _ := writeConfig(t, "bogus = 1\n[tls]\nmin_version = \"1.4\"\nciphers = \"RC4\"\n")
	src, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(src, []byte("rsa2048.key"), []byte("missing.key"), 1), 0o644)
	_, errOut, code := runCLI("-t", "-config", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"tlsfront: error:", "server.bogus: unknown key", `tls.min_version: "1.4" is not a TLS version`, "missing.key"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestCheckHPKP(t *testing.T) {
	_, leaves := writeConfig(t, "")
	served := headers.PinSHA256(leaves[0].Cert().RawSubjectPublicKeyInfo)
	tests := []struct {
		name    string
		backups string
		code    int
		want    string
	}{
		{"only the served pin as backup", `["` + served + `"]`, 1, "backup pin"},
		{"not base64 of 32 bytes", `["abc"]`, 1, "abc"},
		{"spare pin", `["` + strings.Repeat("A", 43) + `="]`, 0, "configuration ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, ls := writeConfig(t, "[headers.hpkp]\nenabled = true\nbackup_pins = "+tt.backups+"\n")
			if tt.name == "only the served pin as backup" { // pins must be of this config's own keys
				p := headers.PinSHA256(ls[0].Cert().RawSubjectPublicKeyInfo)
				src, _ := os.ReadFile(path)
				os.WriteFile(path, bytes.Replace(src, []byte(served), []byte(p), 1), 0o644)
			}
			out, errOut, code := runCLI("-t", "-config", path)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tt.code, tt.want, out, errOut)
			}
		})
	}
}

func TestPinsCommand(t *testing.T) {
	_, leaves := writeConfig(t, "")
	dir := t.TempDir()
	chain, key := leaves[1].WriteFiles(dir)
	out, errOut, code := runCLI("pins", chain, key)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := headers.PinSHA256(leaves[1].Cert().RawSubjectPublicKeyInfo)
	if strings.Count(out, `pin-sha256="`+want+`"`) != 2 { // the leaf and its key
		t.Errorf("output lacks the leaf pin twice:\n%s", out)
	}
	if _, _, code := runCLI("pins", filepath.Join(dir, "nope")); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
}

func TestVersionAndHelp(t *testing.T) {
	if out, _, code := runCLI("version"); code != 0 || !strings.HasPrefix(out, "tlsfront ") {
		t.Errorf("version: %d %q", code, out)
	}
	if _, errOut, code := runCLI("-h"); code != 0 || !strings.Contains(errOut, "tlsfront -t") || !strings.Contains(errOut, "SIGHUP") {
		t.Errorf("-h: %d %q", code, errOut)
	}
}

// TestCheckBadVersionWithCiphers: a bad min_version beside a cipher string
// is one problem, under tls.min_version; the cipher string is not blamed
// for it.
func TestCheckBadVersionWithCiphers(t *testing.T) {
	path, _ := writeConfig(t, "[tls]\nmin_version = \"1.4\"\nciphers = \"ECDHE+AESGCM\"\n")
	_, errOut, code := runCLI("-t", "-config", path)
	if code != 1 || !strings.Contains(errOut, "1 problem\n") || !strings.Contains(errOut, `tls.min_version: "1.4" is not a TLS version`) || strings.Contains(errOut, "tls.ciphers") {
		t.Errorf("exit %d, want 1 and one problem, under tls.min_version:\n%s", code, errOut)
	}
}
