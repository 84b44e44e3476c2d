package watch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults of the zero Options.
const (
	DefaultSettle    = 2 * time.Second
	DefaultOpenWrite = 30 * time.Second
	DefaultRescan    = time.Minute
)

// minTick is the shortest period of the readiness check.
const minTick = 50 * time.Millisecond

// ErrRootGone is returned by Run when the root folder is deleted, moved or
// unmounted.
var ErrRootGone = errors.New("watch: root folder is gone")

// Options configure a Watcher. Zero values take the defaults noted.
type Options struct {
	// Settle is how long a file's size and mtime must stay unchanged before it
	// is reported (default 2s).
	Settle time.Duration
	// OpenWrite is how long a file that was modified but whose writer has not
	// closed it (no IN_CLOSE_WRITE seen since its last modification) must stay
	// unchanged before it is reported anyway (default 30s; never less than
	// Settle).
	OpenWrite time.Duration
	// Rescan is the period of the full walk that catches changes inotify
	// missed (default 1m; <0 disables).
	Rescan time.Duration
	// Match selects the files reported (for example video extensions); nil
	// matches every regular file. It is given the absolute path.
	Match func(path string) bool
	// Log receives problems (a folder that cannot be watched or read: Warn,
	// one line naming the path and the reason) and, at Debug, each report;
	// nil is silent.
	Log *slog.Logger
}

// withDefaults fills in the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.OpenWrite <= 0 {
		o.OpenWrite = DefaultOpenWrite
	}
	o.OpenWrite = max(o.OpenWrite, o.Settle)
	if o.Rescan == 0 {
		o.Rescan = DefaultRescan
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// addWatchFunc is inotify_add_watch(2); tests substitute it to simulate a
// watch limit.
type addWatchFunc func(fd int, path string, mask uint32) (int, error)

// Watcher reports files under a root once they have settled.
type Watcher struct {
	root     string
	o        Options
	log      *slog.Logger
	fd       int // inotify descriptor, closed by Run
	rootWd   int
	addWatch addWatchFunc
	started  atomic.Bool
	pending  atomic.Int64

	// Owned by the goroutine in Run (by New before).
	watches   map[int]string // watch descriptor → folder
	dirs      map[string]int // folder → watch descriptor
	cands     map[string]*candidate
	reported  map[string]stamp // file → (size, mtime) last reported
	warned    map[warning]bool // problems logged and not yet resolved
	rescanNow bool             // a full walk is due at once
	buf       []byte           // inotify read buffer
}

// New checks that root is an existing folder (error names it otherwise) and
// sets up inotify on it and every folder below it. Error if inotify cannot be
// initialised. The root may be a symbolic link to a folder; reported paths
// start with the absolute, cleaned root as given.
func New(root string, o Options) (*Watcher, error) {
	return newWatcher(root, o, unix.InotifyAddWatch)
}

func newWatcher(root string, o Options, addWatch addWatchFunc) (*Watcher, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("watch: root %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("watch: root %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("watch: root %s is not a folder", root)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch: cannot initialise inotify: %w", err)
	}
	o = o.withDefaults()
	w := &Watcher{
		root: abs, o: o, log: o.Log, fd: fd, addWatch: addWatch,
		watches:  map[int]string{},
		dirs:     map[string]int{},
		cands:    map[string]*candidate{},
		reported: map[string]stamp{},
		warned:   map[warning]bool{},
		buf:      make([]byte, 64<<10),
	}
	w.rootWd, err = addWatch(fd, abs, rootMask)
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ENOSPC) {
			return nil, fmt.Errorf("watch: root %s: inotify watch limit reached: %w", root, err)
		}
		return nil, fmt.Errorf("watch: root %s: %w", root, err)
	}
	w.watches[w.rootWd] = abs
	w.dirs[abs] = w.rootWd
	w.walk(context.Background(), abs, &walk{})
	return w, nil
}

// Pending is the number of candidate files seen but not yet reported (for
// status displays); safe to call from any goroutine.
func (w *Watcher) Pending() int { return int(w.pending.Load()) }

// Run blocks until ctx is done (returns nil then) or a fatal error (the root
// gone: an error matching ErrRootGone). It first walks the tree: every
// matching file found becomes a candidate (treated as closed, i.e. reported
// after Settle if it does not change). It then follows inotify events. ready
// is called, from Run's goroutine, with the absolute path of each file that
// settled; it must not block for long. A file is reported again only when its
// (size, mtime) differs from what was last reported for it. Run closes the
// inotify fd when it returns; it may be called once.
func (w *Watcher) Run(ctx context.Context, ready func(path string)) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("watch: Run called twice")
	}
	defer unix.Close(w.fd)
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watch: eventfd: %w", err)
	}
	defer unix.Close(wake)
	signalled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(signalled)
		unix.Write(wake, binary.NativeEndian.AppendUint64(nil, 1))
	})
	defer func() {
		if !stop() {
			<-signalled // wake stays open until the signal is written
		}
	}()
	err = w.loop(ctx, wake, ready)
	if err != nil {
		w.log.Error("watch: stopped", "path", w.root, "err", err)
	}
	return err
}

// loop runs checks and rescans when due and handles events in between.
func (w *Watcher) loop(ctx context.Context, wake int, ready func(string)) error {
	tick := max(w.o.Settle/4, minTick)
	var nextCheck, nextRescan time.Time
	w.rescanNow = true
	for {
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		if w.rescanNow || (!nextRescan.IsZero() && !now.Before(nextRescan)) {
			w.rescanNow = false
			w.rescan(ctx, now)
			if w.o.Rescan > 0 {
				nextRescan = time.Now().Add(w.o.Rescan)
			}
		}
		if !nextCheck.IsZero() && !now.Before(nextCheck) {
			w.check(now, ready)
			nextCheck = now.Add(tick)
		}
		if len(w.cands) == 0 {
			nextCheck = time.Time{}
		} else if nextCheck.IsZero() {
			nextCheck = now.Add(tick)
		}
		w.pending.Store(int64(len(w.cands)))
		readable, err := w.wait(wake, pollTimeout(time.Now(), nextCheck, nextRescan))
		if err != nil {
			return err
		}
		if readable && ctx.Err() == nil {
			if err := w.readEvents(ctx); err != nil {
				return err
			}
		}
	}
}

// pollTimeout is poll(2)'s timeout in milliseconds until the earliest of the
// non-zero deadlines, rounded up; -1 (forever) when there is none.
func pollTimeout(now time.Time, deadlines ...time.Time) int {
	var next time.Time
	for _, d := range deadlines {
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	if next.IsZero() {
		return -1
	}
	d := max(next.Sub(now), 0)
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// wait sleeps until the inotify descriptor or wake is readable or timeoutMs
// passes; it says whether inotify is readable.
func (w *Watcher) wait(wake int, timeoutMs int) (bool, error) {
	fds := []unix.PollFd{
		{Fd: int32(w.fd), Events: unix.POLLIN},
		{Fd: int32(wake), Events: unix.POLLIN},
	}
	_, err := unix.Poll(fds, timeoutMs)
	if errors.Is(err, unix.EINTR) {
		return false, nil // the loop recomputes the timeout
	}
	if err != nil {
		return false, fmt.Errorf("watch: poll inotify: %w", err)
	}
	if fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		return false, fmt.Errorf("watch: poll inotify: revents %#x", fds[0].Revents)
	}
	return fds[0].Revents&unix.POLLIN != 0, nil
}
