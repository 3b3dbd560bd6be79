package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"tlsfront/config"
	"tlsfront/proxy"
	"tlsfront/shield"
)

// connLimit is server.max_connections: one count for the process, over the
// https and http listeners, kept across reloads (which may change the limit).
var connLimit = proxy.NewConnLimiter(0)

// The shield's process-wide state, kept across reloads like connLimit:
// clientConns counts each client's connections over both listeners
// (server.max_conns_per_client), shieldTable holds the rate-limit state of
// every generation's rules (server.client_table_size), clientRefusals logs
// refused connections.
var (
	clientConns    = shield.NewConns(0)
	shieldTable    = shield.NewTable(0)
	clientRefusals = proxy.NewRefusalLog(zerolog.Nop(), 0)
)

// setClientLimits applies cfg's per-client limits to the process-wide
// state; called where server.max_connections is applied.
func setClientLimits(cfg *config.Config) {
	clientConns.SetMax(cfg.Server.MaxConnsPerClient)
	shieldTable.SetSize(cfg.Server.ClientTableSize)
}

// listeners holds the bound sockets: bound by tlsfront, or passed by systemd
// socket activation (then fixed for the process's life). A reload that
// changes an address binds the new socket before anything is given up; the
// old one is closed only once the new state is in.
type listeners struct {
	https, http net.Listener // as served: https is TLS-wrapped
	activated   bool
	tlsConfig   *tls.Config
	trusted     func(netip.Addr) bool // PROXY protocol peers (read at accept time)
	// proxyOn is server.proxy_protocol of the serving configuration. The
	// https listener always has the PROXY protocol wrapper, which reads it
	// at accept time, so a reload switches it without rebinding the port.
	proxyOn atomic.Bool

	mu      sync.Mutex
	purpose map[net.Listener]bool // closed on purpose: Serve's error is expected
	newOnes []net.Listener        // bound by the last rebind, not yet served
	retired []net.Listener        // replaced by the last rebind, to close
}

// open binds the listeners for cfg, or takes them from activated.
func (l *listeners) open(cfg *config.Config, activated map[string][]net.Listener, tlsConfig *tls.Config, trusted func(netip.Addr) bool) error {
	l.tlsConfig, l.trusted, l.purpose = tlsConfig, trusted, map[net.Listener]bool{}
	l.proxyOn.Store(cfg.Server.ProxyProtocol)
	connLimit.SetMax(cfg.Server.MaxConnections)
	setClientLimits(cfg)
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
		l.https = l.wrapHTTPS(activated["https"][0], cfg)
		if h := activated["http"]; h != nil {
			l.http = l.wrapHTTP(h[0])
		}
		return nil
	}
	raw, err := net.Listen("tcp", cfg.Server.HTTPS)
	if err != nil {
		return fmt.Errorf("listening on server.https %s: %w", cfg.Server.HTTPS, err)
	}
	if cfg.Server.HTTP != "" {
		if l.http, err = net.Listen("tcp", cfg.Server.HTTP); err != nil {
			raw.Close()
			return fmt.Errorf("listening on server.http %s: %w", cfg.Server.HTTP, err)
		}
		l.http = l.wrapHTTP(l.http)
	}
	l.https = l.wrapHTTPS(raw, cfg)
	return nil
}

func (l *listeners) wrapHTTPS(raw net.Listener, cfg *config.Config) net.Listener {
	raw = connLimit.Listener(raw) // first: a refused connection costs no PROXY header or handshake
	raw = proxy.ProxyProtocolListener(raw, l.expectsHeader, cfg.Server.ReadHeaderTimeout.Duration)
	raw = proxy.ClientConnLimit(raw, clientConns, l.trusted, clientRefusals) // the client named by the PROXY header
	return tls.NewListener(raw, l.tlsConfig)
}

func (l *listeners) wrapHTTP(raw net.Listener) net.Listener {
	return proxy.ClientConnLimit(connLimit.Listener(raw), clientConns, l.trusted, clientRefusals)
}

// expectsHeader reports whether a connection from peer must start with a
// PROXY protocol header: proxy_protocol is on and peer is trusted.
func (l *listeners) expectsHeader(peer netip.Addr) bool {
	return l.proxyOn.Load() && l.trusted(peer)
}

// setProxyProtocol switches PROXY protocol headers on or off for
// connections accepted from now on.
func (l *listeners) setProxyProtocol(on bool) { l.proxyOn.Store(on) }

// rebind binds sockets for addresses that changed between old and cfg, and
// applies cfg's server.max_connections. On error nothing changes. The new
// sockets are in fresh(), the replaced ones are closed by closeRetired.
func (l *listeners) rebind(cfg, old *config.Config) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.newOnes, l.retired = nil, nil
	if l.activated {
		connLimit.SetMax(cfg.Server.MaxConnections)
		setClientLimits(cfg)
		return nil // addresses come from the socket units
	}
	var https, http net.Listener
	if cfg.Server.HTTPS != old.Server.HTTPS {
		raw, err := net.Listen("tcp", cfg.Server.HTTPS)
		if err != nil {
			return fmt.Errorf("listening on server.https %s: %w", cfg.Server.HTTPS, err)
		}
		https = l.wrapHTTPS(raw, cfg)
	}
	if cfg.Server.HTTP != old.Server.HTTP && cfg.Server.HTTP != "" {
		var err error
		if http, err = net.Listen("tcp", cfg.Server.HTTP); err != nil {
			if https != nil {
				https.Close()
			}
			return fmt.Errorf("listening on server.http %s: %w", cfg.Server.HTTP, err)
		}
		http = l.wrapHTTP(http)
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
	connLimit.SetMax(cfg.Server.MaxConnections) // reload is the last step that can fail before the swap
	setClientLimits(cfg)
	return nil
}

// fresh returns the sockets the last rebind bound.
func (l *listeners) fresh() []net.Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.newOnes
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

func (l *listeners) closedOnPurpose(ln net.Listener) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.purpose[ln]
}
