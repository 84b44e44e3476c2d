package watch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Watch masks. IN_EXCL_UNLINK: a file unlinked while still open (a deleted
// temporary file) sends nothing more.
const (
	dirMask = unix.IN_CREATE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB |
		unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_DELETE_SELF |
		unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK
	// subdirMask does not follow a symbolic link put in a folder's place.
	subdirMask = dirMask | unix.IN_DONT_FOLLOW
	// rootMask follows a root given as a link, and notices the root moving.
	rootMask = dirMask | unix.IN_MOVE_SELF
)

// rootGoneMask marks the events that end the root's watch.
const rootGoneMask = unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_UNMOUNT | unix.IN_IGNORED

// maxReads bounds the reads of one loop turn, so that a flood of events
// (a fast copy sends IN_MODIFY per write) does not starve checks and rescans.
const maxReads = 16

// event is one inotify event; name is empty for an event on the folder itself.
type event struct {
	wd   int
	mask uint32
	name string
}

// readEvents reads and handles the events queued on the inotify descriptor.
func (w *Watcher) readEvents(ctx context.Context) error {
	for range maxReads {
		n, err := unix.Read(w.fd, w.buf)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return nil
		case err != nil:
			return fmt.Errorf("watch: read inotify: %w", err)
		}
		now := time.Now()
		for ev := range events(w.buf[:n]) {
			if err := w.handle(ctx, ev, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// events parses the records of buf, as read(2) returns them; a truncated
// record ends it.
func events(buf []byte) iter.Seq[event] {
	return func(yield func(event) bool) {
		for len(buf) >= unix.SizeofInotifyEvent {
			ev := event{
				wd:   int(int32(binary.NativeEndian.Uint32(buf[0:]))),
				mask: binary.NativeEndian.Uint32(buf[4:]),
			}
			size := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[12:]))
			if size > len(buf) {
				return
			}
			name := buf[unix.SizeofInotifyEvent:size]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			ev.name = string(name)
			if !yield(ev) {
				return
			}
			buf = buf[size:]
		}
	}
}

// handle applies one event to the state; only the root's loss is an error.
func (w *Watcher) handle(ctx context.Context, ev event, now time.Time) error {
	if ev.mask&unix.IN_Q_OVERFLOW != 0 {
		w.log.Warn("watch: inotify queue overflowed, rescanning", "path", w.root)
		w.rescanNow = true
		return nil
	}
	if ev.wd == w.rootWd && ev.mask&rootGoneMask != 0 {
		return fmt.Errorf("%w: %s", ErrRootGone, w.root)
	}
	dir, ok := w.watches[ev.wd]
	if !ok {
		return nil // a watch already removed
	}
	if ev.mask&unix.IN_IGNORED != 0 {
		delete(w.watches, ev.wd)
		if w.dirs[dir] == ev.wd {
			delete(w.dirs, dir)
		}
		return nil
	}
	if ev.name == "" {
		return nil // the folder's own attributes, or its deletion (IN_IGNORED follows)
	}
	path := filepath.Join(dir, ev.name)
	if ev.mask&unix.IN_ISDIR != 0 {
		w.handleDir(ctx, path, ev.mask, now)
		return nil
	}
	w.handleFile(path, ev.mask, now)
	return nil
}

// handleDir watches and walks a folder that appeared and forgets one that
// went away.
func (w *Watcher) handleDir(ctx context.Context, path string, mask uint32, now time.Time) {
	switch {
	case mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
		w.walk(ctx, path, &walk{files: true, now: now})
	case mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
		w.forgetTree(path)
	}
}

// handleFile updates the candidate state of a file an event names.
func (w *Watcher) handleFile(path string, mask uint32, now time.Time) {
	switch {
	case mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
		w.forget(path)
	case mask&unix.IN_MOVED_TO != 0:
		delete(w.reported, path) // a new file took the name
		w.touch(path, closed, now)
	case mask&unix.IN_CLOSE_WRITE != 0:
		w.touch(path, closed, now)
	case mask&(unix.IN_CREATE|unix.IN_MODIFY) != 0:
		w.touch(path, writing, now)
	case mask&unix.IN_ATTRIB != 0:
		w.touch(path, refreshed, now)
	}
}
