package pack

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// TarMember is one file of a shard: its name inside the archive, its exact
// size in bytes and its modification time in Unix seconds.
type TarMember struct {
	Name  string
	Size  int64
	MTime int64
}

// TarSource supplies member contents. ReadMember fills p from member i at
// offset off (off+len(p) <= that member's Size) and must return len(p), or
// an error. Returning len(p) together with io.EOF (as an io.ReaderAt may at
// the end of its data) counts as success. Tar never calls it for an empty p.
type TarSource interface {
	ReadMember(i int, p []byte, off int64) (int, error)
}

// Tar is a plain ustar archive (a WebDataset shard, docs/formats.md §7) computed
// from its members and never materialised: one 512-byte header per member,
// its data padded to a multiple of 512 bytes, then two zero blocks. The
// header bytes are those archive/tar.Writer writes for a regular file with
// mode 0644, uid/gid 0, empty user and group names and Format USTAR.
//
// A Tar keeps only its members and their offsets; it is immutable and safe
// for concurrent use (ReadAt is as concurrent as its TarSource).
type Tar struct {
	members []TarMember
	// offsets[i] is the offset of member i's header; offsets[len(members)]
	// is the offset of the two final zero blocks.
	offsets []int64
}

const (
	tarBlock = 512
	// tarMaxOctal bounds an 11-digit octal field (size, mtime): 8 GiB.
	tarMaxOctal = int64(1) << 33
	tarNameSize = 100
	// tarTrailer is the two zero blocks that end an archive.
	tarTrailer = 2 * tarBlock
)

// ErrTarMember is wrapped by NewTar's errors for a member ustar cannot hold.
var ErrTarMember = errors.New("member not representable in a plain ustar archive")

// NewTar checks members and computes their offsets. A name must be 1 to 100
// ASCII bytes without NUL and must not end in "/" (readers would take the
// member for a folder); a size and an mtime must lie in [0, 8 GiB) and
// [0, 8^11) seconds, what the 11-digit octal fields hold without the
// extensions a plain ustar reader may not know.
func NewTar(members []TarMember) (*Tar, error) {
	t := &Tar{
		members: append([]TarMember(nil), members...),
		offsets: make([]int64, len(members)+1),
	}
	var off int64
	for i, m := range t.members {
		if err := checkTarMember(m); err != nil {
			return nil, fmt.Errorf("pack: tar: member %d %q: %w", i, m.Name, err)
		}
		t.offsets[i] = off
		off += tarBlock + padTar(m.Size)
	}
	t.offsets[len(members)] = off
	return t, nil
}

func checkTarMember(m TarMember) error {
	switch {
	case m.Name == "":
		return fmt.Errorf("empty name: %w", ErrTarMember)
	case len(m.Name) > tarNameSize:
		return fmt.Errorf("name of %d bytes, at most %d: %w", len(m.Name), tarNameSize, ErrTarMember)
	case m.Name[len(m.Name)-1] == '/':
		return fmt.Errorf("name ends in /: %w", ErrTarMember)
	case m.Size < 0 || m.Size >= tarMaxOctal:
		return fmt.Errorf("size %d outside [0, 8 GiB): %w", m.Size, ErrTarMember)
	case m.MTime < 0 || m.MTime >= tarMaxOctal:
		return fmt.Errorf("mtime %d outside [0, 8^11): %w", m.MTime, ErrTarMember)
	}
	for j := 0; j < len(m.Name); j++ {
		if c := m.Name[j]; c == 0 || c >= 0x80 {
			return fmt.Errorf("name byte %d is %#02x, not ASCII without NUL: %w", j, c, ErrTarMember)
		}
	}
	return nil
}

// padTar rounds n up to a multiple of the block size.
func padTar(n int64) int64 {
	return (n + tarBlock - 1) &^ (tarBlock - 1)
}

// Size is the exact archive size: the sum over members of 512 plus the
// padded data size, plus 1024 for the two final zero blocks.
func (t *Tar) Size() int64 { return t.offsets[len(t.members)] + tarTrailer }

// Len is the number of members.
func (t *Tar) Len() int { return len(t.members) }

// Member returns member i as given to NewTar.
func (t *Tar) Member(i int) TarMember { return t.members[i] }

// DataOffset is the offset of member i's data; its header is the 512 bytes
// before it.
func (t *Tar) DataOffset(i int) int64 { return t.offsets[i] + tarBlock }

// InData reports whether the n bytes at archive offset off all lie inside
// one member's data (not its header or padding), and if so which member
// and at what offset of its data they start: such a read can be served
// straight from the member's source (a spliced file).
func (t *Tar) InData(off int64, n int) (member int, dataOff int64, ok bool) {
	if off < 0 || n <= 0 {
		return 0, 0, false
	}
	i := sort.Search(len(t.members), func(i int) bool { return t.offsets[i+1] > off })
	if i == len(t.members) {
		return 0, 0, false
	}
	d := off - t.offsets[i] - tarBlock
	if d < 0 || d+int64(n) > t.members[i].Size {
		return 0, 0, false
	}
	return i, d, true
}

// Header returns member i's ustar header block.
func (t *Tar) Header(i int) [tarBlock]byte {
	var h [tarBlock]byte
	m := &t.members[i]
	copy(h[0:100], m.Name)         // name, NUL-padded unless 100 bytes long
	putTarOctal(h[100:108], 0o644) // mode
	putTarOctal(h[108:116], 0)     // uid
	putTarOctal(h[116:124], 0)     // gid
	putTarOctal(h[124:136], m.Size)
	putTarOctal(h[136:148], m.MTime)
	h[156] = '0'                    // typeflag: regular file; linkname empty
	copy(h[257:265], "ustar\x0000") // magic and version; uname, gname empty
	putTarOctal(h[329:337], 0)      // devmajor
	putTarOctal(h[337:345], 0)      // devminor
	// The checksum counts its own field as eight spaces and is written as
	// six octal digits, NUL, space, as archive/tar does.
	sum := int64(8 * ' ')
	for j, c := range h {
		if j < 148 || j >= 156 {
			sum += int64(c)
		}
	}
	putTarOctal(h[148:155], sum)
	h[155] = ' '
	return h
}

// putTarOctal writes x as zero-padded octal digits filling all of field but
// its last byte, which stays NUL. x fits: NewTar checked it.
func putTarOctal(field []byte, x int64) {
	var digits [24]byte
	s := strconv.AppendInt(digits[:0], x, 8)
	n := len(field) - 1
	for j := 0; j < n-len(s); j++ {
		field[j] = '0'
	}
	copy(field[n-len(s):n], s)
}

// ReadAt fills p with the archive bytes at off, crossing any number of
// member boundaries. It returns io.EOF only when the read reaches the end of
// the archive (n < len(p) only then). A source error or short read is
// returned wrapped, naming the member, with n counting the bytes filled
// before it: never a silent short read, which tar readers would take for
// the end of the archive.
func (t *Tar) ReadAt(src TarSource, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("pack: tar: read at negative offset %d", off)
	}
	size := t.Size()
	if off >= size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := size - off; int64(want) > rest {
		p = p[:rest]
	}
	n := 0
	// The member whose header, data or padding holds off.
	i := sort.Search(len(t.members), func(i int) bool { return t.offsets[i+1] > off })
	for n < len(p) {
		pos := off + int64(n)
		if i == len(t.members) { // the final zero blocks
			clear(p[n:])
			n = len(p)
			break
		}
		if pos >= t.offsets[i+1] {
			i++
			continue
		}
		k, err := t.readMember(src, i, p[n:], pos-t.offsets[i])
		n += k
		if err != nil {
			return n, err
		}
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// readMember fills the start of p from member i's region (header, data,
// padding) at offset rel inside it and returns how much it filled.
func (t *Tar) readMember(src TarSource, i int, p []byte, rel int64) (int, error) {
	m := &t.members[i]
	end := t.offsets[i+1] - t.offsets[i]
	p = p[:min(int64(len(p)), end-rel)]
	n := 0
	if rel < tarBlock {
		h := t.Header(i)
		n = copy(p, h[rel:])
		rel += int64(n)
	}
	if d := rel - tarBlock; n < len(p) && d < m.Size {
		chunk := p[n:min(int64(len(p)), int64(n)+m.Size-d)]
		k, err := src.ReadMember(i, chunk, d)
		if k == len(chunk) && (err == nil || errors.Is(err, io.EOF)) {
			err = nil
		} else if err == nil {
			err = fmt.Errorf("source returned %d of %d bytes: %w", k, len(chunk), io.ErrUnexpectedEOF)
		}
		if err != nil {
			return n, fmt.Errorf("pack: tar: member %d %q at data offset %d: %w", i, m.Name, d, err)
		}
		n += k
		rel += int64(k)
	}
	clear(p[n:]) // padding
	return len(p), nil
}

// tarCopyBuffer bounds WriteTar's memory.
const tarCopyBuffer = 1 << 20

// WriteTar streams the whole archive to w through one buffer of at most
// 1 MiB and returns the number of bytes written (t.Size() on success).
func WriteTar(w io.Writer, t *Tar, src TarSource) (int64, error) {
	buf := make([]byte, min(t.Size(), tarCopyBuffer))
	var written int64
	for written < t.Size() {
		n, err := t.ReadAt(src, buf, written)
		if err != nil && !(errors.Is(err, io.EOF) && written+int64(n) == t.Size()) {
			return written, err
		}
		k, err := w.Write(buf[:n])
		written += int64(k)
		if err != nil {
			return written, fmt.Errorf("pack: tar: write at offset %d: %w", written, err)
		}
		if k != n {
			return written, fmt.Errorf("pack: tar: write at offset %d: %w", written, io.ErrShortWrite)
		}
	}
	return written, nil
}
