package main

import (
	"os"
	"strings"
	"testing"
)

// TestCheckShield checks that tlsfront -t lists each site's rules, most
// specific first, and the per-client limits, and reports a bad rule with
// its line and key.
func TestCheckShield(t *testing.T) {
	path, _ := writeConfig(t, "max_conns_per_client = 20\n")
	rules := `
[[site.rule]]
path = "/"
rate = "10r/s"
burst = 20
[[site.rule]]
path = "/server-status"
allow = ["127.0.0.1", "10.0.0.0/8"]
deny = ["all"]
`
	appendFile(t, path, rules)
	out, errOut, code := runCLI("-t", "-config", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "  rules (the most specific first):\n" +
		"    /server-status: access: allow 127.0.0.1/32, 10.0.0.0/8; deny all\n" +
		"    /: rate 10r/s, burst 20, excess served at once (nodelay)\n"
	if !strings.Contains(out, want) || !strings.Contains(out, "clients: max_conns_per_client 20, rate-limit table of 100000 entries") {
		t.Errorf("summary lacks the rules and limits:\n%s\nwant:\n%s", out, want)
	}

	appendFile(t, path, "[[site.rule]]\npath = \"/admin\"\nallow = [\"10.0.0.0/8\"]\n")
	_, errOut, code = runCLI("-t", "-config", path)
	if code != 1 || !strings.Contains(errOut, "site[0].rule[2].allow: lists addresses but deny is empty") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 naming site[0].rule[2].allow", code, errOut)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}
