package pack

import (
	"encoding/binary"
)

// Pickle opcodes (Python's Lib/pickletools.py names). The encoder uses the
// protocol 4 subset CPython emits for an ndarray; the decoder accepts more.
const (
	opProto          = 0x80
	opFrame          = 0x95
	opShortUnicode   = 0x8c
	opMemoize        = 0x94
	opStackGlobal    = 0x93
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opBinInt         = 'J'
	opLong1          = 0x8a
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opEmptyTuple     = ')'
	opMark           = '('
	opTuple          = 't'
	opReduce         = 'R'
	opBuild          = 'b'
	opBinGet         = 'h'
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opNone           = 'N'
	opShortBinBytes  = 'C'
	opBinBytes       = 'B'
	opBinBytes8      = 0x8e
	opStop           = '.'
	frameHeaderSize  = 9       // FRAME opcode + 8-byte length
	frameSizeTarget  = 1 << 16 // CPython's _FRAME_SIZE_TARGET
	pickleSuffixSize = 5       // MEMOIZE TUPLE MEMOIZE BUILD STOP
)

// Pickle returns the bytes CPython's pickle.dumps(arr, protocol=4) writes
// under numpy 1.x for the C-contiguous array a (also what pickle.dump(arr, f)
// writes, Python 3.8+'s default protocol): a FRAME holding
// numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') and a BUILD
// with state (1, shape, dtype('<f4'|'<f2'), False, data). As CPython does,
// data of 64 KiB or more is written outside any frame and the closing
// opcodes get a frame of their own. Pickle panics if a is malformed.
func Pickle(a Array) []byte {
	a.mustValidate()
	head, bytesOp := pickleHead(a)
	out := make([]byte, 0, pickleSize(len(head), len(bytesOp), len(a.Data)))
	out = append(out, opProto, 4)
	body := len(head) + len(bytesOp) + len(a.Data) + pickleSuffixSize
	large := len(a.Data) >= frameSizeTarget
	if large {
		body = len(head)
	}
	out = appendFrameHeader(out, body)
	out = append(out, head...)
	out = append(out, bytesOp...)
	out = append(out, a.Data...)
	if large {
		out = appendFrameHeader(out, pickleSuffixSize)
	}
	return append(out, opMemoize, opTuple, opMemoize, opBuild, opStop)
}

// PickleSize returns len(Pickle(a)) without encoding the data.
func PickleSize(a Array) int64 {
	a.mustValidate()
	head, bytesOp := pickleHead(a)
	return int64(pickleSize(len(head), len(bytesOp), len(a.Data)))
}

func pickleSize(head, bytesOp, data int) int {
	n := 2 + frameHeaderSize + head + bytesOp + data + pickleSuffixSize
	if data >= frameSizeTarget {
		n += frameHeaderSize
	}
	return n
}

func appendFrameHeader(dst []byte, n int) []byte {
	dst = append(dst, opFrame)
	return binary.LittleEndian.AppendUint64(dst, uint64(n))
}

// pickleHead returns the framed opcodes before the data (everything from the
// _reconstruct global to the is_fortran flag) and the bytes opcode with its
// length that introduces the data.
func pickleHead(a Array) (head, bytesOp []byte) {
	h := make([]byte, 0, 160+5*len(a.Shape))
	h = appendShortUnicode(h, "numpy.core.multiarray") // memo 0
	h = appendShortUnicode(h, "_reconstruct")          // memo 1
	h = append(h, opStackGlobal, opMemoize)            // memo 2
	h = appendShortUnicode(h, "numpy")                 // memo 3
	h = appendShortUnicode(h, "ndarray")               // memo 4
	h = append(h, opStackGlobal, opMemoize)            // memo 5
	h = append(h, opBinInt1, 0, opTuple1, opMemoize)   // (0,)
	h = append(h, opShortBinBytes, 1, 'b', opMemoize)  // b'b'
	h = append(h, opTuple3, opMemoize, opReduce, opMemoize)
	// BUILD state: (1, shape, dtype, False, data)
	h = append(h, opMark, opBinInt1, 1)
	h = appendShapeTuple(h, a.Shape)
	h = append(h, opBinGet, 3) // 'numpy', memoised above
	h = appendShortUnicode(h, "dtype")
	h = append(h, opStackGlobal, opMemoize)
	h = appendShortUnicode(h, a.DType.kind())
	h = append(h, opNewFalse, opNewTrue, opTuple3, opMemoize, opReduce, opMemoize)
	// dtype state: (3, '<', None, None, None, -1, -1, 0)
	h = append(h, opMark, opBinInt1, 3)
	h = appendShortUnicode(h, "<")
	h = append(h, opNone, opNone, opNone)
	h = append(h, opBinInt, 0xff, 0xff, 0xff, 0xff, opBinInt, 0xff, 0xff, 0xff, 0xff)
	h = append(h, opBinInt1, 0, opTuple, opMemoize, opBuild)
	h = append(h, opNewFalse)
	return h, bytesHeader(len(a.Data))
}

func appendShortUnicode(dst []byte, s string) []byte {
	dst = append(dst, opShortUnicode, byte(len(s)))
	dst = append(dst, s...)
	return append(dst, opMemoize)
}

// appendShapeTuple writes the shape as save_tuple does: () unmemoised, up to
// three items with TUPLE1..3, more between MARK and TUPLE.
func appendShapeTuple(dst []byte, shape []int) []byte {
	if len(shape) == 0 {
		return append(dst, opEmptyTuple)
	}
	if len(shape) > 3 {
		dst = append(dst, opMark)
	}
	for _, d := range shape {
		dst = appendPickleInt(dst, int64(d))
	}
	switch len(shape) {
	case 1:
		dst = append(dst, opTuple1)
	case 2:
		dst = append(dst, opTuple2)
	case 3:
		dst = append(dst, opTuple3)
	default:
		dst = append(dst, opTuple)
	}
	return append(dst, opMemoize)
}

// appendPickleInt writes n as CPython's save_long does for protocol >= 2.
func appendPickleInt(dst []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= 0xff:
		return append(dst, opBinInt1, byte(n))
	case n >= 0 && n <= 0xffff:
		return binary.LittleEndian.AppendUint16(append(dst, opBinInt2), uint16(n))
	case n >= -1<<31 && n < 1<<31:
		return binary.LittleEndian.AppendUint32(append(dst, opBinInt), uint32(int32(n)))
	}
	// LONG1: minimal little-endian two's complement, as encode_long.
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(n))
	size := 8
	for size > 1 {
		top, next := buf[size-1], buf[size-2]
		if (top == 0 && next < 0x80) || (top == 0xff && next >= 0x80) {
			size--
			continue
		}
		break
	}
	dst = append(dst, opLong1, byte(size))
	return append(dst, buf[:size]...)
}

// bytesHeader returns the opcode and length CPython's save_bytes writes
// before n bytes of payload (protocol 4).
func bytesHeader(n int) []byte {
	switch {
	case n < 256:
		return []byte{opShortBinBytes, byte(n)}
	case uint64(n) <= 0xffffffff:
		return binary.LittleEndian.AppendUint32([]byte{opBinBytes}, uint32(n))
	}
	return binary.LittleEndian.AppendUint64([]byte{opBinBytes8}, uint64(n))
}
