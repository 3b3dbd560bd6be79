// Command tlsfront is a TLS-terminating reverse proxy for legacy Apache
// servers: it serves HTTPS with the hardened policy of the "Strong SSL
// Security on Apache2" tutorial and proxies plain HTTP to Apache.
//
// Usage:
//
//	tlsfront -config FILE          serve (package server)
//	tlsfront -t -config FILE       check FILE and every certificate it names, then exit
//	tlsfront pins FILE...          print HPKP pins of certificates, keys and CSRs
//	tlsfront health -config FILE   one TLS handshake with the running server (HEALTHCHECK)
//	tlsfront audit HOST[:PORT]     grade any TLS server the way SSL Labs would (package audit)
//	tlsfront version               print the version
//
// This package parses flags and prints errors; it holds the only os.Exit.
// The daemon is package server.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"tlsfront/audit"
	"tlsfront/headers"
	"tlsfront/server"
	"tlsfront/tlsconf"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

const usage = `tlsfront terminates TLS for legacy Apache servers and proxies plain HTTP to them.

Usage:
  tlsfront [-config FILE]          serve (default FILE: /etc/tlsfront/tlsfront.toml)
  tlsfront -t [-config FILE]       check FILE and every certificate and key it names without
                                   binding ports: prints "configuration ok" and a summary (sites,
                                   names, certificates with key type and expiry, TLS suites in
                                   server order, what was dropped and why) and exits 0, or lists
                                   every problem and exits 1
  tlsfront pins FILE...            print the HPKP pin-sha256 of each certificate, private key,
                                   public key or CSR (PEM or DER) in FILE, e.g. to make a backup
                                   pin from a spare key or CSR for headers.hpkp.backup_pins
  tlsfront health [-config FILE]   one TLS handshake with the running https listener (for
                                   container HEALTHCHECKs); exit 0 when it completes
  tlsfront audit HOST[:PORT]       grade any TLS server offline, the way SSL Labs would
                                   (-sni, -json, -timeout, -min-grade, -ca, -http; see
                                   tlsfront audit -h)
  tlsfront version                 print the version and exit

Flags:
  -config FILE   configuration file (TOML; see config.example.toml)
  -t             check the configuration and exit
  -h             this help

Signals while serving:
  SIGTERM, SIGINT  stop accepting, finish in-flight requests (up to server.shutdown_timeout), exit 0
  SIGHUP           reload the configuration, certificates and ticket keys; on any error keep
                   serving the old ones (certificate files changed on disk are reloaded by
                   themselves within server.watch_interval)
  SIGUSR1          reopen log.access_file (after logrotate moved it)

Under systemd (Type=notify) tlsfront reports READY, RELOADING and STOPPING, pings the
watchdog, and takes sockets named "https" and "http" by socket activation.
Every scalar key can be set by an environment variable: TLSFRONT_SERVER_HTTPS,
TLSFRONT_SITE_BACKEND, ... (see config.example.toml).

Logs are JSON lines on stderr (log.output = "stdout" for containers; console format on a
terminal, or with log.format).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintf(stdout, "tlsfront %s\nRSA signing: %s\n", versionString(), tlsconf.RSASigner())
			return 0
		case "pins":
			return runPins(args[1:], stdout, stderr)
		case "health":
			return runHealth(args[1:], stdout, stderr)
		case "audit":
			return audit.Main(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("tlsfront", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	configPath := fs.String("config", "/etc/tlsfront/tlsfront.toml", "configuration file")
	check := fs.Bool("t", false, "check the configuration and exit")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tlsfront: error: unexpected argument %q\n", fs.Arg(0))
		fmt.Fprintf(stderr, "tlsfront: hint: run tlsfront -h for usage\n")
		return 2
	}
	if *check {
		if err := server.Check(*configPath, stdout, time.Now()); err != nil {
			fail(stderr, err)
			return 1
		}
		return 0
	}
	err := server.Run(server.Options{ConfigPath: *configPath, Version: versionString(), Stderr: stderr, Stdout: os.Stdout})
	if err != nil {
		fail(stderr, err)
		return 1
	}
	return 0
}

// fail prints an error the way the CLI reports errors: a configuration
// error's problems each on their own line, under the first.
func fail(w io.Writer, err error) {
	lines := strings.Split(err.Error(), "\n")
	fmt.Fprintf(w, "tlsfront: error: %s\n", lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "%s\n", l)
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "-dirty"
			}
			return "dev-" + rev + " (" + bi.GoVersion + ")"
		}
		return "dev (" + bi.GoVersion + ")"
	}
	return "dev"
}

// runPins prints the pin-sha256 of every key in the files named.
func runPins(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintf(stderr, "tlsfront: error: pins needs at least one file\n")
		fmt.Fprintf(stderr, "tlsfront: hint: tlsfront pins cert.pem spare.key spare.csr\n")
		return 2
	}
	code := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			var pins []headers.Pin
			if pins, err = headers.PinsFromFile(data); err == nil {
				for _, p := range pins {
					desc := p.Kind
					if p.Key != "" {
						desc += ", " + p.Key
					}
					if p.Subject != "" {
						desc += ", " + p.Subject
					}
					fmt.Fprintf(stdout, "pin-sha256=\"%s\"  %s (%s)\n", p.SHA256, f, desc)
				}
				continue
			}
		}
		fmt.Fprintf(stderr, "tlsfront: error: %s: %v\n", f, err)
		code = 1
	}
	return code
}
