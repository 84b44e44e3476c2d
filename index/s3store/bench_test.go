package s3store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipfs/clipfs/index/s3store"
	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// BenchmarkSeaweedFS is the store's latency against a local SeaweedFS
// (`go test -bench SeaweedFS -run ^$ ./index/s3store/`): a PUT of a clip
// sized file (with its size check), an Open (one HEAD), a ranged GET.
func BenchmarkSeaweedFS(b *testing.B) {
	srv := s3test.Start(b)
	s, err := s3storeOpen(srv)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, size := range []int{64 << 10, 4 << 20} {
		data := randomBytes(1, size)
		b.Run(fmt.Sprintf("Put/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			dir := b.TempDir()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				src := writeBench(b, dir, i, data)
				b.StartTimer()
				if err := s.Put(ctx, fmt.Sprintf("put-%d", i), src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if err := s.Put(ctx, "read", writeBench(b, b.TempDir(), 0, randomBytes(2, 16<<20))); err != nil {
		b.Fatal(err)
	}
	b.Run("Open", func(b *testing.B) {
		for b.Loop() {
			r, err := s.Open(ctx, "read")
			if err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
	r, err := s.Open(ctx, "read")
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for _, n := range []int{4 << 10, 64 << 10, 1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("ReadAt/%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			p := make([]byte, n)
			for i := 0; b.Loop(); i++ {
				off := int64(i*n) % (16<<20 - int64(n) + 1)
				if _, err := r.ReadAt(p, off); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func s3storeOpen(srv *s3test.Server) (*s3store.Store, error) {
	return s3store.Open(context.Background(), srv.URI("bench"), options(srv))
}

func writeBench(b *testing.B, dir string, i int, data []byte) string {
	p := filepath.Join(dir, fmt.Sprint(i))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}
