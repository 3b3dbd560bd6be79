package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// Real HTTP/2 clients (curl, nghttp, headless Chromium) through the tlsfront
// binary, server.http2 = "tlsfront", to Apache: a page with many
// subresources, large bodies both ways, many parallel streams on one
// connection. Each request is judged at Apache's log and in tlsfront's
// access log (proto "HTTP/2.0"); afterwards tlsfront holds no more
// goroutines or files than before.

const (
	pageAssets = 60       // stylesheets and images of page.html
	slowAssets = 20       // of which answered by a CGI taking 300 ms each
	bigSize    = 16 << 20 // big.txt, downloaded whole
	upSize     = 4 << 20  // uploaded to /cgi-bin/count
)

// clientsApache serves page.html (pageAssets subresources: static
// stylesheets, and images from /cgi-bin/slow, which sleeps, so that
// streams overlap), big.txt, and /cgi-bin/count, which answers the byte
// count of the request body. Its log records each request's start and end
// (ms), to count the requests it served at once.
func clientsApache(t *testing.T) *itest.Apache {
	t.Helper()
	var page strings.Builder
	page.WriteString("<!DOCTYPE html><html><head><title>h2</title>\n")
	files := map[string]string{
		"cgi-bin/slow":  "#!/bin/sh\nsleep 0.3\necho 'Content-Type: image/gif'\necho\n",
		"cgi-bin/count": "#!/bin/sh\necho 'Content-Type: text/plain'\necho\nwc -c | tr -d ' \\n'\n",
		"big.txt":       strings.Repeat("a", bigSize),
	}
	for i := range pageAssets - slowAssets {
		files[fmt.Sprintf("res/%d.css", i)] = fmt.Sprintf(".c%d { color: red }\n", i)
		fmt.Fprintf(&page, "<link rel=stylesheet href=\"/res/%d.css\">\n", i)
	}
	page.WriteString("</head><body>\n")
	for i := range slowAssets {
		fmt.Fprintf(&page, "<img src=\"/cgi-bin/slow?%d\" alt=\"\">\n", i)
	}
	// Synchronous XHRs run before the load event, so --dump-dom sees
	// their results: a large download and a large upload.
	page.WriteString(`<div id="result">pending</div>
<script>
var get = new XMLHttpRequest(); get.open("GET", "/big.txt", false); get.send();
var post = new XMLHttpRequest(); post.open("POST", "/cgi-bin/count", false); post.send("u".repeat(` + strconv.Itoa(upSize) + `));
document.getElementById("result").textContent = "big=" + get.responseText.length + " up=" + post.responseText;
</script>
</body></html>
`)
	files["page.html"] = page.String()
	return itest.StartApache(t, itest.ApacheOptions{CGI: true, Files: files, Extra: `
LogFormat "%{begin:msec}t %{end:msec}t %r" timing
CustomLog logs/timing.log timing
`})
}

// overlap returns the most requests Apache's timing log shows in progress
// at once among those whose request line contains substr.
func overlap(t *testing.T, apache *itest.Apache, substr string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(apache.Dir, "logs", "timing.log"))
	if err != nil {
		t.Fatal(err)
	}
	type span struct{ begin, end int64 }
	var spans []span
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) < 3 || !strings.Contains(f[2], substr) {
			continue
		}
		b, _ := strconv.ParseInt(f[0], 10, 64)
		e, _ := strconv.ParseInt(f[1], 10, 64)
		spans = append(spans, span{b, e})
	}
	most := 0
	for _, s := range spans {
		n := 0
		for _, o := range spans {
			if o.begin <= s.begin && s.begin < o.end {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// h2Requests returns tlsfront's access-log entries, by path prefix, that
// were spoken in HTTP/2 with the status want.
func h2Requests(f *hostileFront, prefix string, want int) int {
	n := 0
	for _, m := range f.LogLines() {
		if m["message"] == "request" && m["proto"] == "HTTP/2.0" && m["status"] == float64(want) &&
			strings.HasPrefix(fmt.Sprint(m["path"]), prefix) {
			n++
		}
	}
	return n
}

// apacheCount counts Apache's log lines whose target starts with prefix.
func apacheCount(t *testing.T, apache *itest.Apache, prefix string) int {
	t.Helper()
	n := 0
	for _, r := range apache.Requests(t) {
		if strings.HasPrefix(r.Target, prefix) {
			n++
		}
	}
	return n
}

func TestHTTP2Clients(t *testing.T) {
	t.Parallel()
	apache := clientsApache(t)
	// At most 8 idle backend connections are kept, for the leak check.
	f := startHostile(t, hostileOptions{Backend: apache.URL, HTTP2: "tlsfront", MaxIdleConns: 8})
	if res, err := f.client(true).Get(f.url("/res/0.css")); err == nil {
		res.Body.Close()
	}
	baseGoroutines, baseFDs := settleCounts(t, f, -1, -1)

	t.Run("curl", func(t *testing.T) {
		r := itest.Curl(t, "--http2", f.url("/big.txt?curl"))
		if r.Status != 200 || r.HTTPVersion != "2" || len(r.Body) != bigSize {
			t.Errorf("curl GET big.txt: %d over HTTP/%s, %d bytes; want 200 over HTTP/2, %d bytes", r.Status, r.HTTPVersion, len(r.Body), bigSize)
		}
		up := filepath.Join(t.TempDir(), "up")
		if err := os.WriteFile(up, []byte(strings.Repeat("u", upSize)), 0o644); err != nil {
			t.Fatal(err)
		}
		r = itest.Curl(t, "--http2", "--data-binary", "@"+up, f.url("/cgi-bin/count?curl"))
		if r.Status != 200 || r.HTTPVersion != "2" || r.Body != strconv.Itoa(upSize) {
			t.Errorf("curl POST: %d over HTTP/%s, Apache counted %q; want 200 over HTTP/2, %d", r.Status, r.HTTPVersion, r.Body, upSize)
		}
	})

	t.Run("nghttp", func(t *testing.T) {
		nghttp := itest.RequireTool(t, "nghttp")
		// The page and its assets (-a), fetched in parallel on one connection.
		out, err := exec.Command(nghttp, "-n", "-s", "-a", f.url("/page.html?nghttp")).CombinedOutput()
		if err != nil {
			t.Fatalf("nghttp -a: %v\n%s", err, out)
		}
		if n := len(nghttpOK.FindAll(out, -1)); n != 1+pageAssets {
			t.Errorf("nghttp -a: %d responses with status 200, want the page and its %d assets\n%s", n, pageAssets, out)
		}
		// 8 parallel streams of the large file, 4 MiB windows; then 200
		// parallel streams of a small one.
		out, err = exec.Command(nghttp, "-n", "-s", "-w", "22", "-W", "22", "-m", "8", f.url("/big.txt?nghttp-m")).CombinedOutput()
		if err != nil {
			t.Fatalf("nghttp -m 8: %v\n%s", err, out)
		}
		if n := len(nghttpOK.FindAll(out, -1)); n != 8 {
			t.Errorf("nghttp -m 8 big.txt: %d responses with status 200, want 8\n%s", n, out)
		}
		out, err = exec.Command(nghttp, "-n", "-s", "-m", "200", f.url("/res/1.css?nghttp-m")).CombinedOutput()
		if err != nil {
			t.Fatalf("nghttp -m 200: %v\n%s", err, out)
		}
		if n := len(nghttpOK.FindAll(out, -1)); n != 200 {
			t.Errorf("nghttp -m 200: %d responses with status 200, want 200\n%s", n, out)
		}
	})

	t.Run("chromium", func(t *testing.T) {
		dom, hs := chromiumDumpDOM(t, f, "/page.html")
		if !strings.Contains(dom, fmt.Sprintf("big=%d up=%d", bigSize, upSize)) {
			t.Errorf("Chromium's page: %q, want the download and upload sizes", resultOf(dom))
		}
		// Every subresource reached Apache, spoken in HTTP/2 by the browser,
		// over few connections (a browser opens one per origin), many streams
		// of one connection in progress at once.
		for _, c := range []struct {
			prefix string
			n      int
		}{{"/page.html", 1}, {"/res/", pageAssets - slowAssets}, {"/cgi-bin/slow", slowAssets}, {"/big.txt", 1}, {"/cgi-bin/count", 1}} {
			if got := h2Requests(f, c.prefix, 200); got < c.n {
				t.Errorf("tlsfront's access log shows %d HTTP/2 requests for %s, want %d", got, c.prefix, c.n)
			}
		}
		if hs > 3 {
			t.Errorf("Chromium made %d TLS handshakes for one page, want its requests multiplexed on one or two connections", hs)
		}
		if n := overlap(t, apache, "/cgi-bin/slow"); n < 4 {
			t.Errorf("Apache served at most %d of the page's slow images at once: the browser's streams did not run in parallel", n)
		} else {
			t.Logf("Chromium: %d handshakes; Apache served up to %d of the slow images at once", hs, n)
		}
	})

	for prefix, want := range map[string]int{"/big.txt": 2 + 8, "/cgi-bin/count": 2, "/page.html": 2, "/res/": 2*(pageAssets-slowAssets) + 200 + 1, "/cgi-bin/slow": 2 * slowAssets} {
		if got := apacheCount(t, apache, prefix); got < want {
			t.Errorf("Apache logged %d requests for %s, want %d", got, prefix, want)
		}
	}
	if g, fds := settleCounts(t, f, baseGoroutines, baseFDs+8); g > baseGoroutines || fds > baseFDs+8 {
		t.Errorf("after the clients tlsfront has %d goroutines and %d open files, before %d and %d (+8 pooled)", g, fds, baseGoroutines, baseFDs)
	}
}

// nghttpOK matches a line of nghttp -s's table for a 200 response.
var nghttpOK = regexp.MustCompile(`(?m)^\s*\d+\s+\+\S+\s+\+\S+\s+\S+\s+200\s`)

// resultOf returns the text of the page's result div.
func resultOf(dom string) string {
	if i := strings.Index(dom, `id="result"`); i >= 0 {
		return dom[i:min(len(dom), i+80)]
	}
	return dom[:min(len(dom), 300)]
}

// chromiumDumpDOM loads path from f in headless Chromium (a fresh profile,
// f's certificate trusted by its key's pin, QUIC off so that HTTP/2 is
// used) and returns the DOM after the load event, and how many TLS
// handshakes tlsfront counted meanwhile.
func chromiumDumpDOM(t *testing.T, f *hostileFront, path string) (dom string, handshakes int) {
	t.Helper()
	bin := itest.RequireTool(t, "chromium")
	spki := sha256.Sum256(f.Leaf.Cert().RawSubjectPublicKeyInfo)
	before, _ := scrapeMetric(t, f.Metrics, "tlsfront_tls_handshakes_total")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--ignore-certificate-errors-spki-list="+base64.StdEncoding.EncodeToString(spki[:]),
		fmt.Sprintf("--host-resolver-rules=MAP localhost:%d 127.0.0.1:%d", f.HTTPSPort, f.HTTPSPort),
		"--dump-dom", f.url(path))
	var stderr itest.SyncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || ctx.Err() != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	after, _ := scrapeMetric(t, f.Metrics, "tlsfront_tls_handshakes_total")
	return string(out), int(after - before)
}
