package shield

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// TestNginxAgreement runs the same request patterns through nginx's
// limit_req (nginx 1.22 here) and through a Shield with the same rules, and
// compares what each served and refused, request by request. The patterns
// leave hundreds of milliseconds of margin around every decision, so the
// comparison holds whatever the scheduling; nothing about time is asserted.
func TestNginxAgreement(t *testing.T) {
	bin := itest.RequireTool(t, "nginx")
	base := startNginx(t, bin, `
  limit_req_zone $http_x_client zone=nodelay:1m rate=2r/s;
  limit_req_zone $http_x_client zone=delay:1m rate=2r/s;
  limit_req_zone $http_x_client zone=slow:1m rate=1r/s;
  limit_req_zone $http_x_client zone=fast:1m rate=10r/s;
  limit_req_status 429;
  server {
    listen 127.0.0.1:%d;
    root %s;
    location /nodelay/ { limit_req zone=nodelay burst=3 nodelay; }
    location /delay/ { limit_req zone=delay burst=3; }
    location /multi/ { limit_req zone=slow burst=5 nodelay; limit_req zone=fast nodelay; }
    location / { limit_req zone=slow burst=5 nodelay; }
  }`, "nodelay", "delay", "multi", "other")
	s, err := New(Options{Sites: []Site{{Name: "n", Rules: []Rule{
		{Path: "/nodelay", Rate: "2r/s", Burst: 3},
		{Path: "/delay", Rate: "2r/s", Burst: 3, Delay: true},
		{Path: "/multi", Rate: "10r/s"},
		{Path: "/", Rate: "1r/s", Burst: 5},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	get := func(t *testing.T, path, who string) byte {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("X-Client", who)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s from nginx: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case 200:
			return '.'
		case 429:
			return 'L'
		}
		t.Fatalf("GET %s from nginx: %s", path, res.Status)
		return 0
	}
	// Each pattern is a client key (nginx's zone key, the shield's client
	// address) and steps: paths to request one after the other, or a pause.
	type step struct {
		path  string
		n     int
		pause time.Duration
	}
	for _, p := range []struct {
		name  string
		who   string
		steps []step
	}{
		{"nodelay: burst+1 at once, then what 1.25s drained", "192.0.2.1", []step{{path: "/nodelay/", n: 10}, {pause: 1250 * time.Millisecond}, {path: "/nodelay/", n: 6}}},
		{"a request refused by one limit is charged to none", "192.0.2.2", []step{{path: "/multi/", n: 3}, {path: "/other/", n: 7}}},
	} {
		t.Run(p.name, func(t *testing.T) {
			var fromNginx, fromShield []byte
			who := netip.MustParseAddr(p.who)
			for _, st := range p.steps {
				time.Sleep(st.pause)
				for range st.n {
					fromShield = append(fromShield, verdicts([]Decision{s.Check(0, st.path, who)})[0])
					fromNginx = append(fromNginx, get(t, st.path, p.who))
				}
			}
			if string(fromNginx) != string(fromShield) {
				t.Errorf("nginx: %s\nshield: %s\n(. served, L refused with 429)", fromNginx, fromShield)
			}
		})
	}

	// delay = true: simultaneous requests; nginx holds the excess ones
	// (the shield says how long) and refuses past the burst.
	t.Run("delay: burst+1 served, the excess held", func(t *testing.T) {
		const n = 6
		var mu sync.Mutex
		var wg sync.WaitGroup
		served := 0
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if get(t, "/delay/", "192.0.2.3") == '.' {
					mu.Lock()
					served++
					mu.Unlock()
				}
			}()
		}
		got := verdicts(burstOf(s, n, "/delay/", netip.MustParseAddr("192.0.2.3")))
		wg.Wait()
		if got != ".DDDLL" || served != 4 {
			t.Errorf("6 at once: nginx served %d, the shield says %s; want 4 and .DDDLL (1 at once, 3 delayed)", served, got)
		}
	})
}

// startNginx runs nginx with the http block body (a format with the port
// and the document root), serving index.html under each of dirs, and
// returns its base URL.
func startNginx(t *testing.T, bin, body string, dirs ...string) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "html")
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, d, "index.html"), []byte("ok\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{dir, filepath.Dir(dir)} { // nginx's workers run as nobody under root
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := itest.FreePort(t)
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, fmt.Sprintf(body, port, root))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", path)
	out := &itest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // fast shutdown: the workers exit at once
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s", out.String(), b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not listening on %s after 10s: %s", addr, out.String())
		}
	}
}
