package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"syscall"
	"time"

	"tlsfront/config"
	"tlsfront/service"
)

// reload builds a whole new runtime from the file and swaps it in: new
// handshakes and requests use it, established connections and in-flight
// requests finish on the old one. On any problem it logs exactly why and
// keeps the old one serving.
func (d *daemon) reload() {
	_ = service.Reloading()
	defer func() { _ = service.Ready() }()
	old := d.rt
	d.logger.Info().Str("config", d.path).Msg("reloading")
	rt, err := loadAndBuild(d.path, d.logger, false)
	var keys [][32]byte
	if err == nil {
		if keys, err = loadTicketKeys(rt.cfg); err != nil {
			rt.close()
		}
	}
	if err == nil {
		if err = d.lns.rebind(rt.cfg, old.cfg); err != nil {
			rt.close()
		}
	}
	if err != nil {
		for _, l := range problemLines(err) {
			d.logger.Error().Str("problem", l).Msg("reload failed; still serving the previous configuration")
		}
		d.metrics.Reload(false)
		_ = service.Status("reload failed; serving the previous configuration")
		return
	}
	for _, key := range restartOnly(old.cfg, rt.cfg) {
		d.logger.Warn().Str("key", key).Msg("changed, but applied only at restart; the old value stays in effect")
	}
	for _, w := range rt.warnings {
		d.logger.Warn().Msg(w)
	}
	startStapler(d.ctx, rt, rt.cfg.OCSP.PrefetchWait.Duration, d.logger)
	startClientAuth(d.ctx, rt, rt.cfg.OCSP.PrefetchWait.Duration, d.logger)
	if keys != nil {
		d.holder.Config().SetSessionTicketKeys(keys)
	}
	d.setTrusted(rt)
	d.holder.Swap(rt.state)
	d.https.store(d.wrapHTTPS(rt))
	d.plain.store(d.wrapPlain(rt))
	d.rt = rt
	for _, ln := range d.lns.fresh() { // listeners bound for changed addresses
		srv := d.httpsSrv
		if ln == d.lns.http {
			srv = d.plainSrv
		}
		d.serve(srv, ln)
	}
	d.lns.closeRetired()
	startACME(d.ctx, rt, d.logger)
	d.setCertMetrics(rt)
	old.close() // staples already held stay readable for handshakes in flight
	go func() { // let requests on the old handler finish before dropping its idle backend connections
		time.Sleep(time.Minute)
		old.handler.Close()
	}()
	d.metrics.Reload(true)
	_ = service.Status("serving")
	d.logger.Info().Msg("reloaded")
}

// watchFiles signals changed when a certificate, key, issuer, ticket key,
// client CA or CRL file of the current configuration changes on disk (certbot renewals), so
// it is reloaded without a signal. server.watch_interval 0 disables it.
func (d *daemon) watchFiles(changed chan<- struct{}) {
	every := d.watchCfg.Load().Server.WatchInterval.Duration
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := fingerprint(d.watchCfg.Load())
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		now := fingerprint(d.watchCfg.Load())
		if now != last {
			last = now
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}
}

// fingerprint summarises the size, modification time and identity of every
// file the configuration names for certificates and ticket keys.
func fingerprint(cfg *config.Config) [32]byte {
	h := sha256.New()
	add := func(p string) {
		if p == "" {
			return
		}
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(h, "%s %d %d", p, fi.Size(), fi.ModTime().UnixNano())
			// Identity and change time catch a file renamed over another
			// with the same size and mtime (cp -p, certbot's symlinks). Not
			// the whole Stat_t: reading the files updates their atime,
			// which would make every reload trigger another one.
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				fmt.Fprintf(h, " %d %d %d.%d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
			}
			fmt.Fprintln(h)
		} else {
			fmt.Fprintf(h, "%s missing\n", p)
		}
	}
	for _, s := range cfg.Sites {
		for _, c := range s.Certs {
			add(c.Cert)
			add(c.Key)
			add(c.Issuer)
		}
	}
	add(cfg.TLS.TicketKeys)
	for _, p := range clientAuthFiles(cfg) {
		add(p)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// restartOnly lists the keys that changed between old and cfg but are fixed
// for the process's life (server limits, logging, the metrics listener).
func restartOnly(old, cfg *config.Config) []string {
	var keys []string
	check := func(key string, changed bool) {
		if changed {
			keys = append(keys, key)
		}
	}
	check("server.read_header_timeout", old.Server.ReadHeaderTimeout != cfg.Server.ReadHeaderTimeout)
	check("server.idle_timeout", old.Server.IdleTimeout != cfg.Server.IdleTimeout)
	check("server.max_header_bytes", old.Server.MaxHeaderBytes != cfg.Server.MaxHeaderBytes)
	check("proxy.send_timeout (for whole HTTP/2 connections; streams and HTTP/1.1 take the new value)", old.Proxy.SendTimeout != cfg.Proxy.SendTimeout)
	check("server.metrics", old.Server.Metrics != cfg.Server.Metrics)
	check("server.watch_interval", old.Server.WatchInterval != cfg.Server.WatchInterval)
	// Go cannot go back to automatic keys on a config that had fixed ones.
	check("tls.ticket_keys (removed: the last shared keys stay in use)", old.TLS.TicketKeys != "" && cfg.TLS.TicketKeys == "")
	check("log.level", old.Log.Level != cfg.Log.Level)
	check("log.format", old.Log.Format != cfg.Log.Format)
	check("log.output", old.Log.Output != cfg.Log.Output)
	check("log.access_file", old.Log.AccessFile != cfg.Log.AccessFile)
	return keys
}
