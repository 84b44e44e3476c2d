package blobcache

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// reader is an open blob of the cache: ReadAt serves stored blocks from the
// entry's file and waits for missing ones, fetched with read-ahead while
// the reads stay sequential. Safe for concurrent use.
type reader struct {
	c    *Cache
	name string
	size int64
	e    *entry // c.mu; a gone entry is replaced on the next read
	shut bool   // c.mu: closed

	mu sync.Mutex // the read-ahead state:
	// next is where a sequential read would start; ahead is where the
	// read-ahead issued so far ends, and window the size of its last step
	// (0: no read-ahead, the reads being random).
	next, ahead, window int64
}

func (r *reader) Size() int64 { return r.size }

func (r *reader) Close() error {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !r.shut {
		r.shut = true
		r.e.readers--
		c.idle(r.e)
	}
	return nil
}

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("blobcache: %s: read at negative offset %d", r.name, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.size)
	n, err := r.c.read(r, p[:end-off], off, r.readAhead(off, end))
	if err != nil {
		return n, fmt.Errorf("blobcache: %s: %d bytes at %d: %w", r.name, end-off, off, err)
	}
	if end-off < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// readAhead updates the read-ahead state for a read of [off, end) and
// returns where the blocks to fetch end (end itself for a random read). A
// read that starts within a block of where the last one ended is
// sequential: the first one opens a window of one block past it; once a
// read reaches into the second half of the last step, the next step, twice
// as large (up to Options.MaxReadAhead), is issued.
func (r *reader) readAhead(off, end int64) int64 {
	bs := r.c.opt.BlockSize
	r.mu.Lock()
	defer r.mu.Unlock()
	if off < r.next-bs || off > r.next+bs {
		r.next, r.ahead, r.window = end, 0, 0
		return end
	}
	r.next = max(r.next, end)
	switch {
	case r.window == 0:
		r.window = bs
		r.ahead = (end+bs-1)/bs*bs + r.window
	case end+r.window/2 >= r.ahead:
		r.window = min(2*r.window, r.c.opt.MaxReadAhead)
		r.ahead = max(r.ahead, (end+bs-1)/bs*bs) + r.window
	}
	return min(max(r.ahead, end), r.size)
}

// read fills p from off, fetching the missing blocks of [off, off+len(p))
// and starting those of the read-ahead up to aheadTo.
func (c *Cache) read(r *reader, p []byte, off, aheadTo int64) (int, error) {
	c.mu.Lock()
	if c.closed || r.shut {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	e := r.e
	if e.gone {
		e = c.reattach(r)
	}
	e.pins++
	c.touch(e)
	if e.complete {
		f, err := c.fileOf(e)
		c.mu.Unlock()
		var n int
		if err == nil {
			n, err = f.ReadAt(p, off)
		}
		if n < len(p) {
			c.failed(e, err)
		}
		c.unpin(e)
		if n < len(p) {
			return 0, cacheFileError(err)
		}
		return n, nil
	}
	c.mu.Unlock()
	defer c.unpin(e)
	bs := c.opt.BlockSize
	b0, b1 := int(off/bs), int((off+int64(len(p))+bs-1)/bs)
	// A call that fails having started before this read (joined) may
	// have made all its attempts before the store came back: plan again.
	// Each time one fewer such call is left, so this ends.
	since := time.Now()
	for {
		c.mu.Lock()
		waits := c.plan(e, b0, b1, max(b1, int((aheadTo+bs-1)/bs)))
		c.mu.Unlock()
		err, joined := c.wait(c.ctx, waits, since, false)
		if err == nil {
			n, err := c.copyOut(e, waits, p, off)
			c.release(waits)
			return n, err
		}
		c.release(waits)
		if !joined {
			return 0, err
		}
	}
}

// reattach points a reader whose entry was evicted at the blob's current
// entry, or a new one; c.mu held.
func (c *Cache) reattach(r *reader) *entry {
	old := r.e
	old.readers--
	c.idle(old)
	e := c.entries[r.name]
	if e == nil {
		e = c.newEntry(r.name, r.size)
	}
	e.readers++
	r.e = e
	return e
}

// segment is a piece of a read served from one place: the entry's file, or
// the bytes call k fetched (not yet stored, or with no room to).
type segment struct {
	off, end int64
	k        *call
}

// copyOut fills p from off once every block of it is stored or fetched
// by one of the calls waited on, which fetched; e pinned.
func (c *Cache) copyOut(e *entry, waits []*call, p []byte, off int64) (int, error) {
	bs := c.opt.BlockSize
	end := off + int64(len(p))
	var segs []segment
	var f *os.File
	c.mu.Lock()
	for pos := off; pos < end; {
		b := int(pos / bs)
		s := segment{off: pos, end: min(end, int64(b+1)*bs)}
		if !e.has(b) {
			for _, k := range waits {
				if k.b0 <= b && b < k.b1 && k.err == nil {
					s.k = k
				}
			}
			if s.k == nil {
				c.mu.Unlock()
				return 0, fmt.Errorf("block %d was not fetched", b)
			}
		}
		if n := len(segs); n > 0 && segs[n-1].k == s.k && segs[n-1].end == s.off {
			segs[n-1].end = s.end
		} else {
			segs = append(segs, s)
		}
		pos = s.end
	}
	var err error
	if f, err = c.fileOf(e); err != nil {
		c.mu.Unlock()
		return 0, cacheFileError(err)
	}
	c.mu.Unlock()
	for _, s := range segs {
		dst := p[s.off-off : s.end-off]
		if s.k != nil {
			copy(dst, s.k.buf[s.off-s.k.off:])
			continue
		}
		if n, err := f.ReadAt(dst, s.off); n < len(dst) {
			c.failed(e, err)
			return 0, cacheFileError(err)
		}
	}
	return len(p), nil
}

// failed drops an entry whose file could not be read as recorded (deleted
// or cut short behind the cache's back), so that the next read fetches
// again; e pinned.
func (c *Cache) failed(e *entry, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed { // its files were closed under the read
		return
	}
	c.log.Warn("blobcache: cached file unreadable; dropped", "blob", e.name, "err", err)
	if !e.gone {
		c.drop(e)
	}
}

func cacheFileError(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("cached file: %w", err)
}
