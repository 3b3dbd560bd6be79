package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SetCertificate records when the certificate called name (the lead's
// choice, e.g. "example.com ecdsa"; keep it stable across reloads) stops
// being valid. tlsfront_certificate_expiry_seconds{name} reports the
// seconds left at scrape time, negative once expired.
func (m *Metrics) SetCertificate(name string, notAfter time.Time) {
	m.expiry.set(m.expiry.certs, name, notAfter)
}

// SetStaple records until when the OCSP staple served with the certificate
// called name is good (its NextUpdate). tlsfront_ocsp_staple_validity_seconds
// {name} reports the seconds left at scrape time: negative once stale, 0
// when goodUntil is zero (no staple). Call it after every refresh; do not
// call it for certificates without an OCSP responder.
func (m *Metrics) SetStaple(name string, goodUntil time.Time) {
	m.expiry.set(m.expiry.staples, name, goodUntil)
}

// ResetCertificates forgets every certificate and staple; call it before
// recording a reloaded configuration's certificates so that removed ones
// disappear. A scrape between the two may miss the series once.
func (m *Metrics) ResetCertificates() {
	m.expiry.mu.Lock()
	defer m.expiry.mu.Unlock()
	clear(m.expiry.certs)
	clear(m.expiry.staples)
}

// expiryCollector computes seconds left from deadlines at scrape time.
type expiryCollector struct {
	now        func() time.Time
	certDesc   *prometheus.Desc
	stapleDesc *prometheus.Desc

	mu      sync.Mutex
	certs   map[string]time.Time
	staples map[string]time.Time
}

func newExpiryCollector(now func() time.Time) *expiryCollector {
	return &expiryCollector{
		now: now,
		certDesc: prometheus.NewDesc("tlsfront_certificate_expiry_seconds",
			"Seconds until the certificate's NotAfter; negative once expired.", []string{"name"}, nil),
		stapleDesc: prometheus.NewDesc("tlsfront_ocsp_staple_validity_seconds",
			"Seconds until the served OCSP staple's NextUpdate; negative once stale, 0 without a staple.", []string{"name"}, nil),
		certs:   map[string]time.Time{},
		staples: map[string]time.Time{},
	}
}

func (c *expiryCollector) set(m map[string]time.Time, name string, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m[name] = t
}

func (c *expiryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.certDesc
	ch <- c.stapleDesc
}

func (c *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for name, t := range c.certs {
		ch <- prometheus.MustNewConstMetric(c.certDesc, prometheus.GaugeValue, t.Sub(now).Seconds(), name)
	}
	for name, t := range c.staples {
		left := 0.0
		if !t.IsZero() {
			left = t.Sub(now).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.stapleDesc, prometheus.GaugeValue, left, name)
	}
}
