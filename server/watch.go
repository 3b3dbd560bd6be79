package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"syscall"
	"time"

	"tlsfront/config"
)

// watchList is every file of cfg whose replacement on disk is a reason to
// reload: certificates, keys, issuers, the ticket key file, client CA and
// CRL files.
func watchList(cfg *config.Config) []string {
	var files []string
	for _, s := range cfg.Sites {
		for _, c := range s.Certs {
			for _, p := range []string{c.Cert, c.Key, c.Issuer} {
				if p != "" {
					files = append(files, p)
				}
			}
		}
	}
	if cfg.TLS.TicketKeys != "" {
		files = append(files, cfg.TLS.TicketKeys)
	}
	return append(files, clientAuthFiles(cfg)...)
}

// watchFiles signals changed when a file on the current Generation's watch
// list changes on disk (certbot renewals), so that it is reloaded without
// a signal. It checks every interval until ctx ends; interval <= 0 (a
// watch_interval of "0s") disables it.
func (d *Daemon) watchFiles(ctx context.Context, interval time.Duration, changed chan<- struct{}) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := fingerprint(d.cur.Load().watch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := fingerprint(d.cur.Load().watch)
		if now != last {
			last = now
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}
}

// noteRead records the fingerprint of cfg's files just before a start or
// reload reads them, whether it then succeeds or not.
func (d *Daemon) noteRead(cfg *config.Config) {
	sum := fingerprint(watchList(cfg))
	d.read.Store(&sum)
}

// readAlready reports whether the current files are those the last start
// or reload read: a change the watcher reported has been loaded since (or
// failed to load as it is now), so reloading again would change nothing.
func (d *Daemon) readAlready() bool {
	read := d.read.Load()
	return read != nil && *read == fingerprint(d.cur.Load().watch)
}

// fingerprint summarises the size, modification time and identity of
// files, so that a change to any of them changes it.
func fingerprint(files []string) [32]byte {
	h := sha256.New()
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(h, "%s missing\n", p)
			continue
		}
		fmt.Fprintf(h, "%s %d %d", p, fi.Size(), fi.ModTime().UnixNano())
		// Identity and change time catch a file renamed over another
		// with the same size and mtime (cp -p, certbot's symlinks). Not
		// the whole Stat_t: reading the files updates their atime,
		// which would make every reload trigger another one.
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			fmt.Fprintf(h, " %d %d %d.%d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
		}
		fmt.Fprintln(h)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
