package blobcache

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

// TestSequentialReadGrowsReadAhead: reading a 64 MiB blob from start to
// end in 128 KiB pieces issues ranged reads that grow (doubling up to a
// part), fewer than the blob has blocks, several at once, and nothing
// twice.
func TestSequentialReadGrowsReadAhead(t *testing.T) {
	s := newRemote(t)
	const size = 64 << 20
	want := content(10, size)
	s.put(t, "seq.tar", want)
	opt := Options{BlockSize: 1 << 20, PartSize: 8 << 20, MaxReadAhead: 64 << 20} // the defaults
	c := newCache(t, s, 128<<20, opt)
	r, err := c.Open(context.Background(), "seq.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := readBlob(t, r, 128<<10); !bytes.Equal(got, want) {
		t.Fatal("wrong bytes")
	}
	log := s.log()
	blocks := int64(size) / opt.BlockSize
	if int64(len(log)) >= blocks/2 {
		t.Errorf("%d ranged reads for %d blocks: want far fewer", len(log), blocks)
	}
	var total, biggest int64
	for i, sp := range log {
		total += sp.n
		biggest = max(biggest, sp.n)
		if i > 0 && i < 4 && sp.n < log[i-1].n {
			t.Errorf("read-ahead shrank at request %d: %v", i, log[:i+1])
		}
	}
	if biggest != opt.PartSize {
		t.Errorf("largest ranged read %d bytes, want a whole part (%d): %v", biggest, opt.PartSize, log)
	}
	if total != size {
		t.Errorf("ranged reads fetched %d bytes of a %d-byte blob", total, size)
	}
	if log[0].n != opt.BlockSize {
		t.Errorf("the first read fetched %d bytes, want one block", log[0].n)
	}
	t.Logf("%d ranged reads: %v", len(log), log)
}

// TestRandomReadsFetchOnlyWhatTheyNeed: small reads at random offsets fetch
// about the blocks they cover, nothing like the whole blob.
func TestRandomReadsFetchOnlyWhatTheyNeed(t *testing.T) {
	s := newRemote(t)
	const size = 64 << 20
	want := content(11, size)
	s.put(t, "random.tar", want)
	opt := testOptions() // 64 KiB blocks
	c := newCache(t, s, 128<<20, opt)
	r, err := c.Open(context.Background(), "random.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	const reads, maxLen = 200, 16 << 10
	for range reads {
		n := 1 + rng.IntN(maxLen)
		off := rng.Int64N(size - int64(n))
		p := make([]byte, n)
		if k, err := r.ReadAt(p, off); k != n || err != nil || !bytes.Equal(p, want[off:off+int64(n)]) {
			t.Fatalf("read %d at %d: %d, %v, or wrong bytes", n, off, k, err)
		}
	}
	// Each read covers at most two blocks; one that happens to follow the
	// last closely may add one block of read-ahead.
	if got, bound := s.bytes.Load(), int64(reads)*3*opt.BlockSize; got > bound {
		t.Errorf("%d random reads fetched %d bytes, over the bound %d", reads, got, bound)
	}
	if got := s.reads.Load(); got > 2*reads {
		t.Errorf("%d random reads made %d ranged reads", reads, got)
	}
	t.Logf("%d random reads of up to %d bytes: %d ranged reads, %d bytes", reads, maxLen, s.reads.Load(), s.bytes.Load())
}
