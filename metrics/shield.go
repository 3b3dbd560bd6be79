package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ShieldTable is the shield's rate-limit table as metrics reads it at
// scrape time (shield.Table satisfies it).
type ShieldTable interface {
	Len() int        // entries held now
	Size() int       // entries held at most
	Evicted() uint64 // entries forgotten to make room
}

// ShieldConns is the per-client connection count as metrics reads it at
// scrape time (shield.Conns satisfies it).
type ShieldConns interface {
	Max() int        // server.max_conns_per_client; 0 = unlimited
	Clients() int    // clients with connections open
	Refused() uint64 // connections refused since the start
}

// shieldRefusals counts requests the shield refused, by site, rule and
// reason: label values come from the configuration (site names, rule
// paths) and a fixed set of reasons.
type shieldRefusals struct {
	vec   *prometheus.CounterVec
	mu    sync.RWMutex
	cache map[[3]string]prometheus.Counter
}

// WatchShield exports the rate-limit table and the per-client connection
// counts: tlsfront_shield_table_entries, _table_size,
// _table_evictions_total, tlsfront_shield_connection_clients,
// _connections_limit_per_client and _connections_refused_total. Call it
// once per Metrics, with the process's table and counts (they outlive
// reloads).
func (m *Metrics) WatchShield(t ShieldTable, c ShieldConns) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tlsfront_shield_table_entries",
			Help: "Entries (client and rate-limited rule) in the shield's rate-limit table.",
		}, func() float64 { return float64(t.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tlsfront_shield_table_size",
			Help: "server.client_table_size: entries the rate-limit table holds at most.",
		}, func() float64 { return float64(t.Size()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlsfront_shield_table_evictions_total",
			Help: "Rate-limit entries forgotten to make room (those clients start afresh); growing under normal traffic means client_table_size is too small.",
		}, func() float64 { return float64(t.Evicted()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tlsfront_shield_connection_clients",
			Help: "Clients (IPv4 addresses, IPv6 /64s) with connections open, as counted for server.max_conns_per_client.",
		}, func() float64 { return float64(c.Clients()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tlsfront_shield_connections_limit_per_client",
			Help: "server.max_conns_per_client; 0 means unlimited.",
		}, func() float64 { return float64(c.Max()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlsfront_shield_connections_refused_total",
			Help: "Client connections closed at accept because the client held server.max_conns_per_client.",
		}, func() float64 { return float64(c.Refused()) }),
	)
}

// ShieldRefusal counts one request the shield refused: site is the
// configured site (its first name), rule the [[site.rule]] path that
// refused it ("" for an ambiguous path, which no rule names), reason
// "denied", "rate_limited" or "ambiguous_path".
func (m *Metrics) ShieldRefusal(site, rule, reason string) {
	k := [3]string{site, rule, reason}
	r := &m.shield
	r.mu.RLock()
	c := r.cache[k]
	r.mu.RUnlock()
	if c == nil {
		r.mu.Lock()
		if c = r.cache[k]; c == nil {
			c = r.vec.WithLabelValues(site, rule, reason)
			r.cache[k] = c
		}
		r.mu.Unlock()
	}
	c.Inc()
}
