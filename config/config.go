// Package config reads tlsfront's TOML file: the schema, strict decoding,
// environment overrides, defaults, and validation, which reports every
// problem with its line and key path. It sits before everything else:
// nothing listens until a file has passed through here. A rule owned by
// another package is checked by calling that package (tlsconf for the TLS
// policy, headers for header values); config keeps no copy of it. Only
// this package knows TOML; the server package maps the result onto the
// runtime packages' option structs when it builds a generation.
package config

import (
	"time"

	"tlsfront/shield"
)

// Config is the whole file. Zero values are filled by Defaults before decoding,
// so a key that is absent keeps its default and a key set to "" means "off"
// where the documentation says so.
type Config struct {
	Server  Server  `toml:"server"`
	TLS     TLS     `toml:"tls"`
	Headers Headers `toml:"headers"`
	Proxy   Proxy   `toml:"proxy"`
	OCSP    OCSP    `toml:"ocsp"`
	ACME    ACME    `toml:"acme"`
	Sites   []Site  `toml:"site"`
	Log     Log     `toml:"log"`

	// Path is the file the configuration was read from ("" when parsed from
	// memory); Dir is its folder, against which relative paths resolve.
	Path string `toml:"-"`
	Dir  string `toml:"-"`

	lines lineIndex
}

// Server holds the listeners and process-wide settings.
type Server struct {
	HTTPS             string   `toml:"https"`               // TLS listener address
	HTTP              string   `toml:"http"`                // plain listener (301 to https); "" disables
	StateDir          string   `toml:"state_dir"`           // generated certificates, OCSP cache
	ReadHeaderTimeout Duration `toml:"read_header_timeout"` // TLS handshake + request headers
	IdleTimeout       Duration `toml:"idle_timeout"`        // keep-alive idle limit
	MaxHeaderBytes    int      `toml:"max_header_bytes"`    // request line + headers, bytes
	ShutdownTimeout   Duration `toml:"shutdown_timeout"`    // drain limit on SIGTERM
	Metrics           string   `toml:"metrics"`             // Prometheus listener; "" disables
	ProxyProtocol     bool     `toml:"proxy_protocol"`      // PROXY v1/v2 from headers.trusted_proxies on https
	WatchInterval     Duration `toml:"watch_interval"`      // how often certificate files are checked for changes; 0 disables
	MaxConnections    int      `toml:"max_connections"`     // client connections open at once on both listeners; 0 = unlimited

	// Per client (package shield): an IPv4 address or an IPv6 /64.
	MaxConnsPerClient int `toml:"max_conns_per_client"` // connections one client may hold open on both listeners; 0 = unlimited
	ClientTableSize   int `toml:"client_table_size"`    // (client, rule) rate-limit entries kept; past it the least recently seen is forgotten

	HTTP2                string `toml:"http2"`                  // HTTP/2 server: tlsfront | go | off (no h2 in ALPN)
	MaxConcurrentStreams int    `toml:"max_concurrent_streams"` // HTTP/2 streams (requests) at once per connection
	HTTP2Glitches        int    `toml:"http2_glitches"`         // HTTP/2 protocol glitches before GOAWAY ENHANCE_YOUR_CALM; 0 = no limit
}

// TLS is the handshake policy.
type TLS struct {
	Profile    string `toml:"profile"`     // tutorial | intermediate | old | modern
	MinVersion string `toml:"min_version"` // "1.0".."1.3"; "" = the profile's
	Ciphers    string `toml:"ciphers"`     // OpenSSL syntax; "" = the profile's
	DHParam    string `toml:"dhparam"`     // always refused: Go has no finite-field DHE

	SessionTickets bool   `toml:"session_tickets"` // TLS session resumption by tickets
	TicketKeys     string `toml:"ticket_keys"`     // file of base64 32-byte keys shared by a fleet; "" = random, rotated daily
}

// Headers are what tlsfront adds to, removes from and rewrites in the
// traffic between clients and the backend.
type Headers struct {
	HSTS               string            `toml:"hsts"`                 // Strict-Transport-Security value; "" disables
	RewriteRedirects   bool              `toml:"rewrite_redirects"`    // http://host/... in Location, Content-Location, Refresh -> https://
	SecureCookies      bool              `toml:"secure_cookies"`       // add Secure to the backend's Set-Cookie
	HideBackendVersion bool              `toml:"hide_backend_version"` // "Server: Apache/2.2.22 (Debian)" -> "Server: Apache"; drop X-Powered-By
	TrustedProxies     []string          `toml:"trusted_proxies"`      // CIDRs whose X-Forwarded-For/Forwarded are kept and extended
	Set                map[string]string `toml:"set"`                  // response headers to set on every HTTPS response
	Remove             []string          `toml:"remove"`               // response headers to remove
	HPKP               HPKP              `toml:"hpkp"`
}

// HPKP is HTTP Public Key Pinning (RFC 7469). Browsers have removed it; it is
// report-only by default because a wrong pin locks users out for max_age.
type HPKP struct {
	Enabled           bool     `toml:"enabled"`
	BackupPins        []string `toml:"backup_pins"`        // base64 SHA-256 SPKI pins of keys not in use
	MaxAge            int64    `toml:"max_age"`            // seconds
	IncludeSubdomains bool     `toml:"include_subdomains"` // adds includeSubDomains
	ReportURI         string   `toml:"report_uri"`         // "" sends none
	ReportOnly        bool     `toml:"report_only"`        // Public-Key-Pins-Report-Only instead of Public-Key-Pins
	PinChain          bool     `toml:"pin_chain"`          // also pin the intermediates of the served chains
}

// SiteHeaders are per-site additions to [headers] set and remove.
type SiteHeaders struct {
	Set    map[string]string `toml:"set"`
	Remove []string          `toml:"remove"`
}

// Proxy is the HTTP side towards the backends.
type Proxy struct {
	DialTimeout           Duration `toml:"dial_timeout"`            // TCP connect to the backend
	ResponseHeaderTimeout Duration `toml:"response_header_timeout"` // backend's time to answer headers
	MaxIdleConns          int      `toml:"max_idle_conns"`          // idle keep-alive connections per backend
	MaxBackendConns       int      `toml:"max_backend_conns"`       // connections open per backend at once; 0 = no cap
	QueueTimeout          Duration `toml:"queue_timeout"`           // longest wait for a backend connection past the cap (then 503)
	MaxBodyBytes          int64    `toml:"max_body_bytes"`          // request body bytes; larger gets 413; 0 = unlimited
	ReadTimeout           Duration `toml:"read_timeout"`            // longest pause within a backend response body; 0 disables
	ClientBodyTimeout     Duration `toml:"client_body_timeout"`     // longest pause within a client's request body (408); 0 disables
	SendTimeout           Duration `toml:"send_timeout"`            // longest wait for the client to take response data; 0 disables
}

// OCSP configures stapling.
type OCSP struct {
	Stapling           bool              `toml:"stapling"`            // staple OCSP responses
	Timeout            Duration          `toml:"timeout"`             // per responder request
	PrefetchWait       Duration          `toml:"prefetch_wait"`       // how long startup waits for first staples
	ResponderOverrides map[string]string `toml:"responder_overrides"` // URL in certificate -> URL to ask
}

// ACME configures automatic certificates for sites with acme = true.
type ACME struct {
	Email      string   `toml:"email"`      // account contact; "" registers without one
	CA         string   `toml:"ca"`         // directory URL
	CARoot     string   `toml:"ca_root"`    // PEM roots for a private CA's API; "" = system roots
	AgreeTOS   bool     `toml:"agree_tos"`  // must be true to order certificates
	KeyType    string   `toml:"key_type"`   // ecdsa256 | rsa2048
	Challenges []string `toml:"challenges"` // http-01 (http listener), tls-alpn-01 (https listener)
}

// LetsEncrypt is the default ACME directory.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// Site is one virtual host: the names it answers, its certificates and its backend.
type Site struct {
	Names   []string    `toml:"names"`
	Backend string      `toml:"backend"`
	Certs   []Cert      `toml:"cert"`
	ACME    bool        `toml:"acme"` // certificates from [acme] instead of [[site.cert]]
	Headers SiteHeaders `toml:"headers"`

	Rules      []Rule     `toml:"rule"`        // access rules and rate limits by path prefix
	ClientAuth ClientAuth `toml:"client_auth"` // client certificates and mod_ssl's SSL_* variables (clientauth.go)
}

// Rule is one [[site.rule]]: access lists and a rate limit for the requests
// below a path prefix (package shield enforces and validates it).
type Rule struct {
	Path            string   `toml:"path"`             // prefix on the normalised path; "/" = the whole site
	Allow           []string `toml:"allow"`            // "all", addresses, CIDRs: checked first
	Deny            []string `toml:"deny"`             // "all", addresses, CIDRs: checked second; in neither = allowed
	CaseInsensitive bool     `toml:"case_insensitive"` // match the path ignoring case (Windows backends)
	Rate            string   `toml:"rate"`             // per client: "10r/s", "60r/m"; "" = no limit
	Burst           int      `toml:"burst"`            // requests above the rate a client may send at once
	Delay           bool     `toml:"delay"`            // hold excess requests until the rate allows them; false serves them at once (nginx's nodelay)
}

// Cert is one certificate chain and its key. Paths are resolved against the
// config file's folder by Load.
type Cert struct {
	Cert   string `toml:"cert"`   // PEM: leaf first, then intermediates
	Key    string `toml:"key"`    // PEM: PKCS#1, PKCS#8 or SEC1
	Issuer string `toml:"issuer"` // optional PEM issuer for OCSP when the chain lacks it
}

// Log configures the process log.
type Log struct {
	Level        string `toml:"level"`         // debug | info | warn | error
	Format       string `toml:"format"`        // json | console; "" = console on a terminal, json otherwise
	Output       string `toml:"output"`        // stderr | stdout
	Access       bool   `toml:"access"`        // one line per request
	AccessFormat string `toml:"access_format"` // json | combined (Apache's)
	AccessFile   string `toml:"access_file"`   // "" = with the process log; a path is reopened on SIGUSR1
}

// Defaults returns the configuration every file starts from.
func Defaults() Config {
	return Config{
		Server: Server{
			HTTPS:             ":8443",
			HTTP:              ":8080",
			StateDir:          "state",
			ReadHeaderTimeout: Duration{10 * time.Second},
			IdleTimeout:       Duration{120 * time.Second},
			MaxHeaderBytes:    64 << 10,
			ShutdownTimeout:   Duration{30 * time.Second},
			WatchInterval:     Duration{time.Minute},
			ClientTableSize:   shield.DefaultTableSize,

			HTTP2:                "tlsfront",
			MaxConcurrentStreams: 128,
			HTTP2Glitches:        1000,
		},
		TLS: TLS{Profile: "tutorial", SessionTickets: true},
		Headers: Headers{
			HSTS:               "max-age=63072000; includeSubDomains; preload",
			RewriteRedirects:   true,
			SecureCookies:      true,
			HideBackendVersion: true,
			HPKP:               HPKP{MaxAge: 5184000, ReportOnly: true},
		},
		Proxy: Proxy{
			DialTimeout:           Duration{5 * time.Second},
			ResponseHeaderTimeout: Duration{60 * time.Second},
			MaxIdleConns:          256,
			MaxBackendConns:       128,
			QueueTimeout:          Duration{30 * time.Second},
			ReadTimeout:           Duration{60 * time.Second},
			ClientBodyTimeout:     Duration{60 * time.Second},
			SendTimeout:           Duration{60 * time.Second},
		},
		OCSP: OCSP{
			Stapling:     true,
			Timeout:      Duration{10 * time.Second},
			PrefetchWait: Duration{5 * time.Second},
		},
		ACME: ACME{CA: LetsEncrypt, KeyType: "ecdsa256", Challenges: []string{"http-01", "tls-alpn-01"}},
		Log:  Log{Level: "info", Output: "stderr", Access: true, AccessFormat: "json"},
	}
}

// Duration is a time.Duration written as a Go duration string ("10s", "1m30s").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return &valueError{value: string(b), want: `a duration such as "10s" or "1m30s"`}
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

type valueError struct{ value, want string }

func (e *valueError) Error() string { return quote(e.value) + " is not " + e.want }
