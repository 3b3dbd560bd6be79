package itest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// BuildTlsfront builds the tlsfront binary once per test binary and returns
// its path. The binary lives in a directory of the system temp dir keyed by
// the module root, replaced atomically by each build.
func BuildTlsfront(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		build.path, build.err = buildTlsfront(ModuleRoot(t))
	})
	if build.err != nil {
		t.Fatalf("building tlsfront: %v", build.err)
	}
	return build.path
}

func buildTlsfront(root string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("finding the go command: %w", err)
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "tlsfront-itest", hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	final := filepath.Join(dir, "tlsfront")
	tmp := fmt.Sprintf("%s.%d", final, os.Getpid())
	cmd := exec.Command(goBin, "build", "-o", tmp, "./cmd/tlsfront")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("go build ./cmd/tlsfront in %s: %w\n%s", root, err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return final, nil
}

// RunTlsfront runs the tlsfront binary with args (a check with -t, version,
// ...) for at most 30 s and returns what it printed and its exit code.
func RunTlsfront(t testing.TB, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	return RunTlsfrontEnv(t, nil, args...)
}

// RunTlsfrontEnv is RunTlsfront with env added to the process's
// environment (see TlsfrontOptions.Env).
func RunTlsfrontEnv(t testing.TB, env []string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	bin := BuildTlsfront(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = tlsfrontEnv(env, false)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("tlsfront %s did not finish within 30s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), o.String(), e.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		exitCode = ee.ExitCode()
	default:
		t.Fatalf("running tlsfront: %v", err)
	}
	return o.String(), e.String(), exitCode
}

// TlsfrontEnv is the environment a test runs tlsfront with: its own,
// without its TLSFRONT_ variables (TLSFRONT_STRESS, re-exec markers:
// tlsfront refuses variables that name no key), plus env.
func TlsfrontEnv(env ...string) []string { return tlsfrontEnv(env, false) }

// tlsfrontEnv is TlsfrontEnv, or only env when empty.
func tlsfrontEnv(env []string, empty bool) []string {
	out := []string{}
	if !empty {
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "TLSFRONT_") {
				out = append(out, kv)
			}
		}
	}
	return append(out, env...)
}

// TlsfrontOptions say how StartTlsfrontWith runs tlsfront. The zero value
// is StartTlsfront's.
type TlsfrontOptions struct {
	// Args follow "-config PATH" on the command line.
	Args []string
	// Env is added to the environment: the test's own, without its
	// TLSFRONT_ variables, or nothing else with EmptyEnv (as in an image).
	Env      []string
	EmptyEnv bool
	// Wrap, when set, is the command that runs tlsfront: the tlsfront
	// command line is appended to it (chroot ROOT; unshare ... sh -c
	// 'SETUP && exec "$@"' sh). It must exec tlsfront, so that PID is
	// tlsfront's.
	Wrap []string
	// Binary and ConfigArg replace the binary's path and the -config
	// argument as Wrap sees them (/tlsfront and /etc/tlsfront/... in a
	// chroot). Defaults: the built binary and the written file.
	Binary, ConfigArg string
	// NoWait returns as soon as the process started; WaitServing waits
	// later. Otherwise StartTlsfrontWith returns once server.https completes
	// a TLS handshake (at most 20 s).
	NoWait bool
}

// Tlsfront is a running tlsfront process.
type Tlsfront struct {
	// Dir is the directory holding the config file.
	Dir string
	// ConfigPath is Dir/tlsfront.toml.
	ConfigPath string
	// HTTPSAddr and HTTPAddr are server.https and server.http from the
	// config; HTTPAddr is "" when the plain listener is disabled.
	HTTPSAddr, HTTPAddr string
	// HTTPSPort and HTTPPort are their ports; 0 when absent.
	HTTPSPort, HTTPPort int
	// PID is the process id of tlsfront, for /proc and nsenter.
	PID int

	t          testing.TB
	cmd        *exec.Cmd
	out        *SyncBuffer
	done       chan struct{}
	exitCode   int
	serverName string
}

// tlsfrontConfig is the part of the config the harness reads.
type tlsfrontConfig struct {
	Server struct {
		HTTPS string `toml:"https"`
		HTTP  string `toml:"http"`
	} `toml:"server"`
	Site []struct {
		Names []string `toml:"names"`
	} `toml:"site"`
}

// StartTlsfront writes configTOML to dir/tlsfront.toml, runs
// `tlsfront -config dir/tlsfront.toml extraArgs...` from the system temp
// directory (so relative paths only work if resolved against the config's
// folder), and returns once the https listener completes a TLS handshake
// (at most 20 s, else the test fails with the logs). The process is
// stopped with SIGTERM when the test ends; the test fails if it needs
// SIGKILL or exits non-zero.
func StartTlsfront(t testing.TB, dir, configTOML string, extraArgs ...string) *Tlsfront {
	t.Helper()
	return StartTlsfrontWith(t, dir, configTOML, TlsfrontOptions{Args: extraArgs})
}

// StartTlsfrontWith is the one way tests start tlsfront: StartTlsfront,
// with the environment, wrapper and wait of o. An empty configTOML writes
// nothing: o.ConfigArg names a file that exists (an installed one), and
// the caller waits with WaitServing.
func StartTlsfrontWith(t testing.TB, dir, configTOML string, o TlsfrontOptions) *Tlsfront {
	t.Helper()
	var cfg tlsfrontConfig
	if _, err := toml.Decode(configTOML, &cfg); err != nil {
		t.Fatalf("test config is not TOML: %v\n%s", err, configTOML)
	}
	if configTOML == "" && (o.ConfigArg == "" || !o.NoWait) {
		t.Fatalf("StartTlsfrontWith without a config needs ConfigArg and NoWait")
	}
	if cfg.Server.HTTPS == "" && !o.NoWait {
		t.Fatalf("test config has no server.https listener to wait for")
	}
	f := &Tlsfront{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "tlsfront.toml"),
		HTTPSAddr:  cfg.Server.HTTPS,
		HTTPAddr:   cfg.Server.HTTP,
		HTTPSPort:  portOf(cfg.Server.HTTPS),
		HTTPPort:   portOf(cfg.Server.HTTP),
		t:          t,
		out:        &SyncBuffer{},
		done:       make(chan struct{}),
		serverName: "localhost",
	}
	if len(cfg.Site) > 0 && len(cfg.Site[0].Names) > 0 {
		f.serverName = strings.Replace(cfg.Site[0].Names[0], "*.", "www.", 1)
	}
	if configTOML != "" {
		if err := os.WriteFile(f.ConfigPath, []byte(configTOML), 0o644); err != nil {
			t.Fatalf("writing tlsfront config: %v", err)
		}
	}
	bin, configArg := o.Binary, o.ConfigArg
	if bin == "" {
		bin = BuildTlsfront(t)
	}
	if configArg == "" {
		configArg = f.ConfigPath
	}
	args := append(append(append([]string{}, o.Wrap...), bin, "-config", configArg), o.Args...)
	f.cmd = exec.Command(args[0], args[1:]...)
	// Not dir: relative paths in the config must resolve against its folder.
	f.cmd.Dir = os.TempDir()
	f.cmd.Env = tlsfrontEnv(o.Env, o.EmptyEnv)
	f.cmd.Stdout = f.out
	f.cmd.Stderr = f.out
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("starting tlsfront: %v", err)
	}
	f.PID = f.cmd.Process.Pid
	go func() {
		err := f.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			f.exitCode = ee.ExitCode()
		default:
			f.exitCode = -1
		}
		close(f.done)
	}()
	t.Cleanup(f.stop)
	if !o.NoWait {
		f.WaitServing(f.HTTPSAddr)
	}
	return f
}

// WaitServing waits up to 20 s until addr completes a TLS handshake; the
// test fails, with the logs, if it does not or tlsfront exits first.
func (f *Tlsfront) WaitServing(addr string) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-f.done:
			f.t.Fatalf("tlsfront exited with code %d before serving on %s; output:\n%s", f.exitCode, addr, f.Logs())
		default:
		}
		if handshake(addr, f.serverName) == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("tlsfront's listener %s completed no TLS handshake within 20s (last: %v); output:\n%s",
				addr, handshake(addr, f.serverName), f.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func handshake(addr, serverName string) error {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		return err
	}
	return c.Close()
}

func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// Logs returns everything the process wrote to stdout and stderr so far.
func (f *Tlsfront) Logs() string { return f.out.String() }

// LogLines returns the JSON log lines written so far, decoded; lines that
// are not JSON objects are left out.
func (f *Tlsfront) LogLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(f.Logs()))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// WaitLog polls the logs for up to 10 s for a JSON line that match accepts
// and returns it; the test fails if none appears.
func (f *Tlsfront) WaitLog(t testing.TB, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range f.LogLines() {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching tlsfront log line within 10s; output:\n%s", f.Logs())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Signal sends sig to the process (SIGHUP to reload, SIGTERM to stop;
// after a SIGTERM, Wait returns the exit code).
func (f *Tlsfront) Signal(sig syscall.Signal) {
	if err := f.cmd.Process.Signal(sig); err != nil {
		f.t.Errorf("signalling tlsfront with %v: %v", sig, err)
	}
}

// Done is closed when the process has exited.
func (f *Tlsfront) Done() <-chan struct{} { return f.done }

// ExitCode is the exit code once Done is closed (-1 when killed by a
// signal).
func (f *Tlsfront) ExitCode() int {
	<-f.done
	return f.exitCode
}

// Wait waits up to 15 s for the process to exit and returns its exit code
// (-1 when killed by a signal). If it does not exit, the test fails and
// the process is killed.
func (f *Tlsfront) Wait() int {
	select {
	case <-f.done:
	case <-time.After(15 * time.Second):
		f.t.Errorf("tlsfront did not exit within 15s; killing it; output:\n%s", f.Logs())
		_ = f.cmd.Process.Kill()
		<-f.done
	}
	return f.exitCode
}

// stop is the clean-up: SIGTERM, at most 10 s for a graceful exit with
// code 0, else SIGKILL and a test error.
func (f *Tlsfront) stop() {
	select {
	case <-f.done:
		if f.t.Failed() {
			f.t.Logf("tlsfront output:\n%s", f.Logs())
		}
		return
	default:
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
		if f.exitCode != 0 {
			f.t.Errorf("tlsfront exited with code %d after SIGTERM, want 0", f.exitCode)
		}
	case <-time.After(10 * time.Second):
		f.t.Errorf("tlsfront did not exit within 10s of SIGTERM; killing it")
		_ = f.cmd.Process.Kill()
		<-f.done
	}
	if f.t.Failed() {
		f.t.Logf("tlsfront output:\n%s", f.Logs())
	}
}
