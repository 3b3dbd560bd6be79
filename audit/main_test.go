package audit

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tlsfront/internal/testca"
)

// TestMain_CLI runs Main against the weak Go server (grade C) with the
// test CA trusted.
func TestMain_CLI(t *testing.T) {
	ca := testca.New(t)
	tg := startWeak(t, ca)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	badCA := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(badCA, []byte("not pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"-sni", "localhost", "-ca", ca.RootPath(), "-http", "0", "-timeout", "3s"}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings
		stderr []string
		json   bool
	}{
		{name: "text report", args: append(base, tg.addr), code: 0,
			stdout: []string{"GRADE C", "capped at C [no-tls12]", "TLS 1.0  yes", "TLS_RSA_WITH_RC4_128_SHA", "FINDINGS", "HIGH (", "tlsfront: tls.min_version"}},
		{name: "flags after the target", args: append([]string{tg.addr}, base...), code: 0, stdout: []string{"GRADE C"}},
		{name: "json", args: append(append([]string{}, base...), "-json", tg.addr), code: 0, json: true},
		{name: "min-grade met", args: append(append([]string{}, base...), "-min-grade", "C", tg.addr), code: 0},
		{name: "min-grade missed", args: append(append([]string{}, base...), "-min-grade", "A", tg.addr), code: 1,
			stderr: []string{"grade C is worse than -min-grade A"}},
		{name: "untrusted without -ca is T", args: []string{"-sni", "localhost", "-http", "0", "-min-grade", "F", tg.addr}, code: 1,
			stdout: []string{"GRADE T (C if the certificate were trusted)"}},
		{name: "bad min-grade", args: []string{"-min-grade", "Z", tg.addr}, code: 2, stderr: []string{`-min-grade "Z" is not a grade`}},
		{name: "no target", args: nil, code: 2, stderr: []string{"want exactly one HOST[:PORT]"}},
		{name: "two targets", args: []string{tg.addr, tg.addr}, code: 2, stderr: []string{"want exactly one"}},
		{name: "bad -ca", args: []string{"-ca", badCA, tg.addr}, code: 2, stderr: []string{"no PEM certificate"}},
		{name: "refused", args: []string{"-http", "0", closedAddr}, code: 2, stderr: []string{"connection refused"}},
		{name: "bad port", args: []string{"127.0.0.1:99999"}, code: 2, stderr: []string{"not a number in 1..65535"}},
		{name: "help", args: []string{"-h"}, code: 0, stderr: []string{"Usage: tlsfront audit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errb.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
			if tc.json {
				var rep Report
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
					t.Fatalf("-json output does not parse: %v\n%s", err, out.String())
				}
				if rep.Rating.Grade != "C" || len(rep.Suites) != 1 || len(rep.Suites[0].Suites) != 3 || len(rep.Findings) == 0 {
					t.Errorf("json report: grade %s suites %+v findings %d", rep.Rating.Grade, rep.Suites, len(rep.Findings))
				}
				// The JSON carries the same reasons as the text.
				if !strings.Contains(out.String(), `"id": "no-tls12"`) || !strings.Contains(out.String(), `"tlsfront": "tls.min_version`) {
					t.Errorf("json lacks the cap reasons:\n%s", out.String())
				}
			}
		})
	}
}
