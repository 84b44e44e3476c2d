package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"syscall"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Shard is one sealed shard ready to read: its tar layout over the
// index's member content. It is immutable and safe for concurrent reads.
type Shard struct {
	tar  *pack.Tar
	src  *index.ShardContent
	name string
}

// OpenShard loads sealed shard entry e.
func (t *Tree) OpenShard(e index.Entry) (*Shard, error) {
	n, err := strconv.Atoi(e.Ref)
	if err != nil {
		return nil, fmt.Errorf("shard %s: bad reference %q", e.Name, e.Ref)
	}
	src, err := t.db.OpenShardContent(n)
	if err != nil {
		return nil, err
	}
	tar, err := pack.NewTar(tarMembers(src.Files))
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", e.Name, err)
	}
	if e.Size >= 0 && tar.Size() != e.Size {
		return nil, fmt.Errorf("shard %s: members add up to %d bytes, index says %d", e.Name, tar.Size(), e.Size)
	}
	return &Shard{tar: tar, src: src, name: e.Name}, nil
}

func tarMembers(files []index.ShardFile) []pack.TarMember {
	tm := make([]pack.TarMember, len(files))
	for i, f := range files {
		tm[i] = pack.TarMember{Name: f.Name, Size: f.Size, MTime: f.MTime}
	}
	return tm
}

// Size is the shard's exact byte size.
func (s *Shard) Size() int64 { return s.tar.Size() }

// ReadAt fills p from offset off; anything short of full data before the
// end is an error (a short read inside a header reads as end-of-archive to
// Python's tarfile).
func (s *Shard) ReadAt(p []byte, off int64) (int, error) { return s.tar.ReadAt(s.src, p, off) }

// Close closes the blob files the shard keeps open.
func (s *Shard) Close() { s.src.Close() }

// WriteTo streams the whole shard.
func (s *Shard) WriteTo(w io.Writer) (int64, error) { return pack.WriteTar(w, s.tar, s.src) }

// renderShardIndex is wds/shards.json: a wids index of the sealed shards.
func (t *Tree) renderShardIndex() ([]byte, error) {
	var shards []pack.WidsShard
	err := t.db.SealedShards(func(h index.ShardHeader) error {
		shards = append(shards, pack.WidsShard{URL: index.ShardName(h.Number), NSamples: h.Samples, FileSize: h.Size, MD5: h.MD5})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pack.WidsIndex("clipfs", shards), nil
}

// shardNode is wds/shard-NNNNNN.tar: read through the page cache (wids
// memory-maps shards), never materialised.
type shardNode struct {
	fusefs.Inode
	t     *Tree
	e     index.Entry
	once  sync.Once
	shard *Shard
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

func (n *shardNode) load() (*Shard, syscall.Errno) {
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
		return fuse.ReadResultData(nil), 0
	}
	k, err := s.ReadAt(dest[:min(int64(len(dest)), s.Size()-off)], off)
	if errors.Is(err, index.ErrCorrupt) {
		return nil, toErrno(n.t.log, index.DirShards+"/"+n.e.Name, err) // logged once per blob
	}
	if err != nil && err != io.EOF {
		n.t.log.Warn("shard read failed", "shard", n.e.Name, "offset", off, "err", err)
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:k]), 0
}
