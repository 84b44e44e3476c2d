package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// bufSize is the preallocated reply buffer: at least the largest read the
// kernel sends (MaxWrite below bounds it; go-fuse sizes its request buffers
// from it).
const bufSize = 2 << 20

type root struct {
	fusefs.Inode
	name string
	file *file
}

var _ = (fusefs.NodeOnAdder)((*root)(nil))

func (r *root) OnAdd(ctx context.Context) {
	ch := r.NewPersistentInode(ctx, r.file, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: 2})
	r.AddChild(r.name, ch, false)
}

type file struct {
	fusefs.Inode
	size  int64
	mtime uint64
	buf   []byte
}

var (
	_ = (fusefs.NodeGetattrer)((*file)(nil))
	_ = (fusefs.NodeOpener)((*file)(nil))
	_ = (fusefs.NodeReader)((*file)(nil))
)

func (f *file) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	out.Size = uint64(f.size)
	out.Blocks = (uint64(f.size) + 511) / 512
	out.Blksize = 1 << 20
	out.Nlink = 1
	out.Mtime, out.Atime, out.Ctime = f.mtime, f.mtime, f.mtime
	return 0
}

func (f *file) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (f *file) Read(ctx context.Context, fh fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= f.size {
		return fuse.ReadResultData(nil), 0
	}
	n := min(int64(len(dest)), f.size-off)
	if n > int64(len(f.buf)) {
		return nil, syscall.EIO // cannot happen: reads are at most MaxWrite
	}
	return fuse.ReadResultData(f.buf[:n]), 0
}

func main() {
	size := flag.Int64("size", 1<<30, "file size in bytes")
	name := flag.String("name", "file.tar", "file name at the root of the mount")
	flag.Parse()
	if flag.NArg() != 1 || *size < 0 {
		fmt.Fprintln(os.Stderr, "usage: fuseceiling -size BYTES [-name NAME] MOUNTPOINT")
		os.Exit(2)
	}
	mnt, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuseceiling:", err)
		os.Exit(1)
	}
	f := &file{size: *size, mtime: uint64(time.Now().Unix()), buf: make([]byte, bufSize)}
	for i := range f.buf {
		f.buf[i] = byte(i*7 + i>>9)
	}
	timeout := time.Hour
	negative := time.Second
	opts := &fusefs.Options{
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &negative,
		MountOptions: fuse.MountOptions{ // as fs/mount/mount.go
			FsName:        "fuseceiling",
			Name:          "fuseceiling",
			Options:       []string{"ro", "default_permissions"},
			AllowOther:    os.Geteuid() == 0,
			DirectMount:   true,
			DisableXAttrs: true,
			DisableSplice: true,
			MaxWrite:      1 << 20,
			MaxReadAhead:  1 << 20,
		},
	}
	srv, err := fusefs.Mount(mnt, &root{name: *name, file: f}, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuseceiling: mount:", err)
		os.Exit(1)
	}
	if err := raiseReadAhead(mnt); err != nil {
		fmt.Fprintln(os.Stderr, "fuseceiling: kernel readahead left at its default:", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-done:
	case <-sig:
		for range 20 {
			if srv.Unmount() == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		<-done
	}
}

// raiseReadAhead sets the connection's readahead to 1024 KiB, as
// fs/mount/mount.go's raiseReadAhead does.
func raiseReadAhead(mnt string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		return err
	}
	major, minor := (st.Dev>>8)&0xfff, (st.Dev&0xff)|((st.Dev>>12)&0xfff00)
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", major, minor)
	return os.WriteFile(p, []byte(strconv.Itoa(1024)), 0o644)
}
