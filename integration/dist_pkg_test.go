package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// TestDistPkgVersion checks how dist.sh turns git describe into a package
// version, and that dpkg and rpm themselves order the results as releases
// are ordered: a pre-release before its release, commits after a tag after it.
func TestDistPkgVersion(t *testing.T) {
	bash := itest.RequireTool(t, "bash")
	root := itest.ModuleRoot(t)
	pkgVersion := func(t *testing.T, v string) (string, error) {
		cmd := exec.Command(bash, "scripts/dist.sh", "--pkg-version", v)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1767225600") // 2026-01-01 00:00:00 UTC
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for _, tc := range []struct{ describe, want string }{
		{"v1.2.3", "1.2.3"},
		{"v1.2.3-4-gabcdef0", "1.2.3+4.gabcdef0"},
		{"v1.2.3-dirty", "1.2.3.dirty"},
		{"v1.2.3-rc1", "1.2.3~rc1"},
		{"v1.2.3-rc1-2-gabcdef0", "1.2.3~rc1+2.gabcdef0"},
		{"41ea2d0", "0.0.0+git20260101000000.41ea2d0"},
		{"41ea2d0-dirty", "0.0.0+git20260101000000.41ea2d0.dirty"},
	} {
		t.Run(tc.describe, func(t *testing.T) {
			got, err := pkgVersion(t, tc.describe)
			if err != nil || got != tc.want {
				t.Errorf("dist.sh --pkg-version %s = %q (%v), want %q", tc.describe, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"1.2", "release-7", "v1.2.3-4-gxyz"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			if got, err := pkgVersion(t, bad); err == nil || !strings.Contains(got, "tag releases vX.Y.Z") {
				t.Errorf("dist.sh --pkg-version %s = %q (%v), want an error", bad, got, err)
			}
		})
	}

	// In release order, oldest first.
	order := []string{"0.0.0+git20260101000000.41ea2d0", "1.2.3~rc1", "1.2.3~rc1+2.gabcdef0", "1.2.3",
		"1.2.3+4.gabcdef0", "1.2.3+12.g0000000", "1.2.4~rc1"}
	t.Run("dpkg order", func(t *testing.T) {
		dpkg := itest.RequireTool(t, "dpkg")
		for i := 1; i < len(order); i++ {
			a, b := order[i-1]+"-1", order[i]+"-1"
			if err := exec.Command(dpkg, "--compare-versions", a, "lt", b).Run(); err != nil {
				t.Errorf("dpkg --compare-versions %s lt %s: false", a, b)
			}
		}
	})
	t.Run("rpm order", func(t *testing.T) {
		rpm := itest.RequireTool(t, "rpm")
		for i := 1; i < len(order); i++ {
			a, b := order[i-1]+"-1", order[i]+"-1"
			out, err := exec.Command(rpm, "--eval", fmt.Sprintf(`%%{lua:print(rpm.vercmp(%q, %q))}`, a, b)).Output()
			if err != nil || strings.TrimSpace(string(out)) != "-1" {
				t.Errorf("rpm vercmp(%s, %s) = %q (%v), want -1", a, b, out, err)
			}
		}
	})
}

// debInfo is what dpkg-deb says about a .deb.
type debInfo struct {
	files     map[string]string // path -> "mode owner/group" (not folders)
	conffiles []string
	scripts   map[string]string // postinst, prerm, postrm
	version   string
}

func readDeb(t *testing.T, path string) debInfo {
	t.Helper()
	dpkgDeb := itest.RequireTool(t, "dpkg-deb")
	out, err := exec.Command(dpkgDeb, "-c", path).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c %s: %v", path, err)
	}
	d := debInfo{files: map[string]string{}, scripts: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// -rw-r--r-- root/root     10750 2026-12-03 08:26 ./etc/tlsfront/tlsfront.toml
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[0][0] == 'd' {
			continue
		}
		d.files[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
	}
	cf, _ := exec.Command(dpkgDeb, "-I", path, "conffiles").Output()
	d.conffiles = strings.Fields(string(cf))
	for _, s := range []string{"postinst", "prerm", "postrm", "preinst"} {
		if body, err := exec.Command(dpkgDeb, "-I", path, s).Output(); err == nil {
			d.scripts[s] = string(body)
		}
	}
	v, err := exec.Command(dpkgDeb, "-f", path, "Version").Output()
	if err != nil {
		t.Fatal(err)
	}
	d.version = strings.TrimSpace(string(v))
	return d
}

// rpmScripts splits `rpm -qp --scripts` output into bodies by scriptlet.
var rpmScriptHeader = regexp.MustCompile(`(?m)^(\w+) scriptlet \(using /bin/sh\):\n`)

func readRPM(t *testing.T, path string) debInfo {
	t.Helper()
	rpm := itest.RequireTool(t, "rpm")
	q := func(args ...string) string {
		out, err := exec.Command(rpm, append([]string{"-qp"}, append(args, path)...)...).Output()
		if err != nil {
			t.Fatalf("rpm -qp %v %s: %v", args, path, err)
		}
		return string(out)
	}
	r := debInfo{files: map[string]string{}, scripts: map[string]string{}}
	for _, l := range strings.Split(strings.TrimSpace(q("--qf", "[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES}\n]")), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 || f[0][0] == 'd' {
			continue
		}
		r.files[f[2]] = f[0] + " " + f[1]
	}
	// -c lists %config files; the flags say noreplace ("n") too.
	for _, l := range strings.Split(q("--qf", "[%{FILEFLAGS:fflags}|%{FILENAMES}\n]"), "\n") {
		flags, name, _ := strings.Cut(l, "|")
		if strings.Contains(flags, "c") {
			if !strings.Contains(flags, "n") {
				t.Errorf("%s: %s is %%config without noreplace (flags %q)", filepath.Base(path), name, flags)
			}
			r.conffiles = append(r.conffiles, name)
		}
	}
	scripts := q("--scripts")
	idx := rpmScriptHeader.FindAllStringSubmatchIndex(scripts, -1)
	for i, m := range idx {
		end := len(scripts)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		r.scripts[scripts[m[2]:m[3]]] = scripts[m[1]:end]
	}
	r.version = strings.TrimSpace(q("--qf", "%{VERSION}-%{RELEASE}"))
	return r
}

// rpmScriptlet is the rpm name of each dpkg maintainer script.
var rpmScriptlet = map[string]string{"postinst": "postinstall", "prerm": "preuninstall", "postrm": "postuninstall", "preinst": "preinstall"}

// checkRPMAgainstDeb: each .rpm has the .deb's files (modes, owners),
// config files, scripts (the same text as packaging/scripts/), version and,
// byte for byte, the released binary.
func checkRPMAgainstDeb(t *testing.T, b *distBuild) {
	root := itest.ModuleRoot(t)
	type pkg struct{ name, arch, bin string }
	pkgs := []pkg{{"tlsfront", "amd64", b.binary("amd64")}, {"tlsfront", "arm64", b.binary("arm64")}}
	if b.OpenSSL {
		pkgs = append(pkgs, pkg{"tlsfront-openssl", "amd64", b.path(fmt.Sprintf("tlsfront-openssl-%s-linux-amd64", b.Version))})
	}
	for _, p := range pkgs {
		t.Run(p.name+" "+p.arch, func(t *testing.T) {
			debPath, rpmPath := b.deb(p.name, p.arch), b.rpm(p.name, rpmArch[p.arch])
			deb, rpm := readDeb(t, debPath), readRPM(t, rpmPath)
			wantFiles := map[string]string{
				"/usr/bin/tlsfront":                            "-rwxr-xr-x root/root",
				"/usr/lib/systemd/system/tlsfront.service":     "-rw-r--r-- root/root",
				"/usr/lib/systemd/system/tlsfront.socket":      "-rw-r--r-- root/root",
				"/usr/lib/systemd/system/tlsfront-http.socket": "-rw-r--r-- root/root",
				"/etc/tlsfront/tlsfront.toml":                  "-rw-r--r-- root/root",
			}
			for _, doc := range []string{"README.md", "README.systemd.md", "config.example.toml"} {
				wantFiles["/usr/share/doc/"+p.name+"/"+doc] = "-rw-r--r-- root/root"
			}
			if got, want := fmt.Sprint(deb.files), fmt.Sprint(wantFiles); got != want {
				t.Errorf(".deb files:\n  %s\nwant\n  %s", got, want)
			}
			if got, want := fmt.Sprint(rpm.files), fmt.Sprint(deb.files); got != want {
				t.Errorf(".rpm files (rpm -qlp):\n  %s\nthe .deb's:\n  %s", got, want)
			}
			if fmt.Sprint(deb.conffiles) != "[/etc/tlsfront/tlsfront.toml]" || fmt.Sprint(rpm.conffiles) != fmt.Sprint(deb.conffiles) {
				t.Errorf("config files: .deb %v, .rpm %v, want [/etc/tlsfront/tlsfront.toml] in both", deb.conffiles, rpm.conffiles)
			}
			if deb.version != b.PkgVer+"-1" || rpm.version != deb.version {
				t.Errorf("versions: .deb %q, .rpm %q, want %q", deb.version, rpm.version, b.PkgVer+"-1")
			}
			var debScripts, rpmNames []string
			for s := range deb.scripts {
				debScripts = append(debScripts, s)
			}
			for s := range rpm.scripts {
				rpmNames = append(rpmNames, s)
			}
			sort.Strings(debScripts)
			sort.Strings(rpmNames)
			if fmt.Sprint(debScripts) != "[postinst postrm prerm]" || fmt.Sprint(rpmNames) != "[postinstall postuninstall preuninstall]" {
				t.Errorf("scripts: .deb %v, .rpm %v; want postinst, prerm, postrm and their rpm twins", debScripts, rpmNames)
			}
			for debName, src := range map[string]string{"postinst": "postinstall.sh", "prerm": "preremove.sh", "postrm": "postremove.sh"} {
				want, err := os.ReadFile(filepath.Join(root, "packaging", "scripts", src))
				if err != nil {
					t.Fatal(err)
				}
				if strings.TrimSpace(deb.scripts[debName]) != strings.TrimSpace(string(want)) {
					t.Errorf(".deb %s is not packaging/scripts/%s:\n%s", debName, src, deb.scripts[debName])
				}
				if got := rpm.scripts[rpmScriptlet[debName]]; strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
					t.Errorf(".rpm %s scriptlet is not packaging/scripts/%s:\n%s", rpmScriptlet[debName], src, got)
				}
			}
			wantBin := fileSHA256(t, p.bin)
			if got := debMemberSHA256(t, debPath, "./usr/bin/tlsfront"); got != wantBin {
				t.Errorf(".deb /usr/bin/tlsfront has sha256 %s, the released binary %s", got, wantBin)
			}
			if got := rpmMemberSHA256(t, rpmPath, "./usr/bin/tlsfront"); got != wantBin {
				t.Errorf(".rpm /usr/bin/tlsfront has sha256 %s, the released binary %s", got, wantBin)
			}
			checkDeps(t, p.name, debPath, rpmPath)
		})
	}
}

// checkDeps: the static package depends on nothing; the openssl variant on
// libssl3 (Debian) and libcrypto.so.3 (rpm), and takes the static one's place.
func checkDeps(t *testing.T, name, debPath, rpmPath string) {
	dpkgDeb, rpm := itest.RequireTool(t, "dpkg-deb"), itest.RequireTool(t, "rpm")
	field := func(f string) string {
		out, _ := exec.Command(dpkgDeb, "-f", debPath, f).Output()
		return strings.TrimSpace(string(out))
	}
	reqOut, err := exec.Command(rpm, "-qpR", rpmPath).Output()
	if err != nil {
		t.Fatal(err)
	}
	var requires []string
	for _, r := range strings.Split(strings.TrimSpace(string(reqOut)), "\n") {
		if !strings.HasPrefix(r, "rpmlib(") {
			requires = append(requires, r)
		}
	}
	conflicts, _ := exec.Command(rpm, "-qp", "--conflicts", rpmPath).Output()
	obsoletes, _ := exec.Command(rpm, "-qp", "--obsoletes", rpmPath).Output()
	if strings.TrimSpace(string(obsoletes)) != "" {
		t.Errorf(".rpm obsoletes %q: dnf would replace packages on upgrade", obsoletes)
	}
	if name == "tlsfront" {
		if d := field("Depends"); d != "" || len(requires) > 0 {
			t.Errorf("the static package depends on %q (.deb) and %v (.rpm), want nothing", d, requires)
		}
		return
	}
	if d := field("Depends"); !regexp.MustCompile(`^libc6 \(>= 2\.\d+\), libssl3 \| libssl3t64$`).MatchString(d) {
		t.Errorf(".deb Depends: %q, want libc6 and libssl3", d)
	}
	for f, want := range map[string]string{"Conflicts": "tlsfront", "Replaces": "tlsfront", "Provides": "tlsfront"} {
		if got := field(f); got != want {
			t.Errorf(".deb %s: %q, want %q", f, got, want)
		}
	}
	if len(requires) != 2 || !strings.HasPrefix(requires[0], "libc.so.6(GLIBC_2.") || requires[1] != "libcrypto.so.3()(64bit)" {
		t.Errorf(".rpm requires %v, want libc.so.6(GLIBC_2.x)(64bit) and libcrypto.so.3()(64bit)", requires)
	}
	if strings.TrimSpace(string(conflicts)) != "tlsfront" {
		t.Errorf(".rpm conflicts %q, want tlsfront", conflicts)
	}
}

// debMemberSHA256 hashes one file inside a .deb's data archive.
func debMemberSHA256(t *testing.T, deb, member string) string {
	t.Helper()
	dpkgDeb, tar := itest.RequireTool(t, "dpkg-deb"), itest.RequireTool(t, "tar")
	return pipeSHA256(t, exec.Command(dpkgDeb, "--fsys-tarfile", deb), exec.Command(tar, "-xOf", "-", member))
}

// rpmMemberSHA256 hashes one file inside an .rpm's payload.
func rpmMemberSHA256(t *testing.T, rpm, member string) string {
	t.Helper()
	rpm2cpio, cpio := itest.RequireTool(t, "rpm2cpio"), itest.RequireTool(t, "cpio")
	return pipeSHA256(t, exec.Command(rpm2cpio, rpm), exec.Command(cpio, "-i", "--quiet", "--to-stdout", member))
}

func pipeSHA256(t *testing.T, from, to *exec.Cmd) string {
	t.Helper()
	var err error
	to.Stdin, err = from.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	to.Stdout = &out
	if err := from.Start(); err != nil {
		t.Fatal(err)
	}
	if err := to.Run(); err != nil {
		t.Fatalf("%v | %v: %v", from.Args, to.Args, err)
	}
	if err := from.Wait(); err != nil {
		t.Fatalf("%v: %v", from.Args, err)
	}
	f := filepath.Join(t.TempDir(), "member")
	if err := os.WriteFile(f, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return fileSHA256(t, f)
}

// dpkgRun runs dpkg with args, waiting out another dpkg's lock (an apt-get
// on this machine) for up to 3 minutes.
func dpkgRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	dpkg := itest.RequireTool(t, "dpkg")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, dpkg, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil && strings.Contains(string(out), "lock") && time.Now().Before(deadline) {
			time.Sleep(2 * time.Second)
			continue
		}
		return string(out), err
	}
}

// dpkgStatus is dpkg-query's "${Status} ${Version}" for pkg, or "" when
// dpkg knows nothing of it.
func dpkgStatus(t *testing.T, pkg string) string {
	t.Helper()
	q := itest.RequireTool(t, "dpkg-query")
	out, err := exec.Command(q, "-W", "-f", "${db:Status-Abbrev}${Version}", pkg).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
