package service

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// listenFdsStart is the first file descriptor systemd passes (SD_LISTEN_FDS_START).
const listenFdsStart = 3

// Listeners returns the listening sockets systemd passed by socket
// activation, keyed by their FileDescriptorName= ("https" and "http" in
// tlsfront's socket units; systemd's default name is the socket unit's
// name). Sockets of one name keep systemd's order.
//
// It returns a nil map and nil error when the process was not socket
// activated: LISTEN_PID unset or naming another process. It unsets
// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in every case, so children do
// not mistake the descriptors for theirs, and marks the descriptors
// close-on-exec. It fails on malformed variables and on a descriptor that
// is not a listening stream socket; call it once, early in main.
func Listeners() (map[string][]net.Listener, error) {
	pidStr, fdsStr, namesStr := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	_, namesSet := os.LookupEnv("LISTEN_FDNAMES")
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		_ = os.Unsetenv(k)
	}
	if pidStr == "" {
		return nil, nil
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil {
		return nil, fmt.Errorf("socket activation: LISTEN_PID %q is not a process id", pidStr)
	}
	if pid != os.Getpid() {
		return nil, nil // meant for another process (we were exec'd by it)
	}
	n, err := strconv.Atoi(fdsStr)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS %q is not a count of descriptors", fdsStr)
	}
	if n == 0 {
		return nil, nil
	}
	names := make([]string, n)
	if namesSet {
		given := strings.Split(namesStr, ":")
		if len(given) != n {
			return nil, fmt.Errorf("socket activation: LISTEN_FDNAMES %q names %d descriptors, LISTEN_FDS says %d", namesStr, len(given), n)
		}
		copy(names, given)
	}
	for i := range names {
		if names[i] == "" {
			names[i] = "unknown" // sd_listen_fds_with_names' name for an unnamed descriptor
		}
	}

	// Mark every descriptor first, so none leaks into a child on failure.
	for i := range n {
		syscall.CloseOnExec(listenFdsStart + i)
	}
	out := make(map[string][]net.Listener, n)
	for i := range n {
		fd := listenFdsStart + i
		listening, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("socket activation: descriptor %d (%q) is not a socket: %w", fd, names[i], err)
		}
		if listening == 0 {
			closeAll(out)
			return nil, fmt.Errorf("socket activation: descriptor %d (%q) is a socket but not listening (want ListenStream=)", fd, names[i])
		}
		f := os.NewFile(uintptr(fd), names[i])
		ln, err := net.FileListener(f) // duplicates the descriptor
		f.Close()
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("socket activation: descriptor %d (%q) is not a listening stream socket: %w", fd, names[i], err)
		}
		out[names[i]] = append(out[names[i]], ln)
	}
	return out, nil
}

func closeAll(m map[string][]net.Listener) {
	for _, lns := range m {
		for _, ln := range lns {
			ln.Close()
		}
	}
}
