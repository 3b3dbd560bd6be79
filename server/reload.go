package server

import (
	"fmt"
	"strings"

	"tlsfront/config"
	"tlsfront/service"
)

// reloadFailed is the message of the log lines a failed reload writes, one
// per problem.
const reloadFailed = "reload failed; still serving the previous configuration"

// Reload builds a whole new Generation from the file and publishes it: new
// connections take it; established ones finish what they are serving on
// theirs, which then drains (see Generation.drain). Changed listener
// addresses are bound before anything is given up. On any problem
// it logs exactly why, one line per problem, keeps the current Generation
// serving and returns the error; nothing it built is left open.
func (d *Daemon) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return fmt.Errorf("reload: tlsfront is stopping")
	}
	_ = service.Reloading()
	defer func() { _ = service.Ready() }()
	old := d.cur.Load()
	d.logger.Info().Str("config", d.opts.ConfigPath).Msg("reloading")
	g, err := d.build()
	if err == nil {
		if err = d.lns.rebind(g.cfg, old.cfg); err != nil {
			g.close()
		}
	}
	if err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			d.logger.Error().Str("problem", l).Msg(reloadFailed)
		}
		d.metrics.Reload(false)
		_ = service.Status("reload failed; serving the previous configuration")
		return err
	}
	d.track(g)
	for _, key := range restartOnly(d.first, g.cfg) {
		d.logger.Warn().Str("key", key).Msg("changed, but applied only at restart; the old value stays in effect")
	}
	for _, w := range g.warnings {
		d.logger.Warn().Msg(w)
	}
	g.startStapler(d.ctx)
	g.startClientAuth(d.ctx)
	d.publish(g)
	for _, ln := range d.lns.fresh() { // listeners bound for changed addresses
		d.serveListener(ln, d.lns.isHTTPS(ln))
	}
	d.lns.closeRetired()
	g.startACME(d.ctx)
	d.setCertMetrics(g)
	d.metrics.Reload(true)
	_ = service.Status("serving")
	d.logger.Info().Msg("reloaded")
	return nil
}

// build reads the file and builds its Generation.
func (d *Daemon) build() (*Generation, error) {
	cfg, fromConfig, err := config.Load(d.opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	d.noteRead(cfg)
	return build(cfg, fromConfig, d.env())
}

// restartOnly lists the keys whose value in cfg differs from the one the
// process started with but that are fixed for the process's life (logging,
// the metrics listener, the file watch).
func restartOnly(first, cfg *config.Config) []string {
	var keys []string
	check := func(key string, changed bool) {
		if changed {
			keys = append(keys, key)
		}
	}
	check("server.metrics", first.Server.Metrics != cfg.Server.Metrics)
	check("server.watch_interval", first.Server.WatchInterval != cfg.Server.WatchInterval)
	check("log.level", first.Log.Level != cfg.Log.Level)
	check("log.format", first.Log.Format != cfg.Log.Format)
	check("log.output", first.Log.Output != cfg.Log.Output)
	check("log.access_file", first.Log.AccessFile != cfg.Log.AccessFile)
	return keys
}
