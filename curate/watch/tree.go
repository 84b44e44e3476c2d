package watch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// walk is one walk of (part of) the tree.
type walk struct {
	files bool      // offer the files found as candidates
	now   time.Time // their quiet clocks start here
	// A full walk (the rescan) records what it saw, to forget the rest.
	full      bool
	seenDirs  map[string]bool
	seenFiles map[string]bool
	failed    []string // folders it could not read
	cut       bool     // stopped early: ctx done
}

// warning is a problem logged once, until it goes away.
type warning struct {
	what string // "watch" or "read"
	path string
}

// rescan walks the whole tree, then forgets the files and folders the walk
// showed gone.
func (w *Watcher) rescan(ctx context.Context, now time.Time) {
	wk := &walk{files: true, now: now, full: true,
		seenDirs: map[string]bool{}, seenFiles: map[string]bool{}}
	w.walk(ctx, w.root, wk)
	if wk.cut {
		return
	}
	// Paths under a folder that could not be read were not seen, not gone.
	unknown := func(path string) bool {
		for _, dir := range wk.failed {
			if within(path, dir) {
				return true
			}
		}
		return false
	}
	for path := range w.reported {
		if !wk.seenFiles[path] && !unknown(path) {
			delete(w.reported, path)
		}
	}
	for dir := range w.dirs {
		if !wk.seenDirs[dir] && !unknown(dir) {
			w.unwatch(dir)
		}
	}
	for k := range w.warned {
		if !wk.seenDirs[k.path] {
			delete(w.warned, k)
		}
	}
}

// walk watches dir and every folder below it and, for wk.files, offers the
// regular files in them. Symbolic links are not followed.
func (w *Watcher) walk(ctx context.Context, dir string, wk *walk) {
	if ctx.Err() != nil {
		wk.cut = true
		return
	}
	if wk.seenDirs != nil {
		wk.seenDirs[dir] = true
	}
	w.watchDir(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		wk.failed = append(wk.failed, dir)
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
			w.warnOnce(warning{"read", dir}, "watch: cannot read folder", "err", err)
		}
		return
	}
	delete(w.warned, warning{"read", dir})
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			w.walk(ctx, path, wk)
		case e.Type().IsRegular() && wk.files:
			fi, err := e.Info()
			if err != nil {
				continue // gone since the listing
			}
			if wk.seenFiles != nil {
				wk.seenFiles[path] = true
			}
			w.offer(path, fi, wk.now)
		}
	}
}

// watchDir adds (or renews) the watch on dir. A folder it cannot watch is
// logged and left to the rescan.
func (w *Watcher) watchDir(dir string) {
	mask := uint32(subdirMask)
	if dir == w.root {
		mask = rootMask
	}
	wd, err := w.addWatch(w.fd, dir, mask)
	switch {
	case err == nil:
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return // gone, or replaced by a file or link, since it was listed
	case errors.Is(err, unix.ENOSPC):
		msg := "watch: inotify watch limit reached (fs.inotify.max_user_watches); the periodic rescan will cover this folder"
		if w.o.Rescan < 0 {
			msg = "watch: inotify watch limit reached (fs.inotify.max_user_watches) and rescans are off; changes in this folder will be missed"
		}
		w.warnOnce(warning{"watch", dir}, msg)
		return
	default:
		w.warnOnce(warning{"watch", dir}, "watch: cannot watch folder", "err", err)
		return
	}
	delete(w.warned, warning{"watch", dir})
	if old, ok := w.dirs[dir]; ok && old != wd && w.watches[old] == dir {
		w.unwatch(dir) // the watch is on a folder no longer at this path
	}
	w.dirs[dir] = wd
	w.watches[wd] = dir
}

// unwatch removes the watch that dir holds in the maps, if it still names dir.
func (w *Watcher) unwatch(dir string) {
	wd, ok := w.dirs[dir]
	if !ok {
		return
	}
	delete(w.dirs, dir)
	if w.watches[wd] == dir {
		delete(w.watches, wd)
		unix.InotifyRmWatch(w.fd, uint32(wd)) // EINVAL when the kernel already dropped it
	}
}

// forgetTree forgets a folder that went away: its watches, candidates and
// reports.
func (w *Watcher) forgetTree(dir string) {
	for d := range w.dirs {
		if within(d, dir) {
			w.unwatch(d)
		}
	}
	for path := range w.cands {
		if within(path, dir) {
			delete(w.cands, path)
		}
	}
	for path := range w.reported {
		if within(path, dir) {
			delete(w.reported, path)
		}
	}
}

// warnOnce logs a problem unless it was logged and has not gone away since.
func (w *Watcher) warnOnce(k warning, msg string, args ...any) {
	if w.warned[k] {
		return
	}
	w.warned[k] = true
	w.log.Warn(msg, append([]any{"path", k.path}, args...)...)
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rest, ok := strings.CutPrefix(path, dir)
	return ok && (rest == "" || rest[0] == '/' || strings.HasSuffix(dir, "/"))
}
