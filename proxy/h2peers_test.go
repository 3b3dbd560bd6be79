package proxy

// Real HTTP/2 clients (curl, nghttp) through the server: large bodies both
// ways, many parallel streams, small windows.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"tlsfront/internal/itest"
)

func TestH2Curl(t *testing.T) {
	curl := itest.RequireTool(t, "curl")
	verifyNoLeaksH2(t)
	hs := startH2(t, newTransportHandler(t, h2Backend(t).URL), H2Options{})
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		args = append([]string{"--http2", "-sS", "--cacert", hs.ca.RootPath(), "--max-time", "60"}, args...)
		out, err := exec.Command(curl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// 50 MB down: many windows of flow control, the write buffer's limit.
	got := run("-o", filepath.Join(dir, "big"), "-w", "%{http_version} %{http_code} %{size_download}", hs.url("/big?n=50000000"))
	if got != "2 200 50000000" {
		t.Fatalf("download: %q", got)
	}

	// 20 MB up and back.
	up := bytes.Repeat([]byte("tlsfront h2 upload "), 20<<20/19)
	if err := os.WriteFile(filepath.Join(dir, "up"), up, 0o600); err != nil {
		t.Fatal(err)
	}
	got = run("--data-binary", "@"+filepath.Join(dir, "up"), "-o", filepath.Join(dir, "back"), "-w", "%{http_code}", hs.url("/echo"))
	back, _ := os.ReadFile(filepath.Join(dir, "back"))
	if got != "200" || sha(back) != sha(up) {
		t.Fatalf("upload: %s, %d bytes back of %d", got, len(back), len(up))
	}

	// Cookies as curl sends them, and Host from :authority.
	got = run("-D", "-", "-o", "/dev/null", "-H", "Cookie: a=1", "-H", "Cookie: b=2", hs.url("/c"))
	if !strings.Contains(got, "x-cookie: a=1; b=2") || !strings.Contains(got, "x-host: localhost:") {
		t.Fatalf("cookie and host: %s", got)
	}
}

// nghttpStat matches a line of nghttp -s's table for a 200 response:
// "id responseEnd requestStart process code size request path".
var nghttpStat = regexp.MustCompile(`(?m)^\s*\d+\s+\+\S+\s+\+\S+\s+\S+\s+200\s`)

func TestH2Nghttp(t *testing.T) {
	nghttp := itest.RequireTool(t, "nghttp")
	verifyNoLeaksH2(t)
	hs := startH2(t, newTransportHandler(t, h2Backend(t).URL), H2Options{})
	_, port, _ := net.SplitHostPort(hs.addr)
	url := "https://127.0.0.1:" + port

	// 500 requests, all at once on one connection: 128 at a time by
	// SETTINGS_MAX_CONCURRENT_STREAMS, the rest as streams close.
	out, err := exec.Command(nghttp, "-n", "-s", "-m", "500", url+"/p").CombinedOutput()
	if err != nil {
		t.Fatalf("nghttp -m 500: %v\n%s", err, out)
	}
	if n := len(nghttpStat.FindAllSubmatch(out, -1)); n != 500 {
		t.Fatalf("nghttp -m 500: %d responses with status 200, want 500\n%s", n, tail(out))
	}

	// Large bodies with small windows (64 KiB per stream, 1 MiB per
	// connection), 10 in parallel.
	out, err = exec.Command(nghttp, "-n", "-s", "-w", "16", "-W", "20", "-m", "10", url+"/big?n=5000000").CombinedOutput()
	if err != nil {
		t.Fatalf("nghttp large bodies: %v\n%s", err, out)
	}
	if n := len(nghttpStat.FindAllSubmatch(out, -1)); n != 10 {
		t.Fatalf("nghttp large bodies: %d responses with status 200, want 10\n%s", n, tail(out))
	}

	// An upload.
	dir := t.TempDir()
	up := bytes.Repeat([]byte{'u'}, 3<<20)
	if err := os.WriteFile(filepath.Join(dir, "up"), up, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(nghttp, "-d", filepath.Join(dir, "up"), url+"/echo").Output()
	if err != nil || len(out) != len(up) {
		t.Fatalf("nghttp upload: %v, %d bytes back of %d", err, len(out), len(up))
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
