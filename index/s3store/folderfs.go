package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// folderFS is Folder.FS: every request under ctx.
type folderFS struct {
	f   *Folder
	ctx context.Context
}

var (
	_ fs.StatFS     = (*folderFS)(nil)
	_ fs.ReadDirFS  = (*folderFS)(nil)
	_ fs.ReadFileFS = (*folderFS)(nil)
	_ io.ReaderAt   = (*objectFile)(nil)
	_ io.Seeker     = (*objectFile)(nil)
)

// errIsDir is the reason of a read of a folder.
var errIsDir = errors.New("is a folder")

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// stat is the object name is, or a folder when it is none but keys lie
// below it.
func (x *folderFS) stat(op, name string) (minio.ObjectInfo, bool, error) {
	key, err := x.f.key(name)
	if err != nil {
		return minio.ObjectInfo{}, false, pathErr(op, name, fs.ErrInvalid)
	}
	if name == "." {
		return minio.ObjectInfo{}, true, nil // the bucket was there at OpenFolder
	}
	s := x.f.s
	info, err := s.cl.StatObject(x.ctx, s.loc.Bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return info, false, nil
	}
	if why := s.explain(x.ctx, err); !errors.Is(why, fs.ErrNotExist) {
		return minio.ObjectInfo{}, false, pathErr(op, name, why)
	}
	below := false
	for obj := range s.cl.ListObjectsIter(x.ctx, s.loc.Bucket, minio.ListObjectsOptions{Prefix: key + "/", MaxKeys: 1, Recursive: true}) {
		if obj.Err != nil {
			return minio.ObjectInfo{}, false, pathErr(op, name, s.explain(x.ctx, obj.Err))
		}
		below = true
		break
	}
	if err := x.ctx.Err(); err != nil {
		return minio.ObjectInfo{}, false, pathErr(op, name, err)
	}
	if !below {
		return minio.ObjectInfo{}, false, pathErr(op, name, fs.ErrNotExist)
	}
	return minio.ObjectInfo{}, true, nil
}

// Stat is a HEAD of the object, or a listing of one key below a folder.
func (x *folderFS) Stat(name string) (fs.FileInfo, error) {
	info, dir, err := x.stat("stat", name)
	if err != nil {
		return nil, err
	}
	if dir {
		return folderInfo(name), nil
	}
	return objectInfo(name, info), nil
}

// Open opens a file (after a HEAD, whose size and ETag every read is held
// to) or a folder (listed at its first ReadDir).
func (x *folderFS) Open(name string) (fs.File, error) {
	info, dir, err := x.stat("open", name)
	if err != nil {
		return nil, err
	}
	if dir {
		return &dirFile{x: x, name: name}, nil
	}
	key, _ := x.f.key(name)
	return &objectFile{x: x, name: name, key: key, info: objectInfo(name, info), etag: info.ETag,
		ranged: newReader(x.ctx, x.f.s, key, info.Size)}, nil
}

// ReadDir lists the folder one level deep (delimiter "/"), in name order.
// Keys that are no io/fs name (an empty part, "." or "..", a backslash)
// and folder marker objects (KEY/) are left out.
func (x *folderFS) ReadDir(name string) ([]fs.DirEntry, error) {
	key, err := x.f.key(name)
	if err != nil {
		return nil, pathErr("readdir", name, fs.ErrInvalid)
	}
	prefix := key
	if name != "." {
		prefix += "/"
	}
	s := x.f.s
	var out []fs.DirEntry
	seen := false
	for obj := range s.cl.ListObjectsIter(x.ctx, s.loc.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if obj.Err != nil {
			return nil, pathErr("readdir", name, s.explain(x.ctx, obj.Err))
		}
		seen = true
		child, isDir := strings.CutSuffix(strings.TrimPrefix(obj.Key, prefix), "/")
		if child == "" || child == "." || child == ".." || strings.ContainsAny(child, `/\`) {
			continue
		}
		if isDir {
			out = append(out, fs.FileInfoToDirEntry(folderInfo(child)))
		} else {
			out = append(out, fs.FileInfoToDirEntry(objectInfo(child, obj)))
		}
	}
	if err := x.ctx.Err(); err != nil {
		return nil, pathErr("readdir", name, err)
	}
	if !seen && name != "." {
		return nil, pathErr("readdir", name, fs.ErrNotExist)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// ReadFile is one GET of the whole object, tried again from the start
// when its body is cut short.
func (x *folderFS) ReadFile(name string) ([]byte, error) {
	key, err := x.f.key(name)
	if err != nil {
		return nil, pathErr("read", name, fs.ErrInvalid)
	}
	if name == "." {
		return nil, pathErr("read", name, errIsDir)
	}
	s := x.f.s
	for try := 1; ; try++ {
		start := time.Now()
		body, info, _, err := minio.Core{Client: s.cl}.GetObject(x.ctx, s.loc.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return nil, pathErr("read", name, s.explain(x.ctx, err)) // the client has retried it
		}
		b := make([]byte, info.Size)
		n, err := io.ReadFull(body, b)
		if err == nil && n == len(b) {
			if k, _ := body.Read(make([]byte, 1)); k > 0 {
				err = fmt.Errorf("the server sends more than the %d bytes it announced", info.Size)
			}
		}
		body.Close()
		s.timed("get", key, start, int64(n), err)
		if err == nil {
			return b, nil
		}
		if try >= s.cfg.attempts || x.ctx.Err() != nil {
			return nil, pathErr("read", name, s.cutShort(x.ctx, err))
		}
		s.cfg.log.Warn("s3store: read cut short, reading again", "key", key, "try", try, "err", err)
		if err := sleep(x.ctx, backoff(try)); err != nil {
			return nil, pathErr("read", name, err)
		}
	}
}

// cutShort is the reason of a response body that kept failing through the
// tries: the network's fault, unless ctx was cancelled.
func (s *Store) cutShort(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &unreachable{fmt.Errorf("the response was cut short: %w, after %d tries", err, s.cfg.attempts)}
}

// fileInfo is an object's or a folder's fs.FileInfo.
type fileInfo struct {
	name  string
	size  int64
	mtime time.Time
	dir   bool
}

// objectInfo is an object's info, its mtime in whole seconds (a HEAD's
// Last-Modified has no finer ones, a listing's has), so that Stat and
// ReadDir agree.
func objectInfo(name string, o minio.ObjectInfo) fileInfo {
	return fileInfo{name: path.Base(name), size: o.Size, mtime: o.LastModified.Truncate(time.Second)}
}

func folderInfo(name string) fileInfo { return fileInfo{name: path.Base(name), dir: true} }

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) ModTime() time.Time { return i.mtime }
func (i fileInfo) IsDir() bool        { return i.dir }
func (i fileInfo) Sys() any           { return nil }
func (i fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

// dirFile is an open folder.
type dirFile struct {
	x      *folderFS
	name   string
	ents   []fs.DirEntry
	listed bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return folderInfo(d.name), nil }
func (d *dirFile) Read([]byte) (int, error)   { return 0, pathErr("read", d.name, errIsDir) }
func (d *dirFile) Close() error               { return nil }

// ReadDir returns the next n entries (all that are left for n <= 0).
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.listed {
		ents, err := d.x.ReadDir(d.name)
		if err != nil {
			return nil, err
		}
		d.ents, d.listed = ents, true
	}
	if n <= 0 {
		out := d.ents
		d.ents = nil
		return out, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.ents))
	out := d.ents[:k:k]
	d.ents = d.ents[k:]
	return out, nil
}
