package metrics

import (
	"log"
	"testing"
	"time"
)

func TestClientCertMetrics(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := New(Options{Now: func() time.Time { return now }})
	m.ResetCRLs()
	m.SetCRL("CN=CA", "/etc/tlsfront/ca.crl", now.Add(-2*time.Hour), now.Add(22*time.Hour))
	m.SetCRL("CN=Sub", "http://crl.example/sub.crl", time.Time{}, time.Time{}) // not downloaded yet
	m.ClientCertVerification("success")
	m.ClientCertVerification("success")
	m.ClientCertVerification("revoked")

	// crypto/tls's own refusals reach the metrics through the error log.
	l := log.New(m.HandshakeErrorLog(nil), "", 0)
	l.Print("http: TLS handshake error from 192.0.2.1:1234: tls: failed to verify certificate: x509: certificate signed by unknown authority")
	l.Print("http: TLS handshake error from 192.0.2.1:1235: tls: client didn't provide a certificate")
	l.Print("http: TLS handshake error from 192.0.2.1:1236: client certificate refused: certificate revoked (subject CN=x)")

	fams := scrape(t, m)
	for _, tc := range []struct {
		metric, labels string
		want           float64
	}{
		{"tlsfront_client_cert_verifications_total", "result=success", 2},
		{"tlsfront_client_cert_verifications_total", "result=revoked", 1}, // not counted twice from the log
		{"tlsfront_client_cert_verifications_total", "result=unknown_ca", 1},
		{"tlsfront_client_cert_verifications_total", "result=no_certificate", 1},
		{"tlsfront_tls_handshake_failures_total", "reason=client_certificate", 3},
		{"tlsfront_crl_age_seconds", "issuer=CN=CA,source=/etc/tlsfront/ca.crl", 7200},
		{"tlsfront_crl_next_update_seconds", "issuer=CN=CA,source=/etc/tlsfront/ca.crl", 22 * 3600},
	} {
		if got := value(fams, tc.metric, tc.labels); got != tc.want {
			t.Errorf("%s{%s} = %v, want %v", tc.metric, tc.labels, got, tc.want)
		}
	}
	if n := len(series(fams, "tlsfront_crl_age_seconds")); n != 1 {
		t.Errorf("%d CRL age series, want 1 (none for a CRL not held yet)", n)
	}
	m.ResetCRLs()
	if n := len(series(scrape(t, m), "tlsfront_crl_age_seconds")); n != 0 {
		t.Errorf("after ResetCRLs: %d series", n)
	}
}
