package service

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tlsfront/internal/itest"
)

// unitDir is where the shipped unit files live, relative to this package.
const unitDir = "../systemd"

var unitFiles = []string{"tlsfront.service", "tlsfront.socket", "tlsfront-http.socket"}

// unitSettings returns every "Key=value" of a unit file, in order, keyed by
// "Section.Key".
func unitSettings(t *testing.T, name string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(unitDir, name))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[':
			section = strings.Trim(l, "[]")
		default:
			k, v, _ := strings.Cut(l, "=")
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// TestUnitSettings pins the settings the issue and the code rely on; the
// hardening as a whole is measured by TestUnitSecurity.
func TestUnitSettings(t *testing.T) {
	for _, tc := range []struct {
		unit, key, want string
	}{
		{"tlsfront.service", "Service.Type", "notify"}, // Ready/Reloading/Stopping
		{"tlsfront.service", "Service.NotifyAccess", "main"},
		{"tlsfront.service", "Service.ExecStart", "/usr/local/bin/tlsfront -config /etc/tlsfront/tlsfront.toml"},
		{"tlsfront.service", "Service.ExecReload", "/bin/kill -HUP $MAINPID"},
		{"tlsfront.service", "Service.WatchdogSec", "30"},
		{"tlsfront.service", "Service.DynamicUser", "yes"},
		{"tlsfront.service", "Service.StateDirectory", "tlsfront"},
		{"tlsfront.service", "Service.ConfigurationDirectory", "tlsfront"},
		{"tlsfront.service", "Service.AmbientCapabilities", "CAP_NET_BIND_SERVICE"},
		{"tlsfront.service", "Service.CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"},
		{"tlsfront.service", "Service.ProtectSystem", "strict"},
		{"tlsfront.service", "Service.NoNewPrivileges", "yes"},
		{"tlsfront.service", "Service.PrivateTmp", "yes"},
		{"tlsfront.service", "Service.SystemCallFilter", "@system-service"},
		// sd_notify needs AF_UNIX; the listeners and backends AF_INET/6.
		{"tlsfront.service", "Service.RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"tlsfront.socket", "Socket.ListenStream", "443"},
		{"tlsfront.socket", "Socket.FileDescriptorName", "https"},
		{"tlsfront.socket", "Socket.Service", "tlsfront.service"},
		{"tlsfront-http.socket", "Socket.ListenStream", "80"},
		{"tlsfront-http.socket", "Socket.FileDescriptorName", "http"},
		{"tlsfront-http.socket", "Socket.Service", "tlsfront.service"},
	} {
		t.Run(tc.unit+" "+tc.key, func(t *testing.T) {
			got := unitSettings(t, tc.unit)[tc.key]
			for _, v := range got {
				if v == tc.want {
					return
				}
			}
			t.Errorf("%s: %s = %q, want %q among them", tc.unit, tc.key, got, tc.want)
		})
	}
}

// TestUnitsVerify runs systemd-analyze verify on copies of the units whose
// ExecStart points at an existing executable (verify refuses a missing
// binary), and fails on any complaint about them: verify exits 0 even for
// unknown or misspelt keys.
func TestUnitsVerify(t *testing.T) {
	analyze := itest.RequireTool(t, "systemd-analyze")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for _, name := range unitFiles {
		data, err := os.ReadFile(filepath.Join(unitDir, name))
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("/usr/local/bin/tlsfront"), []byte(self))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		if strings.Contains(l, dir) || strings.Contains(l, "tlsfront") {
			t.Errorf("systemd-analyze verify: %s", l)
		} else {
			t.Logf("systemd-analyze verify (not about our units): %s", l)
		}
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for tlsfront\.service: ([0-9]+\.[0-9]+)`)

// readmeExposure is what README.md promises: "`systemd-analyze security`
// exposure N.N, checked in CI".
var readmeExposure = regexp.MustCompile("`systemd-analyze security` exposure ([0-9]+\\.[0-9]+), checked in CI")

// TestUnitSecurity checks the exposure level README.md states for
// tlsfront.service (0 is best, 10 worst): the unit may not be worse.
func TestUnitSecurity(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	promised := readmeExposure.FindSubmatch(readme)
	if promised == nil {
		t.Fatalf("README.md no longer says %q", readmeExposure)
	}
	maxExposure, _ := strconv.ParseFloat(string(promised[1]), 64)
	analyze := itest.RequireTool(t, "systemd-analyze")
	out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager",
		filepath.Join(unitDir, "tlsfront.service")).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security --offline=true: %v\n%s", err, out)
	}
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure level in systemd-analyze security output:\n%s", out)
	}
	level, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exposure level of tlsfront.service: %.1f (README.md says %.1f)", level, maxExposure)
	if level > maxExposure {
		t.Errorf("exposure level %.1f is worse than the %.1f README.md states; findings:\n%s", level, maxExposure, out)
	}
}
