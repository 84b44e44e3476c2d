package blobcache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/clipfs/clipfs/index"
)

// ErrClosed is returned by a Cache, and by its readers, once it is closed.
var ErrClosed = errors.New("blobcache: closed")

// Cache is a BlobStore that keeps what it reads of an inner store in a
// bounded folder (see the package comment). Safe for concurrent use.
type Cache struct {
	inner index.BlobStore
	dir   string
	max   int64
	opt   Options
	log   *slog.Logger
	lock  *os.File // DIR/LOCK, flocked

	ctx    context.Context // cancelled by Close: stops fetches
	cancel context.CancelFunc
	wg     sync.WaitGroup // fetches in flight
	sem    chan struct{}  // ranged reads in flight

	mu      sync.Mutex
	entries map[string]*entry
	opening map[string]*opening // opens of the inner store in flight
	lru     *list.List          // of *entry, most recently used first
	used    int64               // bytes counted against max
	closed  bool
	stats   Stats
}

// Stats counts what a Cache holds and has done.
type Stats struct {
	Files        int   // blobs with a file in the cache, complete or partial
	Bytes        int64 // bytes counted against maxBytes
	Requests     int64 // ranged reads of the inner store, retries included
	RequestBytes int64 // bytes those returned
	Evictions    int64 // files deleted to make room
}

var (
	_ index.BlobStore         = (*Cache)(nil)
	_ index.FetchingBlobStore = (*Cache)(nil)
)

// New opens the cache in folder dir (created if need be) in front of inner,
// keeping at most maxBytes there. The files a previous Cache left are
// reused: complete ones as they are, partial ones from their block maps.
// Only one Cache at a time may use a folder. Close it when done.
func New(inner index.BlobStore, dir string, maxBytes int64, opts Options) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("blobcache: size %d: must be positive", maxBytes)
	}
	opts = opts.withDefaults()
	c := &Cache{inner: inner, dir: dir, max: maxBytes, opt: opts, log: opts.Log,
		sem: make(chan struct{}, opts.Parallel), entries: map[string]*entry{}, opening: map[string]*opening{}, lru: list.New()}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.openDir(); err != nil {
		c.cancel()
		return nil, err
	}
	c.mu.Lock()
	c.evictFor(0, nil)
	c.mu.Unlock()
	return c, nil
}

// Close stops the fetches in flight, waits for them, and closes the
// folder cleanly: what it holds is flushed, so that it is trusted on the
// next open even after a crash of the machine. Readers fail once closed.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	for _, e := range c.entries {
		c.closeFiles(e)
		c.dropInner(e)
	}
	c.mu.Unlock()
	return c.closeDir()
}

// Dir is the cache's folder.
func (c *Cache) Dir() string { return c.dir }

// Inner is the store the cache is in front of.
func (c *Cache) Inner() index.BlobStore { return c.inner }

// Stats is what the cache holds and has done so far.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Bytes = c.used
	for _, e := range c.entries {
		if e.onDisk() {
			s.Files++
		}
	}
	return s
}

// Put puts src in the inner store. Unless Options.NoCopyOnPut, the cache
// keeps a hard link of it first where it can (same filesystem, and room),
// so that reading the blob back costs no fetch.
func (c *Cache) Put(ctx context.Context, name, src string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	link := ""
	if !c.opt.NoCopyOnPut {
		link = c.linkTmp(src)
	}
	if err := c.inner.Put(ctx, name, src); err != nil {
		if link != "" {
			os.Remove(link)
		}
		return err
	}
	if link != "" {
		c.adoptLink(name, link)
	}
	return nil
}

// Remove removes blob name from the inner store and then from the cache.
func (c *Cache) Remove(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.inner.Remove(ctx, name); err != nil {
		return err
	}
	c.mu.Lock()
	if e := c.entries[name]; e != nil {
		c.drop(e)
	}
	c.mu.Unlock()
	return nil
}

// List lists the inner store.
func (c *Cache) List(ctx context.Context, fn func(index.BlobInfo) error) error {
	return c.inner.List(ctx, fn)
}

// Open opens blob name: from the cache when it holds the blob, else by
// opening it in the inner store (which learns its size; a missing blob is
// fs.ErrNotExist), its bytes fetched as they are read.
func (c *Cache) Open(ctx context.Context, name string) (index.BlobReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, err := c.acquire(ctx, name, true)
	if err != nil {
		return nil, err
	}
	return &reader{c: c, e: e, name: name, size: e.size}, nil
}

// Fetch makes blob name whole in the cache, fetching the blocks it lacks
// (in parts of Options.PartSize, several at once), and returns the
// complete file. ok is false, with a nil error, for a blob the cache
// cannot hold: larger than maxBytes, or with no room left beside the
// files being read. A fetch that fails leaves the blocks it got for next time.
func (c *Cache) Fetch(ctx context.Context, name string) (path string, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	for try := 0; ; try++ {
		e, err := c.acquire(ctx, name, false)
		if err != nil {
			return "", false, err
		}
		path, ok, err = c.fetch(ctx, e)
		again := ok && err == nil && try == 0 && !c.intact(e, path)
		c.unpin(e)
		if !again {
			return path, ok, err
		} // deleted or cut behind the cache's back, and dropped: fetch again
	}
}

// fetch is Fetch of a pinned entry. As in a read, a call that fails
// having started before the fetch is planned again.
func (c *Cache) fetch(ctx context.Context, e *entry) (path string, ok bool, err error) {
	since := time.Now()
	for round := 0; ; round++ {
		c.mu.Lock()
		switch {
		case e.gone: // removed meanwhile
			c.mu.Unlock()
			return "", false, fmt.Errorf("blobcache: %s: removed: %w", e.name, fs.ErrNotExist)
		case e.complete:
			c.mu.Unlock()
			return c.completePath(e.name), true, nil
		case e.size > c.max || round > 1 || !c.reserve(e):
			c.mu.Unlock()
			return "", false, nil
		}
		waits := c.plan(e, 0, e.nblocks, e.nblocks)
		c.mu.Unlock()
		err, joined := c.wait(ctx, waits, since, true)
		c.release(waits)
		c.mu.Lock()
		c.unreserve(e)
		c.mu.Unlock()
		if joined {
			round--
		} else if err != nil {
			return "", false, fmt.Errorf("blobcache: %s: %w", e.name, err)
		}
	}
}

// intact checks that a complete file is there with its size; one that is
// not is dropped.
func (c *Cache) intact(e *entry, path string) bool {
	st, err := os.Stat(path)
	if err == nil && st.Size() == e.size {
		return true
	}
	c.log.Warn("blobcache: cached file missing or changed; fetching again", "blob", e.name, "err", err)
	c.mu.Lock()
	if !e.gone {
		c.drop(e)
	}
	c.mu.Unlock()
	return false
}

// acquire finds or makes the entry of blob name and pins it (a fetch) or
// counts a reader on it. An entry not cached is made by opening the blob
// in the inner store, once for all who ask meanwhile.
func (c *Cache) acquire(ctx context.Context, name string, reader bool) (*entry, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	take := func(e *entry) {
		if reader {
			e.readers++
		} else {
			e.pins++
		}
		c.touch(e)
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if e := c.entries[name]; e != nil {
			take(e)
			c.mu.Unlock()
			return e, nil
		}
		if o := c.opening[name]; o != nil {
			c.mu.Unlock()
			select {
			case <-o.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if o.err != nil && (ctx.Err() != nil || !errors.Is(o.err, context.Canceled) && !errors.Is(o.err, context.DeadlineExceeded)) {
				return nil, o.err
			}
			continue // opened (or its opener gave up): look again
		}
		o := &opening{done: make(chan struct{})}
		c.opening[name] = o
		c.mu.Unlock()
		r, err := c.openInner(ctx, name)
		c.mu.Lock()
		delete(c.opening, name)
		o.err = err
		close(o.done)
		if err == nil && c.closed {
			r.Close()
			err = ErrClosed
		}
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		e := c.entries[name]
		if e == nil {
			e = c.newEntry(name, r.Size())
			e.inner = &innerHandle{r: r}
		} else {
			r.Close() // made meanwhile (a reader whose entry was evicted)
		}
		take(e)
		if e.size == 0 && !e.complete {
			c.completeEmpty(e)
		}
		c.mu.Unlock()
		return e, nil
	}
}

// opening is an open of the inner store in flight, for acquire.
type opening struct {
	done chan struct{}
	err  error // set before done closes
}

// openInner opens blob name in the inner store, each attempt bounded by
// Options.Timeout, retrying failures other than a missing blob.
func (c *Cache) openInner(ctx context.Context, name string) (index.BlobReader, error) {
	var r index.BlobReader
	err := c.retry(ctx, name, "open", false, func(ctx context.Context) (err error) {
		r, err = c.inner.Open(ctx, name)
		return err
	})
	return r, err
}
