package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// systemTestsEnv opts a developer's machine into the tests that install
// packages into it (CI=true opts in by itself: CI runs on a throwaway machine).
const systemTestsEnv = "TLSFRONT_SYSTEM_TESTS"

// requireSystemTests skips a test that changes this machine (dpkg -i)
// unless it runs as root and CI=true or TLSFRONT_SYSTEM_TESTS=1 says so.
func requireSystemTests(t *testing.T) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	if !ci && os.Getenv(systemTestsEnv) != "1" {
		t.Skipf("installs packages into this machine: runs under CI=true, or as root with %s=1", systemTestsEnv)
	}
	if os.Geteuid() != 0 {
		if ci {
			t.Fatal("installing packages needs root, and CI=true asks for the proof")
		}
		t.Skip("installing packages needs root")
	}
}

// installedFiles are what the package puts on the system.
var installedFiles = []string{
	"/usr/bin/tlsfront",
	"/usr/lib/systemd/system/tlsfront.service",
	"/usr/lib/systemd/system/tlsfront.socket",
	"/usr/lib/systemd/system/tlsfront-http.socket",
}

const (
	installedConfig = "/etc/tlsfront/tlsfront.toml"
	enableLink      = "/etc/systemd/system/multi-user.target.wants/tlsfront.service"
)

// checkDebInstall installs the .deb into this machine and walks through a
// package's life: install, verify, serve, remove keeping the edited
// config, reinstall keeping it, purge; then the openssl variant replacing
// the static package. Everything is purged at the end, also on failure.
func checkDebInstall(t *testing.T, b *distBuild) {
	requireSystemTests(t)
	pkgs := []string{"tlsfront", "tlsfront-openssl"}
	for _, p := range pkgs {
		if st := dpkgStatus(t, p); st != "" && !strings.HasPrefix(st, "un") {
			if os.Getenv("CI") != "true" {
				t.Fatalf("%s is already known to dpkg (%q): this test needs a clean state; dpkg --purge %s first", p, st, p)
			}
			t.Logf("CI: purging %s left by an earlier run (%q)", p, st)
			if out, err := dpkgRun(t, "--purge", p); err != nil {
				t.Fatalf("dpkg --purge %s: %v\n%s", p, err, out)
			}
		}
	}
	for _, f := range append(installedFiles, installedConfig, enableLink) {
		if _, err := os.Lstat(f); err == nil {
			t.Fatalf("%s exists before the package is installed: not a clean state", f)
		}
	}
	t.Cleanup(func() {
		for _, p := range pkgs {
			if out, err := dpkgRun(t, "--purge", p); err != nil {
				t.Errorf("clean-up: dpkg --purge %s: %v\n%s", p, err, out)
			}
		}
		os.Remove(enableLink)
		os.RemoveAll("/var/lib/tlsfront")
	})

	deb := b.deb("tlsfront", "amd64")
	if out, err := dpkgRun(t, "-i", deb); err != nil {
		t.Fatalf("dpkg -i %s: %v\n%s", filepath.Base(deb), err, out)
	}
	if st := dpkgStatus(t, "tlsfront"); st != "ii "+b.PkgVer+"-1" {
		t.Fatalf("after dpkg -i: status %q, want installed %s-1", st, b.PkgVer)
	}
	for _, f := range append(installedFiles, installedConfig) {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after dpkg -i: %v", err)
		}
	}
	want := fmt.Sprintf("tlsfront %s\nRSA signing: Go crypto/rsa\n", b.Version)
	if out, err := exec.Command("/usr/bin/tlsfront", "version").Output(); err != nil || string(out) != want {
		t.Errorf("/usr/bin/tlsfront version: %v %q, want %q", err, out, want)
	}
	if _, err := os.Stat("/var/lib/tlsfront"); err == nil {
		t.Errorf("dpkg -i created /var/lib/tlsfront: the state folder belongs to systemd's StateDirectory=")
	}

	t.Run("systemd-analyze verify", verifyInstalledUnits)
	t.Run("serves the installed config", serveInstalledConfig)

	// An operator enables the service (offline: no systemd runs here) and
	// edits the config.
	systemctl := itest.RequireTool(t, "systemctl")
	if out, err := exec.Command(systemctl, "--no-reload", "enable", "tlsfront.service").CombinedOutput(); err != nil {
		t.Fatalf("systemctl --no-reload enable tlsfront.service: %v\n%s", err, out)
	}
	if _, err := os.Lstat(enableLink); err != nil {
		t.Fatalf("systemctl enable made no %s: %v", enableLink, err)
	}
	edited := editConfig(t)

	if out, err := dpkgRun(t, "-r", "tlsfront"); err != nil {
		t.Fatalf("dpkg -r tlsfront: %v\n%s", err, out)
	}
	if st := dpkgStatus(t, "tlsfront"); st != "rc "+b.PkgVer+"-1" {
		t.Errorf("after dpkg -r: status %q, want rc (removed, config files kept)", st)
	}
	for _, f := range installedFiles {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("after dpkg -r: %s is still there", f)
		}
	}
	if _, err := os.Lstat(enableLink); err == nil {
		t.Errorf("after dpkg -r: %s still points at the removed unit (prerm disables it)", enableLink)
	}
	requireConfig(t, "after dpkg -r", edited)

	if out, err := dpkgRun(t, "-i", deb); err != nil {
		t.Fatalf("reinstall: dpkg -i: %v\n%s", err, out)
	}
	requireConfig(t, "after reinstalling over the edited config", edited)
	if st := dpkgStatus(t, "tlsfront"); st != "ii "+b.PkgVer+"-1" {
		t.Errorf("after reinstall: status %q", st)
	}

	if out, err := dpkgRun(t, "--purge", "tlsfront"); err != nil {
		t.Fatalf("dpkg --purge tlsfront: %v\n%s", err, out)
	}
	if st := dpkgStatus(t, "tlsfront"); st != "" && !strings.HasPrefix(st, "un") {
		t.Errorf("after dpkg --purge: status %q, want unknown", st)
	}
	for _, f := range append(installedFiles, installedConfig, "/etc/tlsfront", "/var/lib/tlsfront") {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("after dpkg --purge: %s is still there", f)
		}
	}

	if b.OpenSSL {
		t.Run("openssl variant replaces the static package", func(t *testing.T) { installOpenSSLVariant(t, b, deb) })
	}
}

// verifyInstalledUnits: systemd-analyze verify accepts the units as
// installed (it exits 0 even for unknown keys: any message about them fails).
func verifyInstalledUnits(t *testing.T) {
	analyze := itest.RequireTool(t, "systemd-analyze")
	units := installedFiles[1:]
	out, err := exec.Command(analyze, append([]string{"verify"}, units...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, "tlsfront") {
			t.Errorf("systemd-analyze verify: %s", l)
		} else if l != "" {
			t.Logf("systemd-analyze verify (not about our units): %s", l)
		}
	}
	unit, err := os.ReadFile(installedFiles[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nExecStart=/usr/bin/tlsfront -config /etc/tlsfront/tlsfront.toml\n",
		"\nExecReload=/usr/bin/tlsfront -t -config /etc/tlsfront/tlsfront.toml\n",
	} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("installed tlsfront.service lacks %q", strings.TrimSpace(want))
		}
	}
}

// serveInstalledConfig runs the installed binary on the installed config,
// with only the ports (unprivileged, on 127.0.0.1) and the backend (a real
// Apache) overridden by environment variables, as a container would. The
// state folder is the config's, /var/lib/tlsfront: purge must remove it.
func serveInstalledConfig(t *testing.T) {
	apache := itest.StartApache(t, itest.ApacheOptions{})
	httpsPort, httpPort := itest.FreePort(t), itest.FreePort(t)
	env := []string{
		fmt.Sprintf("TLSFRONT_SERVER_HTTPS=127.0.0.1:%d", httpsPort),
		fmt.Sprintf("TLSFRONT_SERVER_HTTP=127.0.0.1:%d", httpPort),
		"TLSFRONT_SITE_BACKEND=" + apache.URL,
	}

	check := exec.Command("/usr/bin/tlsfront", "-t", "-config", installedConfig)
	check.Env = itest.TlsfrontEnv(env...)
	if out, err := check.CombinedOutput(); err != nil || !bytes.HasPrefix(out, []byte("configuration ok")) {
		t.Fatalf("tlsfront -t on the installed config: %v\n%s", err, out)
	}

	front := itest.StartTlsfrontWith(t, t.TempDir(), "", itest.TlsfrontOptions{
		Binary: "/usr/bin/tlsfront", ConfigArg: installedConfig, Env: env, NoWait: true,
	})
	front.WaitServing(fmt.Sprintf("127.0.0.1:%d", httpsPort))

	resolve := []string{"--resolve", fmt.Sprintf("localhost:%d:127.0.0.1", httpsPort)}
	r := itest.Curl(t, append(resolve, fmt.Sprintf("https://localhost:%d/", httpsPort))...)
	if r.Status != 200 || !strings.Contains(r.Body, apache.Marker) {
		t.Errorf("curl https://localhost:%d/ = %d %q, want 200 with Apache's marker %q", httpsPort, r.Status, r.Body, apache.Marker)
	}
	if r.Headers.Get("Strict-Transport-Security") == "" {
		t.Error("no Strict-Transport-Security from the installed config")
	}
	if got := apache.WaitTarget(t, "/").XForwardedProto; got != "https" {
		t.Errorf("Apache saw X-Forwarded-Proto %q, want https", got)
	}
	plain := itest.Curl(t, fmt.Sprintf("http://127.0.0.1:%d/x?y", httpPort))
	if plain.Status != 301 || !strings.HasPrefix(plain.Headers.Get("Location"), "https://") {
		t.Errorf("plain HTTP: %d Location %q, want 301 to https://", plain.Status, plain.Headers.Get("Location"))
	}
	// The installed config's state_dir: the generated certificate is there.
	if m, _ := filepath.Glob("/var/lib/tlsfront/selfsigned/*"); len(m) == 0 {
		t.Errorf("no generated certificate under /var/lib/tlsfront/selfsigned (the installed state_dir)")
	}

	front.Signal(syscall.SIGTERM)
	select {
	case <-front.Done():
		if code := front.ExitCode(); code != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, front.Logs())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("no exit within 40s of SIGTERM\n%s", front.Logs())
	}
}

// editConfig changes the installed config the way an operator would and
// returns the new content.
func editConfig(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(installedConfig)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(data, []byte(`names = ["localhost"]`), []byte(`names = ["www.example.test"]`), 1)
	if bytes.Equal(edited, data) {
		t.Fatalf("the installed config has no `names = [\"localhost\"]` line to edit:\n%s", data)
	}
	edited = append(edited, "# edited by the operator\n"...)
	if err := os.WriteFile(installedConfig, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	return edited
}

func requireConfig(t *testing.T, when string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(installedConfig)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %s lost the operator's edit", when, installedConfig)
	}
}

// installOpenSSLVariant: tlsfront-openssl takes the static package's place
// (Conflicts/Replaces), keeps its edited config, and its binary signs
// with OpenSSL.
func installOpenSSLVariant(t *testing.T, b *distBuild, staticDeb string) {
	if out, err := dpkgRun(t, "-i", staticDeb); err != nil {
		t.Fatalf("dpkg -i tlsfront: %v\n%s", err, out)
	}
	edited := editConfig(t)
	variant := b.deb("tlsfront-openssl", "amd64")
	if out, err := dpkgRun(t, "-i", variant); err != nil {
		t.Fatalf("dpkg -i %s (libssl3 is Debian 12's): %v\n%s", filepath.Base(variant), err, out)
	}
	if st := dpkgStatus(t, "tlsfront-openssl"); st != "ii "+b.PkgVer+"-1" {
		t.Errorf("tlsfront-openssl status %q, want installed", st)
	}
	if st := dpkgStatus(t, "tlsfront"); strings.HasPrefix(st, "ii") {
		t.Errorf("tlsfront is still installed next to tlsfront-openssl (%q)", st)
	}
	out, err := exec.Command("/usr/bin/tlsfront", "version").Output()
	if err != nil || !strings.Contains(string(out), "RSA signing: OpenSSL 3") {
		t.Errorf("/usr/bin/tlsfront version after installing the variant: %v %q, want an OpenSSL 3 signer", err, out)
	}
	requireConfig(t, "after tlsfront-openssl replaced tlsfront", edited)
	for _, p := range []string{"tlsfront-openssl", "tlsfront"} {
		if out, err := dpkgRun(t, "--purge", p); err != nil {
			t.Errorf("dpkg --purge %s: %v\n%s", p, err, out)
		}
	}
	if _, err := os.Stat(installedConfig); err == nil {
		t.Errorf("after purging both packages %s is still there", installedConfig)
	}
}
