package pack

import (
	"encoding/binary"
	"strconv"
	"strings"
)

const (
	npyMagic        = "\x93NUMPY"
	npyAlign        = 64 // numpy.lib.format.ARRAY_ALIGN
	npyGrowthDigits = 21 // numpy.lib.format.GROWTH_AXIS_MAX_DIGITS
)

// NPY returns the bytes numpy.save writes for the C-ordered array a
// (numpy 1.24 to 2.x): format version 1.0 (2.0 only if the header does not
// fit in 65535 bytes), the header
// "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 512), }" followed
// by the spare spaces numpy leaves for growing the first axis, padded with
// spaces and a newline so that the data starts on a 64-byte boundary, then
// the raw data. NPY panics if a is malformed.
func NPY(a Array) []byte {
	a.mustValidate()
	header := npyHeader(a)
	out := make([]byte, 0, len(header)+len(a.Data))
	out = append(out, header...)
	return append(out, a.Data...)
}

// NPYSize returns len(NPY(a)) without encoding the data.
func NPYSize(a Array) int64 {
	a.mustValidate()
	return int64(len(npyHeader(a)) + len(a.Data))
}

// npyHeader returns magic, version, header length and the padded header,
// as numpy.lib.format._write_array_header does.
func npyHeader(a Array) []byte {
	var dict strings.Builder
	dict.WriteString("{'descr': '")
	dict.WriteString(a.DType.String())
	dict.WriteString("', 'fortran_order': False, 'shape': ")
	dict.WriteString(pythonTupleRepr(a.Shape))
	dict.WriteString(", }")
	if len(a.Shape) > 0 {
		first := len(strconv.Itoa(a.Shape[0]))
		for i := first; i < npyGrowthDigits; i++ {
			dict.WriteByte(' ')
		}
	}
	text := dict.String()
	hlen := len(text) + 1 // the final newline
	lenWidth := 2         // version 1.0: uint16 header length
	if npyPadded(hlen, 2) > 0xffff {
		lenWidth = 4 // version 2.0: uint32
	}
	total := npyPadded(hlen, lenWidth)
	out := make([]byte, 0, len(npyMagic)+2+lenWidth+total)
	out = append(out, npyMagic...)
	if lenWidth == 2 {
		out = append(out, 1, 0)
		out = binary.LittleEndian.AppendUint16(out, uint16(total))
	} else {
		out = append(out, 2, 0)
		out = binary.LittleEndian.AppendUint32(out, uint32(total))
	}
	out = append(out, text...)
	for i := len(text) + 1; i < total; i++ {
		out = append(out, ' ')
	}
	return append(out, '\n')
}

// npyPadded returns the header length numpy stores for a header of hlen
// bytes (newline included): padded so that magic (8) + length field + header
// is a multiple of 64; an already aligned header still gets 64 spaces.
func npyPadded(hlen, lenWidth int) int {
	pad := npyAlign - (len(npyMagic)+2+lenWidth+hlen)%npyAlign
	return hlen + pad
}

// pythonTupleRepr returns repr(tuple(shape)): "()", "(5,)", "(1, 512)".
func pythonTupleRepr(shape []int) string {
	switch len(shape) {
	case 0:
		return "()"
	case 1:
		return "(" + strconv.Itoa(shape[0]) + ",)"
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
