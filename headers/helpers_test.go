package headers

import (
	"os"
	"os/exec"
	"testing"
)

// needTool returns the path of an external tool, skipping the test when it is
// missing on a developer machine and failing it under CI=true.
func needTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}
