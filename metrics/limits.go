package metrics

import "github.com/prometheus/client_golang/prometheus"

// ConnLimit is the connection limiter as metrics reads it at scrape time
// (proxy.ConnLimiter satisfies it).
type ConnLimit interface {
	Max() int        // the limit; 0 = unlimited
	Open() int       // connections held now
	Refused() uint64 // connections refused since the start
}

// WatchConnLimit exports l as tlsfront_connections_refused_total and
// tlsfront_connections_limit. Call it once per Metrics.
func (m *Metrics) WatchConnLimit(l ConnLimit) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlsfront_connections_refused_total",
			Help: "Client connections closed at accept because server.max_connections were open.",
		}, func() float64 { return float64(l.Refused()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tlsfront_connections_limit",
			Help: "server.max_connections: client connections allowed open at once; 0 means unlimited.",
		}, func() float64 { return float64(l.Max()) }),
	)
}
