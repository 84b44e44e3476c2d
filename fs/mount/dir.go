package mount

import (
	"context"
	"sync"
	"syscall"

	"github.com/clipfs/clipfs/index"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// readDirPage is how many entries one index scan fetches for a listing.
const readDirPage = 1024

func (fs *rawFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	d, ok := fs.nodes.folderOf(in.NodeId)
	if !ok {
		return fuse.ENOTDIR
	}
	out.Fh = fs.handles.add(&dirHandle{d: d, path: fs.nodes.dirPath(d)})
	// The kernel caches the listing; a live mount drops it when names
	// come or go (notify.go).
	out.OpenFlags = fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE
	return fuse.OK
}

func (fs *rawFS) ReleaseDir(in *fuse.ReleaseIn) { fs.handles.remove(in.Fh) }

func (fs *rawFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return fs.readDir(cancel, in, out, false)
}

// ReadDirPlus lists entries with their attributes, as `ls -l` makes the
// kernel ask: each entry listed with a node ID counts as a lookup of it.
func (fs *rawFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return fs.readDir(cancel, in, out, true)
}

func (fs *rawFS) readDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList, plus bool) fuse.Status {
	h, ok := fs.handles.get(in.Fh).(*dirHandle)
	if !ok {
		return fuse.EBADF
	}
	ctx := ctxOf(cancel, in.Caller)
	h.mu.Lock()
	defer h.mu.Unlock()
	if in.Offset != h.off {
		// telldir/seekdir, or a reply the kernel lost to an interrupt
		if errno := h.seek(ctx, fs, in.Offset); errno != 0 {
			return status(errno)
		}
	}
	for first := true; ; first = false {
		de, e, errno := h.peek(ctx, fs)
		if errno != 0 {
			if first {
				return status(errno)
			}
			return fuse.OK // the next call reports it
		}
		if de == nil {
			return fuse.OK
		}
		if !plus {
			if !out.AddDirEntry(*de) {
				return fuse.OK
			}
		} else {
			eo := out.AddDirLookupEntry(*de)
			if eo == nil {
				return fuse.OK
			}
			// "." and ".." carry no entry; nor does a file that cannot be
			// stat'ed (its LOOKUP reports why).
			if de.Off > 2 && fs.enter(h.d, h.path, e, eo) != 0 {
				*eo = fuse.EntryOut{}
			}
		}
		h.advance()
	}
}

// dirHandle pages through one folder: "." and "..", then the index's
// entries readDirPage at a time. Offsets count entries: the entry at
// offset k has Off k+1, the offset of the one after it.
type dirHandle struct {
	mu    sync.Mutex
	d     uint32
	path  string
	page  []index.Entry
	pos   int    // page[pos] is the entry at off (past "." and "..")
	after string // the last name of page
	done  bool   // page is the last
	off   uint64 // the offset of the next entry
}

// peek is the entry at h.off, without moving past it; nil at the end.
func (h *dirHandle) peek(ctx context.Context, fs *rawFS) (*fuse.DirEntry, index.Entry, syscall.Errno) {
	switch h.off {
	case 0:
		return &fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Off: 1, Ino: folderIno(h.path)}, index.Entry{}, 0
	case 1:
		return &fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Off: 2, Ino: folderIno(parentPath(h.path))}, index.Entry{}, 0
	}
	if h.pos >= len(h.page) {
		if h.done {
			return nil, index.Entry{}, 0
		}
		if err := ctx.Err(); err != nil {
			return nil, index.Entry{}, syscall.EINTR
		}
		page, err := fs.t.ReadDir(h.path, h.after, readDirPage)
		if err != nil {
			return nil, index.Entry{}, toErrno(fs.t.log, h.path, err)
		}
		h.page, h.pos, h.done = page, 0, len(page) < readDirPage
		if len(page) == 0 {
			return nil, index.Entry{}, 0
		}
		h.after = page[len(page)-1].Name
	}
	e := h.page[h.pos]
	mode := uint32(syscall.S_IFREG)
	if e.IsDir() {
		mode = syscall.S_IFDIR
	}
	return &fuse.DirEntry{Name: e.Name, Mode: mode, Ino: inodeNumber(e.Kind, h.path, e.Name), Off: h.off + 1}, e, 0
}

// advance moves past the entry peek gave.
func (h *dirHandle) advance() {
	if h.off >= 2 {
		h.pos++
	}
	h.off++
}

// seek restarts the listing at offset off: from the top, skipping.
func (h *dirHandle) seek(ctx context.Context, fs *rawFS, off uint64) syscall.Errno {
	h.page, h.pos, h.after, h.done, h.off = nil, 0, "", false, 0
	for h.off < off {
		de, _, errno := h.peek(ctx, fs)
		if errno != 0 || de == nil {
			return errno
		}
		h.advance()
	}
	return 0
}
