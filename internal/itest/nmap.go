package itest

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NmapResult is what nmap's ssl-enum-ciphers script reported.
type NmapResult struct {
	// Versions maps "TLSv1.0" ... "TLSv1.3" (and "SSLv3") to what the
	// server accepted; versions it refused are absent.
	Versions map[string]NmapVersion
	// LeastStrength is the overall grade letter ("A", "B", ...).
	LeastStrength string
	// Output is nmap's raw output.
	Output string
}

// NmapVersion is one protocol version's section.
type NmapVersion struct {
	// Ciphers are the accepted suites, IANA names, in the order listed
	// (the server's preference order when Preference is "server").
	Ciphers []NmapCipher
	// Preference is "server", "client" or "indeterminate"; "" when absent.
	Preference string
	// Compressors lists the compression methods (normally ["NULL"]).
	Compressors []string
	// Warnings are the script's warnings for this version.
	Warnings []string
}

// NmapCipher is one suite line: "TLS_ECDHE_... (ecdh_x25519) - A".
type NmapCipher struct {
	// Name is the IANA suite name.
	Name string
	// KeyInfo is the parenthesised key-exchange detail, e.g. "ecdh_x25519",
	// "rsa 2048", "secp256r1".
	KeyInfo string
	// Grade is the letter grade.
	Grade string
}

// Names returns the suite names in order.
func (v NmapVersion) Names() []string {
	out := make([]string, len(v.Ciphers))
	for i, c := range v.Ciphers {
		out[i] = c.Name
	}
	return out
}

// Nmap runs `nmap -Pn -n -p PORT --script ssl-enum-ciphers 127.0.0.1` (at
// most 60 s) and parses the script's output.
func Nmap(t testing.TB, port int) NmapResult {
	t.Helper()
	bin := RequireTool(t, "nmap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"-Pn", "-n", "-p", strconv.Itoa(port), "--script", "ssl-enum-ciphers", "127.0.0.1"}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nmap %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	r, err := ParseNmap(string(out))
	if err != nil {
		t.Fatalf("parsing nmap output: %v\n%s", err, out)
	}
	return r
}

var (
	reNmapVersion = regexp.MustCompile(`^\|   ((?:TLS|SSL)v[0-9.]+):\s*$`)
	reNmapSection = regexp.MustCompile(`^\|     ([a-z ]+):\s*(.*?)\s*$`)
	reNmapItem    = regexp.MustCompile(`^\|       (.*?)\s*$`)
	reNmapCipher  = regexp.MustCompile(`^(\S+)(?: \(([^)]*)\))? - ([A-F])$`)
	reNmapLeast   = regexp.MustCompile(`^\|_  least strength: (\S+)`)
)

// ParseNmap parses the ssl-enum-ciphers block of nmap's normal output.
func ParseNmap(out string) (NmapResult, error) {
	r := NmapResult{Versions: map[string]NmapVersion{}, Output: out}
	if !strings.Contains(out, "| ssl-enum-ciphers:") {
		return r, fmt.Errorf("no ssl-enum-ciphers output (port closed or not TLS?)")
	}
	var (
		version string
		cur     NmapVersion
		section string
	)
	flush := func() {
		if version != "" {
			r.Versions[version] = cur
		}
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := reNmapLeast.FindStringSubmatch(line); m != nil {
			r.LeastStrength = m[1]
			continue
		}
		if m := reNmapVersion.FindStringSubmatch(line); m != nil {
			flush()
			version, cur, section = m[1], NmapVersion{}, ""
			continue
		}
		if version == "" {
			continue
		}
		if m := reNmapSection.FindStringSubmatch(line); m != nil {
			section = m[1]
			if section == "cipher preference" {
				cur.Preference = m[2]
			}
			continue
		}
		m := reNmapItem.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch section {
		case "ciphers":
			c := reNmapCipher.FindStringSubmatch(m[1])
			if c == nil {
				return r, fmt.Errorf("%s: cipher line %q not understood", version, m[1])
			}
			cur.Ciphers = append(cur.Ciphers, NmapCipher{Name: c[1], KeyInfo: c[2], Grade: c[3]})
		case "compressors":
			cur.Compressors = append(cur.Compressors, m[1])
		case "warnings":
			cur.Warnings = append(cur.Warnings, m[1])
		}
	}
	flush()
	return r, nil
}
