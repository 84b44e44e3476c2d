package watch

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"time"
)

// stamp is what decides whether a file changed: its size and mtime.
type stamp struct {
	size  int64
	mtime int64 // Unix nanoseconds
}

func stampOf(fi fs.FileInfo) stamp {
	return stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// candidate is a file seen changing and not yet reported.
type candidate struct {
	stamp      stamp     // at the last check, when checked
	checked    bool      // stamp holds a stat's result
	writing    bool      // modified since its writer last closed it
	quietSince time.Time // last event or change of stamp
}

// writeState is what an event says about a file's writer.
type writeState int

const (
	writing   writeState = iota // created or modified: a writer has it open
	closed                      // closed after writing, or renamed in finished
	refreshed                   // attributes changed: the writer state stands
)

// matches reports whether the options select path.
func (w *Watcher) matches(path string) bool {
	return w.o.Match == nil || w.o.Match(path)
}

// touch makes path a candidate (if it matches) and restarts its quiet clock.
func (w *Watcher) touch(path string, s writeState, now time.Time) {
	c, ok := w.cands[path]
	if !ok {
		if !w.matches(path) {
			return
		}
		c = &candidate{}
		w.cands[path] = c
	}
	c.quietSince = now
	switch s {
	case writing:
		c.writing = true
	case closed:
		c.writing = false
	}
}

// offer makes a candidate of a matching, non-empty file found by a walk,
// unless it is one already or was reported as it is.
func (w *Watcher) offer(path string, fi fs.FileInfo, now time.Time) {
	if _, ok := w.cands[path]; ok || !w.matches(path) {
		return
	}
	st := stampOf(fi)
	if r, ok := w.reported[path]; st.size == 0 || (ok && r == st) {
		return
	}
	w.cands[path] = &candidate{stamp: st, checked: true, quietSince: now}
}

// forget drops every memory of path: a file there later is new.
func (w *Watcher) forget(path string) {
	delete(w.cands, path)
	delete(w.reported, path)
}

// check stats every candidate and reports, in path order, those that have
// settled.
func (w *Watcher) check(now time.Time, ready func(string)) {
	var settled []string
	for path, c := range w.cands {
		switch w.examine(path, c, now) {
		case waiting:
			continue
		case gone:
			delete(w.cands, path)
			continue
		}
		delete(w.cands, path)
		st := c.stamp
		if r, ok := w.reported[path]; st.size == 0 || (ok && r == st) {
			continue // empty, or unchanged since its report
		}
		w.reported[path] = st
		settled = append(settled, path)
	}
	slices.Sort(settled)
	for _, path := range settled {
		w.log.Debug("watch: file ready", "path", path, "size", w.reported[path].size)
		ready(path)
	}
}

// verdict is what a check makes of a candidate.
type verdict int

const (
	waiting verdict = iota // still changing, or not quiet long enough
	gone                   // no longer a regular file there
	done                   // settled: c.stamp is its state
)

// examine stats a candidate and decides whether it has settled: the same
// (size, mtime) as at the previous check and quiet for Settle, or for
// OpenWrite while its writer has not closed it.
func (w *Watcher) examine(path string, c *candidate, now time.Time) verdict {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			delete(w.reported, path)
		} else {
			w.log.Warn("watch: cannot stat file", "path", path, "err", err)
		}
		return gone
	}
	if !fi.Mode().IsRegular() {
		return gone
	}
	st := stampOf(fi)
	if !c.checked || st != c.stamp {
		if c.checked {
			c.quietSince = now
		}
		c.stamp, c.checked = st, true
		return waiting
	}
	need := w.o.Settle
	if c.writing {
		need = w.o.OpenWrite
	}
	if now.Sub(c.quietSince) < need {
		return waiting
	}
	return done
}
