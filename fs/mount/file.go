package mount

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// openBlob opens media file e (a clip .mp4, a preview .webp) of folder
// f.dir. Bytes that fail their digest are never served: the first open
// reads the blob once to verify it, later opens reuse the verdict. Where
// the kernel takes a backing file, it reads the blob's local file itself
// (FUSE passthrough) and sends no READ.
func (fs *rawFS) openBlob(ctx context.Context, nodeID uint64, f file, e index.Entry, out *fuse.OpenOut) (fileHandle, uint32, syscall.Errno) {
	h, err := fs.blobHandleOf(ctx, e)
	if errors.Is(err, os.ErrNotExist) && fs.t.live {
		// Replaced by a commit between the lookup and the open.
		if fresh, lerr := fs.t.Lookup(f.dir, e.Name); lerr == nil && fresh != e {
			e = fresh
			h, err = fs.blobHandleOf(ctx, e)
		}
	}
	path := tree.ChildPath(f.dir, e.Name)
	if err != nil {
		return nil, 0, toErrno(fs.t.log, path, err)
	}
	if err := fs.t.VerifyBlob(e); err != nil {
		h.release()
		return nil, 0, toErrno(fs.t.log, path, err)
	}
	flags := uint32(fuse.FOPEN_KEEP_CACHE)
	if bh, ok := h.(*blobHandle); ok && fs.t.passthrough {
		switch id, ok := fs.backingFor(nodeID, e.Ref, bh.f); {
		case ok:
			bh.fs, bh.node, bh.backing = fs, nodeID, id
			out.BackingID = id
			flags = fuse.FOPEN_PASSTHROUGH // the kernel's own page cache of the backing file
		case id < 0:
			// The node is open by passthrough on another blob (the name
			// was recommitted): the kernel takes one backing file per
			// node, so this open is served by read, uncached.
			flags = fuse.FOPEN_DIRECT_IO
		}
	}
	return h, flags, 0
}

// backing is the backing file the kernel reads a node's opens from.
type backing struct {
	id   int32
	blob string // the blob it is
	refs int    // opens using it
}

// backingFor is the backing file ID for an open of node's blob (local
// file f), registered with the kernel on the node's first passthrough
// open (Linux 6.9+, as root) and shared by the node's later ones: the
// kernel refuses a second backing file for a node. ok false: no
// passthrough; id -1 when the node already has a backing file of another
// blob. Where the kernel refuses backing files, no later open asks again.
func (fs *rawFS) backingFor(node uint64, blob string, f *os.File) (id int32, ok bool) {
	if fs.server == nil || fs.noBacking.Load() {
		return 0, false
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if b := fs.backings[node]; b != nil {
		if b.blob != blob {
			return -1, false
		}
		b.refs++
		return b.id, true
	}
	id, errno := fs.server.RegisterBackingFd(&fuse.BackingMap{Fd: int32(f.Fd())})
	if errno != 0 {
		if !fs.noBacking.Swap(true) {
			fs.t.log.Info("FUSE passthrough refused by the kernel; blobs are served by read", "reason", errno)
		}
		return 0, false
	}
	fs.backings[node] = &backing{id: id, blob: blob, refs: 1}
	return id, true
}

// releaseBacking drops an open's use of node's backing file; the last
// one unregisters it.
func (fs *rawFS) releaseBacking(node uint64, name string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	b := fs.backings[node]
	if b == nil {
		return
	}
	if b.refs--; b.refs > 0 {
		return
	}
	delete(fs.backings, node)
	if errno := fs.server.UnregisterBackingFd(b.id); errno != 0 {
		fs.t.log.Warn("releasing a FUSE backing file", "file", name, "err", errno)
	}
}

// blobHandleOf opens e's blob. Where the index's store keeps it as a
// local file, or fetches it whole into one (a cache in front of an object
// store), that file (blobHandle); otherwise the store's reader
// (storeHandle).
func (fs *rawFS) blobHandleOf(ctx context.Context, e index.Entry) (fileHandle, error) {
	f, ok, err := fs.t.OpenBlobFile(ctx, e)
	if err != nil {
		return nil, err
	}
	if !ok {
		r, err := fs.t.OpenBlob(ctx, e)
		if err != nil {
			return nil, err
		}
		return &storeHandle{r: r, t: fs.t, name: e.Name}, nil
	}
	return &blobHandle{f: f, t: fs.t, name: e.Name}, nil
}

// blobHandle serves a blob's local file: by the kernel itself where it
// took it as a backing file (backing != 0), else spliced or copied from
// the page cache.
type blobHandle struct {
	f       *os.File
	t       *servedTree
	name    string
	fs      *rawFS // with node: opened by passthrough, on backing
	node    uint64
	backing int32
}

func (h *blobHandle) read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
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

func (h *blobHandle) release() {
	if h.fs != nil {
		h.fs.releaseBacking(h.node, h.name)
	}
	h.f.Close()
}

// storeHandle serves a blob the index's store keeps no local file of (an
// object store): every read is a ReadAt of the store's reader.
type storeHandle struct {
	r    index.BlobReader
	t    *servedTree
	name string
}

func (h *storeHandle) read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.r.ReadAt(dest, off)
	if err != nil && n < len(dest) && off+int64(n) < h.r.Size() {
		h.t.log.Warn("short read of blob", "file", h.name, "offset", off, "err", err)
		return nil, syscall.EIO
	}
	return dataResult(dest[:n]), 0
}

func (h *storeHandle) release() { h.r.Close() }
