package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Client certificates: verifications by result, and the age and next
// update of every CRL tlsfront checks them against. The series are
// registered on first use; the daemon calls ResetCRLs at start.

// clientAuthMetrics are registered once, on first use.
type clientAuthMetrics struct {
	verifications *prometheus.CounterVec
	crls          *crlCollector
}

func (m *Metrics) clientAuth() *clientAuthMetrics {
	m.caOnce.Do(func() {
		m.ca = &clientAuthMetrics{
			verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "tlsfront_client_cert_verifications_total",
				Help: "Client-certificate verifications, by result: success, generous, none, or why the certificate was refused (unknown_ca, expired, revoked, crl_missing, ...).",
			}, []string{"result"}),
			crls: &crlCollector{now: m.now, crls: map[[2]string]crlTimes{},
				age: prometheus.NewDesc("tlsfront_crl_age_seconds",
					"Seconds since the thisUpdate of the CRL held from a file or distribution point; no series before one is held.", []string{"issuer", "source"}, nil),
				next: prometheus.NewDesc("tlsfront_crl_next_update_seconds",
					"Seconds until the CRL's nextUpdate; negative once it has passed (the CRL is then no longer used).", []string{"issuer", "source"}, nil),
			},
		}
		m.reg.MustRegister(m.ca.verifications, m.ca.crls)
	})
	return m.ca
}

// ClientCertVerification counts one verification with its result (one of
// tlsconf's Result values, or no_certificate).
func (m *Metrics) ClientCertVerification(result string) {
	m.clientAuth().verifications.WithLabelValues(result).Inc()
}

// ResetCRLs forgets every CRL; call it before recording a (reloaded)
// configuration's CRLs.
func (m *Metrics) ResetCRLs() {
	c := m.clientAuth().crls
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.crls)
}

// SetCRL records the CRL of issuer held from source (a file or URL).
// thisUpdate zero means none is held yet: no series.
func (m *Metrics) SetCRL(issuer, source string, thisUpdate, nextUpdate time.Time) {
	c := m.clientAuth().crls
	c.mu.Lock()
	defer c.mu.Unlock()
	c.crls[[2]string{issuer, source}] = crlTimes{thisUpdate, nextUpdate}
}

type crlTimes struct{ this, next time.Time }

type crlCollector struct {
	now       func() time.Time
	age, next *prometheus.Desc
	mu        sync.Mutex
	crls      map[[2]string]crlTimes
}

func (c *crlCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.age
	ch <- c.next
}

func (c *crlCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, t := range c.crls {
		if t.this.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, now.Sub(t.this).Seconds(), k[0], k[1])
		if !t.next.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.next, prometheus.GaugeValue, t.next.Sub(now).Seconds(), k[0], k[1])
		}
	}
}

// builtinClientCertResult classifies the refusals crypto/tls makes itself
// before tlsfront's verification runs (those come only through the error
// log); tlsfront's own ("client certificate refused: ...") are counted
// where they are decided.
func builtinClientCertResult(msg string) (string, bool) {
	switch {
	case strings.Contains(msg, "client didn't provide a certificate"):
		return "no_certificate", true
	case !strings.Contains(msg, "failed to verify certificate"):
		return "", false
	case strings.Contains(msg, "unknown authority"):
		return "unknown_ca", true
	case strings.Contains(msg, "expired or is not yet valid"):
		return "expired", true
	case strings.Contains(msg, "incompatible key usage"):
		return "purpose", true
	}
	return "bad_certificate", true
}
