package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// maxSocketPath is the longest unix socket path Linux takes (sun_path
// holds 108 bytes with the final NUL).
const maxSocketPath = 107

// Listen opens the API's listener at addr: "unix:PATH" (created with mode
// 0600; a stale socket left by a killed daemon is replaced, a live one is
// refused) or a loopback "host:port". Its errors begin with addr, so that
// a caller can prefix the flag that gave it.
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return listenUnix(addr, path)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s: want unix:PATH or a loopback host:port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s: the control API listens on loopback only (127.0.0.1, ::1 or localhost) or a unix socket", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return l, nil
}

func listenUnix(addr, path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("%s: a unix socket path must be under 108 bytes; give a shorter one", addr)
	}
	if err := removeStale(addr, path); err != nil {
		return nil, err
	}
	old := syscall.Umask(0o177) // no window where the socket is open to others
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return l, nil
}

// removeStale removes a socket at path that nobody serves (left by a
// killed daemon); it refuses a live socket and anything that is not one.
func removeStale(addr, path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return nil // nothing there (or net.Listen will say why)
	}
	if st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s: %s exists and is not a socket", addr, path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: another process serves that socket", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: %w", addr, err)
	}
	os.Remove(path)
	return nil
}
