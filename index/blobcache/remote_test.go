package blobcache

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clipfs/clipfs/index"
)

// remote is the test double of a remote store: a real FolderStore behind
// it, its LocalPath hidden (it is a plain index.BlobStore, as an object
// store is). It counts opens, ranged reads and their bytes, logs each
// read's range, and injects latency and failures.
type remote struct {
	folder  *index.FolderStore
	opens   atomic.Int64
	reads   atomic.Int64 // ReadAt calls: ranged GETs
	bytes   atomic.Int64 // bytes those returned
	latency atomic.Int64 // nanoseconds each Open and ReadAt waits first
	down    atomic.Bool  // every Open and ReadAt fails
	// budget, while positive, is the bytes reads may still return: a read
	// past it fails and leaves the store down (a server dying mid-read).
	budget atomic.Int64
	short  atomic.Bool // reads return one byte less than asked, with io.EOF
	mu     sync.Mutex
	ranges []span // each read, in the order they began
}

type span struct{ off, n int64 }

var errDown = errors.New("remote: connection refused")

func newRemote(t testing.TB) *remote {
	return &remote{folder: index.NewFolderStore(filepath.Join(t.TempDir(), "remote"))}
}

// wait is a read's latency and failure; ReadAt has no context, so it
// ignores the cache's timeouts as a slow server would.
func (s *remote) wait() error {
	if d := time.Duration(s.latency.Load()); d > 0 {
		time.Sleep(d)
	}
	if s.down.Load() {
		return errDown
	}
	return nil
}

func (s *remote) Put(ctx context.Context, name, src string) error {
	return s.folder.Put(ctx, name, src)
}
func (s *remote) Remove(ctx context.Context, name string) error { return s.folder.Remove(ctx, name) }
func (s *remote) List(ctx context.Context, fn func(index.BlobInfo) error) error {
	return s.folder.List(ctx, fn)
}

func (s *remote) Open(ctx context.Context, name string) (index.BlobReader, error) {
	s.opens.Add(1)
	if d := time.Duration(s.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.down.Load() {
		return nil, errDown
	}
	r, err := s.folder.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &remoteReader{BlobReader: r, s: s}, nil
}

type remoteReader struct {
	index.BlobReader
	s *remote
}

func (r *remoteReader) ReadAt(p []byte, off int64) (int, error) {
	s := r.s
	s.reads.Add(1)
	s.mu.Lock()
	s.ranges = append(s.ranges, span{off, int64(len(p))})
	s.mu.Unlock()
	if err := s.wait(); err != nil {
		return 0, err
	}
	if s.budget.Load() > 0 && s.budget.Add(-int64(len(p))) <= 0 {
		s.down.Store(true)
		return 0, errDown
	}
	if s.short.Load() && len(p) > 0 {
		n, _ := r.BlobReader.ReadAt(p[:len(p)-1], off)
		s.bytes.Add(int64(n))
		return n, errors.New("unexpected EOF from the server")
	}
	n, err := r.BlobReader.ReadAt(p, off)
	s.bytes.Add(int64(n))
	return n, err
}

// put stores data in the remote store directly, behind the cache's back.
func (s *remote) put(t testing.TB, name string, data []byte) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.folder.Put(context.Background(), name, src); err != nil {
		t.Fatal(err)
	}
}

// log is the reads so far; reset clears it and the counters.
func (s *remote) log() []span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ranges)
}

func (s *remote) reset() {
	s.mu.Lock()
	s.ranges = nil
	s.mu.Unlock()
	s.opens.Store(0)
	s.reads.Store(0)
	s.bytes.Store(0)
}

// testOptions are small and quick: 64 KiB blocks, 256 KiB parts, short
// timeouts and backoff.
func testOptions() Options {
	return Options{BlockSize: 64 << 10, PartSize: 256 << 10, MaxReadAhead: 1 << 20, Parallel: 8,
		Timeout: 2 * time.Second, Attempts: 3, Backoff: time.Millisecond}
}

// newCache is a Cache over s in a fresh folder, closed when the test ends.
func newCache(t testing.TB, s index.BlobStore, max int64, opt Options) *Cache {
	t.Helper()
	return openCache(t, s, t.TempDir(), max, opt)
}

func openCache(t testing.TB, s index.BlobStore, dir string, max int64, opt Options) *Cache {
	t.Helper()
	c, err := New(s, dir, max, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// crash ends c as a killed process would: its fetches stop and its
// folder is unlocked, but nothing is flushed and its session stays marked.
func (c *Cache) crash() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	for _, e := range c.entries {
		c.closeFiles(e)
	}
	c.mu.Unlock()
	c.lock.Close()
}

// content is n deterministic pseudo-random bytes, different per seed.
func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// dirBytes is the bytes the files under dir take on disk (sparse files
// count their allocated blocks only).
func dirBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && filepath.Base(p) != lockFile {
			n += diskUsage(fi)
		}
		return nil
	})
	return n
}
