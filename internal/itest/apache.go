package itest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apacheModules is where Debian keeps Apache's loadable modules.
const apacheModules = "/usr/lib/apache2/modules"

// ApacheOptions configures StartApache. The zero value is a plain-HTTP
// backend on a free port of 127.0.0.1.
type ApacheOptions struct {
	// TLS, when set, makes the listener HTTPS with mod_ssl. Nil means plain
	// HTTP, the way tlsfront's backends run.
	TLS *ApacheTLS
	// Files are extra files for the document root, by slash-separated path
	// relative to it. Nil adds none.
	Files map[string]string
	// Extra is appended verbatim to the server configuration. Empty adds
	// nothing.
	Extra string
	// CGI runs Apache with the prefork MPM and mod_cgi and serves
	// /cgi-bin/env, a #!/bin/sh CGI printing its environment (env) as
	// text/plain: request headers appear there as a CGI or PHP application
	// sees them, HTTP_ + the name upper-cased with "-" as "_". False keeps
	// mpm_event and no CGI.
	CGI bool
}

// cgiEnvScript is /cgi-bin/env of ApacheOptions.CGI.
const cgiEnvScript = "#!/bin/sh\necho 'Content-Type: text/plain'\necho\nenv\n"

// ApacheTLS configures mod_ssl for StartApache.
type ApacheTLS struct {
	// CertFile is the certificate chain PEM (leaf first). Required.
	CertFile string
	// KeyFile is the private key PEM. Required.
	KeyFile string
	// Protocol is the SSLProtocol value. Empty means "all -SSLv3".
	Protocol string
	// CipherSuite is the SSLCipherSuite value. Empty means mod_ssl's default.
	CipherSuite string
	// HonorCipherOrder sets SSLHonorCipherOrder on. False leaves it off.
	HonorCipherOrder bool
	// Stapling sets SSLUseStapling on with a shared-memory stapling cache.
	// False leaves stapling off.
	Stapling bool
	// ReadyCert is the client certificate the start-up probe presents,
	// for a server configured (in Extra) with SSLVerifyClient require. Nil
	// presents none.
	ReadyCert *tls.Certificate
}

// Apache is a running private Apache instance.
type Apache struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Addr is "127.0.0.1:Port".
	Addr string
	// URL is "http://127.0.0.1:Port" (https with TLS), without a slash.
	URL string
	// Marker is a random string served in /index.html and nowhere else.
	Marker string
	// Dir is the instance's ServerRoot: config, logs and document root.
	Dir string

	cmd       *exec.Cmd
	done      chan struct{}
	readyCert *tls.Certificate
	logPath   string
	errPath   string
	out       *SyncBuffer
}

// ApacheRequest is one line of the access log.
type ApacheRequest struct {
	// Method, Target and Proto are the parts of the request line as the
	// client sent it (before mod_dir's internal redirects).
	Method, Target, Proto string
	// Host, XForwardedFor, XForwardedProto, XForwardedHost, ContentLength
	// and TransferEncoding are the request headers; "" when absent.
	Host, XForwardedFor, XForwardedProto, XForwardedHost string
	ContentLength, TransferEncoding                      string
	// Connection is the Connection request header; "" when absent.
	Connection string
	// Status is the final response status.
	Status int
	// RemoteAddr and RemotePort identify the client connection; requests
	// sharing them came over one kept-alive connection.
	RemoteAddr string
	RemotePort int
	// KeepAlives is how many requests came before this one on its
	// connection (Apache's %k).
	KeepAlives int
	// Line is the raw log line.
	Line string
}

// logFormat is tab separated; Apache escapes tabs, quotes, backslashes and
// control characters inside fields (\t, \", \\, \xhh).
const logFormat = `%r\t%{Host}i\t%{X-Forwarded-For}i\t%{X-Forwarded-Proto}i\t%{X-Forwarded-Host}i\t` +
	`%{Content-Length}i\t%{Transfer-Encoding}i\t%{Connection}i\t%>s\t%a\t%{remote}p\t%k`

// StartApache starts a private Apache 2.4 instance in the foreground and
// stops it when the test ends. The document root serves /index.html with
// Marker, /dir/ (so GET /dir gets mod_dir's 301 to http://<Host>/dir/) and
// /cookie/ (which sets the cookie "a=b; Path=/"); every response echoes
// the X-Forwarded-* request headers.
func StartApache(t testing.TB, o ApacheOptions) *Apache {
	t.Helper()
	bin := RequireTool(t, "apache2")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		a, err := startApache(t, bin, o)
		if err == nil {
			return a
		}
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	t.Fatalf("starting apache: %v", lastErr)
	return nil
}

func startApache(t testing.TB, bin string, o ApacheOptions) (*Apache, error) {
	t.Helper()
	dir := tempDir(t)
	port := FreePort(t)
	a := &Apache{
		Port:    port,
		Addr:    fmt.Sprintf("127.0.0.1:%d", port),
		Marker:  "itest-apache-index-" + randomHex(8),
		Dir:     dir,
		logPath: filepath.Join(dir, "logs", "access.log"),
		errPath: filepath.Join(dir, "logs", "error.log"),
		done:    make(chan struct{}),
		out:     &SyncBuffer{},
	}
	scheme := "http"
	if o.TLS != nil {
		scheme = "https"
	}
	a.URL = scheme + "://" + a.Addr

	files := map[string]string{
		"index.html":        "<html><body>" + a.Marker + "</body></html>\n",
		"dir/index.html":    "<html><body>dir</body></html>\n",
		"cookie/index.html": "<html><body>cookie</body></html>\n",
	}
	for k, v := range o.Files {
		files[k] = v
	}
	for _, d := range []string{"htdocs", "logs", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if o.CGI {
		files["cgi-bin/env"] = cgiEnvScript
	}
	for name, body := range files {
		p := filepath.Join(dir, "htdocs", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "cgi-bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(conf, []byte(apacheConfig(a, o)), 0o644); err != nil {
		return nil, err
	}

	if o.TLS != nil {
		a.readyCert = o.TLS.ReadyCert
	}
	a.cmd = exec.Command(bin, "-f", conf, "-DFOREGROUND")
	a.cmd.Dir = dir
	a.cmd.Stdout = a.out
	a.cmd.Stderr = a.out
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	go func() {
		_ = a.cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() { a.stop(t) })

	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-a.done:
			return nil, fmt.Errorf("apache exited during start-up: %s\n%s", a.out.String(), readFile(a.errPath))
		default:
		}
		if a.ready() {
			return a, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("apache did not serve %s within 15s: %s\n%s", a.URL, a.out.String(), readFile(a.errPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func apacheConfig(a *Apache, o ApacheOptions) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("ServerRoot %q", a.Dir)
	p("ServerName 127.0.0.1")
	p("Listen %s", a.Addr)
	p("PidFile %q", filepath.Join(a.Dir, "run", "httpd.pid"))
	p("DefaultRuntimeDir %q", filepath.Join(a.Dir, "run"))
	p("ErrorLog %q", a.errPath)
	p("LogLevel warn")
	if os.Geteuid() == 0 {
		p("User www-data")
		p("Group www-data")
	}
	mods := []string{"mpm_event", "authz_core", "dir", "mime", "headers"}
	if o.CGI {
		mods = append([]string{"mpm_prefork", "cgi"}, mods[1:]...) // mod_cgi needs a non-threaded MPM
	}
	if o.TLS != nil {
		mods = append(mods, "socache_shmcb", "ssl")
	}
	for _, m := range mods {
		p("LoadModule %s_module %s/mod_%s.so", m, apacheModules, m)
	}
	if _, err := os.Stat("/etc/mime.types"); err == nil {
		p("TypesConfig /etc/mime.types")
	} else {
		p("TypesConfig /dev/null")
	}
	p("AddType text/html .html")
	p("DocumentRoot %q", filepath.Join(a.Dir, "htdocs"))
	p("DirectoryIndex index.html")
	p("<Directory />\n  Require all granted\n  AllowOverride None\n</Directory>")
	if o.CGI {
		p("<Directory %q>\n  Options +ExecCGI\n  SetHandler cgi-script\n</Directory>", filepath.Join(a.Dir, "htdocs", "cgi-bin"))
	}
	p("KeepAlive On")
	p("MaxKeepAliveRequests 0")
	p("KeepAliveTimeout 30")
	p("Header echo ^X-Forwarded-")
	p("<Location /cookie>\n  Header set Set-Cookie \"a=b; Path=/\"\n</Location>")
	p("BufferedLogs Off")
	p("LogFormat %q itest", logFormat)
	p("CustomLog %q itest", a.logPath)
	if tc := o.TLS; tc != nil {
		p("SSLEngine on")
		p("SSLCertificateFile %q", tc.CertFile)
		p("SSLCertificateKeyFile %q", tc.KeyFile)
		p("SSLSessionCache %q", "shmcb:"+filepath.Join(a.Dir, "run", "ssl_scache")+"(512000)")
		proto := tc.Protocol
		if proto == "" {
			proto = "all -SSLv3"
		}
		p("SSLProtocol %s", proto)
		if tc.CipherSuite != "" {
			p("SSLCipherSuite %q", tc.CipherSuite)
		}
		if tc.HonorCipherOrder {
			p("SSLHonorCipherOrder on")
		}
		p("SSLCompression off")
		if tc.Stapling {
			p("SSLUseStapling on")
			p("SSLStaplingCache %q", "shmcb:"+filepath.Join(a.Dir, "run", "ssl_stapling")+"(128000)")
		}
	}
	b.WriteString(o.Extra)
	b.WriteString("\n")
	return b.String()
}

// ready reports whether Apache serves its index with the marker (the
// document root is readable by its children). The request is logged with
// the target "/?itest-ready".
func (a *Apache) ready() bool {
	c := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, GetClientCertificate: a.clientCert}, DisableKeepAlives: true},
	}
	resp, err := c.Get(a.URL + "/?itest-ready")
	if err != nil {
		return false
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(a.Marker))
}

// clientCert presents readyCert (or none) to a server asking for one.
func (a *Apache) clientCert(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if a.readyCert == nil {
		return &tls.Certificate{}, nil
	}
	return a.readyCert, nil
}

// stop ends Apache with SIGTERM (it stops its children), then makes sure no
// process of its group is left.
func (a *Apache) stop(t testing.TB) {
	t.Helper()
	pgid := a.cmd.Process.Pid
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Errorf("apache (pid %d) ignored SIGTERM for 10s; killing it", pgid)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-a.done
	}
	// Children leave with the parent; give stragglers a moment, then kill.
	for i := 0; i < 50 && syscall.Kill(-pgid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if syscall.Kill(-pgid, 0) == nil {
		t.Logf("apache children of %d outlived the parent; killing them", pgid)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	if t.Failed() {
		t.Logf("apache error log:\n%s", readFile(a.errPath))
	}
}

// ErrorLog returns the error log's contents.
func (a *Apache) ErrorLog() string { return readFile(a.errPath) }

// Requests returns the access log's complete lines, parsed, oldest first.
// Apache writes a line after sending its response, so a client may see the
// response first: use WaitRequest to wait for a particular request.
func (a *Apache) Requests(t testing.TB) []ApacheRequest {
	t.Helper()
	data, err := os.ReadFile(a.logPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("reading apache access log: %v", err)
	}
	reqs, err := parseAccessLog(data)
	if err != nil {
		t.Fatalf("parsing apache access log: %v", err)
	}
	return reqs
}

// WaitRequest polls the access log for up to 5 s for a request that match
// accepts, and returns the first one; the test fails if none appears.
func (a *Apache) WaitRequest(t testing.TB, match func(ApacheRequest) bool) ApacheRequest {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		reqs := a.Requests(t)
		for _, r := range reqs {
			if match(r) {
				return r
			}
		}
		if time.Now().After(deadline) {
			var lines []string
			for _, r := range reqs {
				lines = append(lines, r.Line)
			}
			t.Fatalf("no matching request in apache's access log after 5s; log:\n%s", strings.Join(lines, "\n"))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// WaitTarget is WaitRequest for the first request whose target is target.
func (a *Apache) WaitTarget(t testing.TB, target string) ApacheRequest {
	t.Helper()
	return a.WaitRequest(t, func(r ApacheRequest) bool { return r.Target == target })
}

// parseAccessLog parses complete lines of the itest log format; a last line
// without its newline is still being written and is left out.
func parseAccessLog(data []byte) ([]ApacheRequest, error) {
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	var out []ApacheRequest
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		r, err := parseAccessLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

func parseAccessLine(line string) (ApacheRequest, error) {
	f := strings.Split(line, "\t")
	if len(f) != 12 {
		return ApacheRequest{}, fmt.Errorf("line %q: %d fields, want 12", line, len(f))
	}
	for i := range f {
		f[i] = unescapeApache(f[i])
		if f[i] == "-" && i >= 1 && i <= 7 {
			f[i] = ""
		}
	}
	r := ApacheRequest{
		Host: f[1], XForwardedFor: f[2], XForwardedProto: f[3], XForwardedHost: f[4],
		ContentLength: f[5], TransferEncoding: f[6], Connection: f[7],
		RemoteAddr: f[9], Line: line,
	}
	parts := strings.Split(f[0], " ")
	switch len(parts) {
	case 3:
		r.Method, r.Target, r.Proto = parts[0], parts[1], parts[2]
	case 2: // HTTP/0.9
		r.Method, r.Target = parts[0], parts[1]
	default:
		r.Target = f[0]
	}
	var err error
	if r.Status, err = strconv.Atoi(f[8]); err != nil {
		return r, fmt.Errorf("line %q: status: %w", line, err)
	}
	if r.RemotePort, err = strconv.Atoi(f[10]); err != nil {
		return r, fmt.Errorf("line %q: remote port: %w", line, err)
	}
	if r.KeepAlives, err = strconv.Atoi(f[11]); err != nil {
		return r, fmt.Errorf("line %q: keep-alive count: %w", line, err)
	}
	return r, nil
}

// unescapeApache undoes ap_escape_logitem: \" \\ \t \n \r \v \b and \xhh.
func unescapeApache(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'v':
			b.WriteByte('\v')
		case 'b':
			b.WriteByte('\b')
		case 'x':
			if i+2 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			b.WriteString(`\x`)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p, err)
	}
	return string(b)
}
