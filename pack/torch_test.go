package pack

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// torchEntry is one tensor of expected.json, written by make.py.
type torchEntry struct {
	Name   string    `json:"name"`
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

func readTorchExpected(t *testing.T, dir string) map[string][]torchEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 pack/testdata/torch/make.py)", err)
	}
	var want map[string][]torchEntry
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

// torchValues decodes a tensor's elements to float64 (all fixture values
// are exact in float64).
func torchValues(t *testing.T, tt TorchTensor) []float64 {
	t.Helper()
	sizes := map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
	size := sizes[tt.DType]
	if size == 0 {
		t.Fatalf("unexpected dtype %q", tt.DType)
	}
	n := 1
	for _, d := range tt.Shape {
		n *= d
	}
	if len(tt.Data) != n*size {
		t.Fatalf("%s %v: %d bytes, want %d", tt.DType, tt.Shape, len(tt.Data), n*size)
	}
	out := make([]float64, n)
	le := binary.LittleEndian
	for i := range out {
		b := tt.Data[i*size:]
		switch tt.DType {
		case "F32":
			out[i] = float64(math.Float32frombits(le.Uint32(b)))
		case "F16":
			out[i] = halfToFloat64(le.Uint16(b))
		case "BF16":
			out[i] = float64(math.Float32frombits(uint32(le.Uint16(b)) << 16))
		case "F64":
			out[i] = math.Float64frombits(le.Uint64(b))
		case "I64":
			out[i] = float64(int64(le.Uint64(b)))
		case "I32":
			out[i] = float64(int32(le.Uint32(b)))
		case "I16":
			out[i] = float64(int16(le.Uint16(b)))
		case "I8":
			out[i] = float64(int8(b[0]))
		case "U8", "BOOL":
			out[i] = float64(b[0])
		}
	}
	return out
}

// checkTorchDir reads every file of dir's expected.json and compares.
func checkTorchDir(t *testing.T, dir string) {
	want := readTorchExpected(t, dir)
	if len(want) < 5 {
		t.Fatalf("expected.json lists %d files", len(want))
	}
	for file, entries := range want {
		t.Run(file, func(t *testing.T) {
			names, tensors, err := ReadTorchStateDict(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			var wantNames []string
			for _, e := range entries {
				wantNames = append(wantNames, e.Name)
			}
			if !slices.Equal(names, wantNames) {
				t.Fatalf("names %q, want %q", names, wantNames)
			}
			if len(tensors) != len(names) {
				t.Errorf("%d tensors for %d names", len(tensors), len(names))
			}
			for _, e := range entries {
				got := tensors[e.Name]
				if got.DType != e.DType || !slices.Equal(got.Shape, e.Shape) || got.Shape == nil {
					t.Errorf("%s: %s %v, want %s %v", e.Name, got.DType, got.Shape, e.DType, e.Shape)
					continue
				}
				if v := torchValues(t, got); !slices.Equal(v, e.Values) {
					t.Errorf("%s: values\n got %v\nwant %v", e.Name, v, e.Values)
				}
			}
		})
	}
}

func TestTorchFixtures(t *testing.T) {
	checkTorchDir(t, filepath.Join("testdata", "torch"))
}

// requirePythonTorch returns systemPython if it can import torch.
func requirePythonTorch(t *testing.T) string {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import torch").Run(); err != nil {
		skipUnlessCI(t, "%s with torch not available: %v", systemPython, err)
	}
	return systemPython
}

// TestTorchFresh has the installed torch write the fixtures anew, so that
// the reader keeps up with the torch at hand, not only the committed files.
func TestTorchFresh(t *testing.T) {
	python := requirePythonTorch(t)
	dir := t.TempDir()
	cmd := exec.Command(python, filepath.Join("testdata", "torch", "make.py"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make.py: %v\n%s", err, out)
	}
	checkTorchDir(t, dir)
}

func TestTorchModule(t *testing.T) {
	names, tensors, err := ReadTorchStateDict(filepath.Join("testdata", "torch", "module.pt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
		"bn.running_var", "bn.num_batches_tracked", "fc.weight", "fc.bias"}
	if !slices.Equal(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	n := tensors["bn.num_batches_tracked"]
	if n.DType != "I64" || len(n.Shape) != 0 || !bytes.Equal(n.Data, []byte{1, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("num_batches_tracked = %+v, want a 0-d I64 1", n)
	}
	if w := tensors["conv.weight"]; !slices.Equal(w.Shape, []int{3, 2, 2, 2, 2}) || w.DType != "F32" {
		t.Errorf("conv.weight is %s %v", w.DType, w.Shape)
	}
}

func TestTorchSharedStorage(t *testing.T) {
	_, tensors, err := ReadTorchStateDict(filepath.Join("testdata", "torch", "views.pt"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := tensors["a"], tensors["b"]
	if !bytes.Equal(a.Data[8:], b.Data) {
		t.Fatalf("b is not a[2:]: %x vs %x", a.Data, b.Data)
	}
	// The two views of one storage must not share memory.
	a.Data[8] ^= 0xff
	if b.Data[0] == a.Data[8] {
		t.Error("a and b share memory")
	}
}

// TestTorchArchiveFolder re-zips a fixture under archive/ (what most torch
// versions write) with its storages deflated, which the reader accepts.
func TestTorchArchiveFolder(t *testing.T) {
	path := filepath.Join("testdata", "torch", "module.pt")
	_, want, err := ReadTorchStateDict(path)
	if err != nil {
		t.Fatal(err)
	}
	b := rezipTorch(t, path, func(name string) (string, uint16, bool) {
		return "archive/" + strings.SplitN(name, "/", 2)[1], zip.Deflate, true
	})
	_, got, err := readTorch(bytes.NewReader(b), int64(len(b)), "archive.pt")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("archive/ copy reads differently")
	}
}

// rezipTorch copies the zip at path, renaming, recompressing or dropping
// (keep false) entries as edit says.
func rezipTorch(t *testing.T, path string, edit func(name string) (string, uint16, bool)) []byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		name, method, keep := edit(f.Name)
		if !keep {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readTorchBytes reads a state_dict from memory.
func readTorchBytes(b []byte) ([]string, map[string]TorchTensor, error) {
	return readTorch(bytes.NewReader(b), int64(len(b)), "crafted.pt")
}

// wantTorchError checks that err wraps ErrBadTorchFile and says all of want.
func wantTorchError(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, ErrBadTorchFile) {
		t.Fatalf("error %v does not wrap ErrBadTorchFile", err)
	}
	t.Log(err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

func TestTorchLegacy(t *testing.T) {
	_, _, err := ReadTorchStateDict(filepath.Join("testdata", "torch", "legacy.pt"))
	wantTorchError(t, err, "legacy.pt: ", "legacy (pre-1.6, non-zip)", "save it again with torch 1.6 or newer")
}

func TestTorchNotAZip(t *testing.T) {
	_, _, err := readTorchBytes([]byte("{\"not\": \"torch\"}"))
	wantTorchError(t, err, "crafted.pt: not a zip archive")
	_, _, err = readTorchBytes(readGolden(t, filepath.Join("pickle", "f32_2x3.p4.pickle")))
	wantTorchError(t, err, "crafted.pt: a plain pickle, not torch.save's zip format")
	// A legacy file saved with pickle_protocol=4: PROTO, FRAME, the magic.
	legacy := append([]byte{opProto, 4, opFrame, 13, 0, 0, 0, 0, 0, 0, 0}, torchMagic...)
	_, _, err = readTorchBytes(append(legacy, opStop))
	wantTorchError(t, err, "legacy (pre-1.6, non-zip)")
}

func TestTorchMissingFile(t *testing.T) {
	_, _, err := ReadTorchStateDict(filepath.Join(t.TempDir(), "none.pt"))
	if err == nil || errors.Is(err, ErrBadTorchFile) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v, want a not-exist error that is not ErrBadTorchFile", err)
	}
}

func TestTorchTruncated(t *testing.T) {
	b := readGolden(t, filepath.Join("torch", "module.pt"))
	for _, cut := range truncations(b) {
		if _, _, err := readTorchBytes(cut); !errors.Is(err, ErrBadTorchFile) {
			t.Fatalf("%d of %d bytes: error %v", len(cut), len(b), err)
		}
	}
}

func TestTorchMissingStorage(t *testing.T) {
	b := rezipTorch(t, filepath.Join("testdata", "torch", "views.pt"), func(name string) (string, uint16, bool) {
		return name, zip.Store, name != "views/data/1"
	})
	_, _, err := readTorchBytes(b)
	wantTorchError(t, err, `tensor "a"`, `storage "1"`, `"views/data/1" is missing`)
}

// TestTorchCorruptPickle flips each byte of a real data.pkl in turn: the
// reader may succeed or fail, but never panics, and fails with
// ErrBadTorchFile.
func TestTorchCorruptPickle(t *testing.T) {
	path := filepath.Join("testdata", "torch", "module.pt")
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
		order = append(order, f.Name)
	}
	pkl := files["module/data.pkl"]
	for i := range pkl {
		for _, x := range []byte{0xff, 0x01} {
			bad := bytes.Clone(pkl)
			bad[i] ^= x
			files["module/data.pkl"] = bad
			if _, _, err := readTorchBytes(torchZip(t, order, files)); err != nil && !errors.Is(err, ErrBadTorchFile) {
				t.Fatalf("byte %d ^ %#x: error %v", i, x, err)
			}
		}
	}
}

// torchZip stores files (name -> content) in a zip, in order.
func torchZip(t *testing.T, order []string, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range order {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pickler writes protocol 2 pickles the way torch.save's data.pkl spells
// them, for files that torch would not write.
type pickler struct{ bytes.Buffer }

func (p *pickler) str(s string) {
	p.WriteByte(opBinUnicode)
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
}

func (p *pickler) int(n int64) {
	p.WriteByte(opLong1)
	p.WriteByte(8)
	binary.Write(p, binary.LittleEndian, n)
}

func (p *pickler) global(mod, name string) { fmt.Fprintf(p, "c%s\n%s\n", mod, name) }

func (p *pickler) ints(v []int64) {
	p.WriteByte(opMark)
	for _, n := range v {
		p.int(n)
	}
	p.WriteByte(opTuple)
}

func (p *pickler) orderedDict() {
	p.global("collections", "OrderedDict")
	p.WriteByte(opEmptyTuple)
	p.WriteByte(opReduce)
}

// craftTensor is a _rebuild_tensor_v2 call (v3 when dtype is set).
type craftTensor struct {
	class, key    string
	numel, offset int64
	size, stride  []int64
	dtype         string
}

func (p *pickler) tensor(c craftTensor) {
	if c.dtype != "" {
		p.global("torch._utils", "_rebuild_tensor_v3")
	} else {
		p.global("torch._utils", "_rebuild_tensor_v2")
	}
	p.WriteByte(opMark)
	p.WriteByte(opMark)
	p.str("storage")
	p.global("torch", c.class)
	p.str(c.key)
	p.str("cpu")
	p.int(c.numel)
	p.WriteByte(opTuple)
	p.WriteByte(opBinPersID)
	p.int(c.offset)
	p.ints(c.size)
	p.ints(c.stride)
	p.WriteByte(opNewFalse)
	p.orderedDict()
	if c.dtype != "" {
		p.global("torch", c.dtype)
	}
	p.WriteByte(opTuple)
	p.WriteByte(opReduce)
}

// craftTorch zips a data.pkl holding the object obj writes, under
// archive/, with the given storages and any extra files.
func craftTorch(t *testing.T, obj func(*pickler), storages map[string][]byte, extra map[string]string) []byte {
	t.Helper()
	var p pickler
	p.Write([]byte{opProto, 2})
	obj(&p)
	p.WriteByte(opStop)
	files := map[string][]byte{"archive/data.pkl": p.Bytes(), "archive/version": []byte("3\n")}
	order := []string{"archive/data.pkl"}
	for key, b := range storages {
		files["archive/data/"+key] = b
		order = append(order, "archive/data/"+key)
	}
	for name, b := range extra {
		files[name] = []byte(b)
		order = append(order, name)
	}
	slices.Sort(order[1:])
	return torchZip(t, append(order, "archive/version"), files)
}

// stateDict writes an OrderedDict of name, value pairs (alternating: a
// string, then the function that writes the value).
func stateDict(pairs ...any) func(*pickler) {
	return func(p *pickler) {
		p.orderedDict()
		p.WriteByte(opMark)
		for i := 0; i < len(pairs); i += 2 {
			p.str(pairs[i].(string))
			pairs[i+1].(func(*pickler))(p)
		}
		p.WriteByte(opSetItems)
	}
}

func tensorValue(c craftTensor) func(*pickler) { return func(p *pickler) { p.tensor(c) } }

// f32Storage holds float32 0, 1, 2... n-1.
func f32Storage(n int) []byte {
	b := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i)))
	}
	return b
}

// f32View is a view of FloatStorage "0" of numel elements.
func f32View(numel, offset int64, size, stride []int64) func(*pickler) {
	return tensorValue(craftTensor{class: "FloatStorage", key: "0", numel: numel, offset: offset, size: size, stride: stride})
}

func TestTorchCraftedGood(t *testing.T) {
	storage := map[string][]byte{"0": f32Storage(100)}
	for _, tc := range []struct {
		name     string
		obj      func(*pickler)
		storages map[string][]byte
		want     map[string]TorchTensor
	}{
		{
			// A (2, 3) view at offset 5 with strides (10, 3): 5 8 11 / 15 18 21.
			name: "strided", obj: stateDict("w", f32View(100, 5, []int64{2, 3}, []int64{10, 3})), storages: storage,
			want: map[string]TorchTensor{"w": {DType: "F32", Shape: []int{2, 3},
				Data: f32Data(5, 8, 11, 15, 18, 21)}},
		},
		{
			// torch 2.x: a dtype without a legacy storage class.
			name: "v3 uint16",
			obj: stateDict("u", tensorValue(craftTensor{class: "UntypedStorage", key: "0", numel: 8,
				size: []int64{2, 2}, stride: []int64{1, 2}, dtype: "uint16"})),
			storages: map[string][]byte{"0": {1, 0, 2, 0, 3, 0, 4, 0}},
			want:     map[string]TorchTensor{"u": {DType: "U16", Shape: []int{2, 2}, Data: []byte{1, 0, 3, 0, 2, 0, 4, 0}}},
		},
		{
			// Python 2's OrderedDict([('w', tensor)]): the items are the argument.
			name: "python 2 OrderedDict",
			obj: func(p *pickler) {
				p.global("collections", "OrderedDict")
				p.WriteByte(opEmptyList)
				p.str("w")
				f32View(100, 1, []int64{2}, []int64{1})(p)
				p.Write([]byte{opTuple2, opAppend, opTuple1, opReduce})
			},
			storages: storage,
			want:     map[string]TorchTensor{"w": {DType: "F32", Shape: []int{2}, Data: f32Data(1, 2)}},
		},
		{
			// A broadcast (stride 0) view is expanded.
			name: "broadcast", obj: stateDict("b", f32View(100, 7, []int64{3, 1}, []int64{0, 1})), storages: storage,
			want: map[string]TorchTensor{"b": {DType: "F32", Shape: []int{3, 1}, Data: f32Data(7, 7, 7)}},
		},
		{
			// The offset of an empty view is never used.
			name: "empty", obj: stateDict("e", f32View(100, 1000, []int64{0, 5}, []int64{5, 1})), storages: storage,
			want: map[string]TorchTensor{"e": {DType: "F32", Shape: []int{0, 5}, Data: []byte{}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := readTorchBytes(craftTorch(t, tc.obj, tc.storages, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func f32Data(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func TestTorchCraftedBad(t *testing.T) {
	storage := map[string][]byte{"0": f32Storage(100)}
	weight := func(v func(*pickler)) func(*pickler) { return stateDict("fc1.weight", v) }
	for _, tc := range []struct {
		name     string
		obj      func(*pickler)
		storages map[string][]byte
		extra    map[string]string
		want     []string
	}{
		{name: "offset out of range", obj: weight(f32View(100, 97, []int64{4}, []int64{1})),
			want: []string{`pack: crafted.pt: tensor "fc1.weight": storage "0" has 100 elements, the tensor needs 101 (offset 97, size (4,), stride (1,))`}},
		{name: "size out of range", obj: weight(f32View(100, 0, []int64{4864000}, []int64{1})),
			want: []string{`tensor "fc1.weight": storage "0" has 100 elements, the tensor needs 4864000`}},
		{name: "stride out of range", obj: weight(f32View(100, 0, []int64{2, 3}, []int64{99, 1})),
			want: []string{`tensor "fc1.weight": storage "0" has 100 elements, the tensor needs 102 (offset 0, size (2, 3), stride (99, 1))`}},
		{name: "stride past the storage", obj: weight(f32View(100, 0, []int64{2}, []int64{1000})),
			want: []string{`tensor "fc1.weight": storage "0" has 100 elements, stride (1000,) steps past it`}},
		{name: "overflow", obj: weight(f32View(1<<48, 0, []int64{1 << 24, 1 << 24}, []int64{1 << 48, 1 << 48})),
			want: []string{`tensor "fc1.weight": offset 0, size (16777216, 16777216) and stride (281474976710656, 281474976710656) overflow`}},
		{name: "negative stride", obj: weight(f32View(100, 0, []int64{2}, []int64{-1})),
			want: []string{`tensor "fc1.weight": bad size (2,) or stride (-1,)`}},
		{name: "negative offset", obj: weight(f32View(100, -1, []int64{2}, []int64{1})),
			want: []string{`tensor "fc1.weight": bad storage offset -1`}},
		{name: "rank mismatch", obj: weight(f32View(100, 0, []int64{2}, []int64{1, 1})),
			want: []string{"size and stride are not tuples of one length"}},
		{name: "short storage", obj: weight(f32View(100, 0, []int64{2}, []int64{1})), storages: map[string][]byte{"0": f32Storage(99)},
			want: []string{`tensor "fc1.weight": storage "0": archive/data/0 holds 396 bytes, a FloatStorage of 100 elements needs 400`}},
		{name: "complex", obj: weight(tensorValue(craftTensor{class: "ComplexFloatStorage", key: "0", numel: 50, size: []int64{}, stride: []int64{}})),
			want: []string{"archive/data.pkl: opcode 0x51 at offset", "persistent id: unsupported storage class torch.ComplexFloatStorage"}},
		{name: "not a tensor", obj: stateDict("epoch", func(p *pickler) { p.int(3) }),
			want: []string{`tensor "epoch": value is an int, not a tensor`}},
		{name: "checkpoint", obj: stateDict("state_dict", func(p *pickler) { p.WriteByte(opEmptyDict) }),
			want: []string{`tensor "state_dict": value is a dict, not a tensor (a training checkpoint? save model.state_dict() itself)`}},
		{name: "duplicate", obj: stateDict("w", f32View(100, 0, nil, nil), "w", f32View(100, 1, nil, nil)),
			want: []string{`tensor "w" appears twice`}},
		{name: "two classes", obj: stateDict("w", f32View(100, 0, nil, nil),
			"n", tensorValue(craftTensor{class: "LongStorage", key: "0", numel: 50, size: []int64{}, stride: []int64{}})),
			want: []string{`tensor "n": storage "0" is a LongStorage of 50 elements here, a FloatStorage of 100 before`}},
		{name: "quantized", obj: stateDict("q", func(p *pickler) {
			p.global("torch._utils", "_rebuild_qtensor")
			p.Write([]byte{opEmptyTuple, opReduce})
		}), want: []string{`tensor "q": quantized tensors are not supported`}},
		{name: "broadcast bomb", obj: weight(f32View(100, 0, []int64{1 << 40}, []int64{0})),
			want: []string{`tensor "fc1.weight": copying its 4398046511104 bytes out of storage "0" would take the tensors past 8 times the file's size`}},
		{name: "tied bomb", obj: func(p *pickler) {
			// 200 names for one 400 kB tensor (BINGET of the memoised call).
			p.orderedDict()
			p.WriteByte(opMark)
			for i := range 200 {
				p.str(fmt.Sprint("w", i))
				if i == 0 {
					f32View(100000, 0, []int64{100000}, []int64{1})(p)
					p.Write([]byte{opBinPut, 0})
				} else {
					p.Write([]byte{opBinGet, 0})
				}
			}
			p.WriteByte(opSetItems)
		}, storages: map[string][]byte{"0": f32Storage(100000)},
			want: []string{`tensor "w`, `copying its 400000 bytes out of storage "0" would take the tensors past 8 times`}},
		{name: "a storage", obj: stateDict("s", func(p *pickler) {
			p.WriteByte(opMark)
			p.str("storage")
			p.global("torch", "FloatStorage")
			p.str("0")
			p.str("cpu")
			p.int(100)
			p.Write([]byte{opTuple, opBinPersID})
		}), want: []string{`tensor "s": value is a storage (torch.FloatStorage), not a tensor`}},
		{name: "v3 unknown dtype", obj: stateDict("c", tensorValue(craftTensor{class: "UntypedStorage", key: "0", numel: 400,
			size: []int64{}, stride: []int64{}, dtype: "complex64"})),
			want: []string{`tensor "c": unsupported dtype torch.complex64`}},
		{name: "big endian", obj: weight(f32View(100, 0, nil, nil)), extra: map[string]string{"archive/byteorder": "big"},
			want: []string{`byteorder is "big" (written on a big-endian machine?): only little-endian files are supported`}},
		{name: "a list", obj: func(p *pickler) { p.WriteByte(opEmptyList) },
			want: []string{"archive/data.pkl holds a list, not a state_dict"}},
		{name: "a single tensor", obj: f32View(100, 0, nil, nil),
			want: []string{"archive/data.pkl holds a single tensor, not a state_dict"}},
		{name: "text persistent id", obj: func(p *pickler) { p.WriteString("P0\n") },
			want: []string{"persistent id: a str is not a 5-tuple"}},
		{name: "unknown opcode", obj: func(p *pickler) { p.WriteByte(0xff) },
			want: []string{"archive/data.pkl: opcode 0xff at offset 2: unsupported opcode: " + ErrBadTorchFile.Error()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storages := tc.storages
			if storages == nil {
				storages = storage
			}
			_, _, err := readTorchBytes(craftTorch(t, tc.obj, storages, tc.extra))
			wantTorchError(t, err, tc.want...)
		})
	}
}

func TestTorchNoDataPkl(t *testing.T) {
	b := torchZip(t, []string{"archive/version", "archive/sub/data.pkl"}, map[string][]byte{
		"archive/version": []byte("3\n"), "archive/sub/data.pkl": {opProto, 2, opNone, opStop}})
	_, _, err := readTorchBytes(b)
	wantTorchError(t, err, "no <folder>/data.pkl entry")
}

// FuzzReadTorch fuzzes data.pkl (zipping each input, so the CRC never
// hides the pickle) with the storages of views.pt: a success must give
// tensors whose data matches their shapes.
func FuzzReadTorch(f *testing.F) {
	path := filepath.Join("testdata", "torch", "views.pt")
	zr, err := zip.OpenReader(path)
	if err != nil {
		f.Fatal(err)
	}
	files := map[string][]byte{}
	var order []string
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			f.Fatal(err)
		}
		files[zf.Name], _ = io.ReadAll(rc)
		rc.Close()
		order = append(order, zf.Name)
	}
	zr.Close()
	f.Add(files["views/data.pkl"])
	f.Fuzz(func(t *testing.T, pkl []byte) {
		files := maps.Clone(files)
		files["views/data.pkl"] = pkl
		names, tensors, err := readTorchBytes(torchZip(t, order, files))
		if err != nil {
			if !errors.Is(err, ErrBadTorchFile) {
				t.Fatalf("error %v does not wrap ErrBadTorchFile", err)
			}
			return
		}
		sizes := map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
			"U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
		for _, name := range names {
			tt := tensors[name]
			n, ok := elementCount(tt.Shape)
			if !ok || sizes[tt.DType] == 0 || uint64(len(tt.Data)) != n*uint64(sizes[tt.DType]) {
				t.Fatalf("tensor %q: %s %v with %d bytes", name, tt.DType, tt.Shape, len(tt.Data))
			}
		}
	})
}
