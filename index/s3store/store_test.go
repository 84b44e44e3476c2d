package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/blobtest"
	"github.com/clipfs/clipfs/index/s3store"
	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// options point a store at srv with its keys, nothing from the environment.
func options(srv *s3test.Server) s3store.Options {
	return s3store.Options{
		Endpoint:        srv.Endpoint,
		AccessKeyID:     srv.AccessKey,
		SecretAccessKey: srv.SecretKey,
		Region:          srv.Region,
	}
}

func open(t *testing.T, uri string, opts s3store.Options) *s3store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := s3store.Open(ctx, uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawClient sees the bucket as it is, past the store.
func rawClient(t *testing.T, srv *s3test.Server) *minio.Client {
	t.Helper()
	cl, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{
		Creds:        credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		Region:       srv.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSeaweedFS runs everything that shares one server: the conformance
// test on a store and on a Sub store, multipart uploads and cancelled ones.
func TestSeaweedFS(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	var n atomic.Int64
	fresh := func(t *testing.T) *s3store.Store {
		return open(t, srv.URI(fmt.Sprintf("conformance/%d", n.Add(1))), options(srv))
	}
	t.Run("Conformance", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) index.BlobStore { return fresh(t) })
	})
	t.Run("SubConformance", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) index.BlobStore {
			sub, err := fresh(t).Sub("index/full")
			if err != nil {
				t.Fatal(err)
			}
			return sub
		})
	})
	t.Run("SubIsApart", func(t *testing.T) { subIsApart(t, fresh(t)) })
	t.Run("ReaderClosed", func(t *testing.T) { readerClosed(t, fresh(t)) })
	t.Run("Layout", func(t *testing.T) { layout(t, srv) })
	t.Run("LargeMultipart", func(t *testing.T) { largeMultipart(t, srv) })
	t.Run("CancelledMultipart", func(t *testing.T) { cancelledMultipart(t, srv) })
}

// subIsApart: a Sub store and the blob store list and remove only their
// own objects, though one name is in both.
func subIsApart(t *testing.T, s *s3store.Store) {
	ctx := context.Background()
	sub, err := s.Sub("index")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "same", writeTemp(t, "a", []byte("blob"))); err != nil {
		t.Fatal(err)
	}
	if err := sub.Put(ctx, "same", writeTemp(t, "b", []byte("index backup"))); err != nil {
		t.Fatal(err)
	}
	if err := sub.Put(ctx, "other", writeTemp(t, "c", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	sizes := func(st *s3store.Store) map[string]int64 {
		m := map[string]int64{}
		if err := st.List(ctx, func(b index.BlobInfo) error { m[b.Name] = b.Size; return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if got := fmt.Sprint(sizes(s)); got != "map[same:4]" {
		t.Errorf("the blob store lists %s", got)
	}
	if got := fmt.Sprint(sizes(sub)); got != "map[other:1 same:12]" {
		t.Errorf("the sub store lists %s", got)
	}
	if err := sub.Remove(ctx, "same"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Open(ctx, "same"); err != nil || r.Size() != 4 {
		t.Errorf("removing from the sub store reached the blob store: %v", err)
	}
	if _, err := s.Sub("../x"); err == nil {
		t.Error(`Sub("../x"): no error`)
	}
	if want := s.Location().String() + "/index/"; sub.URI() != want {
		t.Errorf("sub URI %s, want %s", sub.URI(), want)
	}
}

// layout: blob NAME is the object PREFIX/blobs/NAME, with its media type.
func layout(t *testing.T, srv *s3test.Server) {
	ctx := context.Background()
	s := open(t, srv.URI("layout/p"), options(srv))
	if err := s.Put(ctx, "0a-clip.mp4", writeTemp(t, "x", []byte("mp4"))); err != nil {
		t.Fatal(err)
	}
	info, err := rawClient(t, srv).StatObject(ctx, srv.Bucket, "layout/p/blobs/0a-clip.mp4", minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("the object PREFIX/blobs/NAME: %v", err)
	}
	if info.Size != 3 || info.ContentType != "video/mp4" {
		t.Errorf("object: size %d, type %q", info.Size, info.ContentType)
	}
	if s.URI() != srv.URI("layout/p")+"/blobs/" {
		t.Errorf("URI %s", s.URI())
	}
}

// largeMultipart: 40 MiB goes up in 5 MiB parts and reads back exactly,
// whole and at random ranges (across part boundaries too), concurrently.
func largeMultipart(t *testing.T, srv *s3test.Server) {
	ctx := context.Background()
	opts := options(srv)
	opts.PartSize = 5 << 20
	s := open(t, srv.URI("large"), opts)
	const size = 40<<20 + 12345
	want := randomBytes(40, size)
	src := writeTemp(t, "big.mp4", want)
	start := time.Now()
	if err := s.Put(ctx, "big.mp4", src); err != nil {
		t.Fatal(err)
	}
	t.Logf("put %d MiB in %s", size>>20, time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the source is still there: %v", err)
	}
	info, err := rawClient(t, srv).StatObject(ctx, srv.Bucket, "large/blobs/big.mp4", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(info.ETag, "-9") {
		t.Errorf("ETag %q: want a multipart upload of 9 parts (-9)", info.ETag)
	}
	r, err := s.Open(ctx, "big.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != size {
		t.Fatalf("size %d, want %d", r.Size(), size)
	}
	whole := make([]byte, size)
	start = time.Now()
	if n, err := r.ReadAt(whole, 0); n != size || (err != nil && err != io.EOF) {
		t.Fatalf("reading it whole: %d, %v", n, err)
	}
	t.Logf("read it whole in one GET in %s", time.Since(start).Round(time.Millisecond))
	if !bytes.Equal(whole, want) {
		t.Fatal("the bytes read whole differ")
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 25 {
				off := rng.Int64N(size)
				if rng.IntN(4) == 0 { // straddle a part boundary
					off = max(0, int64(rng.IntN(8)+1)*opts.PartSize-rng.Int64N(1000))
				}
				p := make([]byte, rng.IntN(2<<20)+1)
				n, err := r.ReadAt(p, off)
				end := min(off+int64(len(p)), size)
				if int64(n) != end-off || (err != nil && !(err == io.EOF && end == size)) ||
					!bytes.Equal(p[:n], want[off:end]) {
					t.Errorf("%d bytes at %d: %d, %v, or wrong bytes", len(p), off, n, err)
				}
			}
		})
	}
	wg.Wait()
}

// cancelledMultipart: cancelling a multipart Put once the upload has begun
// leaves no object under the name, no upload on the server (it is
// aborted) and the source in place.
func cancelledMultipart(t *testing.T, srv *s3test.Server) {
	opts := options(srv)
	opts.PartSize = 5 << 20
	s := open(t, srv.URI("cancelled"), opts)
	src := writeTemp(t, "big.mp4", randomBytes(41, 64<<20))
	raw := rawClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // cancel as soon as the server holds the upload
		for ctx.Err() == nil {
			for up := range raw.ListIncompleteUploads(ctx, srv.Bucket, "cancelled/", true) {
				if up.Err == nil && up.Key == "cancelled/blobs/big.mp4" {
					cancel()
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	err := s.Put(ctx, "big.mp4", src)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("put: %v, want context.Canceled", err)
	}
	bg := context.Background()
	if _, err := os.Stat(src); err != nil {
		t.Errorf("a cancelled put removed its source: %v", err)
	}
	if r, err := s.Open(bg, "big.mp4"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a cancelled put, open: %v (size %v), want fs.ErrNotExist", err, r)
	}
	var left []string
	for up := range raw.ListIncompleteUploads(bg, srv.Bucket, "cancelled/", true) {
		left = append(left, fmt.Sprint(up.Key, " ", up.Err))
	}
	if len(left) > 0 {
		t.Errorf("uploads left on the server: %v", left)
	}
}

// readerClosed: ReadAt after Close is fs.ErrClosed.
func readerClosed(t *testing.T, s *s3store.Store) {
	ctx := context.Background()
	if err := s.Put(ctx, "a", writeTemp(t, "a", []byte("abc"))); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if n, err := r.ReadAt(make([]byte, 3), 0); n != 0 || !errors.Is(err, fs.ErrClosed) {
		t.Errorf("read after close: %d, %v", n, err)
	}
}
