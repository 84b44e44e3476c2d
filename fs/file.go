package fs

import (
	"context"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/clipfs/clipfs/index"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// fileNode is what every regular-file node can do: report its attributes.
type fileNode interface {
	fusefs.InodeEmbedder
	attr(a *fuse.Attr) syscall.Errno
}

func unixTime(s int64) *time.Time {
	t := time.Unix(s, 0)
	return &t
}

func fileAttr(a *fuse.Attr, size, mtime int64) {
	a.Mode = syscall.S_IFREG | 0o444
	a.Nlink = 1
	a.Size = uint64(size)
	a.Blocks = (uint64(size) + 511) / 512
	a.Blksize = 1 << 20
	a.SetTimes(nil, unixTime(mtime), unixTime(mtime))
}

// blobNode is a media file (clip .mp4, preview .webp) stored as a blob.
type blobNode struct {
	fusefs.Inode
	t *Tree
	e index.Entry
}

func (n *blobNode) attr(a *fuse.Attr) syscall.Errno {
	fileAttr(a, n.e.Size, n.e.MTime)
	return 0
}

func (n *blobNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.attr(&out.Attr)
}

func (n *blobNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	f, err := os.Open(n.t.BlobPath(n.e))
	if err != nil {
		return nil, 0, toErrno(n.t.log, n.e.Name, err)
	}
	h := &blobHandle{f: f, t: n.t, name: n.e.Name}
	if n.t.passthrough {
		return &passthroughHandle{h}, fuse.FOPEN_KEEP_CACHE, 0
	}
	return h, fuse.FOPEN_KEEP_CACHE, 0
}

// blobHandle serves a blob by pread, through the page cache.
type blobHandle struct {
	f    *os.File
	t    *Tree
	name string
}

// passthroughHandle lets the kernel read the blob file itself (FUSE
// passthrough, Linux 6.9+, as root); where the kernel refuses, go-fuse
// falls back to Read.
type passthroughHandle struct{ *blobHandle }

func (h *passthroughHandle) PassthroughFd() (int, bool) { return int(h.f.Fd()), true }

func (h *blobHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.f.ReadAt(dest, off)
	if err != nil && n < len(dest) {
		if st, serr := h.f.Stat(); serr != nil || off+int64(n) < st.Size() {
			h.t.log.Warn("short read of blob", "file", h.name, "offset", off, "err", err)
			return nil, syscall.EIO
		}
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *blobHandle) Release(ctx context.Context) syscall.Errno {
	h.f.Close()
	return 0
}

// renderedNode is a generated file (JSON, pickle, Parquet): rendered once,
// on the first stat or open, and kept while the kernel holds the inode.
type renderedNode struct {
	fusefs.Inode
	t    *Tree
	e    index.Entry
	mu   sync.Mutex
	data []byte
}

func (n *renderedNode) bytes() ([]byte, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.data == nil {
		b, err := n.t.Render(n.e)
		if err != nil {
			return nil, toErrno(n.t.log, n.e.Name, err)
		}
		n.data = b
	}
	return n.data, 0
}

func (n *renderedNode) attr(a *fuse.Attr) syscall.Errno {
	b, errno := n.bytes()
	if errno == 0 {
		fileAttr(a, int64(len(b)), n.e.MTime)
	}
	return errno
}

func (n *renderedNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.attr(&out.Attr)
}

func (n *renderedNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if _, errno := n.bytes(); errno != 0 {
		return nil, 0, errno
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (n *renderedNode) Read(ctx context.Context, fh fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	b, errno := n.bytes()
	if errno != 0 {
		return nil, errno
	}
	if off >= int64(len(b)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(b[off:min(int64(len(b)), off+int64(len(dest)))]), 0
}
