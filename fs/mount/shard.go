package mount

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// shardNode is wds/shard-NNNNNN.tar: read through the page cache (wids
// memory-maps shards), never materialised.
type shardNode struct {
	fusefs.Inode
	t     *servedTree
	e     index.Entry
	once  sync.Once
	shard *tree.Shard
	err   error
}

// refresh does nothing: a sealed shard never changes.
func (n *shardNode) refresh(index.Entry) {}

func (n *shardNode) current() index.Entry { return n.e }

func (n *shardNode) attr(a *fuse.Attr) syscall.Errno {
	fileAttr(a, n.e.Size, n.e.MTime)
	return 0
}

func (n *shardNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.attr(&out.Attr)
}

func (n *shardNode) load() (*tree.Shard, syscall.Errno) {
	n.once.Do(func() { n.shard, n.err = n.t.OpenShard(n.e) })
	if n.err != nil {
		return nil, toErrno(n.t.log, n.e.Name, n.err)
	}
	return n.shard, 0
}

// OnForget closes the shard's open blob files once the kernel forgets it.
func (n *shardNode) OnForget() {
	n.once.Do(func() {}) // orders this after a load in flight; none can follow
	if n.shard != nil {
		n.shard.Close()
	}
}

func (n *shardNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if _, errno := n.load(); errno != 0 {
		return nil, 0, errno
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (n *shardNode) Read(ctx context.Context, fh fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	s, errno := n.load()
	if errno != 0 {
		return nil, errno
	}
	if off >= s.Size() {
		return dataResult(nil), 0
	}
	size := int(min(int64(len(dest)), s.Size()-off))
	if n.t.splice {
		f, foff, release, ok, err := s.DataFile(off, size)
		if err != nil {
			return nil, n.readErrno(off, err)
		}
		if ok {
			return &fileResult{fd: f.Fd(), off: foff, size: size, release: release}, 0
		}
	}
	k, err := s.ReadAt(dest[:size], off)
	if err != nil && err != io.EOF {
		return nil, n.readErrno(off, err)
	}
	return dataResult(dest[:k]), 0
}

// readErrno is the errno of a failed read at off: a corrupt blob is
// logged once per blob, anything else once per read.
func (n *shardNode) readErrno(off int64, err error) syscall.Errno {
	if errors.Is(err, index.ErrCorrupt) {
		return toErrno(n.t.log, index.DirShards+"/"+n.e.Name, err) // logged once per blob
	}
	n.t.log.Warn("shard read failed", "shard", n.e.Name, "offset", off, "err", err)
	return syscall.EIO
}
