package index

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"
)

// mapWindow is how much of a file hashFileAt maps at a time: the mapped
// pages count in the process's resident size while they are mapped, so a
// window, not the whole file, keeps a mount's RSS bounded however large
// its blobs are.
const mapWindow = 4 << 20

// hashFileAt is hashReader of a local blob file, reading it through
// read-only memory maps (mapWindow at a time) rather than read calls: the
// bytes are hashed where they lie in the page cache, not copied out first.
// That copy was a tenth of the s3 mount's CPU on a cold shard read, once
// XXH3 made the hashing itself cheap. A file that cannot be mapped is
// hashed by reads. A file cut short while mapped (a blob file is never
// written again, but the filesystem is not ours) faults; that fault is an
// error here, not a crash.
func hashFileAt(f *os.File, full bool) (d blobDigest, err error) {
	st, err := f.Stat()
	if err != nil {
		return blobDigest{}, err
	}
	size := st.Size()
	if size <= 0 {
		return hashReader(f, full)
	}
	h := newDigester(full)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			d, err = blobDigest{}, fmt.Errorf("%s changed while it was hashed: %v", f.Name(), r)
		}
	}()
	for off := int64(0); off < size; off += mapWindow {
		n := int(min(mapWindow, size-off))
		m, err := syscall.Mmap(int(f.Fd()), off, n, syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			if off == 0 {
				return hashReader(f, full) // a file that cannot be mapped
			}
			return blobDigest{}, fmt.Errorf("%s: map: %w", f.Name(), err)
		}
		hashMapped(h.w, m)
	}
	return h.digest(size), nil
}

// hashMapped writes one mapped window into w and unmaps it, also when
// reading it faults.
func hashMapped(w io.Writer, m []byte) {
	defer syscall.Munmap(m)
	syscall.Madvise(m, syscall.MADV_SEQUENTIAL)
	w.Write(m)
}
