package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// hstsValue is the Strict-Transport-Security value the tests configure and
// expect: the tutorial's.
const hstsValue = "max-age=63072000; includeSubDomains; preload"

// frontOptions describes one tlsfront instance of a test.
type frontOptions struct {
	// Profile is tls.profile; empty omits the key (the default, tutorial).
	Profile string
	// MinVersion and Ciphers are tls.min_version and tls.ciphers; empty
	// omits them.
	MinVersion, Ciphers string
	// Certs are the key types of the site's certificates ("rsa2048",
	// "ecdsa256"); each is minted by the fixture's CA. Empty means no
	// [[site.cert]] (a generated self-signed certificate).
	Certs []string
	// Backend is the site's backend URL. Empty means a fresh Apache.
	Backend string
	// NoHTTP disables the plain listener (server.http = "").
	NoHTTP bool
	// Headers is appended to the [headers] table verbatim (e.g. an
	// [headers.hpkp] table).
	Headers string
}

// fixture is a running tlsfront, its Apache backend and its CA.
type fixture struct {
	Front  *itest.Tlsfront
	Apache *itest.Apache // nil when frontOptions.Backend was given
	CA     *testca.CA
	Leaves map[string]*testca.Leaf // by key type
	Dir    string
}

// startFront mints certificates, starts Apache (unless a backend is given)
// and tlsfront, and returns when tlsfront completes a handshake.
func startFront(t *testing.T, o frontOptions) *fixture {
	t.Helper()
	f := &fixture{CA: testca.New(t), Leaves: map[string]*testca.Leaf{}, Dir: t.TempDir()}
	backend := o.Backend
	if backend == "" {
		f.Apache = itest.StartApache(t, itest.ApacheOptions{})
		backend = f.Apache.URL
	}
	var certs strings.Builder
	for _, kt := range o.Certs {
		leaf := f.CA.Leaf(t, testca.LeafOptions{Names: []string{"localhost", "127.0.0.1"}, KeyType: kt})
		f.Leaves[kt] = leaf
		// Relative names: the config's folder is not tlsfront's working
		// directory, so this also proves relative paths resolve against it.
		leaf.WriteFilesAs(f.Dir, kt)
		fmt.Fprintf(&certs, "  [[site.cert]]\n  cert = %q\n  key = %q\n", kt+".chain.pem", kt+".key")
	}
	httpAddr := ""
	if !o.NoHTTP {
		httpAddr = fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	}
	var tlsKeys strings.Builder
	for k, v := range map[string]string{"profile": o.Profile, "min_version": o.MinVersion, "ciphers": o.Ciphers} {
		if v != "" {
			fmt.Fprintf(&tlsKeys, "%s = %q\n", k, v)
		}
	}
	cfg := fmt.Sprintf(`[server]
https = "127.0.0.1:%d"
http = %q
state_dir = "state"

[tls]
%s
[headers]
hsts = %q
%s
[[site]]
names = ["localhost"]
backend = %q
%s
[log]
level = "info"
format = "json"
`, itest.FreePort(t), httpAddr, tlsKeys.String(), hstsValue, o.Headers, backend, certs.String())
	f.Front = itest.StartTlsfront(t, f.Dir, cfg)
	return f
}

// httpsURL is https://localhost:PORT + path; use it with curlResolve.
func (f *fixture) httpsURL(path string) string {
	return fmt.Sprintf("https://localhost:%d%s", f.Front.HTTPSPort, path)
}

// curlResolve makes curl send SNI and Host "localhost" to 127.0.0.1.
func (f *fixture) curlResolve() []string {
	return []string{"--resolve", fmt.Sprintf("localhost:%d:127.0.0.1", f.Front.HTTPSPort)}
}

// rootFile is the CA root for verifying clients.
func (f *fixture) rootFile() string { return filepath.Clean(f.CA.RootPath()) }

// sigterm is the signal that asks tlsfront to stop gracefully.
const sigterm = syscall.SIGTERM
