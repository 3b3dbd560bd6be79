package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

type fakeLimit struct {
	max, open int
	refused   uint64
}

func (f *fakeLimit) Max() int        { return f.max }
func (f *fakeLimit) Open() int       { return f.open }
func (f *fakeLimit) Refused() uint64 { return f.refused }

func TestWatchConnLimit(t *testing.T) {
	m := New(Options{})
	l := &fakeLimit{max: 100}
	m.WatchConnLimit(l)
	fams := scrape(t, m)
	if got := value(fams, "tlsfront_connections_limit", ""); got != 100 {
		t.Errorf("tlsfront_connections_limit = %v, want 100", got)
	}
	if got := value(fams, "tlsfront_connections_refused_total", ""); got != 0 {
		t.Errorf("refused before any refusal = %v, want 0", got)
	}
	if _, ok := fams["tlsfront_connections_refused_total"]; !ok {
		t.Error("tlsfront_connections_refused_total is not exported before the first refusal")
	}
	l.refused, l.max = 7, 0
	fams = scrape(t, m)
	if got := value(fams, "tlsfront_connections_refused_total", ""); got != 7 {
		t.Errorf("refused = %v, want 7 (read at scrape time)", got)
	}
	if got := value(fams, "tlsfront_connections_limit", ""); got != 0 {
		t.Errorf("limit = %v after it was lifted, want 0", got)
	}

	gathered, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, f := range gathered {
		if strings.HasPrefix(f.GetName(), "tlsfront_connections_") {
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
}
