package pack

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// jsonCases mirrors CASES in testdata/gen_json.py: each Go value must
// encode to testdata/json/<name>.json byte for byte.
var jsonCases = map[string]any{
	"null":           nil,
	"true":           true,
	"false":          false,
	"int_zero":       0,
	"int_neg":        int64(-42),
	"int_big":        int64(math.MaxInt64),
	"int_min":        int64(math.MinInt64),
	"uint_max":       uint64(math.MaxUint64),
	"floats":         []float64{0.1, 1e-06, 1e-05, 0.0001, 1.5e16, 1e16, 123456789012345.0, 1234567890123456.0, 1e22, math.Copysign(0, -1), 0.0, 5e-324, 1.7976931348623157e308, 2.5, 100.0, 10.0, 0.5, -1.25, 1.0 / 3, 1 << 53, 1.5e-323, 9.999999999999999e15},
	"float_special":  []any{math.NaN(), math.Inf(1), math.Inf(-1)},
	"float32_tenth":  float32(0.1),
	"empty_list":     []any{},
	"empty_object":   Object{},
	"string_plain":   "hello world",
	"string_escapes": "quote \" backslash \\ slash / nl \n cr \r tab \t bs \b ff \f",
	"string_controls": func() string {
		var b strings.Builder
		for c := 0; c < 0x20; c++ {
			b.WriteByte(byte(c))
		}
		return b.String() + "\x7f"
	}(),
	"string_unicode": "café 中文 😀 \u2028 \ufeff \uffff",
	"string_empty":   "",
	"list_mixed":     []any{1, 2.0, "three", nil, true, false, []int{}, Object{}},
	"nested": Object{
		{"span_uuid", "0a1b2c3d-0000-5000-8000-000000000001"},
		{"duration_span", []float64{0, 10}},
		{"width_source", 1920},
		{"framerate_source", 30000.0 / 1001},
		{"motion_score", Object{{"global_mean", 0.0123}, {"per_patch_min_256", 1e-07}}},
		{"errors", []string{}},
		{"windows", []Object{
			{{"start_frame", 0}, {"end_frame", 255}, {"qwen_caption", "A cat é."}},
			{{"start_frame", int32(256)}, {"end_frame", uint16(299)}},
		}},
		{"empty", Object{}},
		{"deep", []any{[]any{[]any{1, []any{2, []any{}}}, Object{{"a", Object{{"b", Object{}}}}}}}},
		{"valid", true},
	},
	"object_key_escapes": Object{{"k\"ey", 1}, {"é", "😀"}, {"", nil}},
	"list_of_strings":    []string{"a", "b", ""},
	"list_of_ints":       []int{1, -2, 3},
}

func TestJSONGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "json", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files { // every golden has a Go case
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if _, ok := jsonCases[name]; !ok {
			t.Errorf("golden %s has no case in jsonCases", name)
		}
	}
	for name, v := range jsonCases {
		t.Run(name, func(t *testing.T) {
			want := readGolden(t, filepath.Join("json", name+".json"))
			if got := JSON(v); !bytes.Equal(got, want) {
				t.Errorf("JSON mismatch\n got: %q\nwant: %q", got, want)
			}
			prefix := []byte("x")
			if got := AppendJSON(prefix, v); !bytes.Equal(got, append([]byte("x"), want...)) {
				t.Errorf("AppendJSON does not append")
			}
		})
	}
}

func TestJSONNamedTypes(t *testing.T) {
	type codec string
	type frames []int
	type meta Object
	tests := []struct {
		v    any
		want string
	}{
		{codec("h264"), `"h264"`},
		{frames{1, 2}, "[\n    1,\n    2\n]"},
		{meta{{"a", int8(-1)}}, "{\n    \"a\": -1\n}"},
		{[][]float64{{0.5}}, "[\n    [\n        0.5\n    ]\n]"},
		{[2]bool{true, false}, "[\n    true,\n    false\n]"},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
		{"\U0010ffff", `"\udbff\udfff"`},
	}
	for _, tt := range tests {
		if got := string(JSON(tt.v)); got != tt.want {
			t.Errorf("JSON(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestJSONUnsupportedPanics(t *testing.T) {
	for _, v := range []any{map[string]any{"a": 1}, []byte("x"), struct{}{}, new(int)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("JSON(%T) did not panic", v)
				}
			}()
			JSON(v)
		}()
	}
}

// TestFormatFloatMatchesPython checks FormatFloat against Python's repr for
// the 2000 floats in testdata/float_repr.txt (special values, notation
// boundaries, random bit patterns and magnitudes).
func TestFormatFloatMatchesPython(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "float_repr.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		hexBits, want, ok := strings.Cut(sc.Text(), " ")
		bits, err := strconv.ParseUint(hexBits, 16, 64)
		if !ok || err != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		v := math.Float64frombits(bits)
		if got := FormatFloat(v); got != want {
			t.Errorf("FormatFloat(%016x) = %q, Python %q", bits, got, want)
		}
		n++
	}
	if err := sc.Err(); err != nil || n < 2000 {
		t.Fatalf("read %d floats: %v", n, err)
	}
}

func TestFormatFloatTable(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{10, "10.0"}, {0.5, "0.5"}, {1e-06, "1e-06"}, {1.5e16, "1.5e+16"},
		{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
		{0.0001, "0.0001"}, {-0.00012, "-0.00012"}, {1e15, "1000000000000000.0"},
		{float64(float32(0.1)), "0.10000000149011612"}, {-5e-324, "-5e-324"},
	}
	for _, tt := range tests {
		if got := FormatFloat(tt.in); got != tt.want {
			t.Errorf("FormatFloat(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
