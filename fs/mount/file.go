package mount

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// fileNode is what every regular-file node can do: report its attributes,
// and take the index's current entry when the file changed under the same
// name (a live mount: clipfs serve).
type fileNode interface {
	fusefs.InodeEmbedder
	attr(a *fuse.Attr) syscall.Errno
	refresh(e index.Entry)
	current() index.Entry
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
	t   *servedTree
	dir string // folder of the entry, to look it up again
	mu  sync.Mutex
	e   index.Entry
}

func (n *blobNode) entry() index.Entry {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.e
}

func (n *blobNode) current() index.Entry { return n.entry() }

// refresh points the node at another blob; files already open keep theirs.
func (n *blobNode) refresh(e index.Entry) {
	n.mu.Lock()
	n.e = e
	n.mu.Unlock()
}

func (n *blobNode) attr(a *fuse.Attr) syscall.Errno {
	e := n.entry()
	fileAttr(a, e.Size, e.MTime)
	return 0
}

func (n *blobNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.attr(&out.Attr)
}

func (n *blobNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	e := n.entry()
	h, err := n.openBlob(ctx, e)
	if errors.Is(err, os.ErrNotExist) && n.t.live {
		// Replaced by a commit the follower has not applied yet.
		if fresh, lerr := n.t.Lookup(n.dir, e.Name); lerr == nil && fresh != e {
			n.refresh(fresh)
			e = fresh
			h, err = n.openBlob(ctx, e)
		}
	}
	if err != nil {
		return nil, 0, toErrno(n.t.log, e.Name, err)
	}
	// Bytes that fail their digest are never served: the first open reads
	// the blob once to verify it, later opens reuse the verdict.
	if err := n.t.VerifyBlob(e); err != nil {
		h.Release(ctx)
		return nil, 0, toErrno(n.t.log, tree.ChildPath(n.dir, e.Name), err)
	}
	return h, fuse.FOPEN_KEEP_CACHE, 0
}

// blobFile is an open blob as FUSE serves it.
type blobFile interface {
	fusefs.FileReader
	fusefs.FileReleaser
}

// openBlob opens e's blob. Where the index's store keeps it as a local
// file, or fetches it whole into one (a cache in front of an object
// store), that file: read by pread (blobHandle) or by the kernel itself
// (passthroughHandle). Otherwise the store's reader (storeHandle).
func (n *blobNode) openBlob(ctx context.Context, e index.Entry) (blobFile, error) {
	f, ok, err := n.t.OpenBlobFile(ctx, e)
	if err != nil {
		return nil, err
	}
	if !ok {
		r, err := n.t.OpenBlob(ctx, e)
		if err != nil {
			return nil, err
		}
		return &storeHandle{r: r, t: n.t, name: e.Name}, nil
	}
	h := &blobHandle{f: f, t: n.t, name: e.Name}
	if n.t.passthrough {
		return &passthroughHandle{h}, nil
	}
	return h, nil
}

// blobHandle serves a blob's local file by pread, through the page cache.
type blobHandle struct {
	f    *os.File
	t    *servedTree
	name string
}

// passthroughHandle lets the kernel read the blob file itself (FUSE
// passthrough, Linux 6.9+, as root); where the kernel refuses, go-fuse
// falls back to Read.
type passthroughHandle struct{ *blobHandle }

func (h *passthroughHandle) PassthroughFd() (int, bool) { return int(h.f.Fd()), true }

func (h *blobHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h.t.splice {
		// The file stays open while the reply is sent: the kernel sends
		// RELEASE only after every read of the handle got its reply.
		return &fileResult{fd: h.f.Fd(), off: off, size: len(dest)}, 0
	}
	n, err := h.f.ReadAt(dest, off)
	if err != nil && n < len(dest) {
		if st, serr := h.f.Stat(); serr != nil || off+int64(n) < st.Size() {
			h.t.log.Warn("short read of blob", "file", h.name, "offset", off, "err", err)
			return nil, syscall.EIO
		}
	}
	return dataResult(dest[:n]), 0
}

func (h *blobHandle) Release(ctx context.Context) syscall.Errno {
	h.f.Close()
	return 0
}

// storeHandle serves a blob the index's store keeps no local file of (an
// object store): every read is a ReadAt of the store's reader, and there is
// no passthrough.
type storeHandle struct {
	r    index.BlobReader
	t    *servedTree
	name string
}

func (h *storeHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.r.ReadAt(dest, off)
	if err != nil && n < len(dest) && off+int64(n) < h.r.Size() {
		h.t.log.Warn("short read of blob", "file", h.name, "offset", off, "err", err)
		return nil, syscall.EIO
	}
	return dataResult(dest[:n]), 0
}

func (h *storeHandle) Release(ctx context.Context) syscall.Errno {
	h.r.Close()
	return 0
}

// renderedNode is a generated file (JSON, pickle, Parquet): rendered once,
// on the first stat or open, and kept while the kernel holds the inode or
// until its records change (refresh). An open file keeps the bytes it
// opened, so a reader never sees two versions mixed.
type renderedNode struct {
	fusefs.Inode
	t    *servedTree
	e    index.Entry
	mu   sync.Mutex
	data []byte
	// Generations keep the page cache honest in a live mount. refresh
	// starts a new generation; a handle of an older one still serves its
	// own bytes, and its reads may put them in the (shared) page cache.
	// So while one is open, new opens bypass the cache (FOPEN_DIRECT_IO),
	// and the first open after the last of them closes drops the cache
	// (no FOPEN_KEEP_CACHE).
	gen   uint64
	open  map[uint64]int // open handles by generation
	stale bool           // the page cache may hold an older generation's bytes
}

func (n *renderedNode) bytes() ([]byte, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.bytesLocked()
}

// bytesLocked is bytes with n.mu held.
func (n *renderedNode) bytesLocked() ([]byte, syscall.Errno) {
	if n.data == nil {
		b, err := n.t.Render(n.e)
		if err != nil {
			return nil, toErrno(n.t.log, n.e.Name, err)
		}
		n.data = b
	}
	return n.data, 0
}

func (n *renderedNode) current() index.Entry {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.e
}

// refresh drops the rendered bytes: they are rendered again from the
// index's records on the next stat or open.
func (n *renderedNode) refresh(e index.Entry) {
	n.mu.Lock()
	n.e, n.data = e, nil
	n.gen++
	n.stale = n.stale || len(n.open) > 0 // Release drops generations with none open
	n.mu.Unlock()
}

func (n *renderedNode) attr(a *fuse.Attr) syscall.Errno {
	b, errno := n.bytes()
	if errno == 0 {
		n.mu.Lock()
		mtime := n.e.MTime
		n.mu.Unlock()
		fileAttr(a, int64(len(b)), mtime)
	}
	return errno
}

func (n *renderedNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.attr(&out.Attr)
}

func (n *renderedNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b, errno := n.bytesLocked() // under the lock: the bytes of n.gen
	if errno != 0 {
		return nil, 0, errno
	}
	older := 0
	for g, c := range n.open {
		if g < n.gen {
			older += c
		}
	}
	open := uint32(fuse.FOPEN_KEEP_CACHE)
	switch {
	case older > 0:
		open = fuse.FOPEN_DIRECT_IO
	case n.stale:
		open, n.stale = 0, false // the kernel drops the inode's cached pages
	}
	if n.open == nil {
		n.open = map[uint64]int{}
	}
	n.open[n.gen]++
	return &renderedHandle{n: n, gen: n.gen, data: b}, open, 0
}

// renderedHandle is an open generated file: the bytes it was opened with.
type renderedHandle struct {
	n    *renderedNode
	gen  uint64
	data []byte
}

func (h *renderedHandle) Release(ctx context.Context) syscall.Errno {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	if h.n.open[h.gen]--; h.n.open[h.gen] <= 0 {
		delete(h.n.open, h.gen)
	}
	return 0
}

func (n *renderedNode) Read(ctx context.Context, fh fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	var b []byte
	if h, ok := fh.(*renderedHandle); ok {
		b = h.data
	} else {
		var errno syscall.Errno
		if b, errno = n.bytes(); errno != 0 {
			return nil, errno
		}
	}
	if off >= int64(len(b)) {
		return dataResult(nil), 0
	}
	return dataResult(b[off:min(int64(len(b)), off+int64(len(dest)))]), 0
}
