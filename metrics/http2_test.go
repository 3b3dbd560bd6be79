package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

type fakeHTTP2 struct{ glitches, closes uint64 }

func (f *fakeHTTP2) Glitches() uint64     { return f.glitches }
func (f *fakeHTTP2) GlitchCloses() uint64 { return f.closes }

func TestWatchHTTP2(t *testing.T) {
	m := New(Options{})
	h := &fakeHTTP2{}
	m.WatchHTTP2(h)
	fams := scrape(t, m)
	for _, name := range []string{"tlsfront_http2_glitches_total", "tlsfront_http2_glitch_closes_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s is not exported before the first glitch", name)
		}
	}
	h.glitches, h.closes = 2500, 2
	fams = scrape(t, m)
	if got := value(fams, "tlsfront_http2_glitches_total", ""); got != 2500 {
		t.Errorf("glitches = %v, want 2500 (read at scrape time)", got)
	}
	if got := value(fams, "tlsfront_http2_glitch_closes_total", ""); got != 2 {
		t.Errorf("glitch closes = %v, want 2", got)
	}
	gathered, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, f := range gathered {
		if strings.HasPrefix(f.GetName(), "tlsfront_http2_") {
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
