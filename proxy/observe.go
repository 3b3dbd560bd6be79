package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/headers"
)

// Entry describes one finished request, for the access log and metrics.
type Entry struct {
	Request  *http.Request
	Start    time.Time
	Site     int           // index into Options.Sites; -1 on the plain listener
	Status   int           // final status sent (200 when the handler wrote no header)
	Bytes    int64         // response body bytes written
	Duration time.Duration // until the handler returned
	Backend  time.Duration // until the backend's response headers arrived; -1 when it was not asked
	// HeadersDropped counts request headers not forwarded because their
	// names have characters other than letters, digits and '-'
	// (headers.DropInvalidNames).
	HeadersDropped int
	Rule           string // the [[site.rule]] path that refused the request; "" when none did
	Refused        string // why the shield refused it: "denied", "rate_limited", "ambiguous_path"; "" when it did not
}

type entryKey struct{}

// Observe wraps h so that fn sees an Entry after every request. The proxy
// Handler fills in the site and backend time of entries passing through it.
func Observe(h http.Handler, fn func(*Entry)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &Entry{Start: time.Now(), Site: -1, Backend: -1}
		rec := &recorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), entryKey{}, e))
		e.Request = r
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

func entryFrom(ctx context.Context) *Entry {
	e, _ := ctx.Value(entryKey{}).(*Entry)
	return e
}

// timedTransport records in the request's Entry how long the backend took
// to send its response headers.
type timedTransport struct{ http.RoundTripper }

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.RoundTripper.RoundTrip(r)
	if e := entryFrom(r.Context()); e != nil {
		e.Backend = time.Since(start)
	}
	return res, err
}

// JSONAccessLog returns an Observe function writing one zerolog line per
// request: client ip, host, method, path, status, bytes, duration, protocol,
// TLS version and suite; the client certificate's subject (RFC 2253)
// when there is one; for a request the shield refused, why ("refused")
// and the rule's path ("rule").
func JSONAccessLog(logger zerolog.Logger) func(*Entry) {
	return func(e *Entry) {
		ev := logger.Info()
		if !ev.Enabled() {
			return
		}
		r := e.Request
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		ev = ev.Str("client", ip).Str("host", r.Host).Str("method", r.Method).
			Str("path", r.URL.Path).Int("status", e.Status).Int64("bytes", e.Bytes).
			Float64("duration_ms", float64(e.Duration.Microseconds())/1000).Str("proto", r.Proto)
		if e.Backend >= 0 {
			ev = ev.Float64("backend_ms", float64(e.Backend.Microseconds())/1000)
		}
		if e.Refused != "" {
			ev = ev.Str("refused", e.Refused).Str("rule", e.Rule)
		}
		if r.TLS != nil {
			ev = ev.Str("tls", tls.VersionName(r.TLS.Version)).Str("suite", tls.CipherSuiteName(r.TLS.CipherSuite))
			if len(r.TLS.PeerCertificates) > 0 { // the client certificate's subject, as mod_ssl's SSL_CLIENT_S_DN
				ev = ev.Str("client_dn", headers.FormatDN(r.TLS.PeerCertificates[0].RawSubject, false))
			}
		}
		ev.Msg("request")
	}
}

// CombinedAccessLog returns an Observe function writing Apache's combined
// log format to w, so Apache-era tools (goaccess, awstats) keep working:
//
//	%h - - [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i"
func CombinedAccessLog(w io.Writer) func(*Entry) {
	var mu sync.Mutex
	return func(e *Entry) {
		r := e.Request
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		b := make([]byte, 0, 256)
		b = append(b, ip...)
		b = append(b, " - - ["...)
		b = e.Start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
		b = append(b, "] \""...)
		b = appendEscaped(b, r.Method+" "+r.RequestURI+" "+r.Proto)
		b = append(b, "\" "...)
		b = strconv.AppendInt(b, int64(e.Status), 10)
		b = append(b, ' ')
		if e.Bytes == 0 {
			b = append(b, '-')
		} else {
			b = strconv.AppendInt(b, e.Bytes, 10)
		}
		b = append(b, " \""...)
		b = appendEscaped(b, orDash(r.Referer()))
		b = append(b, "\" \""...)
		b = appendEscaped(b, orDash(r.UserAgent()))
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
// (used by ReverseProxy for flushing and upgrades) reach the real writer.
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
