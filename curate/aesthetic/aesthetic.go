package aesthetic

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/clipfs/clipfs/curate/safetensors"
)

// layerIndices are the nn.Sequential indices of the Linear layers; the
// others are Dropouts.
var layerIndices = []int{0, 2, 4, 6, 7}

// Predictor is a loaded aesthetic MLP, folded into an affine map.
type Predictor struct {
	weight []float64 // [input]
	bias   float64
}

// Load reads a predictor from path: a .safetensors file, or a folder
// holding model.safetensors (as on the HuggingFace hub).
func Load(path string) (*Predictor, error) {
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("aesthetic: %w", err)
	} else if st.IsDir() {
		path = filepath.Join(path, "model.safetensors")
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("aesthetic: %w", err)
	}
	defer f.Close()
	file := filepath.Base(path)
	prefix := ""
	if _, _, ok := f.Info("layers.0.weight"); !ok {
		if _, _, ok := f.Info("mlp.layers.0.weight"); ok {
			prefix = "mlp."
		}
	}
	type dense struct {
		w, b []float32
		out  int
		in   int
	}
	var layers []dense
	for i, idx := range layerIndices {
		name := fmt.Sprintf("%slayers.%d.", prefix, idx)
		w, shape, err := f.Float32(name + "weight")
		if err != nil {
			return nil, fmt.Errorf("aesthetic: %s: %s", file, missing(f, name+"weight", err))
		}
		last := i == len(layerIndices)-1
		if len(shape) != 2 || i > 0 && shape[1] != layers[i-1].out || last && shape[0] != 1 {
			want := "[out in]"
			switch {
			case last:
				want = fmt.Sprintf("[1 %d]", layers[i-1].out)
			case i > 0:
				want = fmt.Sprintf("[out %d]", layers[i-1].out)
			}
			return nil, fmt.Errorf("aesthetic: %s: %sweight has shape %v, want %s", file, name, shape, want)
		}
		b, bshape, err := f.Float32(name + "bias")
		if err != nil {
			return nil, fmt.Errorf("aesthetic: %s: %s", file, missing(f, name+"bias", err))
		}
		if !slices.Equal(bshape, shape[:1]) {
			return nil, fmt.Errorf("aesthetic: %s: %sbias has shape %v, want %v", file, name, bshape, shape[:1])
		}
		layers = append(layers, dense{w: w, b: b, out: shape[0], in: shape[1]})
	}
	// Fold from the output back: score = v·h + c, where h is the input of
	// the layer reached so far; each step turns v·(W·x + b) + c into
	// (v·W)·x + (v·b + c).
	v, c := []float64{1}, 0.0
	for i := len(layers) - 1; i >= 0; i-- {
		l := layers[i]
		next := make([]float64, l.in)
		for o, vo := range v {
			c += vo * float64(l.b[o])
			for k, w := range l.w[o*l.in : (o+1)*l.in] {
				next[k] += vo * float64(w)
			}
		}
		v = next
	}
	return &Predictor{weight: v, bias: c}, nil
}

// missing words a read error, saying plainly when the tensor is absent.
func missing(f *safetensors.File, name string, err error) string {
	if _, _, ok := f.Info(name); !ok {
		return "no tensor " + name
	}
	return err.Error()
}

// InputDim is the width of the embeddings the predictor takes (768 for the
// LAION weights, CLIP ViT-L/14's projection).
func (p *Predictor) InputDim() int { return len(p.weight) }

// Score is the predicted aesthetic score of an image from its CLIP image
// embedding, which the caller must have L2-normalised (as NeMo Curator
// does before the MLP). An embedding of a length other than InputDim
// scores NaN.
func (p *Predictor) Score(embedding []float32) float32 {
	if len(embedding) != len(p.weight) {
		return float32(math.NaN())
	}
	s := p.bias
	for i, v := range embedding {
		s += p.weight[i] * float64(v)
	}
	return float32(s)
}
