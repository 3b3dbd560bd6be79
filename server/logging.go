package server

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/proxy"
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

// accessLogger returns the access log function for cfg, nil when off.
// The process's log.access_file (fixed at start) wins over the process log.
func (d *Daemon) accessLogger(cfg *config.Config) func(*proxy.Entry) {
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

// reopenFile is an append-only log file that logrotate can move away: on
// SIGUSR1 Reopen opens the path again and later writes go to the new file.
type reopenFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// openAccessLog opens log.access_file; nil when it is unset.
func openAccessLog(cfg *config.Config) (*reopenFile, error) {
	if cfg.Log.AccessFile == "" {
		return nil, nil
	}
	r := &reopenFile{path: cfg.Log.AccessFile}
	if err := r.Reopen(); err != nil {
		return nil, fmt.Errorf("log.access_file: %w", err)
	}
	return r, nil
}

// Reopen opens the path again; on error the old file stays in use.
func (r *reopenFile) Reopen() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("opening %s: %w", r.path, err)
	}
	r.mu.Lock()
	old := r.f
	r.f = f
	r.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (r *reopenFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Write(p)
}

func (r *reopenFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}
