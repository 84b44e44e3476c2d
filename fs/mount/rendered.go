package mount

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Generated files (JSON, pickles, Parquet) are rendered from the index's
// records: on stat, to learn their exact size, and on open. Renders are
// deterministic, so the size a stat reported is the size an open reads;
// renderCache keeps recent renders so that `ls -l` then `cat` renders
// once.

// renderCacheSlots and renderCacheBytes bound the cache; a render larger
// than renderCacheItem is never kept.
const (
	renderCacheSlots = 4096
	renderCacheBytes = 16 << 20
	renderCacheItem  = 64 << 10
)

// renderCache is direct-mapped by inode number. epoch is bumped by every
// invalidation of a live mount: a render begun before it is not kept, and
// nothing kept before it is used.
type renderCache struct {
	mu    sync.Mutex
	slots [renderCacheSlots]renderSlot
	bytes int
	epoch atomic.Uint64
}

type renderSlot struct {
	ino   uint64
	epoch uint64
	e     index.Entry
	data  []byte
}

func (c *renderCache) get(ino uint64, e index.Entry) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[ino%renderCacheSlots]
	if s.data == nil || s.ino != ino || s.e != e || s.epoch != c.epoch.Load() {
		return nil, false
	}
	return s.data, true
}

func (c *renderCache) put(ino uint64, e index.Entry, epoch uint64, b []byte) {
	if len(b) > renderCacheItem || b == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch.Load() {
		return
	}
	s := &c.slots[ino%renderCacheSlots]
	c.bytes -= len(s.data)
	*s = renderSlot{}
	if c.bytes+len(b) > renderCacheBytes {
		return
	}
	*s = renderSlot{ino: ino, epoch: epoch, e: e, data: b}
	c.bytes += len(b)
}

// rendered is the bytes of generated file e of folder dir.
func (fs *rawFS) rendered(dir string, e index.Entry) ([]byte, syscall.Errno) {
	ino := inodeNumber(e.Kind, dir, e.Name)
	if b, ok := fs.render.get(ino, e); ok {
		return b, 0
	}
	epoch := fs.render.epoch.Load()
	b, err := fs.t.Render(e)
	if err != nil {
		return nil, toErrno(fs.t.log, tree.ChildPath(dir, e.Name), err)
	}
	if b == nil {
		b = []byte{}
	}
	fs.render.put(ino, e, epoch, b)
	return b, 0
}

// renderState keeps the page cache of a live mount honest for one
// generated file. A change to the file's records (refresh) starts a new
// generation; a handle of an older one still serves its own bytes, and its
// reads may put them in the (shared) page cache. So while one is open, new
// opens bypass the cache (FOPEN_DIRECT_IO), and the first open after the
// last of them closes drops the cache (no FOPEN_KEEP_CACHE).
type renderState struct {
	gen   uint64
	open  map[uint64]int // open handles by generation
	stale bool           // the page cache may hold an older generation's bytes
}

// refreshRendered tells node id (if a generated file) that its records
// changed.
func (fs *rawFS) refreshRendered(id uint64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if st := fs.renders[id]; st != nil {
		st.gen++
		st.stale = st.stale || len(st.open) > 0
	}
}

func (fs *rawFS) openRendered(id uint64, f file, e index.Entry) (fileHandle, uint32, syscall.Errno) {
	for {
		fs.mu.Lock()
		st := fs.renders[id]
		if st == nil {
			st = &renderState{open: map[uint64]int{}}
			fs.renders[id] = st
		}
		gen := st.gen
		fs.mu.Unlock()

		b, errno := fs.rendered(f.dir, e)
		if errno != 0 {
			return nil, 0, errno
		}

		fs.mu.Lock()
		if fs.renders[id] != st || st.gen != gen { // refreshed meanwhile: render again
			fs.mu.Unlock()
			if _, ne, errno := fs.entryOf(id); errno == 0 {
				e = ne
			}
			continue
		}
		older := 0
		for g, c := range st.open {
			if g < gen {
				older += c
			}
		}
		open := uint32(fuse.FOPEN_KEEP_CACHE)
		switch {
		case older > 0:
			open = fuse.FOPEN_DIRECT_IO
		case st.stale:
			open, st.stale = 0, false // the kernel drops the inode's cached pages
		}
		st.open[gen]++
		fs.mu.Unlock()
		return &renderedHandle{fs: fs, id: id, st: st, gen: gen, data: b}, open, 0
	}
}

// renderedHandle is an open generated file: the bytes it was opened with.
type renderedHandle struct {
	fs   *rawFS
	id   uint64
	st   *renderState
	gen  uint64
	data []byte
}

func (h *renderedHandle) read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(h.data)) {
		return dataResult(nil), 0
	}
	return dataResult(h.data[off:min(int64(len(h.data)), off+int64(len(dest)))]), 0
}

func (h *renderedHandle) release() {
	fs := h.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	st := h.st
	if st.open[h.gen]--; st.open[h.gen] <= 0 {
		delete(st.open, h.gen)
	}
	if len(st.open) == 0 && !st.stale && fs.renders[h.id] == st {
		delete(fs.renders, h.id)
	}
}
