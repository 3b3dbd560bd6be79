package integration

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// containerUID is distroless' "nonroot" user and group, the image's USER.
const containerUID = 65532

// TestDockerfile pins the Dockerfile's promises that TestContainerPremise
// relies on: the build flags it reproduces and the runtime layout.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(itest.ModuleRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []string{
		"FROM golang:${GO_VERSION} AS build",
		"ARG GO_VERSION=1.26",
		"RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false",
		`-ldflags="-s -w -X main.version=${VERSION}"`,
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"COPY --from=build /out/tlsfront /tlsfront",
		fmt.Sprintf("USER %d:%d", containerUID, containerUID),
		"EXPOSE 8443 8080",
		`CMD ["/tlsfront", "health", "-config", "/etc/tlsfront/tlsfront.toml"]`,
		`ENTRYPOINT ["/tlsfront"]`,
		`CMD ["-config", "/etc/tlsfront/tlsfront.toml"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// buildStatic builds tlsfront as the Dockerfile does into dir/tlsfront.
func buildStaticTlsfront(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "tlsfront")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -X main.version=container-test",
		"-o", out, "./cmd/tlsfront")
	cmd.Dir = itest.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/tlsfront: %v\n%s", err, b)
	}
	return out
}

// requireStatic fails unless path is an ELF executable with no program
// interpreter and no shared libraries: nothing for it to load in an empty root.
func requireStaticELF(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s has a program interpreter (PT_INTERP): it is dynamically linked", path)
		}
		if p.Type == elf.PT_DYNAMIC {
			t.Fatalf("%s has a dynamic section (PT_DYNAMIC)", path)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Fatalf("%s needs shared libraries %v (%v)", path, libs, err)
	}
}

// listTree returns every path under root, relative, sorted.
func containerTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(root, p); rel != "." {
			out = append(out, "/"+rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestContainerPremise proves what the image relies on without Docker: the
// static binary, alone in an otherwise empty root with its config and
// certificates, running as the image's non-root user, serves HTTPS to a
// backend. chroot keeps the host's network namespace, so the test's
// backend and client on 127.0.0.1 reach it.
func TestContainerPremise(t *testing.T) {
	t.Parallel()
	var wrap []string // how to enter the root
	if os.Geteuid() == 0 {
		chroot := itest.RequireTool(t, "chroot")
		wrap = []string{chroot, fmt.Sprintf("--userspec=%d:%d", containerUID, containerUID)}
	} else {
		// An unprivileged user namespace maps us to root inside, which may chroot.
		unshare := itest.RequireTool(t, "unshare")
		wrap = []string{unshare, "--user", "--map-root-user", "--root"}
	}

	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil { // t.TempDir is 0700: the non-root user must enter it
		t.Fatal(err)
	}
	bin := buildStaticTlsfront(t, root)
	requireStaticELF(t, bin)

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Proto", r.Header.Get("X-Forwarded-Proto"))
		io.WriteString(w, "backend ok")
	}))
	defer backend.Close()

	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}})
	etc := filepath.Join(root, "etc", "tlsfront")
	state := filepath.Join(root, "var", "lib", "tlsfront")
	for _, d := range []string{etc, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, keyPath := leaf.WriteFilesAs(etc, "site")
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	cfg := fmt.Sprintf(`[server]
https = %q
http = ""
state_dir = "/var/lib/tlsfront"

[[site]]
names = ["localhost"]
backend = %q
  [[site.cert]]
  cert = "site.chain.pem"
  key = "site.key"

[log]
level = "info"
format = "json"
`, httpsAddr, backend.URL)
	if err := os.WriteFile(filepath.Join(etc, "tlsfront.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 { // as in the image: the key and the state belong to nonroot
		for _, p := range []string{keyPath, state} {
			if err := os.Chown(p, containerUID, containerUID); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The whole root, before the start: nothing but the binary, config and certificates.
	want := []string{"/etc", "/etc/tlsfront", "/etc/tlsfront/site.chain.pem", "/etc/tlsfront/site.key",
		"/etc/tlsfront/tlsfront.toml", "/tlsfront", "/var", "/var/lib", "/var/lib/tlsfront"}
	if got := containerTree(t, root); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the root holds %v, want exactly %v", got, want)
	}

	front := itest.StartTlsfrontWith(t, etc, cfg, itest.TlsfrontOptions{
		Wrap:      append(append([]string{}, wrap...), root),
		Binary:    "/tlsfront",
		ConfigArg: "/etc/tlsfront/tlsfront.toml",
		EmptyEnv:  true, // an image has no inherited environment
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"},
	}}

	resp, err := client.Get("https://" + httpsAddr + "/")
	if err != nil {
		t.Fatalf("HTTPS GET through the chrooted tlsfront: %v\nlogs:\n%s", err, front.Logs())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "backend ok" {
		t.Errorf("GET = %d %q, want 200 %q", resp.StatusCode, body, "backend ok")
	}
	if got := resp.Header.Get("X-Seen-Proto"); got != "https" {
		t.Errorf("backend saw X-Forwarded-Proto %q, want https", got)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no Strict-Transport-Security header")
	}

	t.Run("health subcommand", func(t *testing.T) {
		hargs := append(append([]string{}, wrap...), root, "/tlsfront", "health", "-config", "/etc/tlsfront/tlsfront.toml")
		out, err := exec.Command(hargs[0], hargs[1:]...).CombinedOutput()
		if err != nil || !bytes.HasPrefix(out, []byte("ok: TLS")) {
			t.Errorf("tlsfront health in the root: %v\n%s\nwant exit 0 and \"ok: TLS...\"", err, out)
		}
	})

	// docker stop: SIGTERM, graceful exit 0.
	front.Signal(syscall.SIGTERM)
	select {
	case <-front.Done():
		if code := front.ExitCode(); code != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0\nlogs:\n%s", code, front.Logs())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("tlsfront did not exit within 40s of SIGTERM\nlogs:\n%s", front.Logs())
	}
	t.Run("health fails when nothing serves", func(t *testing.T) {
		hargs := append(append([]string{}, wrap...), root, "/tlsfront", "health", "-config", "/etc/tlsfront/tlsfront.toml", "-timeout", "2s")
		if out, err := exec.Command(hargs[0], hargs[1:]...).CombinedOutput(); err == nil {
			t.Errorf("tlsfront health succeeded after the server stopped:\n%s", out)
		}
	})
	if !containerJSONLines(front.Logs()) {
		t.Errorf("the log is not JSON lines:\n%s", front.Logs())
	}
}

// jsonLines reports whether every non-empty line of s is a JSON object.
func containerJSONLines(s string) bool {
	sc := bufio.NewScanner(strings.NewReader(s))
	n := 0
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			return false
		}
		n++
	}
	return n > 0
}
