package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"tlsfront/headers"
)

// session is what Go's own TLS client saw: the parts of the handshake
// that are encrypted in TLS 1.3 (certificates, OCSP staple, ALPN) and
// whether tickets resume.
type session struct {
	err      error
	version  uint16
	suite    uint16
	alpn     string
	chain    [][]byte
	staple   []byte
	sessions tls.ClientSessionCache
}

// clientConfig is a Go client that speaks every suite and version Go has,
// verifies nothing (the audit does that itself) and resumes from cache.
func (a *auditor) clientConfig(cache tls.ClientSessionCache, alpn ...string) *tls.Config {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	return &tls.Config{
		ServerName:         a.sni,
		InsecureSkipVerify: true, // verified in checkChain against Options.Roots
		MinVersion:         tls.VersionTLS10,
		CipherSuites:       ids,
		NextProtos:         alpn,
		ClientSessionCache: cache,
	}
}

// dialTLS opens a Go TLS connection to the target.
func (a *auditor) dialTLS(ctx context.Context, cfg *tls.Config) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, a.p.timeout)
	defer cancel()
	a.p.conns.Add(1)
	raw, err := a.p.dial(ctx, "tcp", a.p.addr)
	if err != nil {
		return nil, classify(err, nil, a.p.timeout)
	}
	deadline, _ := ctx.Deadline()
	_ = raw.SetDeadline(deadline)
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// handshake runs Go's client once for ALPN, the certificates and the
// staple.
func (a *auditor) handshake(ctx context.Context) *session {
	s := &session{sessions: tls.NewLRUClientSessionCache(4)}
	c, err := a.dialTLS(ctx, a.clientConfig(s.sessions, "h2", "http/1.1"))
	if err != nil {
		s.err = err
		return s
	}
	defer c.Close()
	st := c.ConnectionState()
	s.version, s.suite, s.alpn = st.Version, st.CipherSuite, st.NegotiatedProtocol
	for _, cert := range st.PeerCertificates {
		s.chain = append(s.chain, cert.Raw)
	}
	s.staple = st.OCSPResponse
	return s
}

// checkResumption handshakes again with the session cache filled by the
// first handshake and the HTTPS request (TLS 1.3 tickets arrive after the
// handshake, so the request is what delivers them).
func (a *auditor) checkResumption(ctx context.Context, s *session) Check {
	if s.err != nil {
		return failed(fmt.Errorf("go's client could not connect: %w", s.err))
	}
	c, err := a.dialTLS(ctx, a.clientConfig(s.sessions, "http/1.1"))
	if err != nil {
		return failed(err)
	}
	defer c.Close()
	st := c.ConnectionState()
	if st.DidResume {
		return yes("a second %s handshake resumed the session from a ticket", versionName(st.Version))
	}
	return no("a second %s handshake presenting the ticket was not resumed", versionName(st.Version))
}

// HSTS is the Strict-Transport-Security header as parsed.
type HSTS struct {
	// Header is the first header value (the one browsers obey).
	Header string `json:"header"`
	// MaxAge is max-age in seconds; -1 when missing or malformed.
	MaxAge            int64 `json:"max_age"`
	IncludeSubDomains bool  `json:"include_subdomains"`
	Preload           bool  `json:"preload"`
}

// HPKP is the Public-Key-Pins (or -Report-Only) header as parsed.
type HPKP struct {
	Header     string   `json:"header"`
	ReportOnly bool     `json:"report_only"`
	MaxAge     int64    `json:"max_age"`
	Pins       []string `json:"pins"`
	// MatchesChain reports that a pin is a key of the served chain.
	MatchesChain bool `json:"matches_chain"`
	// Backup reports a pin of a key not served (RFC 7469 requires one).
	Backup bool `json:"backup"`
}

// HTTPResult is what the HTTP checks found.
type HTTPResult struct {
	// Status is the HTTPS GET / status; 0 when the request failed.
	Status int `json:"status"`
	// Error says why the HTTPS request failed; "" when it worked.
	Error string `json:"error,omitempty"`
	// HSTS is nil when the response has no Strict-Transport-Security.
	HSTS *HSTS `json:"hsts"`
	// HPKP is nil when the response pins nothing.
	HPKP *HPKP `json:"hpkp"`
	// Redirect is whether plain HTTP redirects to HTTPS.
	Redirect Check `json:"redirect"`
}

// noRedirects keeps the HTTP client on the target: a redirect elsewhere is
// reported, never followed.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// getHTTPS sends one GET / over Go's client and reads the headers.
func (a *auditor) getHTTPS(ctx context.Context, s *session, chain []*x509.Certificate) HTTPResult {
	var res HTTPResult
	cache := s.sessions
	tr := &http.Transport{
		Proxy: nil,
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return a.dialTLS(ctx, a.clientConfig(cache, "http/1.1"))
		},
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: a.p.timeout,
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 2 * a.p.timeout, CheckRedirect: noRedirects}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+a.hostHeader(443)+"/", nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	req.Header.Set("User-Agent", "tlsfront-audit")
	resp, err := cl.Do(req)
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner // drop url.Error's "Get URL:" prefix
		}
		res.Error = describeErr(err)
		return res
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 1<<20)
	resp.Body.Close()
	res.Status = resp.StatusCode
	if v := resp.Header.Values("Strict-Transport-Security"); len(v) > 0 {
		res.HSTS = parseHSTS(v[0])
	}
	if v := resp.Header.Get("Public-Key-Pins"); v != "" {
		res.HPKP = parseHPKP(v, false, chain)
	} else if v := resp.Header.Get("Public-Key-Pins-Report-Only"); v != "" {
		res.HPKP = parseHPKP(v, true, chain)
	}
	return res
}

// hostHeader is the Host for requests: the SNI name, else the target host,
// with the port unless it is def.
func (a *auditor) hostHeader(def int) string {
	h := a.sni
	if h == "" {
		h = a.host
	}
	port := a.port
	if def == 80 {
		port = a.httpPort
	}
	if port == def {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return net.JoinHostPort(h, strconv.Itoa(port))
}

// checkRedirect asks the plain-HTTP port for / and expects a redirect to
// https://.
func (a *auditor) checkRedirect(ctx context.Context) Check {
	if a.httpPort <= 0 {
		return na("plain HTTP check disabled")
	}
	addr := net.JoinHostPort(a.ip, strconv.Itoa(a.httpPort))
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			a.p.conns.Add(1)
			return a.p.dial(ctx, network, addr)
		},
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: a.p.timeout,
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 2 * a.p.timeout, CheckRedirect: noRedirects}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.hostHeader(80)+"/", nil)
	if err != nil {
		return failed(err)
	}
	resp, err := cl.Do(req)
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		var pe *probeError
		if errors.As(classify(err, nil, a.p.timeout), &pe) && pe.kind == "refused" {
			return no("nothing listens on plain HTTP port %d", a.httpPort)
		}
		return no("plain HTTP on port %d failed: %v", a.httpPort, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && strings.HasPrefix(strings.ToLower(loc), "https://") {
		return yes("http://%s/ answers %d Location: %s", a.hostHeader(80), resp.StatusCode, loc)
	}
	if loc != "" {
		return no("http://%s/ answers %d Location: %s (not HTTPS)", a.hostHeader(80), resp.StatusCode, loc)
	}
	return no("http://%s/ answers %d without a redirect", a.hostHeader(80), resp.StatusCode)
}

// parseHSTS parses one Strict-Transport-Security value (RFC 6797 6.1).
func parseHSTS(v string) *HSTS {
	h := &HSTS{Header: v, MaxAge: -1}
	for _, d := range strings.Split(v, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
			if err == nil && n >= 0 {
				h.MaxAge = n
			}
		case "includesubdomains":
			h.IncludeSubDomains = true
		case "preload":
			h.Preload = true
		}
	}
	return h
}

// parseHPKP parses a Public-Key-Pins value (RFC 7469 2.1) and compares
// its pins with the served chain.
func parseHPKP(v string, reportOnly bool, chain []*x509.Certificate) *HPKP {
	h := &HPKP{Header: v, ReportOnly: reportOnly, MaxAge: -1}
	served := map[string]bool{}
	for _, c := range chain {
		served[headers.PinSHA256(c.RawSubjectPublicKeyInfo)] = true
	}
	for _, d := range strings.Split(v, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		val = strings.Trim(strings.TrimSpace(val), `"`)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "pin-sha256":
			h.Pins = append(h.Pins, val)
			if served[val] {
				h.MatchesChain = true
			} else {
				h.Backup = true
			}
		case "max-age":
			if n, err := strconv.ParseInt(val, 10, 64); err == nil {
				h.MaxAge = n
			}
		}
	}
	return h
}
