package blobcache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// TestStoreDyingMidReadThenBack: the store going away in the middle of a
// sequential read gives an error, never short or wrong bytes; once it is
// back, the same reads succeed. Retries stay within Options.Attempts.
func TestStoreDyingMidReadThenBack(t *testing.T) {
	s := newRemote(t)
	const size = 8 << 20
	want := content(20, size)
	s.put(t, "dies.tar", want)
	opt := testOptions()
	c := newCache(t, s, 64<<20, opt)
	r, err := c.Open(context.Background(), "dies.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s.budget.Store(2 << 20) // the server dies after about 2 MiB
	const piece = 128 << 10
	buf := make([]byte, piece)
	var failedAt int64 = -1
	for off := int64(0); off < size; off += piece {
		n, err := r.ReadAt(buf, off)
		if err != nil {
			if n == len(buf) {
				t.Fatalf("read at %d: %d bytes and an error %v", off, n, err)
			}
			failedAt = off
			break
		}
		if n != piece || !bytes.Equal(buf, want[off:off+piece]) {
			t.Fatalf("read at %d while the store dies: %d bytes, or wrong bytes", off, n)
		}
	}
	if failedAt < 0 {
		t.Fatal("every read succeeded with the store down")
	}
	s.reset()
	if _, err := r.ReadAt(buf, failedAt); err == nil {
		t.Fatal("a read with the store still down succeeded")
	}
	if got := s.reads.Load() + s.opens.Load(); got > int64(opt.Attempts)*(opt.MaxReadAhead/opt.PartSize+1)+4 {
		t.Errorf("one failed read cost %d requests: retries multiply", got)
	}
	s.down.Store(false)
	s.budget.Store(0)
	for off := failedAt; off < size; off += piece {
		n, err := r.ReadAt(buf, off)
		if err != nil || n != piece || !bytes.Equal(buf, want[off:off+piece]) {
			t.Fatalf("read at %d after the store came back: %d, %v, or wrong bytes", off, n, err)
		}
	}
	if p, ok, err := c.Fetch(context.Background(), "dies.tar"); !ok || err != nil {
		t.Fatalf("fetch after recovery: %v %v", ok, err)
	} else if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
		t.Fatal("fetched file after recovery: wrong bytes")
	}
}

// TestFetchFailsThenRecovers: a Fetch with the store down fails and
// leaves no complete file; the next one, with the store back, succeeds.
func TestFetchFailsThenRecovers(t *testing.T) {
	s := newRemote(t)
	want := content(21, 1<<20)
	s.put(t, "clip.mp4", want)
	c := newCache(t, s, 64<<20, testOptions())
	ctx := context.Background()
	if _, err := c.Open(ctx, "clip.mp4"); err != nil { // learns its size
		t.Fatal(err)
	}
	s.down.Store(true)
	if p, ok, err := c.Fetch(ctx, "clip.mp4"); err == nil || ok {
		t.Fatalf("fetch with the store down: %q %v %v", p, ok, err)
	}
	if _, err := os.Stat(c.completePath("clip.mp4")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed fetch left a complete file (%v)", err)
	}
	s.down.Store(false)
	p, ok, err := c.Fetch(ctx, "clip.mp4")
	if err != nil || !ok {
		t.Fatalf("fetch after recovery: %v %v", ok, err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
		t.Fatal("wrong bytes")
	}
}

// TestTimeoutThenRecovery: a store slower than Options.Timeout fails the
// read after Options.Attempts tries; at normal speed it works again.
func TestTimeoutThenRecovery(t *testing.T) {
	s := newRemote(t)
	want := content(22, 256<<10)
	s.put(t, "slow.mp4", want)
	opt := testOptions()
	opt.Timeout = 50 * time.Millisecond
	opt.Attempts = 2
	c := newCache(t, s, 64<<20, opt)
	r, err := c.Open(context.Background(), "slow.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s.latency.Store(int64(300 * time.Millisecond))
	p := make([]byte, 1000)
	start := time.Now()
	if _, err := r.ReadAt(p, 100<<10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read from a store slower than the timeout: %v, want a deadline error", err)
	}
	if d := time.Since(start); d >= 600*time.Millisecond {
		t.Errorf("two attempts of 50 ms took %v: the reads were waited out, not timed out", d)
	}
	s.latency.Store(0)
	if n, err := r.ReadAt(p, 100<<10); n != len(p) || err != nil || !bytes.Equal(p, want[100<<10:100<<10+1000]) {
		t.Fatalf("read after the store sped up: %d, %v, or wrong bytes", n, err)
	}
}

// TestShortReadsAreErrors: a store that returns fewer bytes than asked
// gives errors, and nothing of what it returned is kept as a block.
func TestShortReadsAreErrors(t *testing.T) {
	s := newRemote(t)
	want := content(23, 300<<10)
	s.put(t, "short.mp4", want)
	c := newCache(t, s, 64<<20, testOptions())
	r, err := c.Open(context.Background(), "short.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s.short.Store(true)
	p := make([]byte, 10000)
	if n, err := r.ReadAt(p, 0); err == nil {
		t.Fatalf("read from a store cutting reads short: %d bytes, no error", n)
	}
	if _, ok, err := c.Fetch(context.Background(), "short.mp4"); err == nil || ok {
		t.Fatalf("fetch from a store cutting reads short: %v %v", ok, err)
	}
	if st := c.Stats(); st.Bytes != 0 {
		t.Errorf("short reads left %d bytes counted", st.Bytes)
	}
	s.short.Store(false)
	s.reset()
	if n, err := r.ReadAt(p, 0); n != len(p) || err != nil || !bytes.Equal(p, want[:len(p)]) {
		t.Fatalf("read after the store mended: %d, %v, or wrong bytes", n, err)
	}
	if s.reads.Load() == 0 {
		t.Error("a block a short read brought was kept")
	}
}
