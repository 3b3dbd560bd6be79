package proxy

import (
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// ServerOptions are the http.Server limits both listeners share. Zero values
// take the documented defaults.
type ServerOptions struct {
	ReadHeaderTimeout time.Duration // TLS handshake plus request headers; zero means 10s
	IdleTimeout       time.Duration // keep-alive idle time; zero means 120s
	MaxHeaderBytes    int           // request line and headers; zero means 64 KiB
	// WriteByteTimeout closes an HTTP/2 connection when a write to it makes
	// no progress for this long (a client that stopped reading the socket:
	// per-stream deadlines cannot reach it then). Zero means none. Set it to
	// Limits.SendTimeout.
	WriteByteTimeout time.Duration
	// MaxConcurrentStreams is HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS
	// (server.max_concurrent_streams); zero means 128.
	MaxConcurrentStreams int
	Logger               zerolog.Logger
}

// NewServer returns an http.Server for h with tlsfront's limits. Serve it on
// a tls.NewListener for HTTPS (HTTP/2 is negotiated by ALPN when the TLS
// config offers "h2") or on a plain listener for the redirect.
func NewServer(h http.Handler, o ServerOptions) *http.Server {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.MaxConcurrentStreams <= 0 {
		o.MaxConcurrentStreams = 128
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout, // also bounds the TLS handshake
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          newStdLogger(o.Logger, zerolog.DebugLevel),
		// The request path asks the connection whether its PROXY header
		// named the client (trustedPeer). Only stored here: the header is
		// read later, by the connection's own goroutine.
		ConnContext: withConn,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: o.MaxConcurrentStreams,
			MaxReadFrameSize:     1 << 20,
			WriteByteTimeout:     o.WriteByteTimeout,
		},
	}
	return srv
}

// Redirect returns the plain-HTTP listener's handler: 301 to the same host,
// path and query on HTTPS. httpsPort 443 is left out of the URL.
func Redirect(httpsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		if host == "" || strings.ContainsAny(host, "/\\@ ") {
			httpErrorPage(w, http.StatusBadRequest, "A Host header is required.")
			return
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // IPv6 literal
		}
		if httpsPort != 443 {
			host += ":" + strconv.Itoa(httpsPort)
		}
		target := "https://" + host + r.URL.RequestURI()
		if r.URL.Path == "" || r.URL.Path[0] != '/' { // absolute-form or authority-form targets
			target = "https://" + host + "/"
		}
		w.Header().Set("Location", target)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusMovedPermanently)
		_, _ = w.Write([]byte("<!DOCTYPE html>\n<html><head><title>301 Moved Permanently</title></head><body><a href=\"" +
			htmlEscape(target) + "\">Moved to HTTPS</a></body></html>\n"))
	})
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// newStdLogger bridges net/http's *log.Logger into zerolog. TLS handshake
// errors from scanners and bots land here, so they are logged at level.
func newStdLogger(l zerolog.Logger, level zerolog.Level) *log.Logger {
	return log.New(levelWriter{l: l, level: level}, "", 0)
}

type levelWriter struct {
	l     zerolog.Logger
	level zerolog.Level
}

func (w levelWriter) Write(p []byte) (int, error) {
	w.l.WithLevel(w.level).Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// httpErrorPage is the error page for net/http's handlers (the plain
// listener).
func httpErrorPage(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(status, text))
}
