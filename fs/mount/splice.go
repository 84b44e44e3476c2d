package mount

import (
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/hanwen/go-fuse/v2/splice"
)

// Replies carry file data one of two ways. Bytes in memory (rendered
// files, tar headers) go out by writev (dataResult). Bytes of a blob file
// go by splice where the kernel allows it (fileResult): go-fuse writes the
// reply header into a pipe, splices the file's pages from the page cache
// behind it and splices the pipe into /dev/fuse, so the data is copied
// once, by the kernel, instead of twice (pread into a buffer, then writev).
//
// A reply must fit in one pipe with a page to spare, and a read reply is
// as long as the kernel asked (a short one reads as end of file), so with
// splice the largest read the kernel may send (MaxWrite, which also bounds
// reads) is the pipe's largest size less two pages.

// spliceMaxWrite is the MaxWrite that lets every read reply fit in a pipe,
// and whether splicing is possible at all: pipes must be resizable to a
// useful size (fs.pipe-max-size, 1 MiB by default).
func spliceMaxWrite() (int, bool) {
	if !splice.Resizable() {
		return 0, false
	}
	page := os.Getpagesize()
	w := min(maxWrite, splice.MaxPipeSize()-2*page)
	w -= w % page
	if w < minSpliceWrite {
		return 0, false
	}
	return w, true
}

// maxWrite is the largest FUSE request and read reply without splice;
// minSpliceWrite is the smallest worth splicing for (below it the pipe
// round trips cost more than the copy they save).
const (
	maxWrite       = 1 << 20
	minSpliceWrite = 128 << 10
)

// dataResult is a reply of bytes in memory, written to /dev/fuse by writev
// (go-fuse tries a splice for ReadResultData when splicing is on, which
// costs a pipe round trip for nothing).
func dataResult(b []byte) fuse.ReadResult { return fuse.ReadResultVector([][]byte{b}) }

// fileResult is a reply of size bytes of an open file at off: spliced to
// the kernel, or read by pread where go-fuse does not splice. release, if
// set, runs once the reply is sent (the file may close then).
type fileResult struct {
	fd      uintptr
	off     int64
	size    int
	release func()
}

// Seekable is what go-fuse splices from.
func (r *fileResult) Seekable() (fd uintptr, off int64, sz int) { return r.fd, r.off, r.size }

func (r *fileResult) Size() int { return r.size }

// Bytes reads the data where go-fuse does not splice (splice off, or the
// pipe could not grow); a short read of a file that was long enough when
// the read began is an I/O error, as with pread.
func (r *fileResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	buf = buf[:min(len(buf), r.size)]
	n := 0
	for n < len(buf) {
		k, err := syscall.Pread(int(r.fd), buf[n:], r.off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, fuse.ToStatus(err)
		}
		if k == 0 {
			break
		}
		n += k
	}
	return buf[:n], fuse.OK
}

func (r *fileResult) Done() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
}
