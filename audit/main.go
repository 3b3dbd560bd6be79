package audit

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

const usage = `Usage: tlsfront audit [flags] HOST[:PORT]

Grades the TLS server at HOST:PORT (default port 443) the way SSL Labs does,
from this machine: protocols (SSLv2 to TLS 1.3), every accepted suite in the
server's order, key exchange groups and DHE size, compression, heartbeat,
TLS_FALLBACK_SCSV, renegotiation, resumption, ALPN, the certificate chain and
its OCSP staple, HSTS/HPKP and the plain-HTTP redirect. Only HOST's first
address is contacted (its HTTPS port and the -http port).

Flags:
  -sni NAME        server name to send and to check the certificate against
                   (default: HOST when it is a name; none for an IP address)
  -ca FILE         PEM file of trusted roots (default: the system roots)
  -http PORT       plain-HTTP port checked for a redirect to HTTPS (default 80;
                   0 skips the check)
  -timeout DUR     bound on each connection: dial, every read and write (default 5s)
  -json            print the report as JSON
  -min-grade G     exit 1 when the grade is worse than G (A+, A, A-, B, C, D, E, F)

Exit status: 0 report printed (and grade good enough), 1 grade worse than
-min-grade, 2 usage error or target unreachable.
`

// Main runs `tlsfront audit`; args are the arguments after "audit". It
// returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tlsfront audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	sni := fs.String("sni", "", "server name")
	caFile := fs.String("ca", "", "PEM file of trusted roots")
	httpPort := fs.Int("http", 80, "plain-HTTP port (0 skips)")
	timeout := fs.Duration("timeout", 5*time.Second, "per-connection bound")
	asJSON := fs.Bool("json", false, "JSON output")
	minGrade := fs.String("min-grade", "", "lowest acceptable grade")

	// Flags may follow the target: parse, take one positional, repeat.
	var targets []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		targets = append(targets, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "tlsfront audit: error: "+format+"\n", a...)
		return 2
	}
	if len(targets) != 1 {
		fmt.Fprint(stderr, usage)
		return fail("want exactly one HOST[:PORT], have %d", len(targets))
	}
	if *minGrade != "" && (GradeRank(*minGrade) < 0 || GradeRank(*minGrade) > GradeRank("F")) {
		return fail("-min-grade %q is not a grade (want A+, A, A-, B, C, D, E or F)", *minGrade)
	}
	if *timeout <= 0 {
		return fail("-timeout %v must be positive", *timeout)
	}
	if *httpPort < 0 || *httpPort > 65535 {
		return fail("-http %d is not a port (want 1..65535, or 0 to skip)", *httpPort)
	}
	o := Options{Target: targets[0], SNI: *sni, Timeout: *timeout, HTTPPort: *httpPort}
	if *httpPort == 0 {
		o.HTTPPort = -1
	}
	if *caFile != "" {
		pool, err := loadRoots(*caFile)
		if err != nil {
			return fail("%v", err)
		}
		o.Roots = pool
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := Run(ctx, o)
	if err != nil {
		return fail("%v", err)
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return fail("writing the report: %v", err)
	}
	if *minGrade != "" && GradeRank(rep.Rating.Grade) > GradeRank(*minGrade) {
		fmt.Fprintf(stderr, "tlsfront audit: grade %s is worse than -min-grade %s\n", rep.Rating.Grade, strings.ToUpper(*minGrade))
		return 1
	}
	return 0
}

// loadRoots reads a PEM file of trust anchors.
func loadRoots(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading -ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("-ca %s: no PEM certificate in it", path)
	}
	return pool, nil
}
