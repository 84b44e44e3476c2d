package mount

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
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
// digest is EIO too, logged as corrupt. An errno from the network (a
// connection refused or reset on the way to object storage) is the
// store's failure, not the file's: EIO too, never ECONNREFUSED.
func toErrno(log *slog.Logger, path string, err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case isNotFound(err), errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.As(err, &errno) && !isNetwork(err):
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

// isNetwork reports whether err came from the network (a dial, a read or
// write on a connection, an HTTP request). Not by net.Error: a bare
// syscall.Errno has its methods too.
func isNetwork(err error) bool {
	var op *net.OpError
	var ue *url.Error
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &ue) || errors.As(err, &dns)
}
