package blobcache

import (
	"container/list"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clipfs/clipfs/index"
)

// entry is one blob the cache holds a file of, or is reading; all of it is
// guarded by Cache.mu. Its files are open only while it is active (pinned,
// or with readers).
type entry struct {
	name     string
	size     int64
	nblocks  int
	complete bool          // its file is under blobs/, whole
	present  []bool        // while partial: block i is stored
	npresent int           // blocks present
	inflight map[int]*call // block → the fetch bringing it
	created  bool          // while partial: its data and map files exist
	f        *os.File      // the data file, once opened
	mapf     *os.File      // the partial's map file, once opened
	inner    *innerHandle  // the inner store's reader, once opened
	pins     int           // reads and fetches in progress: never deleted meanwhile
	readers  int           // open readers
	fetchers int           // Fetch calls holding a reservation
	disk     int64         // bytes it has counted in Cache.used
	reserved int64         // bytes of Cache.used held for its Fetch
	gone     bool          // evicted or removed: out of the table, files unlinked
	elem     *list.Element // in Cache.lru while not gone
}

func (e *entry) onDisk() bool   { return e.complete || e.created }
func (e *entry) has(b int) bool { return e.complete || e.present[b] }
func (e *entry) blockLen(b int, bs int64) int64 {
	return min(int64(b+1)*bs, e.size) - int64(b)*bs
}

// innerHandle is an open reader of the inner store, shared by an entry's
// fetches; it closes once dropped and no read uses it.
type innerHandle struct {
	r       index.BlobReader
	users   int
	dropped bool
}

// newEntry adds a partial entry with nothing stored; c.mu held.
func (c *Cache) newEntry(name string, size int64) *entry {
	bs := c.opt.BlockSize
	e := &entry{name: name, size: size, nblocks: int((size + bs - 1) / bs)}
	e.present = make([]bool, e.nblocks)
	e.elem = c.lru.PushFront(e)
	c.entries[name] = e
	return e
}

// touch makes e the most recently used; c.mu held.
func (c *Cache) touch(e *entry) {
	if !e.gone {
		c.lru.MoveToFront(e.elem)
	}
}

func (c *Cache) unpin(e *entry) {
	c.mu.Lock()
	c.unpinLocked(e)
	c.mu.Unlock()
}

func (c *Cache) unpinLocked(e *entry) {
	e.pins--
	c.idle(e)
}

// idle releases what an entry holds once nothing uses it: a removed one's
// bytes, its open files, its inner reader; an entry with no file leaves the
// table. c.mu held.
func (c *Cache) idle(e *entry) {
	if e.pins > 0 {
		return
	}
	if e.gone {
		c.used -= e.disk
		e.disk = 0
	}
	if e.readers > 0 {
		return
	}
	c.closeFiles(e)
	c.dropInner(e)
	if !e.gone && !e.onDisk() {
		c.unlist(e)
	}
}

// unlist takes e out of the table and the LRU list; c.mu held.
func (c *Cache) unlist(e *entry) {
	e.gone = true
	if c.entries[e.name] == e {
		delete(c.entries, e.name)
	}
	c.lru.Remove(e.elem)
}

func (c *Cache) closeFiles(e *entry) {
	if e.f != nil {
		e.f.Close()
		e.f = nil
	}
	if e.mapf != nil {
		e.mapf.Close()
		e.mapf = nil
	}
}

func (c *Cache) dropInner(e *entry) {
	if h := e.inner; h != nil {
		e.inner = nil
		h.dropped = true
		if h.users == 0 {
			h.r.Close()
		}
	}
}

// fileOf is e's data file, opened on first use; nil for a partial entry
// with no file yet. c.mu held, e pinned.
func (c *Cache) fileOf(e *entry) (*os.File, error) {
	if e.f != nil || !e.onDisk() {
		return e.f, nil
	}
	var err error
	if e.complete {
		e.f, err = os.Open(c.completePath(e.name))
	} else {
		e.f, err = os.OpenFile(c.partialPath(e.name, dataExt), os.O_RDWR, 0)
		if err == nil {
			e.mapf, err = os.OpenFile(c.partialPath(e.name, mapExt), os.O_RDWR, 0)
		}
	}
	if err != nil {
		c.closeFiles(e)
		return nil, err
	}
	return e.f, nil
}

// create makes a partial entry's files: its map first, all blocks absent,
// then the sparse data file. c.mu held, e pinned.
func (c *Cache) create(e *entry) error {
	if e.created {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(c.dir, partialDir), 0o755); err != nil {
		return err
	}
	mp, dp := c.partialPath(e.name, mapExt), c.partialPath(e.name, dataExt)
	m, err := os.OpenFile(mp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = m.Write(append(mapHeader(e.size, c.opt.BlockSize), make([]byte, e.nblocks)...))
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(dp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	}
	if err == nil {
		if err = f.Truncate(e.size); err != nil {
			f.Close()
		}
	}
	if err != nil {
		m.Close()
		os.Remove(mp)
		os.Remove(dp)
		return err
	}
	c.closeFiles(e)
	e.f, e.mapf, e.created = f, m, true
	return nil
}

// markPresent records blocks [b0, b1) as stored (their bytes and map bytes
// are written) and completes the entry once every block is; c.mu held.
func (c *Cache) markPresent(e *entry, b0, b1 int) {
	for b := b0; b < b1; b++ {
		if !e.present[b] {
			e.present[b] = true
			e.npresent++
		}
	}
	if e.npresent == e.nblocks && !e.gone {
		c.finish(e)
	}
}

// finish moves a partial file whose blocks are all present under blobs/,
// its size checked, and drops its map: from now on it is complete. c.mu held.
func (c *Cache) finish(e *entry) {
	dst := c.completePath(e.name)
	err := func() error {
		st, err := e.f.Stat()
		if err != nil {
			return err
		}
		if st.Size() != e.size {
			return fmt.Errorf("file of %d bytes, blob of %d", st.Size(), e.size)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.Rename(c.partialPath(e.name, dataExt), dst)
	}()
	if err != nil {
		c.log.Warn("blobcache: completing a cached blob failed; it stays partial", "blob", e.name, "err", err)
		return
	}
	if e.mapf != nil {
		e.mapf.Close()
		e.mapf = nil
	}
	os.Remove(c.partialPath(e.name, mapExt))
	e.complete, e.created, e.present = true, false, nil
	c.dropInner(e) // read from the file from now on
}

// completeEmpty makes the (empty) file of a blob of no bytes; c.mu held.
func (c *Cache) completeEmpty(e *entry) {
	p := c.completePath(e.name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	if f, err := os.Create(p); err == nil {
		f.Close()
		e.complete, e.present = true, nil
	}
}
