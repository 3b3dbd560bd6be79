package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/headers"
)

// Entry describes one finished request, for the access log and metrics. It
// is written in one place per listener: the request path (Handler.Serve and
// ServeError) on HTTPS, Observe on the plain listener.
type Entry struct {
	Start  time.Time
	Site   string     // the name of the site that answered; "" on the plain listener
	Client netip.Addr // the client's address (the PROXY protocol's when trusted)
	// Method, Host (the validated authority), Target (origin-form, query
	// included) and Proto of the request; Method and Target are "" for a
	// request refused before it could be parsed.
	Method, Host, Target, Proto string
	Referer, UserAgent          string
	TLSVersion, CipherSuite     uint16 // 0 on plain HTTP
	// ClientCert is the client certificate's subject, raw DER, when the
	// client sent one ([site.client_auth]); nil otherwise.
	ClientCert []byte

	Status   int           // final status sent; 499 when the client left first
	Bytes    int64         // response body bytes written
	Duration time.Duration // until the response ended
	Backend  time.Duration // until the backend's response head arrived; -1 when it was not asked
	// HeadersDropped counts request headers not forwarded because their
	// names have characters other than letters, digits and '-'
	// (headers.ValidName).
	HeadersDropped int
	Rule           string // the [[site.rule]] path that refused the request; "" when none did
	Refused        string // why the shield refused it: "denied", "rate_limited", "ambiguous_path"; "" when it did not
}

// Path is the entry's target without its query.
func (e *Entry) Path() string { return pathOf(e.Target) }

func (e *Entry) setConn(c *ConnInfo) {
	if c == nil {
		return
	}
	e.Client = c.Remote.Addr().Unmap()
	if c.TLS != nil {
		e.TLSVersion, e.CipherSuite = c.TLS.Version, c.TLS.CipherSuite
		if len(c.TLS.PeerCertificates) > 0 {
			e.ClientCert = c.TLS.PeerCertificates[0].RawSubject
		}
	}
}

// Observe wraps h, a plain-HTTP handler (the redirect listener), so that fn
// sees an Entry after every request.
func Observe(h http.Handler, fn func(*Entry)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &Entry{Start: time.Now(), Method: r.Method, Host: r.Host, Target: r.RequestURI, Proto: r.Proto,
			Referer: r.Referer(), UserAgent: r.UserAgent(), Backend: -1}
		e.Client = clientIP(r.RemoteAddr)
		if r.TLS != nil {
			e.TLSVersion, e.CipherSuite = r.TLS.Version, r.TLS.CipherSuite
			if len(r.TLS.PeerCertificates) > 0 {
				e.ClientCert = r.TLS.PeerCertificates[0].RawSubject
			}
		}
		rec := &recorder{ResponseWriter: w}
		defer func() {
			e.Status, e.Bytes, e.Duration = rec.status, rec.bytes, time.Since(e.Start)
			if e.Status == 0 {
				e.Status = http.StatusOK
			}
			fn(e)
		}()
		h.ServeHTTP(rec, r)
	})
}

func clientIP(remoteAddr string) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// JSONAccessLog returns an Observe function writing one zerolog line per
// request: client ip, site, host, method, path, status, bytes, duration,
// protocol, TLS version and suite; the client certificate's subject (RFC
// 2253) when there is one; for a request the shield refused, why
// ("refused") and the rule's path ("rule").
func JSONAccessLog(logger zerolog.Logger) func(*Entry) {
	return func(e *Entry) {
		ev := logger.Info()
		if !ev.Enabled() {
			return
		}
		ev = ev.Str("client", clientString(e.Client)).Str("host", e.Host).Str("method", e.Method).
			Str("path", e.Path()).Int("status", e.Status).Int64("bytes", e.Bytes).
			Float64("duration_ms", float64(e.Duration.Microseconds())/1000).Str("proto", e.Proto)
		if e.Site != "" {
			ev = ev.Str("site", e.Site)
		}
		if e.Backend >= 0 {
			ev = ev.Float64("backend_ms", float64(e.Backend.Microseconds())/1000)
		}
		if e.Refused != "" {
			ev = ev.Str("refused", e.Refused).Str("rule", e.Rule)
		}
		if e.TLSVersion != 0 {
			ev = ev.Str("tls", tls.VersionName(e.TLSVersion)).Str("suite", tls.CipherSuiteName(e.CipherSuite))
			if e.ClientCert != nil { // the client certificate's subject, as mod_ssl's SSL_CLIENT_S_DN
				ev = ev.Str("client_dn", headers.FormatDN(e.ClientCert, false))
			}
		}
		ev.Msg("request")
	}
}

func clientString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// CombinedAccessLog returns an Observe function writing Apache's combined
// log format to w, so Apache-era tools (goaccess, awstats) keep working:
//
//	%h - - [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i"
func CombinedAccessLog(w io.Writer) func(*Entry) {
	var mu sync.Mutex
	return func(e *Entry) {
		b := make([]byte, 0, 256)
		b = e.Client.AppendTo(b)
		if !e.Client.IsValid() {
			b = append(b, '-')
		}
		b = append(b, " - - ["...)
		b = e.Start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
		b = append(b, "] \""...)
		if e.Method == "" {
			b = append(b, '-') // refused before it could be parsed
		} else {
			b = appendEscaped(b, e.Method+" "+e.Target+" "+e.Proto)
		}
		b = append(b, "\" "...)
		b = strconv.AppendInt(b, int64(e.Status), 10)
		b = append(b, ' ')
		if e.Bytes == 0 {
			b = append(b, '-')
		} else {
			b = strconv.AppendInt(b, e.Bytes, 10)
		}
		b = append(b, " \""...)
		b = appendEscaped(b, orDash(e.Referer))
		b = append(b, "\" \""...)
		b = appendEscaped(b, orDash(e.UserAgent))
		b = append(b, "\"\n"...)
		mu.Lock()
		_, _ = w.Write(b)
		mu.Unlock()
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendEscaped escapes quotes, backslashes and control bytes as Apache does.
func appendEscaped(b []byte, s string) []byte {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 || r == 0x7f }) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}

// recorder counts status and bytes. Unwrap lets http.ResponseController
// reach the real writer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 || code >= 200 && r.status < 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush keeps streaming working for callers that type-assert http.Flusher.
func (r *recorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }
