package index

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/zeebo/xxh3"
)

// maxMapped bounds the files hashFileAt maps whole (on 64-bit address
// spaces this is no real limit; it keeps a 32-bit build from failing).
const maxMapped = 1 << 40

// hashFileAt is hashReader of a local blob file, reading it through a
// read-only memory map rather than read calls: the bytes are hashed where
// they lie in the page cache, not copied out first. That copy was a tenth
// of the s3 mount's CPU on a cold shard read, once XXH3 made the hashing
// itself cheap. A file that cannot be mapped is hashed by reads. A file
// cut short while mapped (a blob file is never written again, but the
// filesystem is not ours) faults; that fault is an error here, not a crash.
func hashFileAt(f *os.File, full bool) (d blobDigest, err error) {
	st, err := f.Stat()
	if err != nil {
		return blobDigest{}, err
	}
	size := st.Size()
	if size <= 0 || size > maxMapped || int64(int(size)) != size {
		return hashReader(f, full)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return hashReader(f, full)
	}
	defer syscall.Munmap(m)
	syscall.Madvise(m, syscall.MADV_SEQUENTIAL)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			d, err = blobDigest{}, fmt.Errorf("%s changed while it was hashed: %v", f.Name(), r)
		}
	}()
	fast := xxh3.New()
	var w io.Writer = fast
	var h hash.Hash
	if full {
		h = sha256.New()
		w = io.MultiWriter(h, fast)
	}
	for off := 0; off < len(m); off += 4 << 20 { // slices, so a long hash can be preempted between them
		w.Write(m[off:min(off+4<<20, len(m))])
	}
	d = blobDigest{size: size, fast: fast.Sum128().Bytes(), hasFast: true, noSum: !full}
	if h != nil {
		h.Sum(d.sum[:0])
	}
	return d, nil
}
