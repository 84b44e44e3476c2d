package mount

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
// per message, with the path it concerns). A blob whose bytes fail their
// digest is EIO too, logged as corrupt.
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
	var ce *index.CorruptError
	if errors.As(err, &ce) { // once per file and blob, whatever the offset
		if _, seen := loggedOnce.LoadOrStore("corrupt\x00"+path+"\x00"+ce.Blob, true); !seen {
			log.Warn("corrupt blob not served", "file", path, "blob", ce.Blob, "reason", ce.Detail)
		}
		return syscall.EIO
	}
	if _, seen := loggedOnce.LoadOrStore(err.Error(), true); !seen {
		log.Warn("serving failed", "path", path, "err", err)
	}
	return syscall.EIO
}
