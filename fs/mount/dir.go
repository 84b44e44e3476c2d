package mount

import (
	"context"
	"hash/fnv"
	"syscall"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// readDirPage is how many entries one index scan fetches for Readdir.
const readDirPage = 1024

// dirNode is a folder of the tree; the root is the folder "".
type dirNode struct {
	fusefs.Inode
	t     *servedTree
	path  string
	mtime int64
}

// inodeNumber hashes (kind, folder, name): stable across lookups and
// restarts. The root keeps go-fuse's number 1.
func inodeNumber(kind index.Kind, dir, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte{byte(kind)})
	h.Write([]byte(dir))
	h.Write([]byte{0})
	h.Write([]byte(name))
	ino := h.Sum64()
	if ino <= 1 {
		ino += 2
	}
	return ino
}

func (d *dirNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	dirAttr(&out.Attr, d.mtime)
	return 0
}

func dirAttr(a *fuse.Attr, mtime int64) {
	a.Mode = syscall.S_IFDIR | 0o555
	a.Nlink = 2
	a.Size = 4096
	a.SetTimes(nil, unixTime(mtime), unixTime(mtime))
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	e, err := d.t.Lookup(d.path, name)
	if err != nil {
		return nil, toErrno(d.t.log, tree.ChildPath(d.path, name), err)
	}
	return d.child(ctx, e, out)
}

// child makes (or finds) the inode of entry e and fills its attributes.
func (d *dirNode) child(ctx context.Context, e index.Entry, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	ino := inodeNumber(e.Kind, d.path, e.Name)
	if known := d.GetChild(e.Name); known != nil && known.StableAttr().Ino == ino {
		// Known already (a listing again after its cache was dropped, as a
		// live mount's commits do): no node to build, only attributes.
		return known, d.knownAttr(known, e, out)
	}
	if e.IsDir() {
		dirAttr(&out.Attr, e.MTime)
		out.Ino = ino
		n := &dirNode{t: d.t, path: tree.ChildPath(d.path, e.Name), mtime: e.MTime}
		return d.NewInode(ctx, n, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino}), 0
	}
	var node fileNode
	switch e.Kind {
	case index.KindBlob:
		node = &blobNode{t: d.t, dir: d.path, e: e}
	case index.KindShard:
		node = &shardNode{t: d.t, e: e}
	default:
		node = &renderedNode{t: d.t, e: e}
	}
	child := d.NewInode(ctx, node, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: ino})
	// An inode already known keeps its node (and rendered bytes); on a live
	// mount it takes a newer entry at once (the follower may not have yet).
	known := child.Operations().(fileNode)
	if d.t.live && known != node && known.current() != e {
		known.refresh(e)
	}
	if errno := known.attr(&out.Attr); errno != 0 {
		return nil, errno
	}
	out.Ino = ino
	return child, 0
}

// knownAttr fills out for the inode the kernel already holds for e; on a
// live mount the inode takes e first if it is newer.
func (d *dirNode) knownAttr(known *fusefs.Inode, e index.Entry, out *fuse.EntryOut) syscall.Errno {
	out.Ino = known.StableAttr().Ino
	f, ok := known.Operations().(fileNode)
	if !ok {
		dirAttr(&out.Attr, e.MTime)
		return 0
	}
	if d.t.live && f.current() != e {
		f.refresh(e)
	}
	return f.attr(&out.Attr)
}

func (d *dirNode) OpendirHandle(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	// The tree is immutable while mounted: let the kernel cache listings.
	return &dirHandle{d: d}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// dirHandle pages through one folder: "." and "..", then the index's
// entries readDirPage at a time. READDIRPLUS reuses the entry just listed.
type dirHandle struct {
	d     *dirNode
	page  []index.Entry
	pos   int
	after string
	done  bool
	off   uint64 // entries produced so far
	last  index.Entry
}

func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	switch h.off {
	case 0, 1:
		h.off++
		name := "."
		if h.off == 2 {
			name = ".."
		}
		return &fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Off: h.off}, 0
	}
	if h.pos == len(h.page) {
		if h.done {
			return nil, 0
		}
		if err := ctx.Err(); err != nil {
			return nil, syscall.EINTR
		}
		page, err := h.d.t.ReadDir(h.d.path, h.after, readDirPage)
		if err != nil {
			return nil, toErrno(h.d.t.log, h.d.path, err)
		}
		h.page, h.pos, h.done = page, 0, len(page) < readDirPage
		if len(page) == 0 {
			return nil, 0
		}
		h.after = page[len(page)-1].Name
	}
	e := h.page[h.pos]
	h.pos++
	h.off++
	h.last = e
	mode := uint32(syscall.S_IFREG)
	if e.IsDir() {
		mode = syscall.S_IFDIR
	}
	return &fuse.DirEntry{Name: e.Name, Mode: mode, Ino: inodeNumber(e.Kind, h.d.path, e.Name), Off: h.off}, 0
}

// Lookup serves READDIRPLUS from the entry Readdirent just produced.
func (h *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if h.last.Name == name {
		return h.d.child(ctx, h.last, out)
	}
	return h.d.Lookup(ctx, name, out)
}

// Seekdir restarts the listing and skips to offset off (rare: telldir/seekdir).
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	*h = dirHandle{d: h.d}
	for h.off < off {
		de, errno := h.Readdirent(ctx)
		if errno != 0 {
			return errno
		}
		if de == nil {
			break
		}
	}
	return 0
}

func (h *dirHandle) Releasedir(ctx context.Context, flags uint32) {}
