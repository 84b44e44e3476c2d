package fs

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"github.com/clipfs/clipfs/index"
)

func isNotFound(err error) bool { return errors.Is(err, index.ErrNotFound) }

var loggedOnce sync.Map

// toErrno turns an error into the errno a FUSE call returns: missing
// entries are ENOENT, interrupts EINTR, everything else EIO (logged once
// per message, with the path it concerns).
func toErrno(log *slog.Logger, path string, err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case isNotFound(err), errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.As(err, &errno):
		return errno
	}
	if _, seen := loggedOnce.LoadOrStore(err.Error(), true); !seen {
		log.Warn("serving failed", "path", path, "err", err)
	}
	return syscall.EIO
}
