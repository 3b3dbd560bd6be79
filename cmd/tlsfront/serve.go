package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/proxy"
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

// serve runs tlsfront until SIGTERM or SIGINT and returns the exit code.
func serve(path string, stderr io.Writer) int {
	cfg, cfgErr := config.Load(path)
	if cfg == nil {
		fail(stderr, cfgErr)
		return 1
	}
	logger := newLogger(cfg.Log, stderr)
	rt, err := build(cfg, cfgErr, logger, time.Now(), false)
	if err != nil {
		fail(stderr, err)
		return 1
	}
	for _, w := range rt.warnings {
		logger.Warn().Msg(w)
	}

	holder := tlsconf.NewHolder(rt.state)
	var handler, plain swapHandler
	handler.store(wrapHandler(rt, logger))

	srvOpts := proxy.ServerOptions{
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.Duration,
		IdleTimeout:       cfg.Server.IdleTimeout.Duration,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		Logger:            logger,
	}
	httpsLn, err := net.Listen("tcp", cfg.Server.HTTPS)
	if err != nil {
		fail(stderr, errors.New("listening on server.https "+cfg.Server.HTTPS+": "+err.Error()))
		return 1
	}
	servers := []*http.Server{proxy.NewServer(&handler, srvOpts)}
	listeners := []net.Listener{tls.NewListener(httpsLn, holder.Config())}
	if cfg.Server.HTTP != "" {
		httpLn, err := net.Listen("tcp", cfg.Server.HTTP)
		if err != nil {
			httpsLn.Close()
			fail(stderr, errors.New("listening on server.http "+cfg.Server.HTTP+": "+err.Error()))
			return 1
		}
		plain.store(wrapPlain(rt, logger))
		servers = append(servers, proxy.NewServer(&plain, srvOpts))
		listeners = append(listeners, httpLn)
	}

	// Staples first, so the first clients get them (nginx fetches lazily).
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	startStapler(ctx, rt, cfg.OCSP.PrefetchWait.Duration, logger)
	startACME(ctx, rt, logger)

	var wg sync.WaitGroup
	serveErr := make(chan error, len(servers))
	for i := range servers {
		wg.Add(1)
		go func(srv *http.Server, ln net.Listener) {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}(servers[i], listeners[i])
	}
	logger.Info().Str("https", httpsLn.Addr().String()).Str("http", cfg.Server.HTTP).
		Str("profile", rt.policy.Profile).Int("sites", len(rt.sites)).Str("version", versionString()).
		Msg("tlsfront serving")

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	code := 0
loop:
	for {
		select {
		case err := <-serveErr:
			logger.Error().Err(err).Msg("listener failed; shutting down")
			code = 1
			break loop
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				rt = reload(ctx, path, rt, holder, &handler, &plain, logger)
				continue
			}
			logger.Info().Str("signal", sig.String()).Dur("timeout", cfg.Server.ShutdownTimeout.Duration).Msg("shutting down: finishing in-flight requests")
			break loop
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), rt.cfg.Server.ShutdownTimeout.Duration)
	defer cancel()
	var sw sync.WaitGroup
	for _, srv := range servers {
		sw.Add(1)
		go func(srv *http.Server) {
			defer sw.Done()
			if err := srv.Shutdown(sctx); err != nil {
				logger.Warn().Err(err).Msg("shutdown timeout reached; closing remaining connections")
				srv.Close()
			}
		}(srv)
	}
	sw.Wait()
	wg.Wait()
	rt.handler.Close()
	rt.close()
	logger.Info().Msg("stopped")
	return code
}

// wrapHandler adds the access log around the runtime's proxy handler.
func wrapHandler(rt *runtime, logger zerolog.Logger) http.Handler {
	var h http.Handler = rt.handler
	if rt.cfg.Log.Access {
		h = proxy.AccessLog(h, logger)
	}
	return h
}

// wrapPlain is the plain listener's handler: ACME HTTP-01 challenges, then
// the redirect to HTTPS for everything else.
func wrapPlain(rt *runtime, logger zerolog.Logger) http.Handler {
	redirect := proxy.Redirect(rt.httpsPort)
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.acme.HandleHTTPChallenge(w, r) { // nil-safe
			return
		}
		redirect.ServeHTTP(w, r)
	})
	if rt.cfg.Log.Access {
		h = proxy.AccessLog(h, logger)
	}
	return h
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

// reload builds a whole new runtime from the file and swaps it in; on any
// problem it logs why and keeps the old one serving.
func reload(ctx context.Context, path string, old *runtime, holder *tlsconf.Holder, handler, plain *swapHandler, logger zerolog.Logger) *runtime {
	logger.Info().Str("config", path).Msg("reloading")
	rt, err := loadAndBuild(path, logger, false)
	if err != nil {
		for _, l := range problemLines(err) {
			logger.Error().Str("problem", l).Msg("reload failed; still serving the previous configuration")
		}
		return old
	}
	if rt.cfg.Server.HTTPS != old.cfg.Server.HTTPS || rt.cfg.Server.HTTP != old.cfg.Server.HTTP {
		logger.Warn().Msg("listener addresses changed: restart tlsfront to apply them; other changes are applied")
	}
	for _, w := range rt.warnings {
		logger.Warn().Msg(w)
	}
	startStapler(ctx, rt, rt.cfg.OCSP.PrefetchWait.Duration, logger)
	holder.Swap(rt.state)
	handler.store(wrapHandler(rt, logger))
	plain.store(wrapPlain(rt, logger))
	startACME(ctx, rt, logger)
	go func() { // let requests on the old handler finish before dropping its idle backend connections
		time.Sleep(time.Minute)
		old.handler.Close()
	}()
	old.close() // staples already held stay readable for handshakes in flight
	logger.Info().Msg("reloaded")
	return rt
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
