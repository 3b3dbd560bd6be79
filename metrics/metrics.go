// Package metrics is tlsfront's Prometheus instrumentation. It watches the
// request path from the side: the HTTPS server's connection states and
// handshake errors, each proxied request's site, status and backend
// latency, the certificates' and OCSP staples' remaining validity, and
// reloads. Handler serves them, with /healthz, on a separate listener
// ([server] metrics, off by default).
//
// Metrics live in a private registry, never prometheus.DefaultRegisterer.
// The methods called per request or connection take no allocations once a
// label combination has been seen, and label values come from bounded sets:
// versions and suites the server negotiated, a fixed list of failure
// reasons, normalized protocols and status codes, and at most
// Options.MaxSites site names.
package metrics

import (
	"crypto/tls"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure New. The zero value is valid.
type Options struct {
	// Now is the clock the seconds-left gauges are computed with at
	// scrape time. Nil means time.Now.
	Now func() time.Time
	// MaxSites is how many distinct site label values Request records;
	// later names are recorded as "other". Zero means 256.
	MaxSites int
	// Healthy decides /healthz: 200 "ok" when it reports true, 503 when
	// false. Nil means always healthy.
	Healthy func() bool
	// Version, when not empty, is exported as tlsfront_build_info{version}.
	Version string
}

// Metrics holds tlsfront's metrics and their registry. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	healthy func() bool

	handshakes *prometheus.CounterVec
	hsMu       sync.RWMutex
	hsCache    map[uint32]prometheus.Counter // version<<16 | suite

	failures    *prometheus.CounterVec
	failureByID map[string]prometheus.Counter // reason -> counter, fixed at New

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	reqMu    sync.RWMutex
	reqCache map[reqKey]prometheus.Counter
	latCache map[string]prometheus.Observer // by site label
	sites    map[string]struct{}
	maxSites int

	headersDropped prometheus.Counter

	active  prometheus.Gauge
	pending sync.Map // *tls.Conn -> struct{}: accepted, handshake not yet counted

	expiry *expiryCollector

	shield shieldRefusals

	reloads        *prometheus.CounterVec
	reloadOK       prometheus.Counter
	reloadFailed   prometheus.Counter
	lastReloadGood prometheus.Gauge

	now    func() time.Time
	caOnce sync.Once
	ca     *clientAuthMetrics // client certificates and CRLs (clientauth.go)
}

type reqKey struct {
	site, proto string
	status      int
}

// backendBuckets are the backend latency histogram's upper bounds in
// seconds: from a fast Apache on loopback to proxy.response_header_timeout.
var backendBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New creates the metrics in a fresh private registry, together with the
// Go runtime and process collectors.
func New(o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSites <= 0 {
		o.MaxSites = 256
	}
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		healthy:  o.Healthy,
		hsCache:  map[uint32]prometheus.Counter{},
		reqCache: map[reqKey]prometheus.Counter{},
		latCache: map[string]prometheus.Observer{},
		sites:    map[string]struct{}{},
		maxSites: o.MaxSites,
		now:      o.Now,
	}
	m.handshakes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tlsfront_tls_handshakes_total",
		Help: "Completed TLS handshakes on the HTTPS listener, by negotiated version and cipher suite.",
	}, []string{"version", "suite"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tlsfront_tls_handshake_failures_total",
		Help: "Failed TLS handshakes on the HTTPS listener, by reason.",
	}, []string{"reason"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tlsfront_http_requests_total",
		Help: "HTTPS requests answered, by site, status code and HTTP protocol.",
	}, []string{"site", "status", "protocol"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tlsfront_backend_duration_seconds",
		Help:    "Time from sending a request to the backend until its response headers arrived, by site.",
		Buckets: backendBuckets,
	}, []string{"site"})
	m.headersDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tlsfront_request_headers_dropped_total",
		Help: "Request headers not forwarded to the backend because their names have characters other than letters, digits and '-' (X_Forwarded_For, X.Real.IP).",
	})
	m.active = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tlsfront_connections_active",
		Help: "Open client connections (accepted and not yet closed or hijacked).",
	})
	m.shield = shieldRefusals{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsfront_shield_refusals_total",
			Help: "Requests the shield refused before the backend, by site, rule (its path) and reason (denied, rate_limited, ambiguous_path).",
		}, []string{"site", "rule", "reason"}),
		cache: map[[3]string]prometheus.Counter{},
	}
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tlsfront_reloads_total",
		Help: "Configuration reloads (SIGHUP), by result.",
	}, []string{"result"})
	m.lastReloadGood = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tlsfront_last_reload_successful",
		Help: "1 when the last reload succeeded (or none happened yet), 0 when it failed and the previous configuration still serves.",
	})
	m.lastReloadGood.Set(1)
	m.reloadOK = m.reloads.WithLabelValues("success")
	m.reloadFailed = m.reloads.WithLabelValues("failure")
	m.expiry = newExpiryCollector(o.Now)

	m.failureByID = make(map[string]prometheus.Counter, len(FailureReasons))
	for _, r := range FailureReasons {
		m.failureByID[r] = m.failures.WithLabelValues(r)
	}

	m.reg.MustRegister(m.handshakes, m.failures, m.requests, m.latency, m.headersDropped, m.active, m.shield.vec,
		m.reloads, m.lastReloadGood, m.expiry,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.Version != "" {
		info := prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "tlsfront_build_info",
			Help:        "Always 1; the version label is the running binary's.",
			ConstLabels: prometheus.Labels{"version": o.Version},
		})
		info.Set(1)
		m.reg.MustRegister(info)
	}
	return m
}

// Registry returns the private registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics (Prometheus text or protobuf, as negotiated) and
// /healthz ("ok", or 503 "unhealthy" when Options.Healthy reports false).
// Serve it on its own listener, never on the public ones.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg, // promhttp's own error counter, in the private registry
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if m.healthy != nil && !m.healthy() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("unhealthy\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Handshake counts a completed handshake with the negotiated version and
// cipher suite (tls.ConnectionState's Version and CipherSuite). ConnState
// calls it; call it directly only for connections ConnState does not see.
func (m *Metrics) Handshake(version, suite uint16) {
	key := uint32(version)<<16 | uint32(suite)
	m.hsMu.RLock()
	c := m.hsCache[key]
	m.hsMu.RUnlock()
	if c == nil {
		m.hsMu.Lock()
		if c = m.hsCache[key]; c == nil {
			c = m.handshakes.WithLabelValues(tls.VersionName(version), tls.CipherSuiteName(suite))
			m.hsCache[key] = c
		}
		m.hsMu.Unlock()
	}
	c.Inc()
}

// Request counts one answered HTTPS request. site is the configured site
// that served it (its first name, never the client's Host header), proto
// the request's protocol (r.Proto: "HTTP/1.1", "HTTP/2.0", ...), status
// the status code sent. backendSeconds is how long the backend took to
// send response headers; negative means the backend was not asked (a
// redirect or error page tlsfront answered itself) and no latency is
// observed.
func (m *Metrics) Request(site, proto string, status int, backendSeconds float64) {
	k := reqKey{site: site, proto: normalizeProto(proto), status: status}
	if status < 100 || status > 599 {
		k.status = 0
	}
	m.reqMu.RLock()
	c := m.reqCache[k]
	var obs prometheus.Observer
	if backendSeconds >= 0 {
		obs = m.latCache[site]
	}
	m.reqMu.RUnlock()
	if c == nil || (backendSeconds >= 0 && obs == nil) {
		c, obs = m.requestSlow(k, backendSeconds >= 0)
	}
	c.Inc()
	if backendSeconds >= 0 {
		obs.Observe(backendSeconds)
	}
}

// RequestHeadersDropped counts n request headers dropped for their names
// (proxy.Entry.HeadersDropped). n <= 0 counts nothing.
func (m *Metrics) RequestHeadersDropped(n int) {
	if n > 0 {
		m.headersDropped.Add(float64(n))
	}
}

// requestSlow creates the counter (and observer) for a label combination
// seen for the first time. Sites past MaxSites are recorded as "other" and
// not cached under their own name, so a caller passing unbounded names
// costs a lock per request but no memory.
func (m *Metrics) requestSlow(k reqKey, wantObs bool) (prometheus.Counter, prometheus.Observer) {
	m.reqMu.Lock()
	defer m.reqMu.Unlock()
	if _, known := m.sites[k.site]; !known {
		if len(m.sites) < m.maxSites {
			m.sites[k.site] = struct{}{}
		} else {
			k.site = "other"
		}
	}
	c := m.reqCache[k]
	if c == nil {
		status := "other"
		if k.status != 0 {
			status = strconv.Itoa(k.status)
		}
		c = m.requests.WithLabelValues(k.site, status, k.proto)
		m.reqCache[k] = c
	}
	var obs prometheus.Observer
	if wantObs {
		if obs = m.latCache[k.site]; obs == nil {
			obs = m.latency.WithLabelValues(k.site)
			m.latCache[k.site] = obs
		}
	}
	return c, obs
}

// normalizeProto maps r.Proto onto a fixed set of label values.
func normalizeProto(p string) string {
	switch p {
	case "HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/3.0":
		return p
	}
	return "other"
}

// Reload counts a configuration reload: ok is whether the new
// configuration is serving (false: the old one still is).
func (m *Metrics) Reload(ok bool) {
	if ok {
		m.reloadOK.Inc()
		m.lastReloadGood.Set(1)
		return
	}
	m.reloadFailed.Inc()
	m.lastReloadGood.Set(0)
}
