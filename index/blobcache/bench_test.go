package blobcache

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clipfs/clipfs/index"
)

// The benchmarks read one 64 MiB blob from start to end in 128 KiB pieces
// (the size of the kernel's FUSE reads) and report, besides ns/op, the
// throughput of each side and their ratio in the same run:
//
//	go test -run '^$' -bench . -benchtime 10x ./index/blobcache/
const (
	benchSize  = 64 << 20
	benchPiece = 128 << 10
	// benchDirectPart is a direct reader's ReadAt: large, one request each.
	benchDirectPart = 8 << 20
)

func benchBlob(b *testing.B) *remote {
	s := newRemote(b)
	s.put(b, "bench.tar", content(99, benchSize))
	return s
}

// readSeq reads r from start to end in pieces of n bytes.
func readSeq(b *testing.B, r io.ReaderAt, size int64, n int) {
	buf := make([]byte, n)
	for off := int64(0); off < size; off += int64(n) {
		k, err := r.ReadAt(buf, off)
		if err != nil && !(err == io.EOF && off+int64(k) == size) {
			b.Fatalf("read at %d: %v", off, err)
		}
	}
}

func mbps(d time.Duration, n int) float64 { return float64(n) * float64(benchSize) / d.Seconds() / 1e6 }

// BenchmarkColdSequentialRead: a cold read through a fresh cache over a
// store with 1 ms of latency per request, against reading that store
// directly in 8 MiB ReadAt calls. ratio = cache throughput / direct.
func BenchmarkColdSequentialRead(b *testing.B) {
	s := benchBlob(b)
	s.latency.Store(int64(time.Millisecond))
	var direct, cached time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		r, err := s.Open(context.Background(), "bench.tar")
		if err != nil {
			b.Fatal(err)
		}
		readSeq(b, r, benchSize, benchDirectPart)
		r.Close()
		direct += time.Since(start)

		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "cache")
		c, err := New(s, dir, 1<<30, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start = time.Now()
		cr, err := c.Open(context.Background(), "bench.tar")
		if err != nil {
			b.Fatal(err)
		}
		readSeq(b, cr, benchSize, benchPiece)
		cr.Close()
		cached += time.Since(start)
		b.StopTimer()
		c.Close()
		os.RemoveAll(dir)
		b.StartTimer()
		n++
	}
	b.ReportMetric(mbps(direct, n), "direct-MB/s")
	b.ReportMetric(mbps(cached, n), "cache-MB/s")
	b.ReportMetric(direct.Seconds()/cached.Seconds(), "ratio")
}

// BenchmarkReread: reading a blob the cache holds whole, through its
// reader, against reading the same bytes from a local file (os.File) in
// the same pieces. ratio = cache throughput / file.
func BenchmarkReread(b *testing.B) {
	s := benchBlob(b)
	c := newCache(b, s, 1<<30, Options{})
	if _, _, err := c.Fetch(context.Background(), "bench.tar"); err != nil {
		b.Fatal(err)
	}
	p, _ := s.folder.LocalPath("bench.tar")
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := c.Open(context.Background(), "bench.tar")
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var local, cached time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		readSeq(b, f, benchSize, benchPiece)
		local += time.Since(start)
		start = time.Now()
		readSeq(b, r, benchSize, benchPiece)
		cached += time.Since(start)
		n++
	}
	b.ReportMetric(mbps(local, n), "file-MB/s")
	b.ReportMetric(mbps(cached, n), "cache-MB/s")
	b.ReportMetric(local.Seconds()/cached.Seconds(), "ratio")
}

// BenchmarkFetchClip: Fetch of a 5 MB clip into a fresh cache (what a
// mount's open of a clip waits for) over a store with 1 ms of latency per
// request, against one direct ReadAt of the whole clip.
func BenchmarkFetchClip(b *testing.B) {
	const size = 5 << 20
	s := newRemote(b)
	s.put(b, "clip.mp4", content(98, size))
	s.latency.Store(int64(time.Millisecond))
	buf := make([]byte, size)
	var direct, fetched time.Duration
	for b.Loop() {
		start := time.Now()
		r, err := s.Open(context.Background(), "clip.mp4")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.ReadAt(buf, 0); err != nil && err != io.EOF {
			b.Fatal(err)
		}
		r.Close()
		direct += time.Since(start)

		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "cache")
		c, err := New(s, dir, 1<<30, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start = time.Now()
		if _, ok, err := c.Fetch(context.Background(), "clip.mp4"); !ok || err != nil {
			b.Fatal(ok, err)
		}
		fetched += time.Since(start)
		b.StopTimer()
		c.Close()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(direct.Microseconds())/float64(b.N), "direct-µs")
	b.ReportMetric(float64(fetched.Microseconds())/float64(b.N), "fetch-µs")
	b.ReportMetric(direct.Seconds()/fetched.Seconds(), "ratio")
}

var _ index.BlobReader = (*reader)(nil)
