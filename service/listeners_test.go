package service

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv selects what the re-executed test binary does in
// TestHelperActivated: "serve" or "report".
const helperEnv = "TLSFRONT_SERVICE_HELPER"

// TestHelperActivated is not a test: it is the child process of the socket
// activation tests, started by startActivated with LISTEN_* set the way
// systemd sets them. It prints one "RESULT ..." line; in serve mode it then
// serves HTTP on every listener, answering with the listener's name, until
// its stdin is closed.
func TestHelperActivated(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process for the socket activation tests")
	}
	lns, err := Listeners()
	if err != nil {
		fmt.Printf("RESULT error %s\n", err)
		os.Exit(0)
	}
	leftover := os.Getenv("LISTEN_PID") + os.Getenv("LISTEN_FDS") + os.Getenv("LISTEN_FDNAMES")
	var names []string
	for name, group := range lns {
		names = append(names, fmt.Sprintf("%s*%d", name, len(group)))
	}
	sort.Strings(names)
	fmt.Printf("RESULT ok pid=%d names=%v leftover=%q\n", os.Getpid(), names, leftover)
	if mode != "serve" {
		os.Exit(0)
	}
	for name, group := range lns {
		for i, ln := range group {
			body := fmt.Sprintf("%s[%d] pid=%d", name, i, os.Getpid())
			go func() {
				_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					io.WriteString(w, body)
				}))
			}()
		}
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// activated is a child process started with LISTEN_* and inherited fds.
type activated struct {
	cmd    *exec.Cmd
	result string // the child's RESULT line, without "RESULT "
	stdin  io.WriteCloser
}

// startActivated re-executes the test binary as systemd would start a
// socket-activated service: files become fds 3, 4, ...; LISTEN_PID is the
// child's own pid (sh's $$ survives exec); LISTEN_FDNAMES is names, unless
// names is "-" (unset). The parent's copies of files are closed.
func startActivated(t *testing.T, mode string, files []*os.File, names string) *activated {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`,
		os.Args[0], "-test.run=^TestHelperActivated$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "LISTEN_FDS="+strconv.Itoa(len(files)))
	if names != "-" {
		cmd.Env = append(cmd.Env, "LISTEN_FDNAMES="+names)
	}
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the activated child: %v", err)
	}
	for _, f := range files {
		f.Close()
	}
	a := &activated{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if r, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
				lines <- r
			}
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case r, ok := <-lines:
		if !ok {
			t.Fatal("the activated child exited without a RESULT line")
		}
		a.result = r
	case <-time.After(30 * time.Second):
		t.Fatal("the activated child printed no RESULT line within 30s")
	}
	return a
}

// tcpListenerFile returns a listening socket on 127.0.0.1 as a file, and
// its address. The listener itself is closed: the file keeps the socket.
func tcpListenerFile(t *testing.T) (*os.File, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	return f, ln.Addr().String()
}

// TestListenersServe passes two listening sockets to a child the way
// tlsfront.socket and tlsfront-http.socket do, and gets answers from each.
func TestListenersServe(t *testing.T) {
	httpsFile, httpsAddr := tcpListenerFile(t)
	httpFile, httpAddr := tcpListenerFile(t)
	a := startActivated(t, "serve", []*os.File{httpsFile, httpFile}, "https:http")
	wantResult := fmt.Sprintf(`ok pid=%d names=[http*1 https*1] leftover=""`, a.cmd.Process.Pid)
	if a.result != wantResult {
		t.Fatalf("child reported %q, want %q", a.result, wantResult)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range []struct{ name, addr, want string }{
		{"https socket", httpsAddr, "https[0]"},
		{"http socket", httpAddr, "http[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Get("http://" + tc.addr + "/")
			if err != nil {
				t.Fatalf("GET through the passed socket: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			want := fmt.Sprintf("%s pid=%d", tc.want, a.cmd.Process.Pid)
			if string(body) != want {
				t.Errorf("answer %q, want %q", body, want)
			}
		})
	}
}

func TestListenersKinds(t *testing.T) {
	regular, err := os.Create(filepath.Join(t.TempDir(), "plain"))
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udpFile, err := udp.(*net.UDPConn).File()
	udp.Close()
	if err != nil {
		t.Fatal(err)
	}
	tcpFile, _ := tcpListenerFile(t)
	twoA, _ := tcpListenerFile(t)
	twoB, _ := tcpListenerFile(t)
	for _, tc := range []struct {
		name  string
		files []*os.File
		names string
		want  string
	}{
		{"regular file", []*os.File{regular}, "https", `error socket activation: descriptor 3 ("https") is not a socket`},
		{"datagram socket", []*os.File{udpFile}, "https", `error socket activation: descriptor 3 ("https") is a socket but not listening`},
		{"two sockets of one unit", []*os.File{twoA, twoB}, "https:https", `ok pid=PID names=[https*2] leftover=""`},
		{"unnamed descriptor", []*os.File{tcpFile}, "-", `ok pid=PID names=[unknown*1] leftover=""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startActivated(t, "report", tc.files, tc.names)
			want := strings.ReplaceAll(tc.want, "PID", strconv.Itoa(a.cmd.Process.Pid))
			if !strings.HasPrefix(a.result, want) {
				t.Errorf("child reported %q, want prefix %q", a.result, want)
			}
		})
	}
}

// TestListenersNotActivated covers the environment checks, which run
// before any descriptor is touched, so they are safe in-process.
func TestListenersNotActivated(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, pid, fds, names string
		wantErr               string
	}{
		{"no environment", "", "", "", ""},
		{"another process's sockets", "1", "2", "https:http", ""},
		{"no descriptors", self, "0", "", ""},
		{"bad pid", "x", "2", "", `LISTEN_PID "x"`},
		{"bad count", self, "two", "", `LISTEN_FDS "two"`},
		{"negative count", self, "-1", "", `LISTEN_FDS "-1"`},
		{"names do not match count", self, "2", "https", `LISTEN_FDNAMES "https" names 1 descriptors, LISTEN_FDS says 2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range map[string]string{"LISTEN_PID": tc.pid, "LISTEN_FDS": tc.fds, "LISTEN_FDNAMES": tc.names} {
				t.Setenv(k, v)
			}
			lns, err := Listeners()
			if tc.wantErr == "" {
				if err != nil || lns != nil {
					t.Errorf("Listeners() = %v, %v; want nil, nil", lns, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Listeners() error = %v, want one containing %q", err, tc.wantErr)
			}
			for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
				if v, ok := os.LookupEnv(k); ok {
					t.Errorf("%s=%q left in the environment", k, v)
				}
			}
		})
	}
}
