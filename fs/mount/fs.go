package mount

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// rawFS serves the tree at the level of FUSE requests (go-fuse's
// RawFileSystem), with no node object per file: the kernel's node IDs map
// to (folder, name) in a compact table (nodes.go), and every request reads
// what it needs from the index. That keeps a listing of a folder of
// millions of clips, which makes the kernel hold a node per clip, within a
// few tens of bytes per clip, and spares the per-entry bookkeeping of a
// node tree.
//
// Requests the tree refuses (anything that writes) fall to go-fuse's
// default, ENOSYS; the mount is `ro`, so the kernel answers EROFS first.
type rawFS struct {
	fuse.RawFileSystem
	t      *servedTree
	nodes  *nodeTable
	server *fuse.Server // nil in tests that serve without mounting

	entryTimeout, attrTimeout time.Duration
	// negativeTimeout > 0: a name not found is a cached negative entry
	// (an EntryOut with node ID 0) for that long, not ENOENT.
	negativeTimeout time.Duration

	handles handleTable
	render  renderCache

	mu      sync.Mutex
	renders map[uint64]*renderState // rendered files opened, or changed while open
	shards  map[uint64]*shardState  // shards opened, until the kernel forgets them
	// backings: the backing file of each node open by passthrough
	backings map[uint64]*backing

	// noBacking: the kernel refused a backing file (passthrough), so no
	// open asks again.
	noBacking atomic.Bool
}

type fsTimeouts struct {
	entry, attr, negative time.Duration
}

func newFS(t *servedTree, to fsTimeouts, rootMTime int64) *rawFS {
	return &rawFS{
		RawFileSystem:   fuse.NewDefaultRawFileSystem(),
		t:               t,
		nodes:           newNodeTable(rootMTime),
		entryTimeout:    to.entry,
		attrTimeout:     to.attr,
		negativeTimeout: to.negative,
		renders:         map[uint64]*renderState{},
		shards:          map[uint64]*shardState{},
		backings:        map[uint64]*backing{},
	}
}

func (fs *rawFS) String() string { return "clipfs" }

func (fs *rawFS) Init(s *fuse.Server) { fs.server = s }

func ctxOf(cancel <-chan struct{}, caller fuse.Caller) context.Context {
	return &fuse.Context{Caller: caller, Cancel: cancel}
}

func status(errno syscall.Errno) fuse.Status { return fuse.Status(errno) }

func (fs *rawFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	d, ok := fs.nodes.folderOf(h.NodeId)
	if !ok {
		return fuse.ENOTDIR
	}
	dir := fs.nodes.folderInfo(d)
	switch name {
	case ".":
		return fs.lookupFolder(h.NodeId, dir, out)
	case "..":
		pd, ok := fs.nodes.dirIndexOf(parentPath(dir.path))
		if !ok {
			return fuse.ENOENT
		}
		p := fs.nodes.folderInfo(pd)
		return fs.lookupFolder(p.node, p, out)
	}
	e, err := fs.t.Lookup(dir.path, name)
	if err != nil {
		errno := toErrno(fs.t.log, tree.ChildPath(dir.path, name), err)
		if errno == syscall.ENOENT && fs.negativeTimeout > 0 {
			*out = fuse.EntryOut{}
			out.SetEntryTimeout(fs.negativeTimeout)
			return fuse.OK
		}
		return status(errno)
	}
	return status(fs.enter(d, dir.path, e, out))
}

// lookupFolder answers a lookup of "." or ".." (which only an NFS export
// of the mount sends) with folder f, held as node id.
func (fs *rawFS) lookupFolder(id uint64, f folder, out *fuse.EntryOut) fuse.Status {
	if id == 0 || !fs.nodes.addLookup(id) {
		return fuse.ENOENT
	}
	*out = fuse.EntryOut{NodeId: id}
	fs.folderEntry(f, out)
	return fuse.OK
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return ""
}

func (fs *rawFS) folderEntry(f folder, out *fuse.EntryOut) {
	dirAttr(&out.Attr, f.mtime)
	out.Ino = folderIno(f.path)
	out.SetEntryTimeout(fs.entryTimeout)
	out.SetAttrTimeout(fs.attrTimeout)
}

// folderIno is the st_ino of folder path; the root's is 1.
func folderIno(path string) uint64 {
	if path == "" {
		return rootID
	}
	parent, name := parentPath(path), path
	if parent != "" {
		name = path[len(parent)+1:]
	}
	return inodeNumber(index.KindDir, parent, name)
}

// enter fills out for entry e of folder d (path dir) and counts one lookup
// of it: a LOOKUP's reply or one entry of a READDIRPLUS.
func (fs *rawFS) enter(d uint32, dir string, e index.Entry, out *fuse.EntryOut) syscall.Errno {
	if e.IsDir() {
		id, _ := fs.nodes.addFolder(d, e.Name, e.MTime)
		out.NodeId = id
		dirAttr(&out.Attr, e.MTime)
	} else {
		// attributes first: a file that cannot be stat'ed is not entered
		if errno := fs.fileAttr(dir, e, &out.Attr); errno != 0 {
			return errno
		}
		out.NodeId = fs.nodes.addFile(d, e.Name, e.Kind)
	}
	out.Ino = inodeNumber(e.Kind, dir, e.Name)
	out.SetEntryTimeout(fs.entryTimeout)
	out.SetAttrTimeout(fs.attrTimeout)
	return 0
}

func (fs *rawFS) Forget(id, nlookup uint64) {
	if !fs.nodes.forget(id, nlookup) {
		return
	}
	fs.mu.Lock()
	s := fs.shards[id]
	delete(fs.shards, id)
	delete(fs.renders, id)
	fs.mu.Unlock()
	if s != nil {
		s.close()
	}
}

func (fs *rawFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	if d, ok := fs.nodes.folderOf(in.NodeId); ok {
		f := fs.nodes.folderInfo(d)
		dirAttr(&out.Attr, f.mtime)
		out.Ino = folderIno(f.path)
		out.SetTimeout(fs.attrTimeout)
		return fuse.OK
	}
	f, e, errno := fs.entryOf(in.NodeId)
	if errno != 0 {
		return status(errno)
	}
	if errno := fs.fileAttr(f.dir, e, &out.Attr); errno != 0 {
		return status(errno)
	}
	out.Ino = inodeNumber(e.Kind, f.dir, e.Name)
	out.SetTimeout(fs.attrTimeout)
	return fuse.OK
}

// entryOf is the index's current entry for file node id.
func (fs *rawFS) entryOf(id uint64) (file, index.Entry, syscall.Errno) {
	f, ok := fs.nodes.fileOf(id)
	if !ok {
		return file{}, index.Entry{}, syscall.ENOENT
	}
	e, err := fs.t.Lookup(f.dir, f.name)
	if err != nil {
		return f, e, toErrno(fs.t.log, tree.ChildPath(f.dir, f.name), err)
	}
	return f, e, 0
}

// fileAttr fills a for file entry e of folder dir: its exact size (a
// generated file is rendered to learn it) and mtime.
func (fs *rawFS) fileAttr(dir string, e index.Entry, a *fuse.Attr) syscall.Errno {
	var size int64
	switch e.Kind {
	case index.KindBlob, index.KindShard:
		size = e.Size
	case index.KindEmbedPickle: // its size follows from the vector's shape
		n, err := fs.t.Size(e)
		if err != nil {
			return toErrno(fs.t.log, tree.ChildPath(dir, e.Name), err)
		}
		size = n
	default:
		b, errno := fs.rendered(dir, e)
		if errno != 0 {
			return errno
		}
		size = int64(len(b))
	}
	fileAttr(a, size, e.MTime)
	return 0
}

func dirAttr(a *fuse.Attr, mtime int64) {
	a.Mode = syscall.S_IFDIR | 0o555
	a.Nlink = 2
	a.Size = 4096
	a.SetTimes(nil, unixTime(mtime), unixTime(mtime))
}

func fileAttr(a *fuse.Attr, size, mtime int64) {
	a.Mode = syscall.S_IFREG | 0o444
	a.Nlink = 1
	a.Size = uint64(size)
	a.Blocks = (uint64(size) + 511) / 512
	a.Blksize = 1 << 20
	a.SetTimes(nil, unixTime(mtime), unixTime(mtime))
}

func unixTime(s int64) *time.Time {
	t := time.Unix(s, 0)
	return &t
}

func (fs *rawFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	f, e, errno := fs.entryOf(in.NodeId)
	if errno != 0 {
		return status(errno)
	}
	ctx := ctxOf(cancel, in.Caller)
	var h fileHandle
	var flags uint32
	switch e.Kind {
	case index.KindBlob:
		h, flags, errno = fs.openBlob(ctx, in.NodeId, f, e, out)
	case index.KindShard:
		h, flags, errno = fs.openShard(in.NodeId, e)
	default:
		h, flags, errno = fs.openRendered(in.NodeId, f, e)
	}
	if errno != 0 {
		return status(errno)
	}
	out.Fh = fs.handles.add(h)
	out.OpenFlags |= flags
	return fuse.OK
}

// fileHandle is an open file.
type fileHandle interface {
	read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno)
	release()
}

func (fs *rawFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	h, ok := fs.handles.get(in.Fh).(fileHandle)
	if !ok {
		return nil, fuse.EBADF
	}
	res, errno := h.read(ctxOf(cancel, in.Caller), buf[:min(len(buf), int(in.Size))], int64(in.Offset))
	return res, status(errno)
}

func (fs *rawFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	if h, ok := fs.handles.remove(in.Fh).(fileHandle); ok {
		h.release()
	}
}

func (fs *rawFS) StatFs(cancel <-chan struct{}, in *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	out.Bsize = 4096
	out.Frsize = 4096
	out.NameLen = 255
	return fuse.OK
}

// handleTable numbers open files and folders for the kernel (0 is none).
type handleTable struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]any
}

func (t *handleTable) add(h any) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[uint64]any{}
	}
	t.next++
	t.m[t.next] = h
	return t.next
}

func (t *handleTable) get(fh uint64) any {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[fh]
}

func (t *handleTable) remove(fh uint64) any {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.m[fh]
	delete(t.m, fh)
	return h
}
