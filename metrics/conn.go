package metrics

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// ConnState follows a connection's life: it keeps
// tlsfront_connections_active and counts each TLS connection's handshake
// once, with its version and suite, when the connection becomes active or,
// for a connection closed without it, when it closes after a completed
// handshake. It is an http.Server ConnState hook (active: first request;
// HTTP/2 after its preface); package server, which handshakes connections
// itself, calls it with StateNew at accept, StateActive once the handshake
// is done and StateClosed at close. Failed handshakes are counted from
// net/http's error line for them instead; see HandshakeErrorLog.
func (m *Metrics) ConnState(c net.Conn, s http.ConnState) {
	tc, isTLS := c.(*tls.Conn)
	switch s {
	case http.StateNew:
		m.active.Inc()
		if isTLS {
			m.pending.Store(tc, struct{}{})
		}
	case http.StateActive:
		if isTLS {
			if _, first := m.pending.LoadAndDelete(tc); first {
				m.countHandshake(tc)
			}
		}
	case http.StateHijacked, http.StateClosed:
		m.active.Dec()
		if isTLS {
			if _, never := m.pending.LoadAndDelete(tc); never {
				m.countHandshake(tc)
			}
		}
	}
}

// countHandshake counts tc's handshake if it completed.
func (m *Metrics) countHandshake(tc *tls.Conn) {
	if cs := tc.ConnectionState(); cs.HandshakeComplete {
		m.Handshake(cs.Version, cs.CipherSuite)
	}
}

// Handshake failure reasons, the values of the reason label.
const (
	ReasonProxyProtocol         = "proxy_protocol"         // a trusted load balancer's PROXY header was missing, bad or late
	ReasonClientLimit           = "client_limit"           // the client (named by a PROXY header) holds server.max_conns_per_client connections
	ReasonHTTPOnHTTPS           = "http_on_https"          // plain HTTP sent to the HTTPS port
	ReasonNotTLS                = "not_tls"                // bytes that are not a TLS record
	ReasonProtocolVersion       = "protocol_version"       // no common TLS version (SSLv2/SSLv3 clients, TLS 1.0 below min_version)
	ReasonNoSharedCipher        = "no_shared_cipher"       // no common cipher suite
	ReasonNoSharedGroup         = "no_shared_group"        // no common key exchange group or point format
	ReasonNoSharedSigalg        = "no_shared_sigalg"       // no signature algorithm fits the certificate
	ReasonInappropriateFallback = "inappropriate_fallback" // TLS_FALLBACK_SCSV from a client able to do better
	ReasonALPN                  = "alpn"                   // no common application protocol
	ReasonCertificateRejected   = "certificate_rejected"   // the client refused the certificate (alert)
	ReasonClientCertificate     = "client_certificate"     // the client's certificate was missing or refused (client_auth)
	ReasonClientAlert           = "client_alert"           // another alert from the client
	ReasonTimeout               = "timeout"                // handshake not done within read_header_timeout
	ReasonEOF                   = "eof"                    // the client closed or reset the connection
	ReasonOther                 = "other"
)

// FailureReasons lists every reason label value.
var FailureReasons = []string{
	ReasonProxyProtocol, ReasonClientLimit, ReasonHTTPOnHTTPS, ReasonNotTLS, ReasonProtocolVersion, ReasonNoSharedCipher,
	ReasonNoSharedGroup, ReasonNoSharedSigalg, ReasonInappropriateFallback, ReasonALPN,
	ReasonCertificateRejected, ReasonClientCertificate, ReasonClientAlert, ReasonTimeout, ReasonEOF, ReasonOther,
}

// failurePatterns map substrings of crypto/tls and net/http error texts to
// reasons, first match wins.
var failurePatterns = []struct{ substr, reason string }{
	{"PROXY protocol header", ReasonProxyProtocol}, // proxy.ProxyProtocolListener's errors
	{"max_conns_per_client", ReasonClientLimit},    // proxy.ClientConnLimit's refusal after a PROXY header
	{"client sent an HTTP request to an HTTPS server", ReasonHTTPOnHTTPS},
	{"does not look like a TLS handshake", ReasonNotTLS},
	{"tls: oversized record", ReasonNotTLS},
	{"unsupported versions", ReasonProtocolVersion}, // "client offered only unsupported versions"
	{"unsupported SSLv2 handshake", ReasonProtocolVersion},
	{"older than TLS 1.3", ReasonProtocolVersion},
	{"legacy version field", ReasonProtocolVersion},
	{"no cipher suite supported by both", ReasonNoSharedCipher},
	{"no key exchanges supported by both", ReasonNoSharedGroup},
	{"incompatible point formats", ReasonNoSharedGroup},
	{"signature algorithms", ReasonNoSharedSigalg}, // "peer doesn't support any of the certificate's signature algorithms"
	{"signature_algorithms", ReasonNoSharedSigalg}, // "missing signature_algorithms from TLS 1.2 peer"
	{"inappropriate protocol fallback", ReasonInappropriateFallback},
	{"application protocol", ReasonALPN},
	{"client certificate refused", ReasonClientCertificate},   // tlsconf's verification
	{"failed to verify certificate", ReasonClientCertificate}, // crypto/tls's own, before it
	{"client didn't provide a certificate", ReasonClientCertificate},
	{"i/o timeout", ReasonTimeout},
	{"deadline exceeded", ReasonTimeout},
	{"EOF", ReasonEOF}, // also "unexpected EOF"
	{"connection reset by peer", ReasonEOF},
	{"broken pipe", ReasonEOF},
}

// HandshakeFailureReason classifies a server-side handshake error text
// (err.Error(), or what net/http logs after "TLS handshake error from
// ADDR: ") into one of FailureReasons.
func HandshakeFailureReason(msg string) string {
	// An alert from the client: its description says why it gave up.
	if _, alert, ok := strings.Cut(msg, "remote error: tls: "); ok {
		switch {
		case strings.Contains(alert, "certificate"): // bad, unknown, expired, revoked, ... certificate (authority)
			return ReasonCertificateRejected
		case strings.Contains(alert, "protocol version"):
			return ReasonProtocolVersion
		case strings.Contains(alert, "application protocol"):
			return ReasonALPN
		}
		return ReasonClientAlert
	}
	for _, p := range failurePatterns {
		if strings.Contains(msg, p.substr) {
			return p.reason
		}
	}
	return ReasonOther
}

// HandshakeFailure counts a failed handshake. reason should be one of
// FailureReasons; anything else is counted as "other".
func (m *Metrics) HandshakeFailure(reason string) {
	c, ok := m.failureByID[reason]
	if !ok {
		c = m.failureByID[ReasonOther]
	}
	c.Inc()
}

// handshakeErrorPrefix starts net/http's log line for a failed handshake:
// "http: TLS handshake error from 192.0.2.7:51234: <error>".
const handshakeErrorPrefix = "http: TLS handshake error from "

// HandshakeErrorLog returns a writer for an http.Server's ErrorLog
// (log.New(w, "", 0)): every line is passed on to next unchanged (nil
// discards), and each "http: TLS handshake error" line is also counted as
// a HandshakeFailure with its HandshakeFailureReason. net/http logs
// nothing else about failed handshakes, so this is where they are seen;
// package server, which handshakes connections itself, writes the same
// line here.
func (m *Metrics) HandshakeErrorLog(next io.Writer) io.Writer {
	if next == nil {
		next = io.Discard
	}
	return &errorLogWriter{m: m, next: next}
}

type errorLogWriter struct {
	m    *Metrics
	next io.Writer
	mu   sync.Mutex // log.Logger serializes writes; this guards other callers
}

func (w *errorLogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte("\n")) {
		i := bytes.Index(line, []byte(handshakeErrorPrefix))
		if i < 0 {
			continue
		}
		rest := line[i+len(handshakeErrorPrefix):]
		// The address ends at the first ": " (IPv6 addresses are bracketed).
		if j := bytes.Index(rest, []byte(": ")); j >= 0 {
			rest = rest[j+2:]
		}
		w.m.HandshakeFailure(HandshakeFailureReason(string(rest)))
		if r, ok := builtinClientCertResult(string(rest)); ok {
			w.m.ClientCertVerification(r)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next.Write(p)
}
