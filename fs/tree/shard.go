package tree

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
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

// DataFile is, for the n bytes at offset off when they lie inside one
// member's data and that member is a blob in a local file, the file and
// the offset in it where they start, verified and kept open until release
// is called (once). ok is false, with a nil error, for anything else
// (headers, padding, snapshots, blobs in no local file): read with ReadAt.
func (s *Shard) DataFile(off int64, n int) (f *os.File, fileOff int64, release func(), ok bool, err error) {
	i, d, in := s.tar.InData(off, n)
	if !in {
		return nil, 0, nil, false, nil
	}
	f, release, ok, err = s.src.MemberFile(i)
	if err != nil {
		return nil, 0, nil, false, fmt.Errorf("pack: tar: member %d %q: %w", i, s.src.Files[i].Name, err)
	}
	return f, d, release, ok, nil
}

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
