package pack

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestDType(t *testing.T) {
	tests := []struct {
		d    DType
		str  string
		size int
	}{
		{Float32, "<f4", 4}, {Float16, "<f2", 2}, {DType(0), "DType(0)", 0}, {DType(9), "DType(9)", 0},
	}
	for _, tt := range tests {
		if tt.d.String() != tt.str || tt.d.Size() != tt.size {
			t.Errorf("%d: String %q Size %d, want %q %d", tt.d, tt.d.String(), tt.d.Size(), tt.str, tt.size)
		}
	}
}

func TestHalfToFloat64(t *testing.T) {
	tests := []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3555, 0.333251953125},
		{0x7bff, 65504}, {0x0400, 6.103515625e-05}, {0x0001, 5.960464477539063e-08},
		{0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)},
	}
	for _, tt := range tests {
		if got := halfToFloat64(tt.bits); got != tt.want {
			t.Errorf("halfToFloat64(%#04x) = %v, want %v", tt.bits, got, tt.want)
		}
	}
	if !math.IsNaN(halfToFloat64(0x7e00)) {
		t.Error("0x7e00 is not NaN")
	}
	if neg := halfToFloat64(0x8000); neg != 0 || !math.Signbit(neg) {
		t.Error("0x8000 is not -0")
	}
}

func TestArrayValidate(t *testing.T) {
	tests := []struct {
		name string
		a    Array
		ok   bool
	}{
		{"float32 1x2", Array{Float32, []int{1, 2}, make([]byte, 8)}, true},
		{"float16 scalar", Array{Float16, nil, make([]byte, 2)}, true},
		{"empty", Array{Float16, []int{0, 5}, nil}, true},
		{"short data", Array{Float32, []int{1, 2}, make([]byte, 7)}, false},
		{"bad dtype", Array{DType(7), []int{1}, make([]byte, 4)}, false},
		{"negative dim", Array{Float32, []int{-1}, nil}, false},
		{"overflow", Array{Float32, []int{1 << 40, 1 << 40}, nil}, false},
	}
	for _, tt := range tests {
		if err := tt.a.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestFloat32Array(t *testing.T) {
	a := Float32Array([]int{2, 2}, []float32{1, -0.5, 3.25, 0})
	want := []float64{1, -0.5, 3.25, 0}
	got := a.Float64s()
	if len(got) != len(want) {
		t.Fatalf("Float64s = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Float64s[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Float32Array with a wrong length did not panic")
		}
	}()
	Float32Array([]int{3}, []float32{1})
}

// rampArray is the "ramp" of gen_numpy.py: value i = (i % 2048) * 0.25,
// exact in float32 and float16.
func rampArray(dt DType, shape ...int) Array {
	n, _ := elementCount(shape)
	a := Array{DType: dt, Shape: shape, Data: make([]byte, int(n)*dt.Size())}
	for i := 0; i < int(n); i++ {
		v := float64(i%2048) * 0.25
		if dt == Float32 {
			binary.LittleEndian.PutUint32(a.Data[4*i:], math.Float32bits(float32(v)))
		} else {
			binary.LittleEndian.PutUint16(a.Data[2*i:], exactHalf(v))
		}
	}
	return a
}

// exactHalf returns the binary16 bits of a non-negative v that has an exact
// normal (or zero) half-precision form.
func exactHalf(v float64) uint16 {
	if v == 0 {
		return 0
	}
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	mant := uint16(frac*2048) - 1024
	return uint16(exp+14)<<10 | mant
}
