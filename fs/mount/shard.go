package mount

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// A sealed shard (wds/shard-NNNNNN.tar) is read through the page cache
// (wids memory-maps shards), never materialised. Its layout and member
// files are loaded on the first open and kept, shared by every open, until
// the kernel forgets the node.
type shardState struct {
	once  sync.Once
	e     index.Entry
	shard *tree.Shard
	err   error
}

func (s *shardState) load(t *servedTree) (*tree.Shard, error) {
	s.once.Do(func() { s.shard, s.err = t.OpenShard(s.e) })
	return s.shard, s.err
}

// close closes the shard's open blob files.
func (s *shardState) close() {
	s.once.Do(func() {}) // orders this after a load in flight; none can follow
	if s.shard != nil {
		s.shard.Close()
	}
}

func (fs *rawFS) openShard(id uint64, e index.Entry) (fileHandle, uint32, syscall.Errno) {
	fs.mu.Lock()
	s := fs.shards[id]
	if s == nil || s.e != e { // a sealed shard never changes; a new entry is another shard
		s = &shardState{e: e}
		fs.shards[id] = s
	}
	fs.mu.Unlock()
	sh, err := s.load(fs.t)
	if err != nil {
		return nil, 0, toErrno(fs.t.log, index.DirShards+"/"+e.Name, err)
	}
	return &shardHandle{t: fs.t, s: sh, name: e.Name}, fuse.FOPEN_KEEP_CACHE, 0
}

type shardHandle struct {
	t    *servedTree
	s    *tree.Shard
	name string
}

func (h *shardHandle) read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	s := h.s
	if off >= s.Size() {
		return dataResult(nil), 0
	}
	size := int(min(int64(len(dest)), s.Size()-off))
	if h.t.splice {
		f, foff, release, ok, err := s.DataFile(off, size)
		if err != nil {
			return nil, h.readErrno(off, err)
		}
		if ok {
			return &fileResult{fd: f.Fd(), off: foff, size: size, release: release}, 0
		}
	}
	k, err := s.ReadAt(dest[:size], off)
	if err != nil && err != io.EOF {
		return nil, h.readErrno(off, err)
	}
	return dataResult(dest[:k]), 0
}

// release leaves the shard open for the next open; Forget closes it.
func (h *shardHandle) release() {}

// readErrno is the errno of a failed read at off: a corrupt blob is
// logged once per blob, anything else once per read.
func (h *shardHandle) readErrno(off int64, err error) syscall.Errno {
	if errors.Is(err, index.ErrCorrupt) {
		return toErrno(h.t.log, index.DirShards+"/"+h.name, err) // logged once per blob
	}
	h.t.log.Warn("shard read failed", "shard", h.name, "offset", off, "err", err)
	return syscall.EIO
}
