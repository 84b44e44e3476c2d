package blobcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/clipfs/clipfs/index"
)

// ContextReaderAt is an optional method of the inner store's readers:
// ReadAt bounded by ctx, so that a fetch that times out or is cancelled
// stops its request. Without it, a read past its timeout is abandoned,
// left to finish on its own, and the fetch tried again.
type ContextReaderAt interface {
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
}

// call is one ranged read of the inner store, blocks [b0, b1) of an entry:
// every reader of those blocks waits on it rather than fetching them again.
type call struct {
	b0, b1  int
	off, n  int64
	started time.Time
	// fetched closes once the bytes are in buf, or err is set: readers
	// copy from buf rather than wait for the write to the cache file.
	fetched chan struct{}
	err     error
	buf     []byte
	// done closes once the bytes are stored (in the entry's file, blocks
	// marked present) or found no room.
	done chan struct{}
	// users counts the reads and fetches that planned to wait on the call
	// and have not let go (Cache.release); buf is recycled once none has
	// and the call is over (ended). Both c.mu.
	users int
	ended bool
}

// maxBackoff caps the wait between attempts.
const maxBackoff = 5 * time.Second

// plan starts fetches of the blocks in [b0, b1) that are neither stored
// nor in flight, each a run of at most Options.PartSize and none
// straddling block need, and returns the calls bringing blocks [b0, need),
// which the caller waits on and then lets go of (release). c.mu held, e
// pinned.
func (c *Cache) plan(e *entry, b0, need, b1 int) []*call {
	var waits []*call
	wait := func(k *call) {
		if len(waits) == 0 || waits[len(waits)-1] != k {
			waits = append(waits, k)
			k.users++
		}
	}
	partBlocks := int(c.opt.PartSize / c.opt.BlockSize)
	free := func(b int) bool { return !e.has(b) && e.inflight[b] == nil }
	for b := b0; b < b1; {
		switch {
		case e.has(b):
			b++
		case e.inflight[b] != nil:
			if b < need {
				wait(e.inflight[b])
			}
			b++
		default:
			end := b + 1
			for end < b1 && end-b < partBlocks && end != need && free(end) {
				end++
			}
			k := c.start(e, b, end)
			if b < need {
				wait(k)
			}
			b = end
		}
	}
	return waits
}

// start fetches blocks [b0, b1) of e in the background; c.mu held.
func (c *Cache) start(e *entry, b0, b1 int) *call {
	bs := c.opt.BlockSize
	k := &call{b0: b0, b1: b1, off: int64(b0) * bs, started: time.Now(), fetched: make(chan struct{}), done: make(chan struct{})}
	k.n = min(int64(b1)*bs, e.size) - k.off
	if e.inflight == nil {
		e.inflight = map[int]*call{}
	}
	for b := b0; b < b1; b++ {
		e.inflight[b] = k
	}
	e.pins++
	c.wg.Add(1)
	go c.run(e, k)
	return k
}

// run is one call: fetch (and hand the bytes to the readers waiting),
// store where there is room, mark present.
func (c *Cache) run(e *entry, k *call) {
	defer c.wg.Done()
	k.buf, k.err = c.download(e, k.off, k.n)
	close(k.fetched)
	stored := k.err == nil && c.store(e, k, k.buf)
	c.mu.Lock()
	for b := k.b0; b < k.b1; b++ {
		delete(e.inflight, b)
	}
	if stored {
		c.markPresent(e, k.b0, k.b1)
	}
	k.ended = true
	c.recycle(k)
	c.unpinLocked(e)
	c.mu.Unlock()
	close(k.done)
}

// release lets go of the calls plan gave a read or fetch; c.mu not held.
func (c *Cache) release(calls []*call) {
	if len(calls) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range calls {
		k.users--
		c.recycle(k)
	}
}

// recycle gives a call's buffer back once nothing reads it; c.mu held.
func (c *Cache) recycle(k *call) {
	if k.ended && k.users == 0 && k.buf != nil {
		putBuf(k.buf)
		k.buf = nil
	}
}

// Buffers of fetched parts, reused once stored and read.
var bufs sync.Pool

func getBuf(n int64) []byte {
	if p, ok := bufs.Get().(*[]byte); ok && int64(cap(*p)) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

func putBuf(b []byte) { bufs.Put(&b) }

// store writes a call's bytes into e's file, then its blocks' map bytes;
// false when there is no room or the write fails.
func (c *Cache) store(e *entry, k *call, buf []byte) bool {
	c.mu.Lock()
	if c.closed || !c.admit(e, k.n) {
		c.mu.Unlock()
		return false
	}
	err := c.create(e)
	var f *os.File
	if err == nil {
		f, err = c.fileOf(e)
	}
	m := e.mapf
	c.mu.Unlock()
	if err == nil {
		_, err = f.WriteAt(buf, k.off)
	}
	if err == nil {
		_, err = m.WriteAt(presentBytes(k.b1-k.b0), mapHeaderLen+int64(k.b0))
	}
	if err != nil {
		c.log.Warn("blobcache: writing to the cache failed", "blob", e.name, "offset", k.off, "err", err)
		c.mu.Lock()
		c.unadmit(e, k.n)
		c.mu.Unlock()
		return false
	}
	return true
}

// wait waits for calls to have fetched their bytes (stored: and stored
// them), returning the first one's error. joined is true when that call
// was under way before since: started by another read, its attempts may
// all have failed before the store came back, so the caller plans once
// more rather than fail on a stale error.
func (c *Cache) wait(ctx context.Context, calls []*call, since time.Time, stored bool) (err error, joined bool) {
	for _, k := range calls {
		ch := k.fetched
		if stored {
			ch = k.done
		}
		select {
		case <-ch:
			if k.err != nil {
				return k.err, k.started.Before(since)
			}
		case <-ctx.Done():
			return ctx.Err(), false
		}
	}
	return nil, false
}

// download reads n bytes at off of e's blob from the inner store, each
// attempt bounded by Options.Timeout and holding one of Options.Parallel
// slots; all n bytes or an error.
func (c *Cache) download(e *entry, off, n int64) ([]byte, error) {
	var buf []byte
	err := c.retry(c.ctx, e.name, fmt.Sprintf("read %d bytes at %d", n, off), true, func(ctx context.Context) error {
		b := getBuf(n) // never recycled after a failure: an abandoned read may still fill it
		k, err := c.readInner(ctx, e, b, off)
		if err == io.EOF && int64(k) == n {
			err = nil
		}
		if err == nil && int64(k) != n {
			err = fmt.Errorf("read %d of %d bytes", k, n)
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			err = permanent{fmt.Errorf("blob shorter than its size %d: %w", e.size, io.ErrUnexpectedEOF)}
		}
		if err != nil {
			return err
		}
		buf = b
		return nil
	})
	return buf, err
}

// readInner is one ranged read through e's inner reader, opened (and its
// size checked) if need be; a failed read drops the reader, so that the
// next attempt opens a fresh one.
func (c *Cache) readInner(ctx context.Context, e *entry, b []byte, off int64) (int, error) {
	h, err := c.innerOf(ctx, e)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.stats.Requests++
	c.mu.Unlock()
	k, err := readAt(ctx, h.r, b, off, func() { c.putInner(h) })
	c.mu.Lock()
	c.stats.RequestBytes += int64(k)
	if err != nil && err != io.EOF && e.inner == h {
		c.dropInner(e)
	}
	c.mu.Unlock()
	return k, err
}

// readAt is r.ReadAt bounded by ctx: through ReadAtContext where r has it,
// else abandoned when ctx ends first. done runs once r is done with b.
func readAt(ctx context.Context, r index.BlobReader, b []byte, off int64, done func()) (int, error) {
	if cr, ok := r.(ContextReaderAt); ok {
		defer done()
		return cr.ReadAtContext(ctx, b, off)
	}
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer done()
		n, err := r.ReadAt(b, off)
		ch <- result{n, err}
	}()
	select {
	case res := <-ch:
		return res.n, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// innerOf takes e's inner reader, opening one if need be; putInner gives
// it back.
func (c *Cache) innerOf(ctx context.Context, e *entry) (*innerHandle, error) {
	c.mu.Lock()
	if h := e.inner; h != nil {
		h.users++
		c.mu.Unlock()
		return h, nil
	}
	c.mu.Unlock()
	r, err := c.inner.Open(ctx, e.name)
	if err != nil {
		return nil, err
	}
	if r.Size() != e.size {
		r.Close()
		return nil, permanent{fmt.Errorf("the store's blob is %d bytes, %d cached", r.Size(), e.size)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.inner == nil {
		e.inner = &innerHandle{r: r}
	} else {
		r.Close()
	}
	e.inner.users++
	return e.inner, nil
}

func (c *Cache) putInner(h *innerHandle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.users--; h.users == 0 && h.dropped {
		h.r.Close()
	}
}

// permanent marks an error that retrying cannot mend.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// retry runs attempt until it succeeds, up to Options.Attempts times, each
// bounded by Options.Timeout (after taking one of the Options.Parallel
// slots, with slot) and the next after a growing, jittered wait. A missing
// blob, a permanent error or the end of ctx stops it at once.
func (c *Cache) retry(ctx context.Context, name, op string, slot bool, attempt func(context.Context) error) error {
	wait := c.opt.Backoff
	for n := 1; ; n++ {
		if slot {
			select {
			case c.sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		actx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
		err := attempt(actx)
		if slot {
			<-c.sem
		}
		if err != nil && actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %v: %w", c.opt.Timeout, err)
		}
		cancel()
		if err == nil {
			return nil
		}
		var p permanent
		if ctx.Err() != nil || errors.Is(err, fs.ErrNotExist) || errors.As(err, &p) {
			return err
		}
		if n >= c.opt.Attempts {
			c.log.Warn("blobcache: giving up", "blob", name, "op", op, "attempts", n, "err", err)
			return fmt.Errorf("%w (%d attempts)", err, n)
		}
		c.log.Debug("blobcache: retrying", "blob", name, "op", op, "attempt", n, "err", err)
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, maxBackoff)
	}
}

// presentBytes is n map bytes marking blocks present.
func presentBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 1
	}
	return b
}
