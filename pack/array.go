package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// DType is the element type of an Array. Only the dtypes NeMo writes for
// embeddings are supported, both little-endian.
type DType uint8

// Supported dtypes.
const (
	Float32 DType = iota + 1 // numpy '<f4'
	Float16                  // numpy '<f2' (IEEE 754 half precision)
)

// String returns the numpy type string: "<f4" or "<f2".
func (d DType) String() string {
	switch d {
	case Float32:
		return "<f4"
	case Float16:
		return "<f2"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size returns the size of one element in bytes (0 for an unknown dtype).
func (d DType) Size() int {
	switch d {
	case Float32:
		return 4
	case Float16:
		return 2
	}
	return 0
}

// kind returns the numpy dtype constructor argument ("f4", "f2").
func (d DType) kind() string { return d.String()[1:] }

// Array is a C-contiguous numpy array: Data holds prod(Shape)*DType.Size()
// little-endian bytes in row-major order. A nil or empty Shape is a 0-d
// array holding one element.
type Array struct {
	DType DType
	Shape []int
	Data  []byte
}

// errArrayShape is wrapped by Validate's errors.
var errArrayShape = errors.New("array does not match its shape")

// Validate reports whether a is well formed: a known dtype, no negative
// dimension, and exactly prod(Shape)*Size bytes of data.
func (a Array) Validate() error {
	if a.DType.Size() == 0 {
		return fmt.Errorf("pack: array: unsupported dtype %s: %w", a.DType, errArrayShape)
	}
	n, ok := elementCount(a.Shape)
	if !ok {
		return fmt.Errorf("pack: array: shape %v: %w", a.Shape, errArrayShape)
	}
	if uint64(len(a.Data)) != n*uint64(a.DType.Size()) {
		return fmt.Errorf("pack: array: shape %v %s needs %d bytes, have %d: %w",
			a.Shape, a.DType, n*uint64(a.DType.Size()), len(a.Data), errArrayShape)
	}
	return nil
}

// mustValidate panics if a is malformed: encoders take a well-formed Array.
func (a Array) mustValidate() {
	if err := a.Validate(); err != nil {
		panic(err)
	}
}

// elementCount returns prod(shape), false on a negative dimension or an
// element count beyond 2^48 (no real array is that large; the limit keeps
// byte counts far from overflow).
func elementCount(shape []int) (uint64, bool) {
	const limit = 1 << 48
	n := uint64(1)
	for _, d := range shape {
		if d < 0 || uint64(d) > limit || (d > 0 && n > limit/uint64(d)) {
			return 0, false
		}
		n *= uint64(d)
	}
	return n, true
}

// Float64s decodes the elements of a in C order. A malformed array decodes
// as many whole elements as Data holds.
func (a Array) Float64s() []float64 {
	size := a.DType.Size()
	if size == 0 {
		return nil
	}
	out := make([]float64, len(a.Data)/size)
	for i := range out {
		b := a.Data[i*size:]
		switch a.DType {
		case Float32:
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		case Float16:
			out[i] = halfToFloat64(binary.LittleEndian.Uint16(b))
		}
	}
	return out
}

// Float32Array builds a float32 Array of the given shape from v (C order).
// It panics if len(v) is not prod(shape).
func Float32Array(shape []int, v []float32) Array {
	data := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(f))
	}
	a := Array{DType: Float32, Shape: append([]int(nil), shape...), Data: data}
	a.mustValidate()
	return a
}

// halfToFloat64 converts IEEE 754 binary16 bits to a float64 (exactly).
func halfToFloat64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1.0
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0: // zero or subnormal
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+frac, exp-25)
}

// NewArray describes raw little-endian C-order data of numpy dtype string
// dtype ("<f4" or "<f2") and shape, checking that they agree.
func NewArray(dtype string, shape []int, data []byte) (Array, error) {
	a := Array{Shape: append([]int(nil), shape...), Data: data}
	switch dtype {
	case Float32.String():
		a.DType = Float32
	case Float16.String():
		a.DType = Float16
	default:
		return a, fmt.Errorf("pack: unsupported dtype %q (want <f4 or <f2)", dtype)
	}
	return a, a.Validate()
}
