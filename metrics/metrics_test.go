package metrics

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics from m.Handler and parses the text exposition.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics Content-Type %q, want text/plain", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	return fams
}

// series returns the metrics of family name as "label=value,..." -> metric.
func series(fams map[string]*dto.MetricFamily, name string) map[string]*dto.Metric {
	out := map[string]*dto.Metric{}
	f := fams[name]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		out[strings.Join(ls, ",")] = m
	}
	return out
}

// value is a counter's or gauge's value; 0 when the series is absent
// (a counter never incremented).
func value(fams map[string]*dto.MetricFamily, name, labels string) float64 {
	m, ok := series(fams, name)[labels]
	if !ok {
		return 0
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestRequests(t *testing.T) {
	m := New(Options{MaxSites: 2})
	m.Request("a.example", "HTTP/1.1", 200, 0.003)
	m.Request("a.example", "HTTP/1.1", 200, 0.2)
	m.Request("a.example", "HTTP/2.0", 502, 4)
	m.Request("b.example", "HTTP/1.1", 301, -1) // answered by tlsfront: no latency
	m.Request("c.example", "HTTP/1.1", 200, 0.01)
	m.Request("d.example", "SPDY/3", 999, 0.01)
	fams := scrape(t, m)
	for _, tc := range []struct {
		name, labels string
		want         float64
	}{
		{"first site, h1", "protocol=HTTP/1.1,site=a.example,status=200", 2},
		{"first site, h2", "protocol=HTTP/2.0,site=a.example,status=502", 1},
		{"second site", "protocol=HTTP/1.1,site=b.example,status=301", 1},
		{"third site is over MaxSites", "protocol=HTTP/1.1,site=other,status=200", 1},
		{"odd protocol and status", "protocol=other,site=other,status=other", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := value(fams, "tlsfront_http_requests_total", tc.labels); got != tc.want {
				t.Errorf("requests{%s} = %v, want %v", tc.labels, got, tc.want)
			}
		})
	}
	if n := len(series(fams, "tlsfront_http_requests_total")); n != 5 {
		t.Errorf("%d request series, want 5", n)
	}

	lat := series(fams, "tlsfront_backend_duration_seconds")
	h := lat["site=a.example"].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 4.203 {
		t.Errorf("a.example latency: count %d sum %v, want 3 and 4.203", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := map[float64]uint64{.005: 1, .1: 1, .25: 2, 2.5: 2, 5: 3, 60: 3}[b.GetUpperBound()]
		if want != 0 && b.GetCumulativeCount() != want {
			t.Errorf("a.example bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if _, ok := lat["site=b.example"]; ok {
		t.Error("b.example has a latency series although the backend was never asked")
	}
	if got := lat["site=other"].GetHistogram().GetSampleCount(); got != 2 {
		t.Errorf("other's latency count %d, want 2", got)
	}
}

func TestRequestHeadersDropped(t *testing.T) {
	m := New(Options{})
	if got := value(scrape(t, m), "tlsfront_request_headers_dropped_total", ""); got != 0 {
		t.Fatalf("before any drop: %v", got)
	}
	m.RequestHeadersDropped(2)
	m.RequestHeadersDropped(0)
	m.RequestHeadersDropped(-1)
	m.RequestHeadersDropped(1)
	if got := value(scrape(t, m), "tlsfront_request_headers_dropped_total", ""); got != 3 {
		t.Errorf("tlsfront_request_headers_dropped_total = %v, want 3", got)
	}
}

func TestHandshakeCounts(t *testing.T) {
	m := New(Options{})
	m.Handshake(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256)
	m.Handshake(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256)
	m.Handshake(tls.VersionTLS10, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA)
	m.HandshakeFailure(ReasonNoSharedCipher)
	m.HandshakeFailure("made up")
	fams := scrape(t, m)
	for _, tc := range []struct {
		metric, labels string
		want           float64
	}{
		{"tlsfront_tls_handshakes_total", "suite=TLS_AES_128_GCM_SHA256,version=TLS 1.3", 2},
		{"tlsfront_tls_handshakes_total", "suite=TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,version=TLS 1.0", 1},
		{"tlsfront_tls_handshake_failures_total", "reason=no_shared_cipher", 1},
		{"tlsfront_tls_handshake_failures_total", "reason=other", 1},
		{"tlsfront_tls_handshake_failures_total", "reason=timeout", 0}, // every reason exists from the start
	} {
		if got := value(fams, tc.metric, tc.labels); got != tc.want {
			t.Errorf("%s{%s} = %v, want %v", tc.metric, tc.labels, got, tc.want)
		}
	}
	if n := len(series(fams, "tlsfront_tls_handshake_failures_total")); n != len(FailureReasons) {
		t.Errorf("%d failure series, want exactly the %d reasons", n, len(FailureReasons))
	}
}

func TestExpiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	m := New(Options{Now: func() time.Time { return clock }})
	m.SetCertificate("a.example ecdsa", now.Add(90*24*time.Hour))
	m.SetCertificate("old.example rsa", now.Add(-time.Hour))
	m.SetStaple("a.example ecdsa", now.Add(7*24*time.Hour))
	m.SetStaple("b.example rsa", time.Time{})

	fams := scrape(t, m)
	for _, tc := range []struct {
		metric, labels string
		want           float64
	}{
		{"tlsfront_certificate_expiry_seconds", "name=a.example ecdsa", 90 * 86400},
		{"tlsfront_certificate_expiry_seconds", "name=old.example rsa", -3600},
		{"tlsfront_ocsp_staple_validity_seconds", "name=a.example ecdsa", 7 * 86400},
		{"tlsfront_ocsp_staple_validity_seconds", "name=b.example rsa", 0},
	} {
		if _, ok := series(fams, tc.metric)[tc.labels]; !ok {
			t.Errorf("%s{%s} is missing", tc.metric, tc.labels)
		}
		if got := value(fams, tc.metric, tc.labels); got != tc.want {
			t.Errorf("%s{%s} = %v, want %v", tc.metric, tc.labels, got, tc.want)
		}
	}

	clock = now.Add(24 * time.Hour) // computed at scrape time
	fams = scrape(t, m)
	if got := value(fams, "tlsfront_certificate_expiry_seconds", "name=a.example ecdsa"); got != 89*86400 {
		t.Errorf("a day later: %v seconds left, want %v", got, 89*86400)
	}

	m.ResetCertificates()
	m.SetCertificate("new.example ecdsa", clock.Add(time.Hour))
	fams = scrape(t, m)
	if n := len(series(fams, "tlsfront_certificate_expiry_seconds")); n != 1 {
		t.Errorf("after ResetCertificates: %d certificate series, want 1", n)
	}
	if n := len(series(fams, "tlsfront_ocsp_staple_validity_seconds")); n != 0 {
		t.Errorf("after ResetCertificates: %d staple series, want 0", n)
	}
}

func TestReload(t *testing.T) {
	m := New(Options{})
	if got := value(scrape(t, m), "tlsfront_last_reload_successful", ""); got != 1 {
		t.Errorf("before any reload: last_reload_successful %v, want 1", got)
	}
	m.Reload(true)
	m.Reload(false)
	fams := scrape(t, m)
	for labels, want := range map[string]float64{"result=success": 1, "result=failure": 1} {
		if got := value(fams, "tlsfront_reloads_total", labels); got != want {
			t.Errorf("reloads{%s} = %v, want %v", labels, got, want)
		}
	}
	if got := value(fams, "tlsfront_last_reload_successful", ""); got != 0 {
		t.Errorf("after a failed reload: last_reload_successful %v, want 0", got)
	}
}

func TestHealthz(t *testing.T) {
	healthy := true
	m := New(Options{Healthy: func() bool { return healthy }})
	for _, tc := range []struct {
		name     string
		healthy  bool
		wantCode int
		wantBody string
	}{
		{"healthy", true, 200, "ok\n"},
		{"unhealthy", false, 503, "unhealthy\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			healthy = tc.healthy
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			if rec.Code != tc.wantCode || rec.Body.String() != tc.wantBody {
				t.Errorf("GET /healthz = %d %q, want %d %q", rec.Code, rec.Body, tc.wantCode, tc.wantBody)
			}
		})
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET / = %d, want 404", rec.Code)
	}
}

// TestPrivateRegistry: nothing lands in the process-wide default registry.
func TestPrivateRegistry(t *testing.T) {
	m := New(Options{Version: "v1.2.3"})
	m.Request("a", "HTTP/1.1", 200, 0)
	fams, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "tlsfront_") {
			t.Errorf("%s is in the default registry", f.GetName())
		}
	}
	if got := value(scrape(t, m), "tlsfront_build_info", "version=v1.2.3"); got != 1 {
		t.Errorf("build_info{version=v1.2.3} = %v, want 1", got)
	}
	// Two instances (a test and a reload, say) do not collide.
	New(Options{})
}

// TestLint runs promlint, Prometheus' naming and help checks, over every
// tlsfront metric.
func TestLint(t *testing.T) {
	m := New(Options{Version: "dev"})
	m.Handshake(tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
	m.Request("a", "HTTP/1.1", 200, 0.1)
	m.SetCertificate("a", time.Now())
	m.SetStaple("a", time.Now())
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "tlsfront_") {
			ours = append(ours, f)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	if len(ours) < 9 {
		t.Errorf("only %d tlsfront families gathered", len(ours))
	}
}

// TestHotPathAllocs: once a label combination has been seen, the per-request
// and per-connection methods allocate nothing.
func TestHotPathAllocs(t *testing.T) {
	m := New(Options{})
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Request", func() { m.Request("a.example", "HTTP/1.1", 200, 0.01) }},
		{"Request without backend", func() { m.Request("a.example", "HTTP/2.0", 301, -1) }},
		{"Handshake", func() { m.Handshake(tls.VersionTLS13, tls.TLS_AES_256_GCM_SHA384) }},
		{"HandshakeFailure", func() { m.HandshakeFailure(ReasonEOF) }},
		{"Reload", func() { m.Reload(true) }},
		{"RequestHeadersDropped", func() { m.RequestHeadersDropped(1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f()
			if n := testing.AllocsPerRun(100, tc.f); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}

func BenchmarkRequest(b *testing.B) {
	m := New(Options{})
	sites := []string{"a.example", "b.example", "c.example"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Request(sites[i%3], "HTTP/1.1", 200, 0.012)
			i++
		}
	})
}

func BenchmarkHandshake(b *testing.B) {
	m := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Handshake(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256)
		}
	})
}

func BenchmarkScrape(b *testing.B) {
	m := New(Options{})
	for i := range 50 {
		m.Request("site"+string(rune('a'+i%26)), "HTTP/1.1", 200+i%5, 0.01)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		_, _ = io.Copy(io.Discard, rec.Body)
	}
}
