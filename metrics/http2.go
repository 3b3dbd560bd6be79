package metrics

import "github.com/prometheus/client_golang/prometheus"

// HTTP2 is tlsfront's own HTTP/2 server as metrics reads it at scrape time
// (proxy.H2Counters satisfies it).
type HTTP2 interface {
	Glitches() uint64     // protocol glitches counted on all connections
	GlitchCloses() uint64 // connections closed with GOAWAY ENHANCE_YOUR_CALM for them
}

// WatchHTTP2 exports h as tlsfront_http2_glitches_total and
// tlsfront_http2_glitch_closes_total. Call it once per Metrics.
func (m *Metrics) WatchHTTP2(h HTTP2) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlsfront_http2_glitches_total",
			Help: "HTTP/2 protocol glitches clients caused (streams reset before their response, floods of control or empty frames, malformed requests, ...).",
		}, func() float64 { return float64(h.Glitches()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlsfront_http2_glitch_closes_total",
			Help: "HTTP/2 connections closed with GOAWAY ENHANCE_YOUR_CALM after server.http2_glitches glitches.",
		}, func() float64 { return float64(h.GlitchCloses()) }),
	)
}
