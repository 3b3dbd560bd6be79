package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/metrics"
	"tlsfront/proxy"
	"tlsfront/service"
	"tlsfront/shield"
	"tlsfront/tlsconf"
)

// Options configure Start and Run.
type Options struct {
	ConfigPath string
	Version    string    // reported by the metrics and the start log line
	Stderr     io.Writer // the process log, unless log.output = "stdout"; nil discards
	Stdout     io.Writer // the process log with log.output = "stdout"; nil discards
	// Listeners are sockets passed by systemd socket activation, by name
	// ("https", and optionally "http"); nil binds server.https and
	// server.http. Run fills it from the environment.
	Listeners map[string][]net.Listener
}

// Daemon is a serving tlsfront: the current Generation, the listeners and
// what outlives reloads (the connection count, the metrics, the process
// log and access log file, the listeners' TLS config with its automatic
// ticket keys).
type Daemon struct {
	opts      Options
	first     *config.Config // what is fixed at start: log, metrics listener, watch_interval
	logger    zerolog.Logger
	logOut    io.Writer
	access    *reopenFile // log.access_file, nil when unset
	metrics   *metrics.Metrics
	limiter   *proxy.ConnLimiter
	tlsConfig *tls.Config
	// handshakeLog gets net/http's line for each failed handshake: the
	// metrics count it, the process log has it at debug level.
	handshakeLog *log.Logger
	// The shield's process-wide state, kept across reloads like limiter:
	// each client's connection count over both listeners
	// (server.max_conns_per_client), the rate-limit state of every
	// Generation's rules (server.client_table_size), the refusal log.
	clientConns    *shield.Conns
	shieldTable    *shield.Table
	clientRefusals *proxy.RefusalLog
	// http2 counts for every Generation's tlsfront HTTP/2 server, so that
	// the glitch metrics survive reloads.
	http2 *proxy.H2Counters
	lns   listeners

	cur atomic.Pointer[Generation] // the one store a reload publishes with

	ctx        context.Context // ends at Shutdown: watcher, watchdog, stapler and ACME loops
	cancel     context.CancelFunc
	serveErr   chan error
	changed    chan struct{}            // certificate files changed on disk
	read       atomic.Pointer[[32]byte] // fingerprint of the files the last start or reload read
	loops      sync.WaitGroup
	handshakes sync.WaitGroup
	drains     sync.WaitGroup // of replaced Generations
	healthy    atomic.Bool
	metricsSrv *http.Server

	mu      sync.Mutex // one Reload or Shutdown at a time
	stopped bool

	liveMu sync.Mutex
	live   map[*Generation]bool // built and not closed yet: the current one and those replaced with open connections
}

// Run serves the configuration file until SIGTERM or SIGINT, then drains
// (in-flight requests finish, up to server.shutdown_timeout). SIGHUP
// reloads, SIGUSR1 reopens log.access_file. It returns nil after a clean
// stop, or why it could not start or had to stop (a listener failed).
func Run(opts Options) error {
	// Signals are caught from the start: systemd may send SIGHUP (systemctl
	// reload) as soon as READY=1 arrives, and SIGHUP's default action would
	// end the process. Signals arriving while starting wait in the channel.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	if opts.Listeners == nil {
		activated, err := service.Listeners() // first: it unsets LISTEN_* for children
		if err != nil {
			return fmt.Errorf("socket activation: %w", err)
		}
		opts.Listeners = activated
	}
	d, err := Start(opts)
	if err != nil {
		return err
	}
	err = d.loop(sigs)
	d.Shutdown()
	return err
}

// Start loads the configuration, builds its Generation, binds the
// listeners and serves. On error nothing is left open.
func Start(opts Options) (*Daemon, error) {
	cfg, fromConfig, err := config.Load(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	d := &Daemon{opts: opts, first: cfg, serveErr: make(chan error, 8), changed: make(chan struct{}, 1), live: map[*Generation]bool{}}
	d.logOut = opts.Stderr
	if cfg.Log.Output == "stdout" {
		d.logOut = opts.Stdout
	}
	if d.logOut == nil {
		d.logOut = io.Discard
	}
	d.logger = newLogger(cfg.Log, d.logOut)
	access, accessErr := openAccessLog(cfg)
	d.access = access
	d.metrics = metrics.New(metrics.Options{Version: opts.Version, Healthy: d.healthy.Load})
	d.limiter = proxy.NewConnLimiter(0)
	d.limiter.SetLogger(d.logger)
	d.metrics.WatchConnLimit(d.limiter)
	d.handshakeLog = log.New(d.metrics.HandshakeErrorLog(debugWriter{d.logger}), "", 0)
	d.clientConns, d.shieldTable = shield.NewConns(0), shield.NewTable(0)
	d.clientRefusals = proxy.NewRefusalLog(d.logger, 0)
	d.metrics.WatchShield(d.shieldTable, d.clientConns)
	d.http2 = new(proxy.H2Counters)
	d.metrics.WatchHTTP2(d.http2)
	d.lns.limiter = d.limiter
	d.tlsConfig = listenerTLSConfig()

	d.noteRead(cfg)
	g, err := build(cfg, fromConfig, d.env())
	if err == nil && accessErr != nil {
		g.close()
		err = accessErr
	}
	if err == nil {
		if err = d.lns.open(cfg, opts.Listeners); err != nil {
			g.close()
		}
	}
	if err != nil {
		if d.access != nil {
			d.access.Close()
		}
		return nil, err
	}
	d.track(g)
	for _, w := range g.warnings {
		d.logger.Warn().Msg(w)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	// Staples first, so the first clients get them. The listeners are
	// bound: connections wait in the backlog meanwhile.
	g.startStapler(d.ctx)
	g.startClientAuth(d.ctx)
	d.publish(g)
	d.serveListener(d.lns.https, true)
	if d.lns.http != nil {
		d.serveListener(d.lns.http, false)
	}
	g.startACME(d.ctx)
	d.startMetrics(cfg)
	d.setCertMetrics(g)
	d.healthy.Store(true)
	_ = service.Ready()
	go service.RunWatchdog(d.ctx, d.healthy.Load)
	go d.watchFiles(d.ctx, cfg.Server.WatchInterval.Duration, d.changed)
	d.logger.Info().Str("https", addrOf(d.lns.https)).Str("http", addrOf(d.lns.http)).
		Str("profile", g.policy.Profile).Int("sites", len(g.sites)).Str("version", opts.Version).
		Str("rsa_signer", tlsconf.RSASigner()).Msg("tlsfront serving")
	return d, nil
}

// env is what the Daemon builds Generations with.
func (d *Daemon) env() buildEnv {
	return buildEnv{logger: d.logger, now: time.Now(), metrics: d.metrics, access: d.accessLogger, onClosed: d.untrack,
		shieldTable: d.shieldTable, clientConns: d.clientConns, clientRefusals: d.clientRefusals,
		clientVerify: d.metrics.ClientCertVerification, http2: d.http2}
}

// publish makes g the Generation new connections take, in one atomic
// store, drains the one it replaces (see Generation.drain) and drops the
// Daemon's reference to it: it is closed once its last connection has
// closed. The connection limits count
// every connection of the process, and the rate-limit table holds every
// client's state, whatever its Generation: g's limits and size apply from
// now on.
func (d *Daemon) publish(g *Generation) {
	d.limiter.SetMax(g.maxConns)
	d.clientConns.SetMax(g.cfg.Server.MaxConnsPerClient)
	d.shieldTable.SetSize(g.cfg.Server.ClientTableSize)
	if old := d.cur.Swap(g); old != nil {
		d.drains.Add(1)
		go func() {
			defer d.drains.Done()
			old.drain()
		}()
		old.release()
	}
}

func (d *Daemon) track(g *Generation) {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	d.live[g] = true
}

func (d *Daemon) untrack(g *Generation) {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	delete(d.live, g)
}

func (d *Daemon) liveGenerations() []*Generation {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	var gs []*Generation
	for g := range d.live {
		gs = append(gs, g)
	}
	return gs
}

// serveListener starts ln's accept loop.
func (d *Daemon) serveListener(ln net.Listener, https bool) {
	d.loops.Add(1)
	go d.acceptLoop(ln, https)
}

// loop handles signals and certificate changes until it is time to stop.
func (d *Daemon) loop(sigs <-chan os.Signal) error {
	staples := time.NewTicker(30 * time.Second)
	defer staples.Stop()
	for {
		select {
		case err := <-d.serveErr:
			d.logger.Error().Err(err).Msg("listener failed; shutting down")
			return fmt.Errorf("listener failed: %w", err)
		case <-d.changed:
			if d.readAlready() {
				continue // a reload since has read them as they are now (a renewal writes several files)
			}
			d.logger.Info().Msg("certificate or key files changed on disk")
			_ = d.Reload()
		case <-staples.C:
			d.setStapleMetrics(d.cur.Load())
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				_ = d.Reload()
			case syscall.SIGUSR1:
				d.reopenAccessLog()
			default:
				d.logger.Info().Str("signal", sig.String()).Dur("timeout", d.cur.Load().cfg.Server.ShutdownTimeout.Duration).
					Msg("shutting down: finishing in-flight requests")
				return nil
			}
		}
	}
}

func (d *Daemon) reopenAccessLog() {
	if d.access == nil {
		return
	}
	if err := d.access.Reopen(); err != nil {
		d.logger.Error().Err(err).Msg("reopening the access log failed; still writing to the old file")
		return
	}
	d.logger.Info().Str("file", d.access.path).Msg("access log reopened")
}

// Shutdown stops accepting, lets connections in their handshake finish it,
// drains every Generation's ConnServers at once (in-flight requests
// finish; past server.shutdown_timeout the rest are closed), then closes
// every Generation. It is safe to call more than once.
func (d *Daemon) Shutdown() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.stopped = true
	_ = service.Stopping()
	d.healthy.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), d.cur.Load().cfg.Server.ShutdownTimeout.Duration)
	defer cancel()
	d.lns.closeAll()
	d.loops.Wait()
	waitGroup(ctx, &d.handshakes) // bounded by read_header_timeout: then their ConnServers drain them
	var timedOut atomic.Bool
	var sw sync.WaitGroup
	drain := func(shutdown func(context.Context) error, closeNow func() error) {
		sw.Add(1)
		go func() {
			defer sw.Done()
			if err := shutdown(ctx); err != nil {
				timedOut.Store(true)
				_ = closeNow()
			}
		}()
	}
	for _, g := range d.liveGenerations() {
		for _, s := range g.connServers() {
			drain(s.Shutdown, s.Close)
		}
	}
	if d.metricsSrv != nil {
		drain(d.metricsSrv.Shutdown, d.metricsSrv.Close)
	}
	sw.Wait()
	d.drains.Wait() // their Shutdowns return once the ones above have closed everything
	if timedOut.Load() {
		d.logger.Warn().Msg("shutdown timeout reached; closed the remaining connections")
	}
	d.cancel()
	for _, g := range d.liveGenerations() {
		g.close()
	}
	if d.access != nil {
		d.access.Close()
	}
	d.logger.Info().Msg("stopped")
}

// waitGroup waits for wg, or until ctx ends.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Addrs returns the addresses the https and plain listeners are bound to
// ("" for a disabled plain listener).
func (d *Daemon) Addrs() (https, http string) {
	d.lns.mu.Lock()
	defer d.lns.mu.Unlock()
	return addrOf(d.lns.https), addrOf(d.lns.http)
}

// startMetrics serves /metrics and /healthz when server.metrics is set. The
// address is fixed at start.
func (d *Daemon) startMetrics(cfg *config.Config) {
	if cfg.Server.Metrics == "" {
		return
	}
	ln, err := net.Listen("tcp", cfg.Server.Metrics)
	if err != nil {
		d.logger.Error().Err(err).Str("addr", cfg.Server.Metrics).Msg("metrics listener failed; serving without metrics")
		return
	}
	d.metricsSrv = &http.Server{Handler: d.metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = d.metricsSrv.Serve(ln) }()
	d.logger.Info().Str("addr", ln.Addr().String()).Msg("metrics listening")
}

// setCertMetrics publishes every served certificate's expiry and staple.
func (d *Daemon) setCertMetrics(g *Generation) {
	d.metrics.ResetCertificates()
	for _, s := range g.sites {
		for _, c := range s.certs {
			if leaf := c.Leaf(); leaf != nil {
				d.metrics.SetCertificate(s.names[0]+" ("+c.KeyType+")", leaf.NotAfter)
			}
		}
	}
	d.setStapleMetrics(g)
}

func (d *Daemon) setStapleMetrics(g *Generation) {
	d.setCRLMetrics(g)
	if g.stapler == nil {
		return
	}
	for _, st := range g.stapler.Status() {
		if st.HasURL {
			d.metrics.SetStaple(st.Name, st.GoodUntil)
		}
	}
}

// debugWriter writes each line it gets as a debug message of logger.
type debugWriter struct{ logger zerolog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.logger.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
