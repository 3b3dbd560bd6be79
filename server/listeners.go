package server

import (
	"fmt"
	"net"
	"sort"
	"sync"

	"tlsfront/config"
	"tlsfront/proxy"
)

// listeners holds the bound sockets: bound by tlsfront, or passed by
// systemd socket activation (then fixed for the process's life). Both
// count against the process's connection limit. A reload that changes an
// address binds the new socket before anything is given up (rebind); the
// old one is closed only once the new Generation is in (closeRetired).
type listeners struct {
	limiter     *proxy.ConnLimiter
	https, http net.Listener // http is nil when server.http = ""
	activated   bool

	mu      sync.Mutex
	purpose map[net.Listener]bool // closed on purpose: Accept's error is expected
	newOnes []net.Listener        // bound by the last rebind, not yet served
	retired []net.Listener        // replaced by the last rebind, to close
}

// open binds the listeners for cfg, or takes them from activated.
func (l *listeners) open(cfg *config.Config, activated map[string][]net.Listener) error {
	l.purpose = map[net.Listener]bool{}
	if activated != nil {
		l.activated = true
		for name, lns := range activated {
			if name != "https" && name != "http" || len(lns) != 1 {
				var names []string
				for n := range activated {
					names = append(names, n)
				}
				sort.Strings(names)
				return fmt.Errorf("socket activation passed sockets named %v (want one named \"https\" and optionally one \"http\", set by FileDescriptorName=)", names)
			}
		}
		if activated["https"] == nil {
			return fmt.Errorf("socket activation passed no socket named \"https\"")
		}
		l.https = l.limiter.Listener(activated["https"][0])
		if h := activated["http"]; h != nil {
			l.http = l.limiter.Listener(h[0])
		}
		return nil
	}
	https, err := l.bind("server.https", cfg.Server.HTTPS)
	if err != nil {
		return err
	}
	if cfg.Server.HTTP != "" {
		if l.http, err = l.bind("server.http", cfg.Server.HTTP); err != nil {
			https.Close()
			return err
		}
	}
	l.https = https
	return nil
}

// bind listens on addr, wrapped by the connection limit: a connection
// past it costs no PROXY header and no handshake.
func (l *listeners) bind(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s %s: %w", key, addr, err)
	}
	return l.limiter.Listener(ln), nil
}

// rebind binds sockets for the addresses that changed between old and
// cfg. On error nothing changes. The new sockets are in fresh(), the
// replaced ones are closed by closeRetired.
func (l *listeners) rebind(cfg, old *config.Config) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.newOnes, l.retired = nil, nil
	if l.activated {
		return nil // addresses come from the socket units
	}
	var https, http net.Listener
	if cfg.Server.HTTPS != old.Server.HTTPS {
		var err error
		if https, err = l.bind("server.https", cfg.Server.HTTPS); err != nil {
			return err
		}
	}
	if cfg.Server.HTTP != old.Server.HTTP && cfg.Server.HTTP != "" {
		var err error
		if http, err = l.bind("server.http", cfg.Server.HTTP); err != nil {
			if https != nil {
				https.Close()
			}
			return err
		}
	}
	if https != nil {
		l.retired = append(l.retired, l.https)
		l.https = https
		l.newOnes = append(l.newOnes, https)
	}
	if cfg.Server.HTTP != old.Server.HTTP {
		if l.http != nil {
			l.retired = append(l.retired, l.http)
		}
		l.http = http
		if http != nil {
			l.newOnes = append(l.newOnes, http)
		}
	}
	return nil
}

// fresh returns the sockets the last rebind bound.
func (l *listeners) fresh() []net.Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.newOnes
}

// isHTTPS reports whether ln is (or was) the https listener.
func (l *listeners) isHTTPS(ln net.Listener) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return ln == l.https
}

// closeRetired stops accepting on the sockets the last rebind replaced;
// connections accepted on them go on.
func (l *listeners) closeRetired() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.retired {
		l.purpose[ln] = true
		ln.Close()
	}
	l.retired = nil
}

// closeAll stops accepting: the first step of a shutdown.
func (l *listeners) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range []net.Listener{l.https, l.http} {
		if ln != nil {
			l.purpose[ln] = true
			ln.Close()
		}
	}
}

func (l *listeners) closedOnPurpose(ln net.Listener) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.purpose[ln]
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}
