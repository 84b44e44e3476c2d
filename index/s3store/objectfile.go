package s3store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/minio/minio-go/v7"
)

// objectFile is an open object of a Folder's FS. Read streams one GET
// from the offset, and when its body is cut short, or ends early, a new
// GET goes on from where it stopped, with backoff, up to the attempts
// allowed; every response must be the object the open's HEAD saw (its
// ETag and size), so bytes of a replaced object are never mixed in.
// ReadAt is one ranged GET (blobReader). Read and Seek are not safe for
// concurrent use; ReadAt is.
type objectFile struct {
	x      *folderFS
	name   string
	key    string
	info   fileInfo
	etag   string
	off    int64
	body   io.ReadCloser
	tries  int // GETs in a row that failed to bring a byte
	ranged *blobReader
	closed bool
}

func (o *objectFile) Stat() (fs.FileInfo, error) { return o.info, nil }

func (o *objectFile) Close() error {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
	o.ranged.Close()
	o.closed = true
	return nil
}

func (o *objectFile) Read(p []byte) (int, error) {
	s := o.x.f.s
	switch {
	case o.closed:
		return 0, pathErr("read", o.name, fs.ErrClosed)
	case o.off >= o.info.size:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	for {
		if o.body == nil {
			if err := o.get(); err != nil {
				return 0, pathErr("read", o.name, err)
			}
		}
		n, err := o.body.Read(p)
		o.off += int64(n)
		if n > 0 {
			o.tries = 0
		}
		if o.off == o.info.size {
			o.body.Close()
			o.body = nil
			return n, nil
		}
		if err == nil {
			return n, nil
		}
		o.body.Close() // cut short, or ended before the size
		o.body = nil
		if n > 0 {
			return n, nil // the next Read goes on from here
		}
		o.tries++
		if o.tries >= s.cfg.attempts || o.x.ctx.Err() != nil {
			return 0, pathErr("read", o.name, s.cutShort(o.x.ctx, err))
		}
		s.cfg.log.Warn("s3store: read cut short, resuming", "key", o.key, "offset", o.off, "try", o.tries, "err", err)
		if err := sleep(o.x.ctx, backoff(o.tries)); err != nil {
			return 0, pathErr("read", o.name, err)
		}
	}
}

// get starts a GET of the object from o.off to its end.
func (o *objectFile) get() error {
	s := o.x.f.s
	var opts minio.GetObjectOptions
	if o.off > 0 {
		if err := opts.SetRange(o.off, 0); err != nil {
			return err
		}
	}
	start := time.Now()
	body, info, hdr, err := minio.Core{Client: s.cl}.GetObject(o.x.ctx, s.loc.Bucket, o.key, opts)
	s.timed("get", o.key, start, 0, err)
	if err != nil {
		return s.explain(o.x.ctx, err) // the client has retried it
	}
	if o.etag != "" && info.ETag != "" && info.ETag != o.etag {
		body.Close()
		return fmt.Errorf("the object changed while it was read (ETag %s, was %s)", info.ETag, o.etag)
	}
	if err := checkRange(hdr.Get("Content-Range"), info.Size, o.off, o.info.size-o.off, o.info.size); err != nil {
		body.Close()
		return err
	}
	o.body = body
	return nil
}

// Seek sets the offset of the next Read.
func (o *objectFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += o.off
	case io.SeekEnd:
		offset += o.info.size
	}
	if offset < 0 {
		return o.off, pathErr("seek", o.name, fs.ErrInvalid)
	}
	if offset != o.off && o.body != nil {
		o.body.Close()
		o.body = nil
	}
	o.off = offset
	return offset, nil
}

// ReadAt reads len(p) bytes at off with one ranged GET, or up to the end
// with io.EOF; fewer bytes come only with an error.
func (o *objectFile) ReadAt(p []byte, off int64) (int, error) {
	if o.closed {
		return 0, pathErr("read", o.name, fs.ErrClosed)
	}
	n, err := o.ranged.ReadAt(p, off)
	if e, ok := errors.AsType[*Error](err); ok {
		err = pathErr("read", o.name, e.Err)
	}
	return n, err
}
