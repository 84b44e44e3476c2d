package mount

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// timedFS reports each FUSE operation the mount serves, by name, with how
// long it took (Options.Observe). Operations a read-only tree refuses
// are not timed.
type timedFS struct {
	fuse.RawFileSystem
	observe func(op string, d time.Duration)
}

func (t *timedFS) done(op string, start time.Time) { t.observe(op, time.Since(start)) }

func (t *timedFS) Lookup(c <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	defer t.done("lookup", time.Now())
	return t.RawFileSystem.Lookup(c, h, name, out)
}

func (t *timedFS) Forget(nodeid, nlookup uint64) {
	defer t.done("forget", time.Now())
	t.RawFileSystem.Forget(nodeid, nlookup)
}

func (t *timedFS) GetAttr(c <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer t.done("getattr", time.Now())
	return t.RawFileSystem.GetAttr(c, in, out)
}

func (t *timedFS) Statx(c <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	defer t.done("statx", time.Now())
	return t.RawFileSystem.Statx(c, in, out)
}

func (t *timedFS) Access(c <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	defer t.done("access", time.Now())
	return t.RawFileSystem.Access(c, in)
}

func (t *timedFS) Open(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer t.done("open", time.Now())
	return t.RawFileSystem.Open(c, in, out)
}

func (t *timedFS) Read(c <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	defer t.done("read", time.Now())
	return t.RawFileSystem.Read(c, in, buf)
}

func (t *timedFS) Lseek(c <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	defer t.done("lseek", time.Now())
	return t.RawFileSystem.Lseek(c, in, out)
}

func (t *timedFS) Flush(c <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	defer t.done("flush", time.Now())
	return t.RawFileSystem.Flush(c, in)
}

func (t *timedFS) Release(c <-chan struct{}, in *fuse.ReleaseIn) {
	defer t.done("release", time.Now())
	t.RawFileSystem.Release(c, in)
}

func (t *timedFS) OpenDir(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer t.done("opendir", time.Now())
	return t.RawFileSystem.OpenDir(c, in, out)
}

func (t *timedFS) ReadDir(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer t.done("readdir", time.Now())
	return t.RawFileSystem.ReadDir(c, in, out)
}

func (t *timedFS) ReadDirPlus(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer t.done("readdirplus", time.Now())
	return t.RawFileSystem.ReadDirPlus(c, in, out)
}

func (t *timedFS) ReleaseDir(in *fuse.ReleaseIn) {
	defer t.done("releasedir", time.Now())
	t.RawFileSystem.ReleaseDir(in)
}

func (t *timedFS) StatFs(c <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	defer t.done("statfs", time.Now())
	return t.RawFileSystem.StatFs(c, h, out)
}

func (t *timedFS) GetXAttr(c <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	defer t.done("getxattr", time.Now())
	return t.RawFileSystem.GetXAttr(c, h, attr, dest)
}

func (t *timedFS) ListXAttr(c <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	defer t.done("listxattr", time.Now())
	return t.RawFileSystem.ListXAttr(c, h, dest)
}
