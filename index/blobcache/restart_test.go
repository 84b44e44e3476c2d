package blobcache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRestartReusesCompleteFiles: a new cache on the folder of a closed
// one serves its complete files without asking the store.
func TestRestartReusesCompleteFiles(t *testing.T) {
	s := newRemote(t)
	want := content(30, 900<<10)
	s.put(t, "kept.mp4", want)
	dir := t.TempDir()
	c := openCache(t, s, dir, 64<<20, testOptions())
	p, _, err := c.Fetch(context.Background(), "kept.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(s, dir, 64<<20, testOptions()); err == nil {
		t.Fatal("a second cache opened a folder in use")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	s.reset()
	c2 := openCache(t, s, dir, 64<<20, testOptions())
	if st := c2.Stats(); st.Files != 1 || st.Bytes != int64(len(want)) {
		t.Errorf("reopened cache: %+v", st)
	}
	p2, ok, err := c2.Fetch(context.Background(), "kept.mp4")
	if err != nil || !ok || p2 != p {
		t.Fatalf("fetch after restart: %s %v %v", p2, ok, err)
	}
	r, err := c2.Open(context.Background(), "kept.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := readBlob(t, r, 1<<20); !bytes.Equal(got, want) {
		t.Fatal("wrong bytes after restart")
	}
	if n := s.opens.Load() + s.reads.Load(); n != 0 {
		t.Errorf("a blob complete before the restart cost %d requests", n)
	}
}

// TestRestartResumesPartialFiles: after a crash mid-fetch, the blocks
// fetched are served from the partial file, only the rest is fetched, and
// the blob is never complete before all of it is there.
func TestRestartResumesPartialFiles(t *testing.T) {
	s := newRemote(t)
	const size = 1<<20 + 5000
	want := content(31, size)
	s.put(t, "part.mp4", want)
	dir := t.TempDir()
	opt := testOptions()
	c, err := New(s, dir, 64<<20, opt)
	if err != nil {
		t.Fatal(err)
	}
	r0, err := c.Open(context.Background(), "part.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r0.ReadAt(make([]byte, 1000), 0); err != nil { // blocks 0 and 1 (read-ahead)
		t.Fatal(err)
	}
	r0.Close()
	s.budget.Store(opt.PartSize + 1) // the store dies after about one part
	if _, ok, err := c.Fetch(context.Background(), "part.mp4"); err == nil || ok {
		t.Fatalf("fetch while the store dies: %v %v", ok, err)
	}
	c.crash()
	if _, err := os.Stat(c.completePath("part.mp4")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a blob fetched in part is under blobs/ (%v)", err)
	}
	s.down.Store(false)
	s.budget.Store(0)
	s.reset()
	c2 := openCache(t, s, dir, 64<<20, opt)
	st := c2.Stats()
	if st.Files != 1 || st.Bytes == 0 || st.Bytes >= size {
		t.Fatalf("after the crash the cache holds %+v, want one partial file", st)
	}
	r, err := c2.Open(context.Background(), "part.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head := make([]byte, 1000)
	if n, err := r.ReadAt(head, 0); n != len(head) || err != nil || !bytes.Equal(head, want[:1000]) {
		t.Fatalf("read of a resumed block: %d, %v, or wrong bytes", n, err)
	}
	if s.reads.Load() != 0 {
		t.Errorf("a block fetched before the crash was fetched again (%v)", s.log())
	}
	p, ok, err := c2.Fetch(context.Background(), "part.mp4")
	if err != nil || !ok {
		t.Fatalf("fetch of the rest: %v %v", ok, err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
		t.Fatal("the resumed blob has wrong bytes")
	}
	if got := s.bytes.Load(); got != size-st.Bytes {
		t.Errorf("resuming fetched %d bytes, want the %d missing", got, size-st.Bytes)
	}
}

// TestRestartDiscardsWhatItCannotTrust: a data file its map does not
// vouch for is fetched again; a map of another block size is dropped; and
// an unclean session of another boot discards everything.
func TestRestartDiscardsWhatItCannotTrust(t *testing.T) {
	s := newRemote(t)
	want := content(32, 200<<10)
	s.put(t, "torn.mp4", want)
	s.put(t, "whole.mp4", want)
	dir := t.TempDir()
	opt := testOptions()
	c, err := New(s, dir, 64<<20, opt)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.Open(context.Background(), "torn.mp4")
	p := make([]byte, 100)
	if _, err := r.ReadAt(p, 150<<10); err != nil { // block 2 only
		t.Fatal(err)
	}
	c.Fetch(context.Background(), "whole.mp4")
	r.Close()
	c.crash()
	// A crash between a block's data and its map byte: garbage where the
	// map says nothing is.
	f, _ := os.OpenFile(c.partialPath("torn.mp4", dataExt), os.O_WRONLY, 0)
	f.WriteAt(bytes.Repeat([]byte{0xee}, 64<<10), 0)
	f.Close()
	s.reset()
	c2 := openCache(t, s, dir, 64<<20, opt)
	r2, _ := c2.Open(context.Background(), "torn.mp4")
	defer r2.Close()
	if got := readBlob(t, r2, 50000); !bytes.Equal(got, want) {
		t.Fatal("a partial file served bytes its map does not vouch for")
	}
	if s.bytes.Load() != int64(len(want))-(64<<10) {
		t.Errorf("fetched %d bytes, want all but the block the map has", s.bytes.Load())
	}
	r2.Close()
	if _, ok, err := c2.Fetch(context.Background(), "torn.mp4"); !ok || err != nil { // its last blocks stored
		t.Fatal(ok, err)
	}
	c2.crash()

	// Another block size: the partial map does not hold.
	opt2 := opt
	opt2.BlockSize = 128 << 10
	os.WriteFile(filepath.Join(dir, lockFile), nil, 0o644) // as if closed cleanly
	c3 := openCache(t, s, dir, 64<<20, opt2)
	if st := c3.Stats(); st.Files != 2 {
		t.Errorf("with another block size: %+v, want the two complete files only", st)
	}
	c3.crash()

	// An unclean session of another boot.
	os.WriteFile(filepath.Join(dir, lockFile), []byte("another-boot"), 0o644)
	c4 := openCache(t, s, dir, 64<<20, opt)
	if st := c4.Stats(); st.Files != 0 || st.Bytes != 0 {
		t.Errorf("after an unclean session of another boot the cache holds %+v", st)
	}
}
