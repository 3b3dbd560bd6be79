package integration

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// TestSoak is the soak benchmark, not part of CI: it runs only when
// TLSFRONT_SOAK is a duration ("30m"; RELIABILITY.md records the runs).
// Eight clients (four HTTP/1.1, four HTTP/2; GETs, and every tenth request
// a 64 KiB POST) load tlsfront in front of Apache while it is reloaded
// with SIGHUP every 10 s. Every request must succeed; tlsfront's RSS and
// goroutine count, sampled every 10 s (the curve is logged, and written as
// CSV to TLSFRONT_SOAK_CSV when set), must stay flat: the mean of the last
// third within 15 % (RSS) and 10 % + 5 (goroutines) of the mean of the
// first third after a one-minute warm-up.
func TestSoak(t *testing.T) {
	spec := os.Getenv("TLSFRONT_SOAK")
	if spec == "" {
		t.Skip("set TLSFRONT_SOAK to a duration (e.g. 30m) to run the soak benchmark")
	}
	total, err := time.ParseDuration(spec)
	if err != nil || total < 2*time.Minute {
		t.Fatalf("TLSFRONT_SOAK = %q: want a duration of at least 2m", spec)
	}
	apache := itest.StartApache(t, itest.ApacheOptions{Files: map[string]string{"big.html": strings.Repeat("x", 32<<10)}})
	// TLSFRONT_SOAK_HTTP2 picks server.http2 (default: the configuration's default).
	f := startHostile(t, hostileOptions{Backend: apache.URL, NoAccessLog: true, HTTP2: os.Getenv("TLSFRONT_SOAK_HTTP2")})

	var requests, failures atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := f.client(w%2 == 1)
			defer c.CloseIdleConnections()
			body := strings.Repeat("p", 64<<10)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := []string{"/", "/big.html", "/dir/"}[i%3]
				var err error
				var status int
				if i%10 == 9 {
					res, e := c.Post(f.url("/?post"), "text/plain", strings.NewReader(body))
					if err = e; e == nil {
						status = res.StatusCode
						drainBody(res.Body)
						res.Body.Close()
					}
				} else {
					res, e := c.Get(f.url(path))
					if err = e; e == nil {
						status = res.StatusCode
						_, err = io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				}
				requests.Add(1)
				if err == nil && status >= 500 {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("worker %d request %d %s: %v", w, i, path, err))
				}
			}
		}(w)
	}

	type sample struct {
		at                  time.Duration
		rssKB, goroutines   int
		requests, openFiles int
	}
	var samples []sample
	start := time.Now()
	reloads := 0
	tick := time.NewTicker(10 * time.Second)
	for now := range tick.C {
		el := now.Sub(start)
		g, _ := scrapeMetric(t, f.Metrics, "go_goroutines")
		s := sample{at: el.Round(time.Second), rssKB: rssKB(t, f.PID), goroutines: int(g), requests: int(requests.Load()), openFiles: openFDs(t, f.PID)}
		samples = append(samples, s)
		t.Logf("soak %8v  rss %6d KiB  goroutines %4d  open files %4d  requests %8d  failures %d",
			s.at, s.rssKB, s.goroutines, s.openFiles, s.requests, failures.Load())
		if el >= total {
			break
		}
		syscall.Kill(f.PID, syscall.SIGHUP)
		reloads++
	}
	tick.Stop()
	close(stop)
	wg.Wait()

	if out := os.Getenv("TLSFRONT_SOAK_CSV"); out != "" {
		var b strings.Builder
		b.WriteString("seconds,rss_kib,goroutines,open_files,requests\n")
		for _, s := range samples {
			fmt.Fprintf(&b, "%d,%d,%d,%d,%d\n", int(s.at.Seconds()), s.rssKB, s.goroutines, s.openFiles, s.requests)
		}
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	got := 0
	for _, m := range f.LogLines() {
		if m["message"] == "reloaded" {
			got++
		}
	}
	t.Logf("%d requests in %v (%.0f/s), %d failures, %d reloads sent, %d logged as done",
		requests.Load(), total, float64(requests.Load())/total.Seconds(), failures.Load(), reloads, got)
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, requests.Load(), firstErr.Load())
	}
	if got < reloads-1 { // the last SIGHUP may still be in flight
		t.Errorf("%d reloads logged as done of %d sent", got, reloads)
	}

	var steady []sample
	for _, s := range samples {
		if s.at >= time.Minute {
			steady = append(steady, s)
		}
	}
	third := len(steady) / 3
	if third < 2 {
		t.Fatalf("only %d samples after the warm-up: run longer", len(steady))
	}
	mean := func(ss []sample, f func(sample) int) float64 {
		sum := 0
		for _, s := range ss {
			sum += f(s)
		}
		return float64(sum) / float64(len(ss))
	}
	rss := func(s sample) int { return s.rssKB }
	gor := func(s sample) int { return s.goroutines }
	r0, r1 := mean(steady[:third], rss), mean(steady[len(steady)-third:], rss)
	g0, g1 := mean(steady[:third], gor), mean(steady[len(steady)-third:], gor)
	t.Logf("first third after warm-up: rss %.0f KiB, goroutines %.1f; last third: rss %.0f KiB (%+.1f %%), goroutines %.1f",
		r0, g0, r1, 100*(r1-r0)/r0, g1)
	if r1 > 1.15*r0 {
		t.Errorf("RSS grew from %.0f to %.0f KiB over the soak", r0, r1)
	}
	if g1 > 1.1*g0+5 {
		t.Errorf("goroutines grew from %.1f to %.1f over the soak", g0, g1)
	}
}
