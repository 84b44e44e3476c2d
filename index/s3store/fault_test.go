package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/s3store"
	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// TestServerKilledMidRead: readers reading random ranges while the server
// is killed get full, right bytes or an error naming the object, never
// short or wrong bytes, within a bound; a dead server is never a missing
// blob; after a restart the same reader reads again.
func TestServerKilledMidRead(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	opts := options(srv)
	opts.Attempts = 3
	opts.RequestTimeout = 5 * time.Second
	s := open(t, srv.URI("killed"), opts)
	ctx := context.Background()
	const size = 8 << 20
	want := randomBytes(50, size)
	if err := s.Put(ctx, "clip.mp4", writeTemp(t, "clip.mp4", want)); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	var stop atomic.Bool
	var reads, failures atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var slowest time.Duration
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for !stop.Load() {
				off := rng.Int64N(size)
				p := make([]byte, 64<<10+rng.IntN(1<<20))
				start := time.Now()
				n, err := r.ReadAt(p, off)
				took := time.Since(start)
				end := min(off+int64(len(p)), size)
				reads.Add(1)
				if !bytes.Equal(p[:n], want[off:off+int64(n)]) {
					t.Errorf("%d bytes at %d: wrong bytes among the %d returned (%v)", len(p), off, n, err)
				}
				if err == nil || (err == io.EOF && end == size) {
					if int64(n) != end-off {
						t.Errorf("%d bytes at %d: %d bytes and no error", len(p), off, n)
					}
					continue
				}
				failures.Add(1)
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				slowest = max(slowest, took)
				mu.Unlock()
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	before := reads.Load()
	srv.Kill()
	deadline := time.Now().Add(time.Minute)
	for failures.Load() < 8 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads before the kill, %d in all, %d failed; slowest failure %s; first error: %v",
		before, reads.Load(), failures.Load(), slowest.Round(time.Millisecond), firstErr)
	if failures.Load() == 0 {
		t.Fatal("no read failed with the server dead")
	}
	if msg := fmt.Sprint(firstErr); !strings.Contains(msg, "s3://"+srv.Bucket+"/killed/blobs/clip.mp4") || strings.Contains(msg, "\n") {
		t.Errorf("the error does not name the object in one line: %q", msg)
	}
	if slowest > 30*time.Second {
		t.Errorf("a read took %s to fail", slowest)
	}
	if _, err := s.Open(ctx, "clip.mp4"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open with the server dead: %v, want an error other than not-exist", err)
	}
	if err := s.List(ctx, func(index.BlobInfo) error { return nil }); err == nil {
		t.Error("list with the server dead: no error")
	}

	srv.Restart()
	got := make([]byte, size)
	if n, err := r.ReadAt(got, 0); n != size || (err != nil && err != io.EOF) || !bytes.Equal(got, want) {
		t.Fatalf("after the restart, the same reader: %d bytes, %v (or wrong bytes)", n, err)
	}
	if _, err := s.Open(ctx, "clip.mp4"); err != nil {
		t.Fatalf("open after the restart: %v", err)
	}
}

// TestPutKilled: a process killed with SIGKILL in the middle of a
// multipart Put leaves no object under the name, nothing List shows, and
// an upload on the server that Uploads lists and AbortUploads removes.
func TestPutKilled(t *testing.T) {
	if os.Getenv("S3STORE_PUT_CHILD") != "" {
		putChild(t)
		return
	}
	t.Parallel()
	srv := s3test.Start(t)
	src := writeTemp(t, "big.mp4", randomBytes(60, 96<<20))
	cmd := exec.Command(os.Args[0], "-test.run=^TestPutKilled$", "-test.count=1")
	cmd.Env = append(os.Environ(), srv.Env()...)
	cmd.Env = append(cmd.Env, "S3STORE_PUT_CHILD="+src, "S3STORE_PUT_URI="+srv.URI("killed-put"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, srv)
	core := minio.Core{Client: raw}
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	parts := 0
	for parts == 0 && time.Now().Before(deadline) { // kill once a part is up
		for up := range raw.ListIncompleteUploads(ctx, srv.Bucket, "killed-put/", true) {
			if up.Err == nil {
				res, err := core.ListObjectParts(ctx, srv.Bucket, up.Key, up.UploadID, 0, 100)
				if err == nil {
					parts = len(res.ObjectParts)
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if parts == 0 {
		t.Fatalf("no part was seen uploading before the child ended (%v):\n%s", err, out.Bytes())
	}
	t.Logf("killed the putting process with %d parts up", parts)
	s := open(t, srv.URI("killed-put"), options(srv))
	if _, err := s.Open(ctx, "big.mp4"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open after the put was killed: %v, want fs.ErrNotExist", err)
	}
	var listed []string
	if err := s.List(ctx, func(b index.BlobInfo) error { listed = append(listed, b.Name); return nil }); err != nil || len(listed) > 0 {
		t.Errorf("list after the put was killed: %v, %v", listed, err)
	}
	var uploads []string
	if err := s.Uploads(ctx, func(name string, _ time.Time) error { uploads = append(uploads, name); return nil }); err != nil || len(uploads) != 1 || uploads[0] != "big.mp4" {
		t.Errorf("Uploads after the put was killed: %q, %v; want [big.mp4]", uploads, err)
	}
	if n, err := s.AbortUploads(ctx, time.Hour); n != 0 || err != nil {
		t.Errorf("AbortUploads of uploads older than an hour: %d, %v; want 0, nil", n, err)
	}
	if n, err := s.AbortUploads(ctx, 0); n != 1 || err != nil {
		t.Errorf("AbortUploads: %d, %v; want 1, nil", n, err)
	}
	for up := range raw.ListIncompleteUploads(ctx, srv.Bucket, "killed-put/", true) {
		t.Errorf("upload left after AbortUploads: %s %v", up.Key, up.Err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Errorf("the source: %v", err)
	}
}

// putChild is the process TestPutKilled kills: a store from the
// environment, putting the file it is given in 5 MiB parts.
func putChild(t *testing.T) {
	opts := s3store.Options{PartSize: 5 << 20}
	s, err := s3store.Open(context.Background(), os.Getenv("S3STORE_PUT_URI"), opts)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Put(context.Background(), "big.mp4", os.Getenv("S3STORE_PUT_CHILD"))
	t.Fatalf("the put ended before the kill: %v", err)
}

// warnings counts the Warn records a store logs whose message holds a
// given text.
type warnings struct {
	slog.Handler
	text string
	n    *atomic.Int64
}

func countWarnings(text string) (*slog.Logger, *atomic.Int64) {
	n := new(atomic.Int64)
	return slog.New(warnings{Handler: slog.DiscardHandler, text: text, n: n}), n
}

func (w warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w warnings) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, w.text) {
		w.n.Add(1)
	}
	return nil
}

// TestReadsThroughFaultyNetwork: through a Toxiproxy with 200 ms of
// latency that resets every connection once the server has sent 1.5 MiB
// over it, and a fifth of them before a request reaches the server,
// whole and ranged reads of an 8 MiB blob, four at a time, give exactly
// the blob's bytes, the cut bodies resumed; when every connection is cut
// after 16 KiB, more than the retries can get through, a read fails
// naming the object, with only right bytes before the error, and the same
// reader reads whole once the network is clean.
func TestReadsThroughFaultyNetwork(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	ctx := context.Background()
	const size = 8 << 20
	want := randomBytes(70, size)
	if err := open(t, srv.URI("proxied"), options(srv)).Put(ctx, "clip.mp4", writeTemp(t, "clip.mp4", want)); err != nil {
		t.Fatal(err)
	}
	px := srv.Proxy(t)
	opts := options(srv)
	opts.Endpoint = px.Endpoint
	log, resumed := countWarnings("read cut short")
	opts.Logger = log
	s := open(t, srv.URI("proxied"), opts)
	px.Latency(200*time.Millisecond, 20*time.Millisecond)
	px.CutAfter(1536<<10, 1)
	px.Reset(0, 0.2)

	start := time.Now()
	r, err := s.Open(ctx, "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, size)
	if n, err := r.ReadAt(got, 0); n != size || err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the whole blob: %d bytes, %v (or wrong bytes)", n, err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 6 {
				off := rng.Int64N(size)
				p := make([]byte, 1+rng.IntN(2<<20))
				n, err := r.ReadAt(p, off)
				end := min(off+int64(len(p)), size)
				if int64(n) != end-off || (err != nil && !(err == io.EOF && end == size)) || !bytes.Equal(p[:n], want[off:end]) {
					t.Errorf("%d bytes at %d: %d bytes, %v (or wrong bytes)", len(p), off, n, err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("25 reads (8 MiB, then 24 of up to 2 MiB, 4 at a time) through the faults in %s; %d cut bodies resumed",
		time.Since(start).Round(time.Millisecond), resumed.Load())
	if resumed.Load() == 0 {
		t.Error("no body was cut: the proxy injected no fault")
	}

	// Faults beyond the retries: every connection cut after 16 KiB.
	px.Clear()
	px.CutAfter(16<<10, 1)
	short := open(t, srv.URI("proxied"), func() s3store.Options { o := opts; o.Attempts = 3; return o }())
	sr, err := short.Open(ctx, "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	clear(got)
	n, err := sr.ReadAt(got, 0)
	t.Logf("with every connection cut: %d bytes, %v", n, err)
	if err == nil || n >= size {
		t.Fatalf("a read of %d bytes with every connection cut after 16 KiB: %d bytes and no error", size, n)
	}
	if !bytes.Equal(got[:n], want[:n]) {
		t.Errorf("the %d bytes before the error are not the blob's", n)
	}
	if msg := err.Error(); !strings.Contains(msg, "s3://"+srv.Bucket+"/proxied/blobs/clip.mp4") || strings.Contains(msg, "\n") {
		t.Errorf("the error does not name the object in one line: %q", msg)
	}
	px.Clear()
	if n, err := sr.ReadAt(got, 0); n != size || err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the same reader once the network is clean: %d bytes, %v (or wrong bytes)", n, err)
	}
}
