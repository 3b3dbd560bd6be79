package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/headers"
	"tlsfront/metrics"
	"tlsfront/proxy"
	"tlsfront/service"
	"tlsfront/tlsconf"
)

// newLogger returns the process logger: JSON lines on w, or zerolog's console
// format when asked for or when w is a terminal and no format is set.
func newLogger(c config.Log, w io.Writer) zerolog.Logger {
	console := c.Format == "console"
	if c.Format == "" {
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			console = true
		}
	}
	if console {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func discardLogger() zerolog.Logger { return zerolog.Nop() }

// swapHandler serves through whichever handler was stored last.
type swapHandler struct{ cur atomic.Pointer[http.Handler] }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.cur.Load()).ServeHTTP(w, r)
}

func (s *swapHandler) store(h http.Handler) { s.cur.Store(&h) }

// daemon is a serving tlsfront: the current runtime, the listeners and
// servers, and what outlives reloads (the Holder's ticket keys, metrics).
type daemon struct {
	path    string
	logOut  io.Writer // where the process log goes
	logger  zerolog.Logger
	rt      *runtime
	holder  *tlsconf.Holder
	metrics *metrics.Metrics
	access  *reopenFile // log.access_file, nil when unset

	https, plain swapHandler
	httpsSrv     *http.Server
	plainSrv     *http.Server
	lns          listeners

	trust    atomic.Pointer[headers.TrustedProxies]
	watchCfg atomic.Pointer[config.Config]

	ctx      context.Context
	serveErr chan error
	wg       sync.WaitGroup
	healthy  atomic.Bool
}

// serve runs tlsfront until SIGTERM or SIGINT and returns the exit code.
func serve(path string, stderr io.Writer) int {
	// Signals are caught from the start, not only once loop runs: systemd
	// may send SIGHUP (systemctl reload) as soon as READY=1 arrives, and
	// SIGHUP's default action would end the process. Signals that arrive
	// while starting wait in the channel.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	activated, err := service.Listeners() // first: it unsets LISTEN_* for children
	if err != nil {
		fail(stderr, fmt.Errorf("socket activation: %w", err))
		return 1
	}
	cfg, cfgErr := config.Load(path)
	if cfg == nil {
		fail(stderr, cfgErr)
		return 1
	}
	d := &daemon{path: path, logOut: stderr, serveErr: make(chan error, 8)}
	if cfg.Log.Output == "stdout" {
		d.logOut = os.Stdout
	}
	d.logger = newLogger(cfg.Log, d.logOut)
	rt, err := build(cfg, cfgErr, d.logger, time.Now(), false)
	if err != nil {
		fail(stderr, err)
		return 1
	}
	d.rt = rt
	for _, w := range rt.warnings {
		d.logger.Warn().Msg(w)
	}
	keys, err := loadTicketKeys(cfg)
	if err != nil {
		rt.close()
		fail(stderr, err)
		return 1
	}
	if err := d.openAccessLog(cfg); err != nil {
		rt.close()
		fail(stderr, err)
		return 1
	}

	d.metrics = metrics.New(metrics.Options{Version: versionString(), Healthy: d.healthy.Load})
	clientVerifications.set(d.metrics.ClientCertVerification)
	d.metrics.WatchConnLimit(connLimit)
	d.metrics.WatchShield(shieldTable, clientConns)
	d.holder = tlsconf.NewHolder(rt.state)
	if keys != nil {
		d.holder.Config().SetSessionTicketKeys(keys)
	}
	d.https.store(d.wrapHTTPS(rt))
	d.plain.store(d.wrapPlain(rt))
	srvOpts := proxy.ServerOptions{
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.Duration,
		IdleTimeout:       cfg.Server.IdleTimeout.Duration,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		WriteByteTimeout:  cfg.Proxy.SendTimeout.Duration,
		Logger:            d.logger,

		MaxConcurrentStreams: cfg.Server.MaxConcurrentStreams,
	}
	d.httpsSrv = proxy.NewServer(&d.https, srvOpts)
	d.httpsSrv.ErrorLog = log.New(d.metrics.HandshakeErrorLog(d.httpsSrv.ErrorLog.Writer()), "", 0)
	d.httpsSrv.ConnState = d.metrics.ConnState
	d.plainSrv = proxy.NewServer(&d.plain, srvOpts)

	d.setTrusted(rt)
	if err := d.lns.open(cfg, activated, d.holder.Config(), d.isTrusted); err != nil {
		rt.close()
		fail(stderr, err)
		return 1
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d.ctx = ctx

	// Staples first, so the first clients get them (nginx fetches lazily).
	// The listeners are bound: connections wait in the backlog meanwhile.
	startStapler(ctx, rt, cfg.OCSP.PrefetchWait.Duration, d.logger)
	startClientAuth(ctx, rt, cfg.OCSP.PrefetchWait.Duration, d.logger)
	d.serve(d.httpsSrv, d.lns.https)
	if d.lns.http != nil {
		d.serve(d.plainSrv, d.lns.http)
	}
	startACME(ctx, rt, d.logger)
	metricsSrv := d.startMetrics(cfg)
	d.setCertMetrics(rt)
	d.healthy.Store(true)
	_ = service.Ready()
	go service.RunWatchdog(ctx, d.healthy.Load)
	d.logger.Info().Str("https", d.lns.https.Addr().String()).Str("http", addrOf(d.lns.http)).
		Str("profile", rt.policy.Profile).Int("sites", len(rt.sites)).Str("version", versionString()).
		Str("rsa_signer", tlsconf.RSASigner()).Msg("tlsfront serving")

	code := d.loop(sigs)

	_ = service.Stopping()
	d.healthy.Store(false)
	d.shutdown(metricsSrv)
	d.logger.Info().Msg("stopped")
	return code
}

// loop handles signals and certificate changes until it is time to stop.
func (d *daemon) loop(sigs <-chan os.Signal) int {
	changed := make(chan struct{}, 1)
	go d.watchFiles(changed)
	staples := time.NewTicker(30 * time.Second)
	defer staples.Stop()
	for {
		select {
		case err := <-d.serveErr:
			d.logger.Error().Err(err).Msg("listener failed; shutting down")
			return 1
		case <-changed:
			d.logger.Info().Msg("certificate or key files changed on disk")
			d.reload()
		case <-staples.C:
			d.setStapleMetrics(d.rt)
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				d.reload()
			case syscall.SIGUSR1:
				if d.access != nil {
					if err := d.access.Reopen(); err != nil {
						d.logger.Error().Err(err).Msg("reopening the access log failed; still writing to the old file")
					} else {
						d.logger.Info().Str("file", d.access.path).Msg("access log reopened")
					}
				}
			default:
				d.logger.Info().Str("signal", sig.String()).Dur("timeout", d.rt.cfg.Server.ShutdownTimeout.Duration).
					Msg("shutting down: finishing in-flight requests")
				return 0
			}
		}
	}
}

// serve starts srv on ln in the background. Errors from a listener closed
// on purpose (address change, shutdown) are not failures.
func (d *daemon) serve(srv *http.Server, ln net.Listener) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := srv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !d.lns.closedOnPurpose(ln) {
			d.serveErr <- err
		}
	}()
}

func (d *daemon) shutdown(metricsSrv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), d.rt.cfg.Server.ShutdownTimeout.Duration)
	defer cancel()
	var sw sync.WaitGroup
	for _, srv := range []*http.Server{d.httpsSrv, d.plainSrv, metricsSrv} {
		if srv == nil {
			continue
		}
		sw.Add(1)
		go func(srv *http.Server) {
			defer sw.Done()
			if err := srv.Shutdown(ctx); err != nil {
				d.logger.Warn().Err(err).Msg("shutdown timeout reached; closing remaining connections")
				srv.Close()
			}
		}(srv)
	}
	sw.Wait()
	d.wg.Wait()
	d.rt.handler.Close()
	d.rt.close()
	if d.access != nil {
		d.access.Close()
	}
}

// wrapHTTPS is the HTTPS handler of a runtime: the proxy, observed by the
// access log and metrics.
func (d *daemon) wrapHTTPS(rt *runtime) http.Handler {
	access := d.accessLogger(rt.cfg)
	sites := make([]string, len(rt.sites))
	for i, s := range rt.sites {
		sites[i] = s.names[0]
	}
	return proxy.Observe(rt.handler, func(e *proxy.Entry) {
		site := "unknown"
		if e.Site >= 0 && e.Site < len(sites) {
			site = sites[e.Site]
		}
		d.metrics.Request(site, e.Request.Proto, e.Status, e.Backend.Seconds())
		d.metrics.RequestHeadersDropped(e.HeadersDropped)
		if e.Refused != "" {
			d.metrics.ShieldRefusal(site, e.Rule, e.Refused)
		}
		if access != nil {
			access(e)
		}
	})
}

// wrapPlain is the plain listener's handler: ACME HTTP-01 challenges, then
// the redirect to HTTPS for everything else.
func (d *daemon) wrapPlain(rt *runtime) http.Handler {
	redirect := proxy.Redirect(rt.httpsPort)
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.acme.HandleHTTPChallenge(w, r) { // nil-safe
			return
		}
		redirect.ServeHTTP(w, r)
	})
	if access := d.accessLogger(rt.cfg); access != nil {
		h = proxy.Observe(h, access)
	}
	return h
}

// accessLogger returns the access log function for cfg, nil when off.
func (d *daemon) accessLogger(cfg *config.Config) func(*proxy.Entry) {
	if !cfg.Log.Access {
		return nil
	}
	var w io.Writer = d.logOut
	if d.access != nil {
		w = d.access
	}
	if cfg.Log.AccessFormat == "combined" {
		return proxy.CombinedAccessLog(w)
	}
	if d.access == nil {
		return proxy.JSONAccessLog(d.logger)
	}
	return proxy.JSONAccessLog(zerolog.New(w).With().Timestamp().Logger())
}

func (d *daemon) openAccessLog(cfg *config.Config) error {
	if cfg.Log.AccessFile == "" {
		return nil
	}
	f, err := openReopenFile(cfg.Log.AccessFile)
	if err != nil {
		return fmt.Errorf("log.access_file: %w", err)
	}
	d.access = f
	return nil
}

// setTrusted publishes rt's trusted proxies and proxy_protocol switch to
// the PROXY protocol listener and rt's file list to the watcher.
func (d *daemon) setTrusted(rt *runtime) {
	t, _ := headers.ParseTrustedProxies(rt.cfg.Headers.TrustedProxies) // validated by build
	d.trust.Store(&t)
	d.lns.setProxyProtocol(rt.cfg.Server.ProxyProtocol)
	d.watchCfg.Store(rt.cfg)
}

func (d *daemon) isTrusted(a netip.Addr) bool { return d.trust.Load().Contains(a) }

// startMetrics serves /metrics and /healthz when server.metrics is set. The
// address is fixed at start.
func (d *daemon) startMetrics(cfg *config.Config) *http.Server {
	if cfg.Server.Metrics == "" {
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Server.Metrics)
	if err != nil {
		d.logger.Error().Err(err).Str("addr", cfg.Server.Metrics).Msg("metrics listener failed; serving without metrics")
		return nil
	}
	srv := &http.Server{Handler: d.metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	d.logger.Info().Str("addr", ln.Addr().String()).Msg("metrics listening")
	return srv
}

// setCertMetrics publishes every served certificate's expiry and staple.
func (d *daemon) setCertMetrics(rt *runtime) {
	d.metrics.ResetCertificates()
	for _, s := range rt.sites {
		for _, c := range s.certs {
			if leaf := c.Leaf(); leaf != nil {
				d.metrics.SetCertificate(s.names[0]+" ("+c.KeyType+")", leaf.NotAfter)
			}
		}
	}
	d.setStapleMetrics(rt)
}

func (d *daemon) setStapleMetrics(rt *runtime) {
	d.setCRLMetrics(rt)
	if rt.stapler == nil {
		return
	}
	for _, st := range rt.stapler.Status() {
		if st.HasURL {
			d.metrics.SetStaple(st.Name, st.GoodUntil)
		}
	}
}

// loadTicketKeys reads tls.ticket_keys; nil keys mean Go's own random,
// daily-rotated keys.
func loadTicketKeys(cfg *config.Config) ([][32]byte, error) {
	if cfg.TLS.TicketKeys == "" || !cfg.TLS.SessionTickets {
		return nil, nil
	}
	keys, err := tlsconf.LoadTicketKeys(cfg.TLS.TicketKeys)
	if err != nil {
		return nil, fmt.Errorf("tls.ticket_keys: %w", err)
	}
	return keys, nil
}

// startStapler starts the OCSP loops and waits up to wait for first staples;
// then it reports must-staple certificates that have none, because browsers
// refuse those.
func startStapler(ctx context.Context, rt *runtime, wait time.Duration, logger zerolog.Logger) {
	if rt.stapler == nil {
		return
	}
	rt.stapler.Start(ctx)
	if wait > 0 {
		pctx, cancel := context.WithTimeout(ctx, wait)
		if err := rt.stapler.Prefetch(pctx); err != nil {
			logger.Warn().Dur("waited", wait).Msg("OCSP prefetch not finished; serving, staples follow when the responders answer")
		}
		cancel()
	}
	for _, st := range rt.stapler.Status() {
		if st.StapleMissing() {
			logger.Error().Str("cert", st.Name).Str("state", st.State).Str("error", st.LastError).
				Msg("MUST-STAPLE certificate has no valid OCSP staple: browsers will refuse it")
		}
	}
}

// startACME starts ordering and renewing the ACME sites' certificates. The
// listeners must be bound: certmagic stands back from ports in use.
func startACME(ctx context.Context, rt *runtime, logger zerolog.Logger) {
	if rt.acme == nil {
		return
	}
	if err := rt.acme.Manage(ctx, rt.acmeNames); err != nil {
		logger.Error().Err(err).Msg("ACME: cannot manage certificates; ACME sites fail their handshakes until this is fixed")
	}
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}
