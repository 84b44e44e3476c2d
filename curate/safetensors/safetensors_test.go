package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	values := []float32{1, -2, 0.5, 65504, 3.25, -0.125}
	var tensors []Tensor
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		tn, err := FloatTensor("w."+dtype, dtype, []int{2, 3}, values)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, tn)
	}
	ids := make([]byte, 8*3)
	for i := range 3 {
		binary.LittleEndian.PutUint64(ids[8*i:], uint64(i))
	}
	tensors = append(tensors, Tensor{Name: "position_ids", DType: "I64", Shape: []int{1, 3}, Data: ids},
		Tensor{Name: "empty", DType: "F32", Shape: []int{0, 4}, Data: nil})
	meta := map[string]string{"format": "pt"}
	if err := Write(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.Names(), []string{"empty", "position_ids", "w.BF16", "w.F16", "w.F32"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if f.Metadata()["format"] != "pt" {
		t.Errorf("Metadata() = %v", f.Metadata())
	}
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		name := "w." + dtype
		dt, shape, ok := f.Info(name)
		if !ok || dt != dtype || !slices.Equal(shape, []int{2, 3}) {
			t.Errorf("Info(%s) = %s %v %v", name, dt, shape, ok)
		}
		got, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		want := values
		if dtype == "BF16" { // 65504 and 3.25 are not bfloat16 values
			want = []float32{1, -2, 0.5, 65536, 3.25, -0.125}
		}
		if !slices.Equal(got, want) || !slices.Equal(shape, []int{2, 3}) {
			t.Errorf("Float32(%s) = %v %v, want %v", name, got, shape, want)
		}
	}
	if _, _, err := f.Float32("position_ids"); err == nil || !strings.Contains(err.Error(), "position_ids is I64") {
		t.Errorf("Float32 of an I64 tensor: err = %v", err)
	}
	if b, err := f.Bytes("position_ids"); err != nil || !slices.Equal(b, ids) {
		t.Errorf("Bytes(position_ids) = %v, %v", b, err)
	}
	if got, _, err := f.Float32("empty"); err != nil || len(got) != 0 {
		t.Errorf("Float32(empty) = %v, %v", got, err)
	}
	if _, _, err := f.Float32("missing"); err == nil || !strings.Contains(err.Error(), "no tensor missing") {
		t.Errorf("Float32(missing): err = %v", err)
	}
	if _, _, ok := f.Info("missing"); ok {
		t.Error("Info(missing) is ok")
	}
	// The data starts 8-byte aligned.
	raw, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(raw); (8+n)%8 != 0 {
		t.Errorf("header length %d leaves the data unaligned", n)
	}
}

func TestF16ToFloat32(t *testing.T) {
	for _, c := range []struct {
		bits uint16
		want float32
	}{
		{0x3c00, 1},                           // exponent 15, mantissa 0
		{0xc000, -2},                          // sign, exponent 16
		{0x7bff, 65504},                       // largest finite: (2 - 2⁻¹⁰)·2¹⁵
		{0x0001, float32(math.Ldexp(1, -24))}, // smallest subnormal
		{0x03ff, float32(math.Ldexp(1023, -24))},
		{0x0400, float32(math.Ldexp(1, -14))}, // smallest normal
		{0x3555, 0.333251953125},              // 1/3 rounded: (1 + 341/1024)·2⁻²
		{0x8000, float32(math.Copysign(0, -1))},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	} {
		got := F16ToFloat32(c.bits)
		if math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("F16ToFloat32(%#04x) = %g, want %g", c.bits, got, c.want)
		}
		if back := Float32ToF16(c.want); back != c.bits {
			t.Errorf("Float32ToF16(%g) = %#04x, want %#04x", c.want, back, c.bits)
		}
	}
	for _, bits := range []uint16{0x7e00, 0x7c01, 0xfe00} {
		if v := F16ToFloat32(bits); v == v {
			t.Errorf("F16ToFloat32(%#04x) = %g, want NaN", bits, v)
		}
	}
	if h := Float32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("Float32ToF16(NaN) = %#04x", h)
	}
	// Every half converts to a float32 that converts back to it.
	for h := range 1 << 16 {
		v := F16ToFloat32(uint16(h))
		if v != v {
			continue
		}
		if back := Float32ToF16(v); back != uint16(h) {
			t.Fatalf("half %#04x → %g → %#04x", h, v, back)
		}
	}
	// Rounding: ties to even, overflow to infinity, underflow to zero.
	for _, c := range []struct {
		in   float64
		want uint16
	}{
		{1 + math.Ldexp(1, -11), 0x3c00},   // halfway between 1 and the next half: even (1)
		{1 + 3*math.Ldexp(1, -11), 0x3c02}, // halfway between 0x3c01 and 0x3c02: even
		{65520, 0x7c00},                    // halfway to 2¹⁶ rounds up to infinity
		{65519, 0x7bff},
		{math.Ldexp(1, -25), 0},      // half the smallest subnormal: even (0)
		{math.Ldexp(3, -26), 0x0001}, // over half of it
		{math.Ldexp(3, -25), 0x0002}, // 1.5 units: even (2)
		{math.Ldexp(1, -30), 0},
	} {
		if got := Float32ToF16(float32(c.in)); got != c.want {
			t.Errorf("Float32ToF16(%g) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

func TestBF16(t *testing.T) {
	for _, c := range []struct {
		bits uint16
		want float32
	}{
		{0x3f80, 1},
		{0xc000, -2},
		{0x477f, 65280},                        // (1 + 127/128)·2¹⁵
		{0x0001, float32(math.Ldexp(1, -133))}, // smallest subnormal
		{0x7f80, float32(math.Inf(1))},
		{0xff80, float32(math.Inf(-1))},
	} {
		got := BF16ToFloat32(c.bits)
		if math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("BF16ToFloat32(%#04x) = %g, want %g", c.bits, got, c.want)
		}
		if back := Float32ToBF16(c.want); back != c.bits {
			t.Errorf("Float32ToBF16(%g) = %#04x, want %#04x", c.want, back, c.bits)
		}
	}
	if v := BF16ToFloat32(0x7fc0); v == v {
		t.Errorf("BF16ToFloat32(0x7fc0) = %g, want NaN", v)
	}
	if h := Float32ToBF16(float32(math.NaN())); BF16ToFloat32(h) == BF16ToFloat32(h) {
		t.Errorf("Float32ToBF16(NaN) = %#04x, not a NaN", h)
	}
	// 65504 lies between 65280 and 65536, nearer 65536.
	if got := Float32ToBF16(65504); got != 0x4780 {
		t.Errorf("Float32ToBF16(65504) = %#04x, want 0x4780", got)
	}
	// Ties to even: 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷.
	if got := Float32ToBF16(1 + 1.0/256); got != 0x3f80 {
		t.Errorf("Float32ToBF16(1+2⁻⁸) = %#04x, want 0x3f80", got)
	}
}

// rawFile writes a safetensors file with the given header (raw JSON) and
// data bytes.
func rawFile(t *testing.T, header string, data int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	buf = append(buf, header...)
	buf = append(buf, make([]byte, data)...)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCorrupt(t *testing.T) {
	entry := func(name, dtype string, shape []int, begin, end int) string {
		b, _ := json.Marshal(map[string]any{name: map[string]any{"dtype": dtype, "shape": shape, "data_offsets": []int{begin, end}}})
		return string(b[1 : len(b)-1])
	}
	for _, c := range []struct {
		name, header string
		data         int
		want         string
	}{
		{"not JSON", `{"a": `, 0, "not a JSON object"},
		{"not an object", `[1, 2]`, 0, "not a JSON object"},
		{"bad entry", `{"a": {"dtype": 3}}`, 0, "tensor a: bad header entry"},
		{"bad metadata", `{"__metadata__": {"a": 1}}`, 0, "__metadata__ is not a map of strings"},
		{"unknown dtype", "{" + entry("a", "F128", []int{1}, 0, 16) + "}", 16, `tensor a: unknown dtype "F128"`},
		{"past the end", "{" + entry("a", "F32", []int{4}, 0, 16) + "}", 12, "tensor a: data offsets [0, 16] are outside the 12 bytes"},
		{"reversed", "{" + entry("a", "F32", []int{0}, 8, 4) + "}", 12, "tensor a: data offsets [8, 4] are outside"},
		{"negative", "{" + entry("a", "F32", []int{1}, -4, 0) + "}", 12, "tensor a: data offsets [-4, 0] are outside"},
		{"wrong size", "{" + entry("a", "F32", []int{2, 3}, 0, 16) + "}", 16, "tensor a: 16 bytes of data, want 24 for F32 [2 3]"},
		{"negative dim", "{" + entry("a", "F32", []int{-1, -4}, 0, 16) + "}", 16, "tensor a: negative dimension"},
		{"huge shape", "{" + entry("a", "F32", []int{1 << 40, 1 << 40}, 0, 16) + "}", 16, "tensor a: shape [1099511627776 1099511627776] is too large"},
		{"overlap", "{" + entry("a", "F32", []int{4}, 0, 16) + "," + entry("b", "F16", []int{4}, 8, 16) + "}", 16,
			"tensor b: data offsets [8, 16] overlap tensor a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Open(rawFile(t, c.header, c.data))
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded, want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.safetensors") {
				t.Errorf("err = %v, want one naming bad.safetensors and containing %q", err, c.want)
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	tn, _ := FloatTensor("w", "F32", []int{4, 4}, make([]float32, 16))
	if err := Write(path, []Tensor{tn}, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	for _, n := range []int{0, 5, 8, 20, len(raw) - 1} {
		if err := os.WriteFile(path, raw[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if f, err := Open(path); err == nil {
			f.Close()
			t.Errorf("Open of the first %d of %d bytes succeeded", n, len(raw))
		} else if !strings.Contains(err.Error(), "model.safetensors") {
			t.Errorf("truncated to %d bytes: err = %v, want one naming the file", n, err)
		}
	}
	// A header length over the limit is refused before anything is read.
	huge := binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1)
	if err := os.WriteFile(path, huge, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "over the") {
		t.Errorf("huge header: err = %v", err)
	}
}

func TestWriteErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.safetensors")
	for _, c := range []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"short data", []Tensor{{Name: "a", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}}, "tensor a: 4 bytes of data, want 8"},
		{"dtype", []Tensor{{Name: "a", DType: "X", Shape: []int{1}, Data: make([]byte, 4)}}, `unknown dtype "X"`},
		{"duplicate", []Tensor{{Name: "a", DType: "U8", Shape: []int{1}, Data: []byte{1}}, {Name: "a", DType: "U8", Shape: []int{1}, Data: []byte{2}}}, "tensor a given twice"},
	} {
		if err := Write(path, c.tensors, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed Write left %s behind", path)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 0 {
		t.Errorf("a failed Write left %d temporary files", len(ents))
	}
	if _, err := FloatTensor("a", "I64", []int{1}, []float32{1}); err == nil {
		t.Error("FloatTensor of I64 succeeded")
	}
}
