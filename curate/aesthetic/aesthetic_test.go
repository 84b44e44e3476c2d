package aesthetic

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/curate/safetensors"
)

// expected is testdata/expected.json, written by
// curate/vit/testdata/reference.py.
type expected struct {
	Small struct {
		Inputs  [][]float32 `json:"inputs"`
		Float64 []float64   `json:"float64"`
		Float32 []float64   `json:"float32"`
	} `json:"small"`
	Full struct {
		Scales  []float32 `json:"scales"`
		Input   []float32 `json:"input"`
		Float64 float64   `json:"float64"`
		Float32 float64   `json:"float32"`
	} `json:"full"`
}

func readExpected(t *testing.T) expected {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// hashedWeights is reference.py's hashed(): n values in [-scale/2,
// scale/2) from an integer hash, every step exact in float32.
func hashedWeights(n int, seed uint32, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		h := uint32(i)*2654435761 + seed*40503
		h ^= h >> 15
		h *= 2246822519
		h ^= h >> 13
		v[i] = (float32(h>>8)/(1<<24) - 0.5) * scale
	}
	return v
}

// writeMLP writes an MLP of the given widths with hashed weights under
// prefix+"layers.{0,2,4,6,7}" and returns its path.
func writeMLP(t *testing.T, prefix string, widths []int, scales []float32, edit func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	var ts []safetensors.Tensor
	for k, idx := range layerIndices {
		in, out := widths[k], widths[k+1]
		name := prefix + "layers." + strconv.Itoa(idx) + "."
		w, _ := safetensors.FloatTensor(name+"weight", "F32", []int{out, in}, hashedWeights(out*in, uint32(2*k+1), scales[k]))
		b, _ := safetensors.FloatTensor(name+"bias", "F32", []int{out}, hashedWeights(out, uint32(2*k+2), scales[k]))
		ts = append(ts, w, b)
	}
	if edit != nil {
		ts = edit(ts)
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := safetensors.Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSmallReference scores the narrow MLP reference.py wrote (names
// prefixed "mlp.") against numpy (float64) and torch (float32).
func TestSmallReference(t *testing.T) {
	e := readExpected(t)
	p, err := Load(filepath.Join("testdata", "small_mlp.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if p.InputDim() != 32 {
		t.Errorf("InputDim() = %d, want 32", p.InputDim())
	}
	for i, in := range e.Small.Inputs {
		got := float64(p.Score(in))
		if d := math.Abs(got - e.Small.Float64[i]); d > 1e-6 {
			t.Errorf("input %d: score %.9g, numpy float64 %.9g", i, got, e.Small.Float64[i])
		}
		if d := math.Abs(got - e.Small.Float32[i]); d > 1e-5 {
			t.Errorf("input %d: score %.9g, torch float32 %.9g", i, got, e.Small.Float32[i])
		}
	}
}

// TestFullSizeReference scores a 768-1024-128-64-16-1 MLP, named as the
// LAION file names it, whose weights reference.py derived from the same
// integer hash.
func TestFullSizeReference(t *testing.T) {
	e := readExpected(t)
	if len(e.Full.Scales) != 5 || len(e.Full.Input) != 768 {
		t.Fatalf("expected.json: %d scales and %d inputs, want 5 and 768", len(e.Full.Scales), len(e.Full.Input))
	}
	p, err := Load(writeMLP(t, "", []int{768, 1024, 128, 64, 16, 1}, e.Full.Scales, nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.InputDim() != 768 {
		t.Errorf("InputDim() = %d, want 768", p.InputDim())
	}
	got := float64(p.Score(e.Full.Input))
	t.Logf("score %.9g: numpy float64 %.9g, torch float32 %.9g", got, e.Full.Float64, e.Full.Float32)
	if math.Abs(got-e.Full.Float64) > 1e-6 || math.Abs(got-e.Full.Float32) > 1e-5 {
		t.Errorf("score %.9g, want numpy float64 %.9g (±1e-6) and torch float32 %.9g (±1e-5)", got, e.Full.Float64, e.Full.Float32)
	}
	if s := p.Score(e.Full.Input[:100]); !math.IsNaN(float64(s)) {
		t.Errorf("Score of 100 values = %g, want NaN", s)
	}
	// A folder holding model.safetensors loads too.
	if _, err := Load(filepath.Dir(writeMLP(t, "", []int{4, 3, 3, 2, 2, 1}, e.Full.Scales, nil))); err != nil {
		t.Errorf("Load of a folder: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	scales := []float32{1, 1, 1, 1, 1}
	widths := []int{8, 6, 5, 4, 3, 1}
	replace := func(name string, shape []int) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			n := 1
			for _, d := range shape {
				n *= d
			}
			for i := range ts {
				if ts[i].Name == name {
					ts[i], _ = safetensors.FloatTensor(name, "F32", shape, make([]float32, n))
				}
			}
			return ts
		}
	}
	drop := func(name string) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == name {
					return append(ts[:i], ts[i+1:]...)
				}
			}
			return ts
		}
	}
	for _, c := range []struct {
		name   string
		widths []int
		edit   func([]safetensors.Tensor) []safetensors.Tensor
		want   string
	}{
		{"chain broken", widths, replace("layers.4.weight", []int{4, 7}), "model.safetensors: layers.4.weight has shape [4 7], want [out 5]"},
		{"two outputs", []int{8, 6, 5, 4, 3, 2}, nil, "layers.7.weight has shape [2 3], want [1 3]"},
		{"bias", widths, replace("layers.2.bias", []int{6}), "layers.2.bias has shape [6], want [5]"},
		{"missing", widths, drop("layers.6.bias"), "model.safetensors: no tensor layers.6.bias"},
		{"rank", widths, replace("layers.0.weight", []int{48}), "layers.0.weight has shape [48], want [out in]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeMLP(t, "", c.widths, scales, c.edit))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "aesthetic: ") {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.safetensors")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}
