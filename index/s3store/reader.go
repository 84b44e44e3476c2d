package s3store

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// blobReader is an open blob: each ReadAt is one ranged GET of exactly
// the bytes asked for (clipped to the blob's size), so concurrent reads
// share nothing but the client. Close cancels reads in flight.
type blobReader struct {
	s      *Store
	key    string
	size   int64
	ctx    context.Context
	cancel context.CancelFunc
}

// newReader reads key under parent, until Close.
func newReader(parent context.Context, s *Store, key string, size int64) *blobReader {
	ctx, cancel := context.WithCancel(parent)
	return &blobReader{s: s, key: key, size: size, ctx: ctx, cancel: cancel}
}

func (r *blobReader) Size() int64  { return r.size }
func (r *blobReader) Close() error { r.cancel(); return nil }

func (r *blobReader) fail(err error) error {
	return &Error{Op: "read", URI: "s3://" + r.s.loc.Bucket + "/" + r.key, Err: err}
}

// ReadAt reads len(p) bytes at off, or up to the end with io.EOF. It
// returns fewer bytes only with an error: a range the server cannot serve
// after the client's retries is an error, never short or other bytes.
func (r *blobReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, r.fail(fmt.Errorf("negative offset %d", off))
	}
	if r.ctx.Err() != nil {
		return 0, r.fail(fs.ErrClosed)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	if want == 0 {
		return 0, nil
	}
	n, err := r.readFull(p[:want], off)
	if err != nil {
		if r.ctx.Err() != nil {
			err = fs.ErrClosed
		}
		return n, r.fail(err)
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// readFull fills p from off. A GET that fails before its body is the
// client's to retry (and has been); a body cut short is resumed from where
// it stopped by a new GET, with backoff, up to the attempts allowed.
func (r *blobReader) readFull(p []byte, off int64) (int, error) {
	got := 0
	for try := 1; ; try++ {
		start := time.Now()
		n, inBody, err := r.get(p[got:], off+int64(got))
		r.s.timed("get", r.key, start, int64(n), err)
		got += n
		if err == nil {
			return got, nil
		}
		if !inBody {
			return got, r.s.explain(r.ctx, err)
		}
		if try >= r.s.cfg.attempts {
			return got, r.s.cutShort(r.ctx, err)
		}
		r.s.cfg.log.Warn("s3store: read cut short, resuming", "key", r.key, "offset", off+int64(got), "try", try, "err", err)
		if err := sleep(r.ctx, backoff(try)); err != nil {
			return got, err
		}
	}
}

// get is one ranged GET into p; inBody says the request succeeded and its
// body failed.
func (r *blobReader) get(p []byte, off int64) (n int, inBody bool, err error) {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+int64(len(p))-1); err != nil {
		return 0, false, err
	}
	body, info, hdr, err := minio.Core{Client: r.s.cl}.GetObject(r.ctx, r.s.loc.Bucket, r.key, opts)
	if err != nil {
		return 0, false, err
	}
	defer body.Close()
	if err := checkRange(hdr.Get("Content-Range"), info.Size, off, int64(len(p)), r.size); err != nil {
		return 0, false, err
	}
	n, err = io.ReadFull(body, p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, true, err
}

// checkRange refuses a response that is not the range asked for: a
// server that ignored the Range header, or a blob whose size changed.
func checkRange(contentRange string, length, off, n, size int64) error {
	if length != n {
		return fmt.Errorf("asked for %d bytes at %d, the server sends %d", n, off, length)
	}
	if contentRange == "" {
		if off == 0 && n == size {
			return nil // the whole blob, as 200
		}
		return fmt.Errorf("asked for %d bytes at %d, the server sends no Content-Range", n, off)
	}
	want := "bytes " + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+n-1, 10) + "/"
	if !strings.HasPrefix(contentRange, want) || contentRange[len(want):] != strconv.FormatInt(size, 10) {
		return fmt.Errorf("asked for %s%d, the server sends %q", want, size, contentRange)
	}
	return nil
}

// backoff is the wait before try+1: 0.2 s doubling, at most 2 s, with
// full jitter.
func backoff(try int) time.Duration {
	d := min(200*time.Millisecond<<min(try-1, 4), 2*time.Second)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
