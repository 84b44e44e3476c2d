package pack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goldenArray names an array of gen_numpy.py and how to rebuild it in Go.
type goldenArray struct {
	name    string
	dtype   DType
	shape   []int
	fromNPY bool // embedding values: read from npy/<name>.npy, else a ramp
}

var goldenArrays = []goldenArray{
	{"f32_1x512", Float32, []int{1, 512}, true},
	{"f16_1x256", Float16, []int{1, 256}, true},
	{"f32_2x3", Float32, []int{2, 3}, false},
	{"f16_2x3", Float16, []int{2, 3}, false},
	{"f32_scalar", Float32, []int{}, false},
	{"f16_empty", Float16, []int{0}, false},
	{"f32_2x3x4x5", Float32, []int{2, 3, 4, 5}, false},
	{"f32_1x16383", Float32, []int{1, 16383}, false},
	{"f32_1x16384", Float32, []int{1, 16384}, false},
	{"f16_70000", Float16, []int{70000}, false},
}

func (g goldenArray) large() bool {
	return strings.HasPrefix(g.name, "f32_1x1638") || g.name == "f16_70000"
}

// array rebuilds the golden array without using the decoders under test.
func (g goldenArray) array(t *testing.T) Array {
	t.Helper()
	if !g.fromNPY {
		return rampArray(g.dtype, g.shape...)
	}
	npy := readGolden(t, filepath.Join("npy", g.name+".npy"))
	n, _ := elementCount(g.shape)
	size := int(n) * g.dtype.Size()
	return Array{DType: g.dtype, Shape: g.shape, Data: npy[len(npy)-size:]}
}

func TestPickleGolden(t *testing.T) {
	for _, g := range goldenArrays {
		t.Run(g.name, func(t *testing.T) {
			a := g.array(t)
			want := readGolden(t, filepath.Join("pickle", g.name+".p4.pickle"))
			got := Pickle(a)
			if !bytes.Equal(got, want) {
				t.Fatalf("Pickle differs from pickle.dumps(protocol=4): len %d vs %d\n got: %x\nwant: %x",
					len(got), len(want), head(got), head(want))
			}
			if size := PickleSize(a); size != int64(len(want)) {
				t.Errorf("PickleSize = %d, want %d", size, len(want))
			}
		})
	}
}

func head(b []byte) []byte { return b[:min(len(b), 200)] }

// TestUnpickleGolden decodes every protocol and numpy flavour of each array.
func TestUnpickleGolden(t *testing.T) {
	for _, g := range goldenArrays {
		want := g.array(t)
		flavours := []string{"p4"}
		if !g.large() {
			flavours = []string{"p2", "p3", "p4", "p5", "np2"}
		}
		for _, fl := range flavours {
			t.Run(g.name+"."+fl, func(t *testing.T) {
				got, err := Unpickle(readGolden(t, filepath.Join("pickle", g.name+"."+fl+".pickle")))
				if err != nil {
					t.Fatal(err)
				}
				assertArrayEqual(t, got, want)
			})
		}
	}
}

func TestUnpickleConverts(t *testing.T) {
	want := rampArray(Float32, 2, 3)
	for _, name := range []string{"f32_2x3_fortran.p2", "f32_2x3_fortran.p4", "f32_2x3_fortran.p5", "f32_2x3_bigendian.p4"} {
		t.Run(name, func(t *testing.T) {
			got, err := Unpickle(readGolden(t, filepath.Join("pickle", name+".pickle")))
			if err != nil {
				t.Fatal(err)
			}
			assertArrayEqual(t, got, want)
		})
	}
}

func TestUnpickleRejects(t *testing.T) {
	p4 := readGolden(t, filepath.Join("pickle", "f32_2x3.p4.pickle"))
	tests := map[string][]byte{
		"float64":        readGolden(t, filepath.Join("pickle", "reject_f64.p4.pickle")),
		"list":           readGolden(t, filepath.Join("pickle", "reject_list.p4.pickle")),
		"empty":          nil,
		"trailing bytes": append(append([]byte(nil), p4...), 'x'),
		"protocol 1":     append([]byte{0x80, 1}, p4[2:]...),
		"out of band":    {0x80, 5, 0x97, '.'},
		"unknown opcode": {0x80, 4, 0xff, '.'},
		"bad global":     []byte("\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03."),
		"wrong length":   bytes.Replace(p4, []byte{'C', 24}, []byte{'C', 23}, 1)[:len(p4)-1],
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := Unpickle(b)
			if err == nil {
				t.Fatalf("Unpickle accepted it: %+v", a)
			}
			if !errors.Is(err, ErrBadPickle) {
				t.Errorf("error %v does not wrap ErrBadPickle", err)
			}
		})
	}
}

// TestUnpickleTruncated: no prefix of a valid pickle panics or is accepted.
func TestUnpickleTruncated(t *testing.T) {
	for _, name := range []string{"f32_2x3.p2", "f32_2x3.p3", "f32_1x512.p4", "f16_2x3.p5", "f32_1x16384.p4"} {
		b := readGolden(t, filepath.Join("pickle", name+".pickle"))
		for _, prefix := range truncations(b) {
			if _, err := Unpickle(prefix); err == nil {
				t.Errorf("%s truncated to %d bytes: no error", name, len(prefix))
			}
		}
	}
}

func FuzzUnpickle(f *testing.F) {
	for _, name := range []string{"f32_2x3.p2", "f32_2x3.p4", "f16_2x3.p5", "f32_2x3_fortran.p4"} {
		b, err := os.ReadFile(filepath.Join("testdata", "pickle", name+".pickle"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Unpickle(b)
		if err == nil {
			if err := a.Validate(); err != nil {
				t.Fatalf("Unpickle returned an invalid array: %v", err)
			}
		}
	})
}

func assertArrayEqual(t *testing.T, got, want Array) {
	t.Helper()
	if got.DType != want.DType || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("got %s %v (%d bytes), want %s %v (%d bytes)",
			got.DType, got.Shape, len(got.Data), want.DType, want.Shape, len(want.Data))
	}
}

// pythonLoadScript loads each file (pickle or .npy) with numpy and prints
// one JSON line per file: shape, dtype, contiguity and a hash of the data.
const pythonLoadScript = `
import hashlib, json, pickle, sys
import numpy as np
for path in sys.argv[1:]:
    if path.endswith(".npy"):
        a = np.load(path)
    else:
        with open(path, "rb") as f:
            a = pickle.load(f)
    print(json.dumps({"type": type(a).__name__, "shape": list(a.shape), "dtype": a.dtype.str,
        "c_contiguous": bool(a.flags.c_contiguous), "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
        "sum": float(a.astype(np.float64).sum())}))
`

// TestPythonLoadsGoOutput has CPython's pickle.load and numpy.load read what
// Pickle and NPY write.
func TestPythonLoadsGoOutput(t *testing.T) {
	python := requirePythonNumpy(t)
	dir := t.TempDir()
	var files []string
	var arrays []Array
	for _, g := range goldenArrays {
		a := g.array(t)
		for ext, data := range map[string][]byte{".pickle": Pickle(a), ".npy": NPY(a)} {
			path := filepath.Join(dir, g.name+ext)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, path)
			arrays = append(arrays, a)
		}
	}
	out, err := exec.Command(python, append([]string{"-c", pythonLoadScript}, files...)...).Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderrOf(err))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(files) {
		t.Fatalf("python printed %d lines for %d files", len(lines), len(files))
	}
	for i, line := range lines {
		var got struct {
			Type        string
			Shape       []int
			Dtype       string
			CContiguous bool `json:"c_contiguous"`
			Sha256      string
			Sum         float64
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%s: %v: %s", files[i], err, line)
		}
		a := arrays[i]
		sum := sha256.Sum256(a.Data)
		var wantSum float64
		for _, v := range a.Float64s() {
			wantSum += v
		}
		if got.Type != "ndarray" || fmt.Sprint(got.Shape) != fmt.Sprint(a.Shape) || got.Dtype != a.DType.String() ||
			!got.CContiguous || got.Sha256 != hex.EncodeToString(sum[:]) || !closeTo(got.Sum, wantSum) {
			t.Errorf("%s: python sees %+v; want shape %v dtype %s sum %v", filepath.Base(files[i]), got, a.Shape, a.DType, wantSum)
		}
	}
}

func closeTo(a, b float64) bool {
	d := a - b
	return d < 1e-6*(1+max(a, -a)) && -d < 1e-6*(1+max(a, -a))
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
