package integration

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// TestReloadUnderLoad is the proof: while HTTP/1.1 and HTTP/2
// clients keep requests in flight, tlsfront is reloaded 54 times, 18 of
// them with a broken certificate, key, config or listener, and once with a
// new certificate. No request fails, every broken reload is logged with its
// reason and leaves the previous certificate serving, the new certificate
// serves after the swap, and a kept-alive connection is closed gracefully
// once a good reload has replaced its configuration (after the request it
// was serving: the clients go on, on new connections, with the new one),
// while a broken reload leaves it alone.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t)
	dir := t.TempDir()
	ca := testca.New(t)
	names := []string{"localhost", "127.0.0.1"}
	first := ca.Leaf(t, testca.LeafOptions{Names: names})
	second := ca.Leaf(t, testca.LeafOptions{Names: names})
	stranger := ca.Leaf(t, testca.LeafOptions{Names: names})
	writeLeaf(t, dir, first)
	busy, err := net.Listen("tcp", "127.0.0.1:0") // an address the reload cannot bind
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	metricsAddr := loopback(t)
	good := applianceConfig{
		HTTPS: loopback(t), Backend: backend.URL, Cert: "site.chain.pem", Key: "site.key",
		Server: "watch_interval = \"0s\"\nshutdown_timeout = \"10s\"\nmetrics = \"" + metricsAddr + "\"", Log: "access = false",
	}
	f := itest.StartTlsfront(t, dir, good.String())
	cfgPath := filepath.Join(dir, "tlsfront.toml")
	chainPath, keyPath := filepath.Join(dir, "site.chain.pem"), filepath.Join(dir, "site.key")
	withCfg := func(mod func(*applianceConfig)) func(*testing.T) {
		return func(t *testing.T) {
			c := good
			mod(&c)
			writeAtomic(t, cfgPath, []byte(c.String()))
		}
	}
	type breakage struct {
		name  string
		apply func(*testing.T)
		want  string // in a logged problem
	}
	breakages := []breakage{
		{"certificate file is garbage", func(t *testing.T) {
			writeAtomic(t, chainPath, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
		}, "site[0].cert[0]"},
		{"key of another certificate", func(t *testing.T) { writeAtomic(t, keyPath, stranger.KeyPEM()) }, "site[0].cert[0]"},
		{"certificate file missing", func(t *testing.T) { os.Remove(chainPath) }, "no such file"},
		{"config is not TOML", func(t *testing.T) { writeAtomic(t, cfgPath, []byte("[server\nhttps = ")) }, "end table name"},
		{"bad value", withCfg(func(c *applianceConfig) { c.TLS = `min_version = "1.4"` }), "tls.min_version"},
		{"ticket key file broken", func(t *testing.T) {
			writeAtomic(t, filepath.Join(dir, "bad.keys"), []byte("not base64\n"))
			withCfg(func(c *applianceConfig) { c.TLS = `ticket_keys = "bad.keys"` })(t)
		}, "tls.ticket_keys"},
		{"https address in use", withCfg(func(c *applianceConfig) { c.HTTPS = busy.Addr().String() }), "listening on server.https"},
		{"config file missing", func(t *testing.T) { os.Remove(cfgPath) }, "reading configuration"},
	}

	var reloads atomic.Int64
	res := &loadResult{maxSpan: map[string]int64{}}
	roots := ca.Pool()
	h2 := transport(roots, true)
	h2fresh, h1 := transport(roots, true), transport(roots, false)
	h1fresh := transport(roots, false)
	h1fresh.DisableKeepAlives = true
	clients := []loadClient{
		{name: "h2-a", client: &http.Client{Transport: h2, Timeout: 10 * time.Second}, protoMajor: 2},
		{name: "h2-b", client: &http.Client{Transport: h2, Timeout: 10 * time.Second}, protoMajor: 2},
		{name: "h2-fresh", client: &http.Client{Transport: h2fresh, Timeout: 10 * time.Second}, protoMajor: 2, fresh: h2fresh.CloseIdleConnections},
		{name: "h1", client: &http.Client{Transport: h1, Timeout: 10 * time.Second}, protoMajor: 1},
		{name: "h1-fresh", client: &http.Client{Transport: h1fresh, Timeout: 10 * time.Second}, protoMajor: 1},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, lc := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.run(lc, "https://"+f.HTTPSAddr, stop, &reloads)
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()

	const total = 54
	want, broken := first, 0
	for i := 0; i < total; i++ {
		var b *breakage
		if i%3 == 1 {
			b = &breakages[broken%len(breakages)]
			broken++
			b.apply(t)
		}
		if i == total/2 {
			writeLeaf(t, dir, second) // the certificate swap
			want = second
		}
		before := res.ok.Load()
		ok, problems := hup(t, f)
		reloads.Add(1)
		if b == nil && !ok {
			t.Fatalf("reload %d: failed: %q", i, problems)
		}
		if b != nil {
			if ok {
				t.Fatalf("reload %d (%s): succeeded, want it refused", i, b.name)
			}
			if !strings.Contains(strings.Join(problems, "\n"), b.want) {
				t.Errorf("reload %d (%s): logged problems %q, want one mentioning %q", i, b.name, problems, b.want)
			}
			// Put the good state back for the next reload.
			writeAtomic(t, cfgPath, []byte(good.String()))
			writeLeaf(t, dir, want)
		}
		if got := servedLeaf(t, f.HTTPSAddr, roots); got.SerialNumber.Cmp(want.Cert().SerialNumber) != 0 {
			t.Fatalf("after reload %d (broken: %v) the served certificate has serial %x, want %x",
				i, b != nil, got.SerialNumber, want.Cert().SerialNumber)
		}
		// Let every client get some requests through before the next one.
		for deadline := time.Now().Add(10 * time.Second); res.ok.Load()+res.failed.Load() < before+2*int64(len(clients)); {
			if time.Now().After(deadline) {
				t.Fatalf("after reload %d no requests completed for 10s", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	stopLoad()

	// tlsfront's own count of refused and applied reloads must match what
	// was done to it.
	text := scrape(t, metricsAddr)
	for _, c := range []struct {
		result string
		want   int
	}{{"failure", broken}, {"success", total - broken}} {
		if got, ok := metricValue(text, `tlsfront_reloads_total{result="`+c.result+`"}`); !ok || int(got) != c.want {
			t.Errorf("tlsfront_reloads_total{result=%q} = %v (present: %v), want %d", c.result, got, ok, c.want)
		}
	}
	t.Logf("%d reloads (%d broken), %d requests ok, %d failed; reloads lived through per kept-alive client: %v",
		total, broken, res.ok.Load(), res.failed.Load(), res.maxSpan)
	if n := res.failed.Load(); n > 0 {
		t.Errorf("%d requests failed during reloads, first ones:\n%s", n, strings.Join(res.errs, "\n"))
	}
	if res.ok.Load() < 200 {
		t.Errorf("only %d requests completed: the load was too light to prove anything", res.ok.Load())
	}
	// The kept-alive clients never close their connections: tlsfront does,
	// after the first good reload they see. Broken reloads (never two in a
	// row here) replace nothing, and a request in flight during a good
	// reload finishes on the old connection, so a connection sees at most
	// three reloads: a good one it was opened after, a broken one, the
	// good one that closes it. More would mean requests served by a
	// configuration that was replaced.
	for _, name := range []string{"h2-a", "h2-b", "h1"} {
		if res.maxSpan[name] > 3 {
			t.Errorf("client %s: one kept-alive connection served requests across %d reloads, want at most 3 (a replaced configuration drains)", name, res.maxSpan[name])
		}
	}
	if first.Cert().SerialNumber.Cmp(second.Cert().SerialNumber) == 0 {
		t.Fatal("the two certificates share a serial: the swap proves nothing")
	}
}

// TestReloadListenerAddressChange proves that a reload moves the listeners:
// the new addresses serve, the old ones refuse, a request in flight on a
// connection accepted on an old address finishes, and an address that
// cannot be bound fails the reload while the current one keeps serving.
func TestReloadListenerAddressChange(t *testing.T) {
	t.Parallel()
	inFlight, release := make(chan struct{}), make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/in-flight" {
			close(inFlight)
			<-release
		}
		io.WriteString(w, "ok "+r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	ca := testca.New(t)
	roots := ca.Pool()
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
	cfg := applianceConfig{
		HTTPS: loopback(t), HTTP: loopback(t), Backend: backend.URL, Cert: "site.chain.pem", Key: "site.key",
		Server: `watch_interval = "0s"`, Log: "access = false",
	}
	f := itest.StartTlsfront(t, dir, cfg.String())
	old := dialKeptAlive(t, cfg.HTTPS, roots)
	old.get(t, "/before")
	_ = old.c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(old.c, "GET /in-flight HTTP/1.1\r\nHost: localhost\r\n\r\n") // answered after the reload
	<-inFlight

	moved := cfg
	moved.HTTPS, moved.HTTP = loopback(t), loopback(t)
	writeAtomic(t, f.ConfigPath, []byte(moved.String()))
	if ok, problems := hup(t, f); !ok {
		t.Fatalf("moving the listeners failed: %q", problems)
	}
	httpsGet(t, moved.HTTPS, "/moved", roots)
	requireRefused(t, cfg.HTTPS)
	requireRefused(t, cfg.HTTP)
	close(release)
	if resp, err := http.ReadResponse(old.r, nil); err != nil {
		t.Errorf("the request in flight on the old address: %v", err)
	} else if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "ok /in-flight" {
		t.Errorf("the request in flight on the old address = %d %q", resp.StatusCode, body)
	}

	noFollow := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+moved.HTTP+"/x?y=z", nil)
	req.Host = "localhost"
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatalf("GET on the new plain listener: %v", err)
	}
	resp.Body.Close()
	wantLoc := fmt.Sprintf("https://localhost:%d/x?y=z", itestPort(moved.HTTPS))
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != wantLoc {
		t.Errorf("the new plain listener answered %d Location %q, want 301 %q",
			resp.StatusCode, resp.Header.Get("Location"), wantLoc)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := moved
	taken.HTTPS = busy.Addr().String()
	writeAtomic(t, f.ConfigPath, []byte(taken.String()))
	ok, problems := hup(t, f)
	if ok || !strings.Contains(strings.Join(problems, "\n"), "listening on server.https "+taken.HTTPS) {
		t.Errorf("reload onto a taken address: ok=%v problems %q, want it refused naming the address", ok, problems)
	}
	httpsGet(t, moved.HTTPS, "/still-here", roots)
}

// TestReloadWatchInterval proves that certificate files replaced on disk
// (a certbot renewal) are picked up within server.watch_interval without a
// signal, once, and that watch_interval = "0s" switches that off.
func TestReloadWatchInterval(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t)
	ca := testca.New(t)
	roots := ca.Pool()
	names := []string{"localhost", "127.0.0.1"}
	original, renewed := ca.Leaf(t, testca.LeafOptions{Names: names}), ca.Leaf(t, testca.LeafOptions{Names: names})
	start := func(interval string) (*itest.Tlsfront, string) {
		dir := t.TempDir()
		writeLeaf(t, dir, original)
		cfg := applianceConfig{
			HTTPS: loopback(t), Backend: backend.URL, Cert: "site.chain.pem", Key: "site.key",
			Server: fmt.Sprintf("watch_interval = %q", interval), Log: "access = false",
		}
		return itest.StartTlsfront(t, dir, cfg.String()), dir
	}
	on, onDir := start("100ms")
	off, offDir := start("0s")
	onMark, offMark := markLogs(on), markLogs(off)
	writeLeaf(t, onDir, renewed)
	writeLeaf(t, offDir, renewed)

	onMark.waitMsg(t, "reloaded") // a reload in between the two renames may fail; this one has both
	if got := servedLeaf(t, on.HTTPSAddr, roots); !got.Equal(renewed.Cert()) {
		t.Fatalf("after the watcher's reload the served certificate is serial %x, want the renewed %x",
			got.SerialNumber, renewed.Cert().SerialNumber)
	}
	if n := msgCount(onMark.lines(), "certificate or key files changed on disk"); n < 1 {
		t.Errorf("the reload was not logged as caused by changed files")
	}
	// Ten more intervals: the watcher must not reload again (reading the
	// files is no change), and the instance without a watcher never reloads.
	settled := markLogs(on)
	time.Sleep(time.Second)
	if n := msgCount(settled.lines(), "reloading"); n > 0 {
		t.Errorf("the watcher reloaded %d more times with no file changed:\n%s", n, on.Logs()[settled.off:])
	}
	if n := msgCount(offMark.lines(), "reloading"); n > 0 {
		t.Errorf("watch_interval = \"0s\" still reloaded %d times", n)
	}
	if got := servedLeaf(t, off.HTTPSAddr, roots); !got.Equal(original.Cert()) {
		t.Errorf("with watch_interval = \"0s\" the served certificate changed by itself")
	}
	if ok, problems := hup(t, off); !ok {
		t.Fatalf("SIGHUP with the renewed files failed: %q", problems)
	}
	if got := servedLeaf(t, off.HTTPSAddr, roots); !got.Equal(renewed.Cert()) {
		t.Errorf("after SIGHUP the served certificate is not the renewed one")
	}
}

// newTicketKey returns a fresh session ticket key as the key file holds it.
func newTicketKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// TestTicketKeysAcrossInstances proves fleet-wide session resumption with
// openssl s_client: two instances sharing tls.ticket_keys resume each
// other's sessions; rotating one instance's file (a new first key, the old
// one kept second) and reloading still resumes the other's old sessions
// while its new tickets use the new key; a key set without the old key
// resumes nothing of the other's.
func TestTicketKeysAcrossInstances(t *testing.T) {
	t.Parallel()
	itest.RequireTool(t, "openssl")
	backend := echoBackend(t)
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}})
	k1, k2, k3 := newTicketKey(t), newTicketKey(t), newTicketKey(t)
	start := func() (*itest.Tlsfront, string) {
		dir := t.TempDir()
		writeLeaf(t, dir, leaf)
		writeAtomic(t, filepath.Join(dir, "ticket.keys"), []byte("# shared by the fleet\n"+k1+"\n"))
		cfg := applianceConfig{
			HTTPS: loopback(t), Backend: backend.URL, Cert: "site.chain.pem", Key: "site.key",
			TLS: "session_tickets = true\nticket_keys = \"ticket.keys\"", Server: `watch_interval = "0s"`, Log: "access = false",
		}
		return itest.StartTlsfront(t, dir, cfg.String()), dir
	}
	a, _ := start()
	b, bDir := start()
	sessDir := t.TempDir()
	const request = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" // keeps s_client until the TLS 1.3 ticket arrives
	versions := []string{"1.2", "1.3"}
	// session gets a new session from f into a file and returns its path.
	session := func(f *itest.Tlsfront, v, name string) string {
		t.Helper()
		p := filepath.Join(sessDir, name+"-tls"+v+".pem")
		r := itest.SClient(t, itest.SClientOptions{Port: f.HTTPSPort, ServerName: "localhost", Version: v, SessOut: p, Input: request})
		if !r.Connected {
			t.Fatalf("s_client -tls%s to %s: no handshake:\n%s", v, f.HTTPSAddr, r.Output)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Fatalf("s_client -tls%s wrote no session (%v):\n%s", v, err, r.Output)
		}
		return p
	}
	resumes := func(f *itest.Tlsfront, v, sess string) bool {
		t.Helper()
		r := itest.SClient(t, itest.SClientOptions{Port: f.HTTPSPort, ServerName: "localhost", Version: v, SessIn: sess, Input: request})
		if !r.Connected {
			t.Fatalf("s_client -tls%s -sess_in to %s: no handshake:\n%s", v, f.HTTPSAddr, r.Output)
		}
		return r.Reused
	}
	rotate := func(keys ...string) {
		t.Helper()
		writeAtomic(t, filepath.Join(bDir, "ticket.keys"), []byte(strings.Join(keys, "\n")+"\n"))
		if ok, problems := hup(t, b); !ok {
			t.Fatalf("reloading B with new ticket keys failed: %q", problems)
		}
	}

	fromA := map[string]string{}
	for _, v := range versions {
		fromA[v] = session(a, v, "a")
		if !resumes(a, v, fromA[v]) {
			t.Fatalf("TLS %s: A does not resume its own session: tickets are off", v)
		}
		if !resumes(b, v, fromA[v]) {
			t.Errorf("TLS %s: B does not resume A's session with the same ticket keys", v)
		}
	}

	rotate(k2, k1)
	for _, v := range versions {
		if !resumes(b, v, fromA[v]) {
			t.Errorf("TLS %s: after rotating B to [new, old], B no longer resumes A's old session", v)
		}
		if resumes(a, v, session(b, v, "b-rotated")) {
			t.Errorf("TLS %s: A (old key only) resumes B's new session: B still encrypts tickets with the old key", v)
		}
	}

	rotate(k3)
	for _, v := range versions {
		if resumes(b, v, fromA[v]) {
			t.Errorf("TLS %s: B resumes A's session with a key set lacking A's key", v)
		}
	}
}

// TestTicketsOnByDefault proves config.example.toml's "session_tickets =
// true" default: without a [tls] table, a client resumes its session.
func TestTicketsOnByDefault(t *testing.T) {
	t.Parallel()
	itest.RequireTool(t, "openssl")
	dir := t.TempDir()
	ca := testca.New(t)
	writeLeaf(t, dir, ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}))
	cfg := applianceConfig{HTTPS: loopback(t), Backend: echoBackend(t).URL, Cert: "site.chain.pem", Key: "site.key", Log: "access = false"}
	f := itest.StartTlsfront(t, dir, cfg.String())
	sess := filepath.Join(dir, "session.pem")
	const request = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
	for _, o := range []itest.SClientOptions{{SessOut: sess}, {SessIn: sess}} {
		o.Port, o.ServerName, o.Input = f.HTTPSPort, "localhost", request
		r := itest.SClient(t, o)
		if !r.Connected {
			t.Fatalf("s_client: no handshake:\n%s", r.Output)
		}
		_, err := os.Stat(sess)
		if o.SessIn == "" && err != nil || o.SessIn != "" && !r.Reused {
			t.Fatalf("no session to resume with the default configuration (%v): session tickets are off by default, "+
				"though config.example.toml documents session_tickets = true", err)
		}
	}
}

// pinOf is the HPKP pin-sha256 of a certificate's key.
func pinOf(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestReloadRecomputesPins proves that a reload recomputes the HPKP pins
// from the keys it now serves, and that a pin set a reload would break
// (no backup pin left) is refused with the old header still sent.
func TestReloadRecomputesPins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testca.New(t)
	roots := ca.Pool()
	names := []string{"localhost", "127.0.0.1"}
	first, second, spare := ca.Leaf(t, testca.LeafOptions{Names: names}), ca.Leaf(t, testca.LeafOptions{Names: names}), ca.Leaf(t, testca.LeafOptions{Names: names})
	writeLeaf(t, dir, first)
	hpkp := func(backup string) string {
		return fmt.Sprintf("[headers.hpkp]\nenabled = true\nbackup_pins = [%q]", backup)
	}
	cfg := applianceConfig{
		HTTPS: loopback(t), Backend: echoBackend(t).URL, Cert: "site.chain.pem", Key: "site.key",
		Headers: hpkp(pinOf(spare.Cert())), Server: `watch_interval = "0s"`, Log: "access = false",
	}
	f := itest.StartTlsfront(t, dir, cfg.String())
	pins := func() string {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second, Transport: transport(roots, false)}
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + cfg.HTTPS + "/pins")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Public-Key-Pins-Report-Only")
	}
	want := func(when string, served *testca.Leaf, not *testca.Leaf) {
		t.Helper()
		h := pins()
		if !strings.Contains(h, `pin-sha256="`+pinOf(served.Cert())+`"`) || !strings.Contains(h, `pin-sha256="`+pinOf(spare.Cert())+`"`) {
			t.Errorf("%s: Public-Key-Pins-Report-Only %q lacks the served key's or the backup pin", when, h)
		}
		if not != nil && strings.Contains(h, pinOf(not.Cert())) {
			t.Errorf("%s: Public-Key-Pins-Report-Only %q still pins the replaced key", when, h)
		}
	}
	want("at start", first, nil)

	writeLeaf(t, dir, second)
	if ok, problems := hup(t, f); !ok {
		t.Fatalf("reload with a new key failed: %q", problems)
	}
	want("after the key changed", second, first)

	bad := cfg
	bad.Headers = hpkp(pinOf(second.Cert())) // the served key: no backup pin left
	writeAtomic(t, f.ConfigPath, []byte(bad.String()))
	ok, problems := hup(t, f)
	if ok || !strings.Contains(strings.Join(problems, "\n"), "headers.hpkp.backup_pins") {
		t.Errorf("reload without a backup pin: ok=%v problems %q, want it refused naming headers.hpkp.backup_pins", ok, problems)
	}
	want("after the refused reload", second, first)
}
