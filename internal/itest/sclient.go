package itest

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/testca"
)

// SClientOptions configures one `openssl s_client` run. The zero value
// (plus a Port) connects with OpenSSL's defaults and sends no SNI.
type SClientOptions struct {
	// Port is the TCP port on 127.0.0.1. Ignored when Addr is set.
	Port int
	// Addr is host:port to connect to. Empty means 127.0.0.1:Port.
	Addr string
	// Version pins the protocol: "1.0", "1.1", "1.2" or "1.3" (-tls1 ...
	// -tls1_3). Empty lets OpenSSL negotiate.
	Version string
	// Cipher is the -cipher list for TLS ≤ 1.2. Empty means OpenSSL's
	// default (which refuses TLS 1.0/1.1 here: use "DEFAULT:@SECLEVEL=0").
	Cipher string
	// Ciphersuites is the -ciphersuites list for TLS 1.3. Empty means the
	// default.
	Ciphersuites string
	// Sigalgs is the -sigalgs list. Empty means the default.
	Sigalgs string
	// Groups is the -groups list. Empty means the default.
	Groups string
	// ServerName is sent as SNI (-servername). Empty sends none for an IP
	// address, which is OpenSSL's behaviour for -connect 127.0.0.1.
	ServerName string
	// NoServerName passes -noservername.
	NoServerName bool
	// Status asks for a stapled OCSP response (-status).
	Status bool
	// FallbackSCSV sends TLS_FALLBACK_SCSV (-fallback_scsv).
	FallbackSCSV bool
	// SessOut and SessIn are -sess_out / -sess_in file paths. Empty omits
	// them. With TLS 1.3 the ticket arrives after the handshake: set Input
	// to a request so s_client stays until the server answers.
	SessOut, SessIn string
	// ALPN is the -alpn list, e.g. "h2,http/1.1". Empty offers none.
	ALPN string
	// CAFile verifies the peer against this root (-CAfile, with
	// -verify_return_error). Empty skips verification.
	CAFile string
	// ShowCerts passes -showcerts so PeerChain holds the whole chain.
	ShowCerts bool
	// Input is written to stdin and -ign_eof is passed, so s_client runs
	// until the server closes; use an HTTP/1.0 request. Empty closes stdin
	// at once.
	Input string
	// Args are extra arguments, appended last.
	Args []string
}

// SClientResult is what s_client reported.
type SClientResult struct {
	// Connected reports whether a handshake completed (a cipher was chosen).
	Connected bool
	// Protocol is "TLSv1.0", "TLSv1.1", "TLSv1.2" or "TLSv1.3"; "" when no
	// handshake completed.
	Protocol string
	// Cipher is OpenSSL's name of the negotiated suite; "" when none.
	Cipher string
	// Reused reports whether the session was resumed.
	Reused bool
	// ALPN is the negotiated protocol; "" when none.
	ALPN string
	// Peer is the leaf certificate the server sent; nil when none.
	Peer *x509.Certificate
	// PeerChain is every certificate printed (with ShowCerts, the chain).
	PeerChain []*x509.Certificate
	// PeerKeyType is testca's name for Peer's key ("ecdsa256", "rsa2048").
	PeerKeyType string
	// PeerSignatureType is "ECDSA", "RSA-PSS", "RSA", ...; "" when absent.
	PeerSignatureType string
	// TempKey is the key-exchange group, e.g. "X25519"; "" when absent.
	TempKey string
	// OCSPRequested reports whether -status output appeared.
	OCSPRequested bool
	// OCSPStapled reports whether the server stapled a response.
	OCSPStapled bool
	// OCSPResponseStatus is e.g. "successful (0x0)"; "" when not stapled.
	OCSPResponseStatus string
	// OCSPCertStatus is "good", "revoked" or "unknown"; "" when not stapled.
	OCSPCertStatus string
	// OCSPText is the decoded stapled response.
	OCSPText string
	// VerifyCode is the "Verify return code"; -1 when not printed.
	VerifyCode int
	// Alerts are the TLS alert descriptions received, e.g.
	// "inappropriate fallback", "protocol version".
	Alerts []string
	// AlertNumbers are the alert codes from "SSL alert number N".
	AlertNumbers []int
	// Errors are the OpenSSL error reasons, e.g. "no protocols available".
	Errors []string
	// ExitCode is s_client's exit status.
	ExitCode int
	// Output is stdout and stderr, interleaved.
	Output string
}

// HasAlert reports whether an alert with this description was received.
func (r SClientResult) HasAlert(desc string) bool {
	for _, a := range r.Alerts {
		if a == desc {
			return true
		}
	}
	return false
}

var sclientVersions = map[string]string{"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3"}

// SClientArgs returns the s_client arguments for o.
func SClientArgs(o SClientOptions) ([]string, error) {
	addr := o.Addr
	if addr == "" {
		if o.Port == 0 {
			return nil, errors.New("s_client: neither Addr nor Port set")
		}
		addr = fmt.Sprintf("127.0.0.1:%d", o.Port)
	}
	args := []string{"s_client", "-connect", addr}
	if o.Version != "" {
		v, ok := sclientVersions[o.Version]
		if !ok {
			return nil, fmt.Errorf("s_client: version %q is not one of 1.0, 1.1, 1.2, 1.3", o.Version)
		}
		args = append(args, v)
	}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag, v)
		}
	}
	add("-cipher", o.Cipher)
	add("-ciphersuites", o.Ciphersuites)
	add("-sigalgs", o.Sigalgs)
	add("-groups", o.Groups)
	add("-servername", o.ServerName)
	add("-sess_out", o.SessOut)
	add("-sess_in", o.SessIn)
	add("-alpn", o.ALPN)
	if o.CAFile != "" {
		args = append(args, "-CAfile", o.CAFile, "-verify_return_error")
	}
	for _, f := range []struct {
		on   bool
		flag string
	}{
		{o.NoServerName, "-noservername"}, {o.Status, "-status"}, {o.FallbackSCSV, "-fallback_scsv"},
		{o.ShowCerts, "-showcerts"}, {o.Input != "", "-ign_eof"},
	} {
		if f.on {
			args = append(args, f.flag)
		}
	}
	return append(args, o.Args...), nil
}

// SClient runs openssl s_client (at most 10 s) and parses its output. A
// refused handshake is a result (Connected false), not a test failure.
func SClient(t testing.TB, o SClientOptions) SClientResult {
	t.Helper()
	openssl := RequireTool(t, "openssl")
	args, err := SClientArgs(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, args...)
	var out SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = strings.NewReader(o.Input)
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("openssl %s did not finish within 10s; output:\n%s", strings.Join(args, " "), out.String())
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running openssl s_client: %v", err)
	}
	r := ParseSClient(out.String())
	r.ExitCode = code
	return r
}

var (
	reNewLine     = regexp.MustCompile(`(?m)^(New|Reused), (\S+), Cipher is (\S+)`)
	reSessProto   = regexp.MustCompile(`(?m)^\s+Protocol\s+: (\S+)`)
	reALPN        = regexp.MustCompile(`(?m)^ALPN protocol: (\S+)`)
	rePeerSig     = regexp.MustCompile(`(?m)^Peer signature type: (\S+)`)
	reTempKey     = regexp.MustCompile(`(?m)^Server Temp Key: ([^,\n]+)`)
	reVerify      = regexp.MustCompile(`(?m)^\s*Verify return code: (\d+)`)
	reOCSPStatus  = regexp.MustCompile(`(?m)^\s*OCSP Response Status: (.+)$`)
	reCertStatus  = regexp.MustCompile(`(?m)^\s*Cert Status: (\S+)`)
	reAlert       = regexp.MustCompile(`(?:sslv3|tlsv1|tlsv13) alert ([a-z ]+?)(?::|$)`)
	reAlertNumber = regexp.MustCompile(`SSL alert number (\d+)`)
	reErrorLine   = regexp.MustCompile(`(?m)^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):`)
	reOCSPBlock   = regexp.MustCompile(`(?s)OCSP response: \n=+\n(.*?)\n=+\n`)
)

// ParseSClient parses s_client output (OpenSSL 3.0).
func ParseSClient(out string) SClientResult {
	r := SClientResult{Output: out, VerifyCode: -1}
	// "New, TLSv1.0, Cipher is X" names the version that introduced the
	// cipher, not the one negotiated; the session block has the latter,
	// but it is printed for failed handshakes too and may be missing for
	// TLS 1.3 (whose suites exist only in TLS 1.3).
	if m := reNewLine.FindStringSubmatch(out); m != nil && m[3] != "(NONE)" {
		r.Connected = true
		r.Reused = m[1] == "Reused"
		r.Cipher = m[3]
		r.Protocol = normalizeProtocol(m[2])
		if p := reSessProto.FindStringSubmatch(out); p != nil {
			r.Protocol = normalizeProtocol(p[1])
		}
	}
	if m := reALPN.FindStringSubmatch(out); m != nil {
		r.ALPN = m[1]
	}
	if m := rePeerSig.FindStringSubmatch(out); m != nil {
		r.PeerSignatureType = m[1]
	}
	if m := reTempKey.FindStringSubmatch(out); m != nil {
		r.TempKey = strings.TrimSpace(m[1])
	}
	if m := reVerify.FindStringSubmatch(out); m != nil {
		r.VerifyCode, _ = strconv.Atoi(m[1])
	}
	r.OCSPRequested = strings.Contains(out, "OCSP response:")
	if m := reOCSPBlock.FindStringSubmatch(out); m != nil {
		r.OCSPStapled = true
		r.OCSPText = m[1]
		if s := reOCSPStatus.FindStringSubmatch(m[1]); s != nil {
			r.OCSPResponseStatus = strings.TrimSpace(s[1])
		}
		if s := reCertStatus.FindStringSubmatch(m[1]); s != nil {
			r.OCSPCertStatus = s[1]
		}
	}
	for _, m := range reAlert.FindAllStringSubmatch(out, -1) {
		r.Alerts = append(r.Alerts, m[1])
	}
	for _, m := range reAlertNumber.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		r.AlertNumbers = append(r.AlertNumbers, n)
	}
	for _, m := range reErrorLine.FindAllStringSubmatch(out, -1) {
		r.Errors = append(r.Errors, m[1])
	}
	// With -status, the OCSP response block (printed before the chain) may
	// embed the responder's certificate: read certificates only after
	// "Certificate chain".
	rest := []byte(out)
	if i := strings.Index(out, "\nCertificate chain\n"); i >= 0 {
		rest = rest[i:]
	}
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			r.PeerChain = append(r.PeerChain, c)
		}
	}
	if len(r.PeerChain) > 0 {
		r.Peer = r.PeerChain[0]
		r.PeerKeyType = testca.KeyTypeOf(r.Peer.PublicKey)
	}
	return r
}

// normalizeProtocol turns OpenSSL's "TLSv1" into "TLSv1.0".
func normalizeProtocol(p string) string {
	if p == "TLSv1" {
		return "TLSv1.0"
	}
	return p
}

// String summarises the result for failure messages.
func (r SClientResult) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "connected=%v protocol=%q cipher=%q reused=%v alpn=%q key=%s alerts=%q errors=%q exit=%d",
		r.Connected, r.Protocol, r.Cipher, r.Reused, r.ALPN, r.PeerKeyType, r.Alerts, r.Errors, r.ExitCode)
	return b.String()
}
