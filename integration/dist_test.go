package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
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

// distBuild is one run of scripts/dist.sh.
type distBuild struct {
	Dir     string            // DIST_DIR
	Version string            // stamped into the binaries (git describe)
	PkgVer  string            // the packages' version, without the release
	Sums    map[string]string // SHA256SUMS: file name -> hex
	Image   bool              // the OCI archives were built
	OpenSSL bool              // the -tags openssl variant was built
}

func (b *distBuild) path(name string) string { return filepath.Join(b.Dir, name) }

func (b *distBuild) binary(arch string) string {
	return b.path(fmt.Sprintf("tlsfront-%s-linux-%s", b.Version, arch))
}

func (b *distBuild) deb(name, arch string) string {
	return b.path(fmt.Sprintf("%s_%s-1_%s.deb", name, b.PkgVer, arch))
}

func (b *distBuild) rpm(name, arch string) string {
	return b.path(fmt.Sprintf("%s-%s-1.%s.rpm", name, b.PkgVer, arch))
}

func (b *distBuild) archive(arch string) string {
	return b.path(fmt.Sprintf("tlsfront-%s-linux-%s.oci.tar", b.Version, arch))
}

// rpmArch is the rpm name of a GOARCH.
var rpmArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

// distTools says which optional parts of dist.sh this machine can build:
// the image needs podman, the openssl variant gcc and libssl-dev. Under
// CI=true all of them are required.
func distTools(t *testing.T) (image, openssl bool) {
	t.Helper()
	_, err := exec.LookPath("podman")
	image = err == nil
	_, gccErr := exec.LookPath("gcc")
	_, hdrErr := os.Stat("/usr/include/openssl/evp.h")
	openssl = gccErr == nil && hdrErr == nil
	if os.Getenv("CI") == "true" && (!image || !openssl) {
		t.Fatalf("under CI=true dist.sh must build everything: podman found: %v, gcc and libssl-dev found: %v", image, openssl)
	}
	return image, openssl
}

// runDist runs scripts/dist.sh from dir (a checkout) into out with the
// extra environment env, and reads what it built.
func runDist(t *testing.T, dir, out string, image, openssl bool, env ...string) *distBuild {
	t.Helper()
	bash := itest.RequireTool(t, "bash")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "scripts/dist.sh")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DIST_DIR="+out,
		"DIST_IMAGE="+boolDigit(image), "DIST_OPENSSL="+boolDigit(openssl))
	cmd.Env = append(cmd.Env, env...)
	start := time.Now()
	outb, err := cmd.CombinedOutput()
	t.Logf("scripts/dist.sh in %s took %s", dir, time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("scripts/dist.sh: %v\n%s", err, outb)
	}
	b := &distBuild{Dir: out, Image: image, OpenSSL: openssl, Sums: map[string]string{}}
	m := regexp.MustCompile(`(?m)^==> version (\S+) \(packages (\S+)\)`).FindSubmatch(outb)
	if m == nil {
		t.Fatalf("dist.sh printed no version line:\n%s", outb)
	}
	b.Version, b.PkgVer = string(m[1]), string(m[2])
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not \"HASH  NAME\"", sc.Text())
		}
		b.Sums[name] = sum
	}
	return b
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// gitVersion is what dist.sh stamps: git describe of the checkout.
func gitVersion(t *testing.T, dir string) string {
	t.Helper()
	git := itest.RequireTool(t, "git")
	cmd := exec.Command(git, "describe", "--tags", "--always", "--dirty", "--match", "v[0-9]*")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git describe: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// TestDist builds the release with scripts/dist.sh, as a release manager
// would, and checks what came out: binaries, packages (installed into this
// machine under CI, see dist_pkg_test.go), the image (run with podman, see
// dist_image_test.go), and that a second build is byte-identical.
func TestDist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every release artefact: not in -short mode")
	}
	itest.RequireTool(t, "go")
	root := itest.ModuleRoot(t)
	image, openssl := distTools(t)
	b := runDist(t, root, filepath.Join(t.TempDir(), "dist"), image, openssl)

	t.Run("artefacts", func(t *testing.T) { checkArtefacts(t, root, b) })
	t.Run("binaries", func(t *testing.T) { checkBinaries(t, b) })
	t.Run("rpm matches deb", func(t *testing.T) { checkRPMAgainstDeb(t, b) })
	t.Run("deb on this machine", func(t *testing.T) { checkDebInstall(t, b) })
	t.Run("image", func(t *testing.T) { checkImage(t, b) })
	t.Run("reproducible", func(t *testing.T) { checkReproducible(t, root, b) })
}

// checkArtefacts: exactly the promised files, each matching SHA256SUMS.
func checkArtefacts(t *testing.T, root string, b *distBuild) {
	if want := gitVersion(t, root); b.Version != want {
		t.Errorf("dist.sh stamped version %q, git describe says %q", b.Version, want)
	}
	var want []string
	for _, arch := range []string{"amd64", "arm64"} {
		want = append(want, filepath.Base(b.binary(arch)), filepath.Base(b.deb("tlsfront", arch)),
			filepath.Base(b.rpm("tlsfront", rpmArch[arch])))
		if b.Image {
			want = append(want, filepath.Base(b.archive(arch)))
		}
	}
	if b.OpenSSL {
		want = append(want, fmt.Sprintf("tlsfront-openssl-%s-linux-amd64", b.Version),
			filepath.Base(b.deb("tlsfront-openssl", "amd64")), filepath.Base(b.rpm("tlsfront-openssl", "x86_64")))
	}
	sort.Strings(want)
	entries, err := os.ReadDir(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" {
			got = append(got, e.Name())
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dist holds\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, name := range got {
		if sum, ok := b.Sums[name]; !ok {
			t.Errorf("SHA256SUMS lacks %s", name)
		} else if actual := fileSHA256(t, b.path(name)); actual != sum {
			t.Errorf("%s: SHA256SUMS says %s, the file hashes to %s", name, sum, actual)
		}
	}
	if len(b.Sums) != len(got) {
		t.Errorf("SHA256SUMS lists %d files, dist holds %d", len(b.Sums), len(got))
	}
	// And the tool users will run.
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sha, "-c", "--strict", "SHA256SUMS")
		cmd.Dir = b.Dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
		}
	}
}

// checkBinaries: static ELF for the right machine, version stamped; the
// openssl variant dynamic, needing libcrypto.so.3.
func checkBinaries(t *testing.T, b *distBuild) {
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		bin := b.binary(arch)
		requireStaticELF(t, bin)
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != machine {
			t.Errorf("%s is for %v, want %v", filepath.Base(bin), f.Machine, machine)
		}
		f.Close()
	}
	want := fmt.Sprintf("tlsfront %s\nRSA signing: Go crypto/rsa\n", b.Version)
	if out, err := exec.Command(b.binary("amd64"), "version").Output(); err != nil || string(out) != want {
		t.Errorf("tlsfront version: %v %q, want %q", err, out, want)
	}
	if !b.OpenSSL {
		t.Log("the openssl variant was not built (no gcc or libssl-dev)")
		return
	}
	bin := b.path(fmt.Sprintf("tlsfront-openssl-%s-linux-amd64", b.Version))
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	libs, err := f.ImportedLibraries()
	f.Close()
	if err != nil || !contains(libs, "libcrypto.so.3") {
		t.Errorf("%s imports %v (%v), want libcrypto.so.3 among them", filepath.Base(bin), libs, err)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "tlsfront "+b.Version+"\nRSA signing: OpenSSL 3") {
		t.Errorf("openssl variant: tlsfront version: %v %q, want the version and an OpenSSL 3 signer", err, out)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// coldEnv makes the reproducibility check build with an empty Go build
// cache, so that every package is compiled again, not only linked.
const coldEnv = "TLSFRONT_DIST_COLD"

// checkReproducible builds the same commit again — from a clone at another
// path when the work tree is clean, with another temp folder and locale,
// with an empty Go build cache under TLSFRONT_DIST_COLD=1 — and wants the
// same bytes. Binaries and packages must match; of the images, the layers
// must (their configs carry buildah's random build-container ID, see
// dist.sh).
func checkReproducible(t *testing.T, root string, first *distBuild) {
	git := itest.RequireTool(t, "git")
	dir := root
	status, err := exec.Command(git, "-C", root, "status", "--porcelain").Output()
	if err != nil {
		t.Fatalf("git status: %v", err)
	}
	if len(bytes.TrimSpace(status)) > 0 {
		t.Logf("the work tree has uncommitted or untracked files: building again in place, not from a clone")
	} else {
		dir = filepath.Join(t.TempDir(), "clone")
		if out, err := exec.Command(git, "clone", "--quiet", "--no-hardlinks", root, dir).CombinedOutput(); err != nil {
			t.Fatalf("git clone: %v\n%s", err, out)
		}
		head, err := exec.Command(git, "-C", root, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(git, "-C", dir, "checkout", "--quiet", "--detach", strings.TrimSpace(string(head))).CombinedOutput(); err != nil {
			t.Fatalf("git checkout: %v\n%s", err, out)
		}
	}
	env := []string{"TMPDIR=" + t.TempDir(), "LANG=de_DE.UTF-8"}
	if os.Getenv(coldEnv) == "1" {
		env = append(env, "GOCACHE="+t.TempDir())
	} else {
		t.Logf("the second build shares the Go build cache (compiled packages), so it proves linking, stamping and packaging reproducible; %s=1 builds with an empty cache too (about 3 minutes more here)", coldEnv)
	}
	second := runDist(t, dir, filepath.Join(t.TempDir(), "dist"), first.Image, first.OpenSSL, env...)
	if second.Version != first.Version || second.PkgVer != first.PkgVer {
		t.Fatalf("second build has version %s/%s, the first %s/%s", second.Version, second.PkgVer, first.Version, first.PkgVer)
	}
	for name, sum := range first.Sums {
		if strings.HasSuffix(name, ".oci.tar") {
			continue
		}
		switch other, ok := second.Sums[name]; {
		case !ok:
			t.Errorf("the second build has no %s", name)
		case other != sum:
			t.Errorf("%s differs between two builds of one commit: %s, then %s", name, sum, other)
		}
	}
	if first.Image {
		for _, arch := range []string{"amd64", "arm64"} {
			a, b := readOCIArchive(t, first.archive(arch)), readOCIArchive(t, second.archive(arch))
			if strings.Join(a.LayerDigests, " ") != strings.Join(b.LayerDigests, " ") {
				t.Errorf("%s image layers differ between two builds: %v, then %v", arch, a.LayerDigests, b.LayerDigests)
			}
		}
	}
}
