package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// MaxHeaderSize is the largest JSON header Open accepts (100 MB, the limit
// of HuggingFace's own reader).
const MaxHeaderSize = 100 << 20

// dtypeSizes maps every dtype of the format to its size in bytes.
var dtypeSizes = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"U16": 2, "I16": 2, "F16": 2, "BF16": 2,
	"U32": 4, "I32": 4, "F32": 4,
	"U64": 8, "I64": 8, "F64": 8,
}

// DTypeSize is the size in bytes of one element of dtype ("F32", "BF16",
// "I64", ...), or 0 when the format has no such dtype.
func DTypeSize(dtype string) int { return dtypeSizes[dtype] }

// entry is one tensor of a file's header.
type entry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// File is an open safetensors file whose header has been validated.
type File struct {
	path     string
	f        *os.File
	data     int64 // file offset of the data section
	tensors  map[string]entry
	metadata map[string]string
}

// Open opens the safetensors file at path and validates its header.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	file := &File{path: path, f: f}
	if err := file.readHeader(st.Size()); err != nil {
		f.Close()
		return nil, err
	}
	return file, nil
}

// errorf formats an error about the file.
func (f *File) errorf(format string, args ...any) error {
	return fmt.Errorf("safetensors: %s: %s", filepath.Base(f.path), fmt.Sprintf(format, args...))
}

// readHeader reads and validates the header of a file of size bytes.
func (f *File) readHeader(size int64) error {
	var lenBuf [8]byte
	if _, err := f.f.ReadAt(lenBuf[:], 0); err != nil {
		return f.errorf("too short for a header length (%d bytes)", size)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return f.errorf("header of %d bytes is over the %d-byte limit", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return f.errorf("header of %d bytes runs past the end of the file (%d bytes)", n, size)
	}
	hdr := make([]byte, n)
	if _, err := f.f.ReadAt(hdr, 8); err != nil {
		return f.errorf("reading the header: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return f.errorf("header is not a JSON object: %v", err)
	}
	f.data = 8 + int64(n)
	f.tensors = make(map[string]entry, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.metadata); err != nil {
				return f.errorf("__metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		var e entry
		if err := json.Unmarshal(msg, &e); err != nil {
			return f.errorf("tensor %s: bad header entry: %v", name, err)
		}
		if err := f.checkEntry(name, e, size-f.data); err != nil {
			return err
		}
		f.tensors[name] = e
	}
	return f.checkOverlaps()
}

// checkEntry validates one tensor's dtype, shape and offsets against a data
// section of dataSize bytes.
func (f *File) checkEntry(name string, e entry, dataSize int64) error {
	esize := dtypeSizes[e.DType]
	if esize == 0 {
		return f.errorf("tensor %s: unknown dtype %q", name, e.DType)
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin || end > dataSize {
		return f.errorf("tensor %s: data offsets [%d, %d] are outside the %d bytes of data", name, begin, end, dataSize)
	}
	want := int64(esize)
	for _, d := range e.Shape {
		if d < 0 {
			return f.errorf("tensor %s: negative dimension in shape %v", name, e.Shape)
		}
		if d > 0 && want > (1<<62)/int64(d) {
			return f.errorf("tensor %s: shape %v is too large", name, e.Shape)
		}
		want *= int64(d)
	}
	if end-begin != want {
		return f.errorf("tensor %s: %d bytes of data, want %d for %s %v", name, end-begin, want, e.DType, e.Shape)
	}
	return nil
}

// checkOverlaps fails when two tensors share bytes.
func (f *File) checkOverlaps() error {
	names := f.Names()
	sort.SliceStable(names, func(i, j int) bool {
		return f.tensors[names[i]].DataOffsets[0] < f.tensors[names[j]].DataOffsets[0]
	})
	var prevEnd int64
	prev := ""
	for _, name := range names {
		e := f.tensors[name]
		if e.DataOffsets[0] < prevEnd {
			return f.errorf("tensor %s: data offsets [%d, %d] overlap tensor %s", name, e.DataOffsets[0], e.DataOffsets[1], prev)
		}
		if e.DataOffsets[1] > e.DataOffsets[0] {
			prevEnd, prev = e.DataOffsets[1], name
		}
	}
	return nil
}

// Names lists the file's tensors, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.tensors))
	for name := range f.tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Metadata is the header's "__metadata__" map (nil when absent).
func (f *File) Metadata() map[string]string { return f.metadata }

// Info reports a tensor's dtype and shape; ok is false when the file has no
// tensor of that name.
func (f *File) Info(name string) (dtype string, shape []int, ok bool) {
	e, ok := f.tensors[name]
	if !ok {
		return "", nil, false
	}
	return e.DType, slices.Clone(e.Shape), true
}

// Bytes returns a tensor's raw little-endian bytes.
func (f *File) Bytes(name string) ([]byte, error) {
	e, ok := f.tensors[name]
	if !ok {
		return nil, f.errorf("no tensor %s", name)
	}
	buf := make([]byte, e.DataOffsets[1]-e.DataOffsets[0])
	if _, err := f.f.ReadAt(buf, f.data+e.DataOffsets[0]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, f.errorf("tensor %s: %v", name, err)
	}
	return buf, nil
}

// Float32 reads a tensor as float32 values with its shape. F32, F16 and BF16
// convert exactly; any other dtype is an error.
func (f *File) Float32(name string) ([]float32, []int, error) {
	e, ok := f.tensors[name]
	if !ok {
		return nil, nil, f.errorf("no tensor %s", name)
	}
	if e.DType != "F32" && e.DType != "F16" && e.DType != "BF16" {
		return nil, nil, f.errorf("tensor %s is %s, not a float tensor (F32, F16 or BF16)", name, e.DType)
	}
	raw, err := f.Bytes(name)
	if err != nil {
		return nil, nil, err
	}
	out, err := DecodeFloat32(e.DType, raw)
	if err != nil {
		return nil, nil, f.errorf("tensor %s: %v", name, err)
	}
	return out, slices.Clone(e.Shape), nil
}

// DecodeFloat32 converts little-endian values of dtype F32, F16 or BF16
// (safetensors' names, which pack's torch reader uses too) to float32,
// exactly.
func DecodeFloat32(dtype string, raw []byte) ([]float32, error) {
	var conv func([]byte) float32
	switch dtype {
	case "F32":
		conv = func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
	case "F16":
		conv = func(b []byte) float32 { return F16ToFloat32(binary.LittleEndian.Uint16(b)) }
	case "BF16":
		conv = func(b []byte) float32 { return BF16ToFloat32(binary.LittleEndian.Uint16(b)) }
	default:
		return nil, fmt.Errorf("%s is not a float dtype (F32, F16 or BF16)", dtype)
	}
	size := dtypeSizes[dtype]
	if len(raw)%size != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %s values", len(raw), dtype)
	}
	out := make([]float32, len(raw)/size)
	for i := range out {
		out[i] = conv(raw[i*size : i*size+size])
	}
	return out, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// F16ToFloat32 converts an IEEE 754 half-precision value to float32 exactly.
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0: // zero or subnormal: mant × 2⁻²⁴, exact in float32
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(v) | sign)
	case exp == 0x1f: // infinity or NaN, payload kept
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// BF16ToFloat32 converts a bfloat16 value (the top 16 bits of a float32) to
// float32.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Tensor is one tensor to write: its raw little-endian bytes, which must be
// prod(Shape) × DTypeSize(DType) long.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// Write writes tensors and metadata (nil for none) as a safetensors file at
// path, in the order given, through a temporary file renamed into place.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	hdr := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for _, t := range tensors {
		size := int64(DTypeSize(t.DType))
		if size == 0 {
			return fmt.Errorf("safetensors: %s: tensor %s: unknown dtype %q", filepath.Base(path), t.Name, t.DType)
		}
		for _, d := range t.Shape {
			size *= int64(d)
		}
		if size != int64(len(t.Data)) || t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: %s: tensor %s: %d bytes of data, want %d for %s %v",
				filepath.Base(path), t.Name, len(t.Data), size, t.DType, t.Shape)
		}
		if _, dup := hdr[t.Name]; dup {
			return fmt.Errorf("safetensors: %s: tensor %s given twice", filepath.Base(path), t.Name)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		hdr[t.Name] = entry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, off + size}}
		off += size
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("safetensors: %s: %w", filepath.Base(path), err)
	}
	// Pad the header with spaces so the data starts 8-byte aligned, as
	// HuggingFace's writer does.
	js = append(js, bytes.Repeat([]byte{' '}, (8-len(js)%8)%8)...)
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	_, err = tmp.Write(lenBuf[:])
	if err == nil {
		_, err = tmp.Write(js)
	}
	for _, t := range tensors {
		if err == nil {
			_, err = tmp.Write(t.Data)
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", filepath.Base(path), err)
	}
	return nil
}

// FloatTensor makes a Tensor of dtype F32, F16 or BF16 from float32 values,
// rounding to nearest even for the 16-bit dtypes.
func FloatTensor(name, dtype string, shape []int, values []float32) (Tensor, error) {
	var data []byte
	switch dtype {
	case "F32":
		data = make([]byte, 4*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
	case "F16", "BF16":
		conv := Float32ToF16
		if dtype == "BF16" {
			conv = Float32ToBF16
		}
		data = make([]byte, 2*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint16(data[2*i:], conv(v))
		}
	default:
		return Tensor{}, fmt.Errorf("safetensors: tensor %s: %s is not a float dtype (F32, F16 or BF16)", name, dtype)
	}
	return Tensor{Name: name, DType: dtype, Shape: shape, Data: data}, nil
}

// Float32ToF16 rounds a float32 to the nearest half-precision value (ties to
// even); values too large become infinities, NaNs stay NaNs.
func Float32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e < -10: // under half of the smallest subnormal (2⁻²⁵)
		return sign
	case e <= 0: // a subnormal half: count units of 2⁻²⁴
		m := mant | 0x800000
		shift := uint(14 - e)
		h, rem, halfway := m>>shift, m&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > halfway || rem == halfway && h&1 == 1 {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // a carry into the exponent is right, up to infinity
	}
	return sign | uint16(h)
}

// Float32ToBF16 rounds a float32 to the nearest bfloat16 (ties to even);
// NaNs stay NaNs.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
