package service

import (
	"os"
	"os/exec"
	"testing"
)

// requireTool returns the path of the named executable. When it is missing
// the test is skipped, or fails when the environment variable CI is "true".
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", name, err)
	}
	t.Skipf("%s not found, skipping: %v", name, err)
	return ""
}
