// Package itest drives real peers for tests: Apache as the plain-HTTP
// backend behind tlsfront, the tlsfront binary itself, and the clients and
// scanners that look at it from the outside (curl, openssl s_client,
// testssl.sh, nmap). It sits outside the request path, on both of its ends.
//
// Helpers report failures to the testing.TB they are given; tools that are
// missing skip the test on a developer machine and fail it under CI=true.
package itest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireTool returns the path of the named executable, looked up in PATH,
// then /usr/sbin and /sbin. When it is missing
// the test is skipped, or fails when the environment variable CI is "true".
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	// Daemons such as apache2 live in sbin, often not on a user's PATH.
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p
		}
	}
	SkipOrFail(t, "%s not found: %v", name, err)
	return ""
}

// SkipOrFail is the one rule for a test that cannot run here (a tool,
// privilege or peer it needs is missing): it is skipped on a developer
// machine and fails when the environment variable CI is "true", so that CI
// never passes by skipping. format and args say what is missing.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("required under CI=true: %s", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ClosedPort returns a port on 127.0.0.1 where nothing listens: connections
// to it are refused. Like FreePort, it may be taken by someone else later.
func ClosedPort(t testing.TB) int {
	t.Helper()
	return FreePort(t)
}

// ModuleRoot returns the directory holding go.mod, found by walking up from
// the working directory (the package directory under go test).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("finding the module root: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("finding the module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// tempDir returns a fresh directory that processes dropping privileges
// (Apache's www-data children) can enter: t.TempDir makes 0700 directories,
// so it and its parent are opened to 0755.
func tempDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatalf("opening %s to other users: %v", p, err)
		}
	}
	return d
}
