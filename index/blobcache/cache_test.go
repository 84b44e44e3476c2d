package blobcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/blobtest"
)

func diskUsage(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// TestConformance runs the BlobStore conformance test against caches over
// the remote double: keeping copies of what is put, and not (every read a
// fetch).
func TestConformance(t *testing.T) {
	for _, noCopy := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoCopyOnPut=%v", noCopy), func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) index.BlobStore {
				opt := testOptions()
				opt.NoCopyOnPut = noCopy
				return newCache(t, newRemote(t), 64<<20, opt)
			})
		})
	}
}

// readBlob reads r whole in pieces of n bytes, sequentially.
func readBlob(t testing.TB, r index.BlobReader, n int) []byte {
	t.Helper()
	out := make([]byte, 0, r.Size())
	buf := make([]byte, n)
	for off := int64(0); off < r.Size(); {
		k, err := r.ReadAt(buf, off)
		if err != nil && !(err == io.EOF && off+int64(k) == r.Size()) {
			t.Fatalf("read %d bytes at %d: %d, %v", n, off, k, err)
		}
		out = append(out, buf[:k]...)
		off += int64(k)
	}
	return out
}

// TestFetchGivesCompleteLocalFile: Fetch brings the whole blob in a few
// parallel parts, returns a file with its bytes, and serves every later
// Fetch and Open from it without asking the store.
func TestFetchGivesCompleteLocalFile(t *testing.T) {
	s := newRemote(t)
	want := content(1, 3<<20+123)
	s.put(t, "clip.mp4", want)
	c := newCache(t, s, 64<<20, testOptions())
	p, ok, err := c.Fetch(context.Background(), "clip.mp4")
	if err != nil || !ok {
		t.Fatalf("fetch: %v %v", ok, err)
	}
	if !strings.HasPrefix(p, c.Dir()) {
		t.Errorf("fetched file %s is not in the cache folder", p)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("fetched file: %d bytes, %v; want the blob's %d", len(got), err, len(want))
	}
	parts := (int64(len(want)) + testOptions().PartSize - 1) / testOptions().PartSize
	if got := s.reads.Load(); got != parts {
		t.Errorf("fetch made %d ranged reads, want %d (one per part)", got, parts)
	}
	s.reset()
	if p2, ok, err := c.Fetch(context.Background(), "clip.mp4"); p2 != p || !ok || err != nil {
		t.Fatalf("second fetch: %s %v %v", p2, ok, err)
	}
	r, err := c.Open(context.Background(), "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := readBlob(t, r, 100000); !bytes.Equal(got, want) {
		t.Fatal("reading the fetched blob through Open: wrong bytes")
	}
	if s.opens.Load()+s.reads.Load() != 0 {
		t.Errorf("a fetched blob still cost %d opens and %d reads of the store", s.opens.Load(), s.reads.Load())
	}
	if _, err := os.Stat(c.partialPath("clip.mp4", mapExt)); !os.IsNotExist(err) {
		t.Errorf("the block map of a complete blob is still there (%v)", err)
	}
}

// TestFetchTooLargeForTheCache: ok is false, and reading through Open
// still works.
func TestFetchTooLargeForTheCache(t *testing.T) {
	s := newRemote(t)
	want := content(2, 2<<20)
	s.put(t, "big.mp4", want)
	c := newCache(t, s, 1<<20, testOptions())
	if p, ok, err := c.Fetch(context.Background(), "big.mp4"); ok || err != nil {
		t.Fatalf("fetch of a blob twice the cache: %q %v %v, want not ok", p, ok, err)
	}
	r, err := c.Open(context.Background(), "big.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := readBlob(t, r, 200000); !bytes.Equal(got, want) {
		t.Fatal("wrong bytes through Open")
	}
	if st := c.Stats(); st.Bytes > 1<<20 {
		t.Errorf("cache counts %d bytes, more than its 1 MiB", st.Bytes)
	}
}

// TestDBFetchBlob: a database over a cache gives a local file for every
// blob (DB.FetchBlob, DB.OpenBlobFile) and verifies blobs from it.
func TestDBFetchBlob(t *testing.T) {
	s := newRemote(t)
	opt := testOptions()
	opt.NoCopyOnPut = true
	c := newCache(t, s, 64<<20, opt)
	db, err := index.Open(filepath.Join(t.TempDir(), "db"), index.Options{Create: true, Blobs: c})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := content(3, 700000)
	tmp := db.TempPath(".mp4")
	os.WriteFile(tmp, want, 0o644)
	b, err := db.AdoptBlob(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.BlobLocalPath(b.Name); ok {
		t.Fatal("a cache has no LocalPath: a blob not fetched is not local")
	}
	p, ok, err := db.FetchBlob(context.Background(), b.Name)
	if err != nil || !ok || !strings.HasPrefix(p, c.Dir()) {
		t.Fatalf("FetchBlob: %s %v %v", p, ok, err)
	}
	os.Remove(p) // as if evicted before it was opened
	f, ok, err := db.OpenBlobFile(context.Background(), b.Name)
	if err != nil || !ok {
		t.Fatalf("OpenBlobFile after the file went: %v %v", ok, err)
	}
	defer f.Close()
	if got, _ := io.ReadAll(f); !bytes.Equal(got, want) {
		t.Fatal("OpenBlobFile: wrong bytes")
	}
	if err := db.VerifyBlob(b.Name); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentReadersShareOneFetch: readers of one range at once, each
// with its own reader, cost one ranged read; so do concurrent Fetch calls
// of one blob, one per part.
func TestConcurrentReadersShareOneFetch(t *testing.T) {
	s := newRemote(t)
	want := content(4, 4<<20)
	s.put(t, "shared.mp4", want)
	c := newCache(t, s, 64<<20, testOptions())
	s.latency.Store(int64(30 * time.Millisecond))
	const off, n = 1<<20 + 1000, 20000 // inside one 64 KiB block, far from the start: a random read
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			r, err := c.Open(context.Background(), "shared.mp4")
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			p := make([]byte, n)
			if k, err := r.ReadAt(p, off); k != n || err != nil || !bytes.Equal(p, want[off:off+n]) {
				t.Errorf("read: %d, %v, or wrong bytes", k, err)
			}
		})
	}
	wg.Wait()
	if got := s.reads.Load(); got != 1 {
		t.Errorf("16 concurrent readers of one range: %d ranged reads, want 1 (%v)", got, s.log())
	}
	if got := s.opens.Load(); got != 1 {
		t.Errorf("16 concurrent opens of one blob: %d opens of the store, want 1", got)
	}
	s.reset()
	for range 8 {
		wg.Go(func() {
			if _, ok, err := c.Fetch(context.Background(), "shared.mp4"); !ok || err != nil {
				t.Errorf("fetch: %v %v", ok, err)
			}
		})
	}
	wg.Wait()
	blocks := int64(4<<20) / testOptions().BlockSize
	if got, max := s.reads.Load(), blocks/(testOptions().PartSize/testOptions().BlockSize)+2; got > max {
		t.Errorf("8 concurrent fetches: %d ranged reads, want at most %d", got, max)
	}
	if got := s.bytes.Load(); got > int64(len(want)) {
		t.Errorf("8 concurrent fetches read %d bytes of a %d-byte blob", got, len(want))
	}
}

// TestEvictionKeepsUnderMax: filling the cache past its size evicts the
// least recently used files, whole; what was used lately stays.
func TestEvictionKeepsUnderMax(t *testing.T) {
	s := newRemote(t)
	const size, max = 300 << 10, 2 << 20
	for i := range 20 {
		s.put(t, fmt.Sprintf("b%02d.mp4", i), content(uint64(100+i), size))
	}
	c := newCache(t, s, max, testOptions())
	ctx := context.Background()
	for i := range 20 {
		if _, ok, err := c.Fetch(ctx, fmt.Sprintf("b%02d.mp4", i)); !ok || err != nil {
			t.Fatalf("fetch %d: %v %v", i, ok, err)
		}
		if _, _, err := c.Fetch(ctx, "b00.mp4"); err != nil { // keep b00 recently used
			t.Fatal(err)
		}
		if st := c.Stats(); st.Bytes > max {
			t.Fatalf("after %d fetches the cache counts %d bytes, more than %d", i+1, st.Bytes, max)
		}
		if got := dirBytes(t, c.Dir()); got > max+64<<10 {
			t.Fatalf("after %d fetches the cache folder holds %d bytes, more than %d", i+1, got, max)
		}
	}
	st := c.Stats()
	if st.Evictions == 0 || st.Files > max/size {
		t.Errorf("stats %+v: want evictions, at most %d files", st, max/size)
	}
	s.reset()
	for _, name := range []string{"b00.mp4", "b19.mp4"} {
		if _, _, err := c.Fetch(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if s.reads.Load() != 0 {
		t.Errorf("the most recently used blobs were evicted: %d reads to fetch them again", s.reads.Load())
	}
	if _, _, err := c.Fetch(ctx, "b01.mp4"); err != nil || s.reads.Load() == 0 {
		t.Errorf("the least recently used blob was not evicted (%v)", err)
	}
}

// TestEvictionSparesReadsInFlight: a blob being read is not evicted from
// under the read; an open reader whose blob was evicted between reads
// fetches it again.
func TestEvictionSparesReadsInFlight(t *testing.T) {
	s := newRemote(t)
	const size = 600 << 10
	for i := range 4 {
		s.put(t, fmt.Sprintf("e%d.mp4", i), content(uint64(200+i), size))
	}
	c := newCache(t, s, 1<<20, testOptions())
	ctx := context.Background()
	r, err := c.Open(ctx, "e0.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := readBlob(t, r, 64<<10); !bytes.Equal(got, content(200, size)) {
		t.Fatal("wrong bytes")
	}
	for i := 1; i < 4; i++ { // each evicts the one before
		if _, ok, err := c.Fetch(ctx, fmt.Sprintf("e%d.mp4", i)); !ok || err != nil {
			t.Fatalf("fetch: %v %v", ok, err)
		}
	}
	if got := readBlob(t, r, 100<<10); !bytes.Equal(got, content(200, size)) {
		t.Fatal("an open reader of an evicted blob reads wrong bytes")
	}
	// A read in flight pins its blob: fetches of others find no room
	// rather than deleting it.
	s.latency.Store(int64(200 * time.Millisecond))
	r2, err := c.Open(ctx, "e1.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	done := make(chan []byte)
	go func() { done <- readBlob(t, r2, size) }()
	time.Sleep(50 * time.Millisecond)
	for _, name := range []string{"e2.mp4", "e3.mp4"} {
		c.Fetch(ctx, name)
	}
	if got := <-done; !bytes.Equal(got, content(201, size)) {
		t.Fatal("a read during evictions: wrong bytes")
	}
	if st := c.Stats(); st.Bytes > 1<<20 {
		t.Errorf("cache counts %d bytes, more than its 1 MiB", st.Bytes)
	}
}

// TestRemoveWhileOpen: a removed blob is gone for new opens and fetches;
// a reader opened before keeps reading what it read.
func TestRemoveWhileOpen(t *testing.T) {
	s := newRemote(t)
	want := content(5, 200<<10)
	s.put(t, "gone.mp4", want)
	c := newCache(t, s, 8<<20, testOptions())
	ctx := context.Background()
	p, _, err := c.Fetch(ctx, "gone.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "gone.mp4"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("the removed blob's cached file is still there (%v)", err)
	}
	if _, _, err := c.Fetch(ctx, "gone.mp4"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("fetch after remove: %v, want fs.ErrNotExist", err)
	}
	if st := c.Stats(); st.Bytes != 0 || st.Files != 0 {
		t.Errorf("after removing its only blob the cache has %+v", st)
	}
}
