package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"tlsfront/config"
)

// runHealth is `tlsfront health`: one TLS handshake with the https listener
// of the configuration, for container HEALTHCHECKs. Exit 0 when it completes.
func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tlsfront health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/tlsfront/tlsfront.toml", "configuration file")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, _, err := config.Load(*path) // bad values elsewhere in the file do not stop a health check
	if err != nil {
		fail(stderr, err)
		return 1
	}
	host, port, _ := net.SplitHostPort(cfg.Server.HTTPS)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	sni := ""
	if len(cfg.Sites) > 0 && len(cfg.Sites[0].Names) > 0 {
		sni = cfg.Sites[0].Names[0]
	}
	d := &net.Dialer{Timeout: *timeout}
	conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(host, port), &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, // liveness, not trust: the certificate may be self-signed or for other names
	})
	if err != nil {
		fmt.Fprintf(stderr, "tlsfront: error: health: %v\n", err)
		return 1
	}
	st := conn.ConnectionState()
	conn.Close()
	fmt.Fprintf(stdout, "ok: %s %s\n", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	return 0
}
