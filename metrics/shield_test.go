package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

type fakeShield struct {
	len, size, max, clients int
	evicted, refused        uint64
}

func (f *fakeShield) Len() int        { return f.len }
func (f *fakeShield) Size() int       { return f.size }
func (f *fakeShield) Evicted() uint64 { return f.evicted }
func (f *fakeShield) Max() int        { return f.max }
func (f *fakeShield) Clients() int    { return f.clients }
func (f *fakeShield) Refused() uint64 { return f.refused }

func TestShield(t *testing.T) {
	m := New(Options{})
	f := &fakeShield{len: 12, size: 100000, evicted: 3, max: 20, clients: 5, refused: 9}
	m.WatchShield(f, f)
	m.ShieldRefusal("www.example.com", "/server-status", "denied")
	m.ShieldRefusal("www.example.com", "/server-status", "denied")
	m.ShieldRefusal("www.example.com", "/login", "rate_limited")
	m.ShieldRefusal("www.example.com", "", "ambiguous_path")
	fams := scrape(t, m)
	for _, tt := range []struct {
		name, labels string
		want         float64
	}{
		{"tlsfront_shield_table_entries", "", 12},
		{"tlsfront_shield_table_size", "", 100000},
		{"tlsfront_shield_table_evictions_total", "", 3},
		{"tlsfront_shield_connection_clients", "", 5},
		{"tlsfront_shield_connections_limit_per_client", "", 20},
		{"tlsfront_shield_connections_refused_total", "", 9},
		{"tlsfront_shield_refusals_total", "reason=denied,rule=/server-status,site=www.example.com", 2},
		{"tlsfront_shield_refusals_total", "reason=rate_limited,rule=/login,site=www.example.com", 1},
		{"tlsfront_shield_refusals_total", "reason=ambiguous_path,rule=,site=www.example.com", 1},
	} {
		if got := value(fams, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s{%s} = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	f.len, f.refused = 40, 10
	fams = scrape(t, m)
	if got := value(fams, "tlsfront_shield_table_entries", ""); got != 40 {
		t.Errorf("table entries = %v, want 40 (read at scrape time)", got)
	}

	gathered, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, fam := range gathered {
		if strings.HasPrefix(fam.GetName(), "tlsfront_shield_") {
			ours = append(ours, fam)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
