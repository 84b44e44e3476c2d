package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/clipfs/clipfs/index"
)

// Run runs the conformance test against stores from newStore, which
// returns a fresh, empty store for each subtest (cleaned up through t).
func Run(t *testing.T, newStore func(t *testing.T) index.BlobStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s index.BlobStore)
	}{
		{"PutThenOpen", putThenOpen},
		{"RangedReads", rangedReads},
		{"EmptyBlob", emptyBlob},
		{"ListExactSet", listExactSet},
		{"RemoveThenOpen", removeThenOpen},
		{"RemoveMissing", removeMissing},
		{"OpenMissing", openMissing},
		{"PutMissingSource", putMissingSource},
		{"PutOverwrites", putOverwrites},
		{"ConcurrentReads", concurrentReads},
		{"CancelledContext", cancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// content is n deterministic pseudo-random bytes, different per seed.
func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// put stores data as blob name from a fresh local file and checks that
// the file is gone once put.
func put(t *testing.T, s index.BlobStore, name string, data []byte) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), name, src); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("put %s: the source file is still there (%v)", name, err)
	}
}

func open(t *testing.T, s index.BlobStore, name string) index.BlobReader {
	t.Helper()
	r, err := s.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readAll reads r whole by ReadAt and checks its size.
func readAll(t *testing.T, r index.BlobReader) []byte {
	t.Helper()
	b := make([]byte, r.Size())
	if n, err := r.ReadAt(b, 0); n != len(b) || (err != nil && err != io.EOF) {
		t.Fatalf("read all %d bytes: %d, %v", len(b), n, err)
	}
	return b
}

func list(t *testing.T, s index.BlobStore) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.List(context.Background(), func(b index.BlobInfo) error {
		if _, dup := got[b.Name]; dup {
			t.Errorf("list: %s twice", b.Name)
		}
		got[b.Name] = b.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return got
}

func putThenOpen(t *testing.T, s index.BlobStore) {
	want := content(1, 300<<10)
	put(t, s, "0a1b-put.mp4", want)
	r := open(t, s, "0a1b-put.mp4")
	if r.Size() != int64(len(want)) {
		t.Fatalf("size %d, put %d", r.Size(), len(want))
	}
	if !bytes.Equal(readAll(t, r), want) {
		t.Fatal("bytes read differ from those put")
	}
}

// rangedReads checks ReadAt at several offsets against io.ReaderAt's
// rules: a full read inside, a short one with io.EOF across the end,
// nothing and io.EOF at or past it.
func rangedReads(t *testing.T, s index.BlobStore) {
	const size = 100 << 10
	want := content(2, size)
	put(t, s, "ranged.webp", want)
	r := open(t, s, "ranged.webp")
	cases := []struct {
		off, len int64
		n        int64 // bytes it must return
		eof      bool  // io.EOF required (else nil, or io.EOF when the read ends at the end)
	}{
		{0, 1, 1, false},
		{1, 4096, 4096, false},
		{size / 2, 32768, 32768, false},
		{size - 10, 10, 10, false}, // ends at the end: nil or io.EOF
		{size - 10, 20, 10, true},  // crosses the end
		{size - 1, 1 << 20, 1, true},
		{size, 1, 0, true},
		{size + 100, 10, 0, true},
	}
	for _, c := range cases {
		p := make([]byte, c.len)
		n, err := r.ReadAt(p, c.off)
		switch {
		case int64(n) != c.n:
			t.Errorf("ReadAt(%d bytes at %d): %d bytes, want %d (%v)", c.len, c.off, n, c.n, err)
		case c.eof && err != io.EOF:
			t.Errorf("ReadAt(%d bytes at %d): error %v, want io.EOF", c.len, c.off, err)
		case !c.eof && err != nil && !(err == io.EOF && c.off+c.len == size):
			t.Errorf("ReadAt(%d bytes at %d): error %v", c.len, c.off, err)
		case !bytes.Equal(p[:n], want[min(c.off, size):min(c.off+int64(n), size)]):
			t.Errorf("ReadAt(%d bytes at %d): wrong bytes", c.len, c.off)
		}
	}
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("ReadAt at a negative offset: no error")
	}
}

func emptyBlob(t *testing.T, s index.BlobStore) {
	put(t, s, "empty.mp4", nil)
	r := open(t, s, "empty.mp4")
	if r.Size() != 0 {
		t.Fatalf("empty blob has size %d", r.Size())
	}
	if n, err := r.ReadAt(make([]byte, 8), 0); n != 0 || err != io.EOF {
		t.Fatalf("reading an empty blob: %d, %v; want 0, io.EOF", n, err)
	}
	if got := list(t, s); len(got) != 1 || got["empty.mp4"] != 0 {
		t.Fatalf("list: %v", got)
	}
}

func listExactSet(t *testing.T, s index.BlobStore) {
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("a fresh store lists %v", got)
	}
	want := map[string]int64{}
	for i, name := range []string{"a", "ab", "ab-1.mp4", "ab-2.mp4", "cd-3.webp", "index.parquet"} {
		put(t, s, name, content(uint64(10+i), 1000*i))
		want[name] = int64(1000 * i)
	}
	if got := list(t, s); !maps.Equal(got, want) {
		t.Fatalf("list after puts: %v, want %v", got, want)
	}
	for _, name := range []string{"ab", "cd-3.webp"} {
		if err := s.Remove(context.Background(), name); err != nil {
			t.Fatalf("remove %s: %v", name, err)
		}
		delete(want, name)
	}
	if got := list(t, s); !maps.Equal(got, want) {
		t.Fatalf("list after removes: %v, want %v", got, want)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.List(context.Background(), func(index.BlobInfo) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("list whose callback fails: %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func removeThenOpen(t *testing.T, s index.BlobStore) {
	put(t, s, "gone.mp4", content(3, 10))
	put(t, s, "kept.mp4", content(4, 10))
	if err := s.Remove(context.Background(), "gone.mp4"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Open(context.Background(), "gone.mp4"); !errors.Is(err, fs.ErrNotExist) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("open after remove: %v, want fs.ErrNotExist", err)
	}
	if got := readAll(t, open(t, s, "kept.mp4")); !bytes.Equal(got, content(4, 10)) {
		t.Fatal("removing one blob changed another")
	}
}

// removeMissing: removing a blob that is not there is nil, twice over.
func removeMissing(t *testing.T, s index.BlobStore) {
	if err := s.Remove(context.Background(), "never-put.mp4"); err != nil {
		t.Fatalf("remove of a blob never put: %v, want nil", err)
	}
	put(t, s, "twice.mp4", content(5, 10))
	for i := range 2 {
		if err := s.Remove(context.Background(), "twice.mp4"); err != nil {
			t.Fatalf("remove #%d: %v, want nil", i+1, err)
		}
	}
}

func openMissing(t *testing.T, s index.BlobStore) {
	for _, name := range []string{"never-put.mp4", "a"} {
		if r, err := s.Open(context.Background(), name); !errors.Is(err, fs.ErrNotExist) {
			if r != nil {
				r.Close()
			}
			t.Errorf("open of missing %s: %v, want fs.ErrNotExist", name, err)
		}
	}
}

func putMissingSource(t *testing.T, s index.BlobStore) {
	src := filepath.Join(t.TempDir(), "no-such-file.mp4")
	if err := s.Put(context.Background(), "no-such-file.mp4", src); err == nil {
		t.Fatal("put of a missing file: no error")
	}
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("a failed put left %v", got)
	}
}

// putOverwrites: putting a name again replaces it; a reader opened before
// keeps reading the same bytes.
func putOverwrites(t *testing.T, s index.BlobStore) {
	want := content(6, 50<<10)
	put(t, s, "again.mp4", want)
	before := open(t, s, "again.mp4")
	put(t, s, "again.mp4", want)
	if !bytes.Equal(readAll(t, open(t, s, "again.mp4")), want) {
		t.Fatal("bytes differ after the second put")
	}
	if !bytes.Equal(readAll(t, before), want) {
		t.Fatal("a reader opened before the second put reads other bytes")
	}
	if got := list(t, s); len(got) != 1 || got["again.mp4"] != int64(len(want)) {
		t.Fatalf("list after putting twice: %v", got)
	}
}

// concurrentReads: many readers open blobs and read ranges at once, some
// sharing one reader.
func concurrentReads(t *testing.T, s index.BlobStore) {
	const blobs, size = 4, 64 << 10
	var want [blobs][]byte
	for i := range blobs {
		want[i] = content(uint64(20+i), size)
		put(t, s, fmt.Sprintf("conc-%d.mp4", i), want[i])
	}
	shared := open(t, s, "conc-0.mp4")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 0))
			for k := range 50 {
				i := (g + k) % blobs
				r := shared
				if g%2 == 1 {
					var err error
					if r, err = s.Open(context.Background(), fmt.Sprintf("conc-%d.mp4", i)); err != nil {
						errs <- err
						return
					}
				} else {
					i = 0
				}
				off := rng.IntN(size)
				p := make([]byte, min(4096, size-off))
				n, err := r.ReadAt(p, int64(off))
				if n != len(p) || (err != nil && err != io.EOF) || !bytes.Equal(p, want[i][off:off+len(p)]) {
					errs <- fmt.Errorf("blob %d: %d bytes at %d: got %d, %v, or wrong bytes", i, len(p), off, n, err)
				}
				if r != shared {
					r.Close()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// cancelledContext: a cancelled context fails every call, and a put
// under one stores nothing.
func cancelledContext(t *testing.T, s index.BlobStore) {
	put(t, s, "here.mp4", content(7, 10))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := filepath.Join(t.TempDir(), "cancelled.mp4")
	os.WriteFile(src, content(8, 10), 0o644)
	if err := s.Put(ctx, "cancelled.mp4", src); !errors.Is(err, context.Canceled) {
		t.Errorf("put: %v, want context.Canceled", err)
	}
	if r, err := s.Open(ctx, "here.mp4"); !errors.Is(err, context.Canceled) {
		if r != nil {
			r.Close()
		}
		t.Errorf("open: %v, want context.Canceled", err)
	}
	if err := s.Remove(ctx, "here.mp4"); !errors.Is(err, context.Canceled) {
		t.Errorf("remove: %v, want context.Canceled", err)
	}
	if err := s.List(ctx, func(index.BlobInfo) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("list: %v, want context.Canceled", err)
	}
	if got := slices.Sorted(maps.Keys(list(t, s))); fmt.Sprint(got) != "[here.mp4]" {
		t.Errorf("after the cancelled calls the store holds %v, want [here.mp4]", got)
	}
}
