package mount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/clipfs/clipfs/index"
)

// TestToErrno: what each kind of error becomes; a network errno (a store
// that refuses connections) is EIO, never passed on as the file's own.
func TestToErrno(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/b/k", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	for _, c := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"not found", fmt.Errorf("clip x: %w", index.ErrNotFound), syscall.ENOENT},
		{"no such file", fmt.Errorf("blob: %w", os.ErrNotExist), syscall.ENOENT},
		{"interrupted", context.Canceled, syscall.EINTR},
		{"errno", fmt.Errorf("read: %w", syscall.ENOSPC), syscall.ENOSPC},
		{"connection refused", fmt.Errorf("fetch blob k: %w", refused), syscall.EIO},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, syscall.EIO},
		{"other", errors.New("boom"), syscall.EIO},
	} {
		if got := toErrno(slog.New(slog.DiscardHandler), "/clips/x.mp4", c.err); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
