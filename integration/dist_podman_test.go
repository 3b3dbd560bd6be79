package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// podman runs podman as TESTING.md says it works on these machines: runc,
// not crun (which fails on this kernel's cgroup setup).
type podman struct {
	bin string
}

// requirePodman returns podman when it can run containers here; else the
// test is skipped with the reason, or fails under CI=true.
func requirePodman(t *testing.T) *podman {
	t.Helper()
	p := &podman{bin: itest.RequireTool(t, "podman")}
	itest.RequireTool(t, "runc")
	if out, err := p.run("info"); err != nil {
		msg := fmt.Sprintf("podman cannot run here: podman --runtime runc info: %v\n%s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func (p *podman) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, append([]string{"--runtime", "runc"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func (p *podman) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := p.run(args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// runReleaseImage loads dist.sh's amd64 archive and runs it as a sidecar.
func runReleaseImage(t *testing.T, b *distBuild) {
	p := requirePodman(t)
	ref := "localhost/tlsfront:" + b.Version
	_, existed := p.run("image", "exists", ref)
	out := p.must(t, "load", "-q", "-i", b.archive("amd64"))
	if !strings.Contains(out, ref) {
		t.Fatalf("podman load printed %q, want the image %s", out, ref)
	}
	if existed != nil { // not there before: ours to remove
		t.Cleanup(func() { _, _ = p.run("rmi", "--force", ref) })
	}
	if hc := p.must(t, "image", "inspect", "--format", "{{json .HealthCheck}}", ref); !strings.Contains(hc, `"/tlsfront","health"`) {
		t.Errorf("the loaded image has no HEALTHCHECK: %s", hc)
	}
	runSidecar(t, p, ref)
}

// runDockerfileImage builds the Dockerfile with podman, when its base
// images are at hand, and runs the same scenario: one test, two build
// paths. No registry is reachable on the test machines, so there it skips.
func runDockerfileImage(t *testing.T, b *distBuild) {
	p := requirePodman(t)
	for _, base := range []string{"docker.io/library/golang:1.26", "gcr.io/distroless/static-debian12:nonroot"} {
		if _, err := p.run("image", "exists", base); err != nil {
			t.Skipf("the Dockerfile's base image %s is not in podman's storage and cannot be pulled here (no registry): the Dockerfile path is proved by TestContainerfileMatchesDockerfile and the release image", base)
		}
	}
	ref := randomName("localhost/tlsfront-dockerfile-itest:")
	p.must(t, "build", "--pull=never", "--format", "docker", "--build-arg", "VERSION="+b.Version,
		"-t", ref, "-f", "Dockerfile", itest.ModuleRoot(t))
	t.Cleanup(func() { _, _ = p.run("rmi", "--force", ref) })
	runSidecar(t, p, ref)
}

// sidecarConfig is the mounted config: its listeners and backend are
// wrong on purpose, the environment sets the right ones. The second site
// has no certificate, so one is generated into the state volume.
const sidecarConfig = `[server]
https = ":8443"
http = ":8080"
state_dir = "/var/lib/tlsfront"

[headers]
hsts = %q

[[site]]
names = ["localhost"]
backend = "http://127.0.0.1:1"
  [[site.cert]]
  cert = "site.chain.pem"
  key = "site.key"

[[site]]
names = ["selfsigned.test"]
backend = "http://127.0.0.1:1"

[log]
level = "info"
format = "json"
access = true
`

// runSidecar runs image the way a user runs the sidecar: config and
// certificates mounted read-only, state on a named volume, listeners and
// backend from environment variables, read-only root filesystem. It checks
// the uid, the logs on stdout, the healthcheck, a reload by SIGHUP and a
// drain on podman stop.
func runSidecar(t *testing.T, p *podman, image string) {
	// The backend: "/" answers at once; "/slow" waits until released, to
	// have a request in flight while the container stops.
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Proto", r.Header.Get("X-Forwarded-Proto"))
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "backend ok "+r.URL.Path)
	}))
	defer backend.Close()

	etc := t.TempDir()
	if err := os.Chmod(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}})
	_, keyPath := leaf.WriteFilesAs(etc, "site")
	if os.Geteuid() == 0 {
		if err := os.Chown(keyPath, containerUID, containerUID); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Chmod(keyPath, 0o644); err != nil { // rootless: 65532 maps to a sub-uid
		t.Fatal(err)
	}
	writeConfig := func(hsts string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(etc, "tlsfront.toml"), []byte(fmt.Sprintf(sidecarConfig, hsts)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("max-age=63072000")

	volume := randomName("tlsfront-itest-state-")
	p.must(t, "volume", "create", volume)
	t.Cleanup(func() { _, _ = p.run("volume", "rm", "--force", volume) })
	name := randomName("tlsfront-itest-")
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	p.must(t, "run", "--detach", "--name", name, "--network", "host",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
		"--read-only",
		"-v", etc+":/etc/tlsfront:ro",
		"-v", volume+":/var/lib/tlsfront",
		"-e", "TLSFRONT_SERVER_HTTPS="+httpsAddr,
		"-e", "TLSFRONT_SERVER_HTTP="+httpAddr,
		"-e", "TLSFRONT_SITE_BACKEND="+backend.URL,
		image)
	t.Cleanup(func() { _, _ = p.run("rm", "--force", "--time", "0", name) })
	logs := func() string { out, _ := p.run("logs", name); return out }

	waitContainerUp(t, p, name, httpsAddr, logs)

	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"},
	}}
	get := func(path string) (*http.Response, string, error) {
		resp, err := client.Get("https://" + httpsAddr + path)
		if err != nil {
			return nil, "", err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body), nil
	}
	resp, body, err := get("/")
	if err != nil {
		t.Fatalf("GET / through the container: %v\nlogs:\n%s", err, logs())
	}
	if resp.StatusCode != 200 || body != "backend ok /" || resp.Header.Get("X-Seen-Proto") != "https" {
		t.Errorf("GET / = %d %q (backend saw proto %q), want 200 from the backend named by TLSFRONT_SITE_BACKEND",
			resp.StatusCode, body, resp.Header.Get("X-Seen-Proto"))
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000" {
		t.Errorf("HSTS %q, want the mounted config's", got)
	}

	t.Run("uid 65532 read-only root", func(t *testing.T) {
		pid := p.must(t, "inspect", "--format", "{{.State.Pid}}", name)
		status, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") {
				if f := strings.Fields(l); len(f) != 5 || f[1] != "65532" || f[2] != "65532" || f[3] != "65532" || f[4] != "65532" {
					if os.Geteuid() == 0 { // rootless podman shows the mapped sub-ids here
						t.Errorf("tlsfront runs with %s, want 65532 throughout", l)
					}
				}
			}
		}
		mounts, err := os.ReadFile("/proc/" + pid + "/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		rootRO, etcRO := false, false
		for _, l := range strings.Split(string(mounts), "\n") {
			f := strings.Fields(l)
			if len(f) < 6 {
				continue
			}
			ro := strings.HasPrefix(f[5], "ro")
			switch f[4] {
			case "/":
				rootRO = ro
			case "/etc/tlsfront":
				etcRO = ro
			}
		}
		if !rootRO || !etcRO {
			t.Errorf("root read-only: %v, /etc/tlsfront read-only: %v; want both", rootRO, etcRO)
		}
	})

	t.Run("state on the volume", func(t *testing.T) {
		mp := p.must(t, "volume", "inspect", "--format", "{{.Mountpoint}}", volume)
		files, _ := filepath.Glob(filepath.Join(mp, "selfsigned", "*"))
		if len(files) == 0 {
			t.Fatalf("no generated certificate in the volume (%s/selfsigned)", mp)
		}
		if os.Geteuid() == 0 {
			for _, f := range files {
				if st, err := os.Stat(f); err == nil && fileOwner(st) != containerUID {
					t.Errorf("%s belongs to uid %d, want %d", f, fileOwner(st), containerUID)
				}
			}
		}
	})

	t.Run("logs on stdout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, p.bin, "--runtime", "runc", "logs", name)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("podman logs: %v\n%s", err, stderr.String())
		}
		out := stdout.String()
		if !containerJSONLines(out) || !strings.Contains(out, `"message":"tlsfront serving"`) || !strings.Contains(out, `"path":"/"`) {
			t.Errorf("podman logs (stdout) should hold JSON lines with the start and the access log:\n%s\nstderr:\n%s", out, stderr.String())
		}
	})

	t.Run("healthcheck", func(t *testing.T) {
		if out, err := p.run("healthcheck", "run", name); err != nil {
			t.Fatalf("podman healthcheck run: %v\n%s", err, out)
		}
		if st := p.must(t, "inspect", "--format", "{{.State.Health.Status}}", name); st != "healthy" {
			t.Errorf("health status %q after a passing check, want healthy", st)
		}
	})

	t.Run("SIGHUP reloads", func(t *testing.T) {
		writeConfig("max-age=600")
		p.must(t, "kill", "--signal", "HUP", name)
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, _, err := get("/")
			if err == nil && resp.Header.Get("Strict-Transport-Security") == "max-age=600" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the new HSTS value is not served 30s after podman kill -s HUP (%v)\nlogs:\n%s", err, logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(logs(), `"message":"reloaded"`) {
			t.Errorf("no \"reloaded\" line in the logs")
		}
	})

	// podman stop with a request in flight: the request completes, the
	// container exits 0.
	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, body, err := get("/slow")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		inflight <- result{status: resp.StatusCode, body: body}
	}()
	select {
	case <-arrived:
	case r := <-inflight:
		t.Fatalf("GET /slow ended before reaching the backend: %+v", r)
	case <-time.After(30 * time.Second):
		t.Fatal("GET /slow did not reach the backend")
	}
	stopped := make(chan error, 1)
	go func() {
		out, err := p.run("stop", "--time", "40", name)
		if err != nil {
			err = fmt.Errorf("%w: %s", err, out)
		}
		stopped <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs(), "shutting down") {
		if time.Now().After(deadline) {
			t.Fatalf("tlsfront did not start draining 30s after podman stop\nlogs:\n%s", logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	releaseOnce.Do(func() { close(release) })
	r := <-inflight
	if r.err != nil || r.status != 200 || r.body != "backend ok /slow" {
		t.Errorf("the in-flight request during podman stop: %d %q %v, want 200 %q", r.status, r.body, r.err, "backend ok /slow")
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("podman stop: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("podman stop did not return")
	}
	if code := p.must(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit code %s after podman stop, want 0\nlogs:\n%s", code, logs())
	}
	if !strings.Contains(logs(), `"message":"stopped"`) {
		t.Errorf("no \"stopped\" line in the logs:\n%s", logs())
	}
}

// waitContainerUp waits up to 30s until addr completes TLS handshakes,
// and fails at once if the container stops.
func waitContainerUp(t *testing.T, p *podman, name, addr string, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			c.Close()
			return
		}
		if st, _ := p.run("inspect", "--format", "{{.State.Status}}", name); strings.TrimSpace(st) != "running" {
			t.Fatalf("the container is %q, not serving\nlogs:\n%s", strings.TrimSpace(st), logs())
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing serves TLS on %s 30s after podman run: %v\nlogs:\n%s", addr, err, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fileOwner is the uid owning a file.
func fileOwner(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
