package transnet

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipfs/clipfs/curate/safetensors"
	"github.com/clipfs/clipfs/pack"
)

// The network's fixed geometry, that of NeMo's _TransNetV2 (F=16, L=3, S=2,
// D=1024): frames of 27×48 RGB, three stacks of two dilated convolution
// blocks with 16, 32 and 64 filters per dilation, each stack halving the
// picture, then 3×6 pixels of 256 channels per frame.
const (
	Width, Height = 48, 27
	FrameBytes    = Width * Height * 3

	stacks       = 3
	blocksPer    = 2
	baseFilters  = 16
	dilations    = 4 // 1, 2, 4, 8
	lookup       = 101
	simDim       = 128
	histDim      = 128
	hidden       = 1024
	histBins     = 512
	bnEpsilon    = 1e-3
	normEpsilon  = 1e-12
	featureDim   = 4 * baseFilters << (stacks - 1) * 3 * 6 // 4608
	fc1Inputs    = histDim + simDim + featureDim           // 4864
	simInputs    = 4 * baseFilters * (1 + 2 + 4)           // 448: the stacks' channels
	spatialTaps  = 9                                       // a 1×3×3 kernel
	temporalTaps = 3                                       // a 3×1×1 kernel
)

// Block is one DilatedDCNNV2: four (2+1)D convolutions of the same input,
// with temporal dilations 1, 2, 4 and 8, concatenated and batch-normalised.
type Block struct {
	In, Filters int
	// Spatial[d] is the 1×3×3 convolution of branch d, [2F, In, 1, 3, 3];
	// Temporal[d] the 3×1×1 one, [F, 2F, 3, 1, 1]. Neither has a bias.
	Spatial, Temporal [dilations][]float32
	// Batch norm over the 4F concatenated channels.
	Gamma, Beta, Mean, Var []float32
}

// Model is TransNetV2's weights, in PyTorch's layouts.
type Model struct {
	Blocks [stacks][blocksPer]Block
	// frame_sim_layer: projection [128, 448] + bias, fc [128, 101] + bias.
	SimProjW, SimProjB, SimFCW, SimFCB []float32
	// color_hist_layer.fc [128, 101] + bias.
	HistFCW, HistFCB []float32
	// fc1 [1024, 4864] + bias; cls_layer1 [1, 1024] + bias.
	FC1W, FC1B, ClsW, ClsB []float32
}

// tensorFile is a weights file's tensors by name.
type tensorFile interface {
	shape(name string) ([]int, bool)
	float32s(name string) ([]float32, error)
}

// Load reads TransNetV2's weights from a PyTorch state_dict (.pth, .pt, as
// torch.save writes it) or a safetensors file with the same names, checking
// every tensor's shape. Floats may be F32, F16 or BF16.
func Load(path string) (*Model, error) {
	file := filepath.Base(path)
	var tf tensorFile
	head := make([]byte, 4)
	if f, err := os.Open(path); err != nil {
		return nil, fmt.Errorf("transnet: %w", err)
	} else {
		_, err = f.Read(head)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("transnet: %s: %w", file, err)
		}
	}
	if string(head) == "PK\x03\x04" { // a zip archive: torch.save's format
		_, tensors, err := pack.ReadTorchStateDict(path)
		if err != nil {
			return nil, fmt.Errorf("transnet: %w", err)
		}
		tf = torchFile(tensors)
	} else {
		f, err := safetensors.Open(path)
		if err != nil {
			if !strings.HasSuffix(path, ".safetensors") {
				return nil, fmt.Errorf("transnet: %s is neither a PyTorch state_dict (torch.save's zip format) nor a safetensors file: %w", file, err)
			}
			return nil, fmt.Errorf("transnet: %w", err)
		}
		defer f.Close()
		tf = stFile{f}
	}
	l := &loader{tf: tf, file: file}
	m := l.model()
	if l.err != nil {
		return nil, l.err
	}
	return m, nil
}

// loader reads tensors, keeping the first error.
type loader struct {
	tf   tensorFile
	file string
	err  error
}

// tensor reads tensor name as float32, checking its shape.
func (l *loader) tensor(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	got, ok := l.tf.shape(name)
	if !ok {
		l.err = fmt.Errorf("transnet: %s: no tensor %s (is it TransNetV2's PyTorch state_dict?)", l.file, name)
		return nil
	}
	if fmt.Sprint(got) != fmt.Sprint(shape) {
		l.err = fmt.Errorf("transnet: %s: %s has shape %v, want %v", l.file, name, got, shape)
		return nil
	}
	v, err := l.tf.float32s(name)
	if err != nil {
		l.err = fmt.Errorf("transnet: %s: %s: %w", l.file, name, err)
		return nil
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			l.err = fmt.Errorf("transnet: %s: %s[%d] is %v", l.file, name, i, x)
			return nil
		}
	}
	return v
}

func (l *loader) model() *Model {
	m := &Model{}
	in := 3
	for s := range stacks {
		f := baseFilters << s
		for b := range blocksPer {
			blk := &m.Blocks[s][b]
			blk.In, blk.Filters = in, f
			p := fmt.Sprintf("SDDCNN.%d.DDCNN.%d.", s, b)
			for d := range dilations {
				c := fmt.Sprintf("%sConv3D_%d.layers.", p, 1<<d)
				blk.Spatial[d] = l.tensor(c+"0.weight", 2*f, in, 1, 3, 3)
				blk.Temporal[d] = l.tensor(c+"1.weight", f, 2*f, 3, 1, 1)
			}
			blk.Gamma = l.tensor(p+"bn.weight", 4*f)
			blk.Beta = l.tensor(p+"bn.bias", 4*f)
			blk.Mean = l.tensor(p+"bn.running_mean", 4*f)
			blk.Var = l.tensor(p+"bn.running_var", 4*f)
			for i, v := range blk.Var {
				if l.err == nil && v < 0 {
					l.err = fmt.Errorf("transnet: %s: %sbn.running_var[%d] is negative (%g)", l.file, p, i, v)
				}
			}
			in = 4 * f
		}
	}
	m.SimProjW = l.tensor("frame_sim_layer.projection.weight", simDim, simInputs)
	m.SimProjB = l.tensor("frame_sim_layer.projection.bias", simDim)
	m.SimFCW = l.tensor("frame_sim_layer.fc.weight", simDim, lookup)
	m.SimFCB = l.tensor("frame_sim_layer.fc.bias", simDim)
	m.HistFCW = l.tensor("color_hist_layer.fc.weight", histDim, lookup)
	m.HistFCB = l.tensor("color_hist_layer.fc.bias", histDim)
	m.FC1W = l.tensor("fc1.weight", hidden, fc1Inputs)
	m.FC1B = l.tensor("fc1.bias", hidden)
	m.ClsW = l.tensor("cls_layer1.weight", 1, hidden)
	m.ClsB = l.tensor("cls_layer1.bias", 1)
	return m
}

// stFile is a safetensors file.
type stFile struct{ f *safetensors.File }

func (s stFile) shape(name string) ([]int, bool) {
	_, shape, ok := s.f.Info(name)
	return shape, ok
}

func (s stFile) float32s(name string) ([]float32, error) {
	v, _, err := s.f.Float32(name)
	return v, err
}

// torchFile is a state_dict read by pack.
type torchFile map[string]pack.TorchTensor

func (t torchFile) shape(name string) ([]int, bool) {
	x, ok := t[name]
	return x.Shape, ok
}

func (t torchFile) float32s(name string) ([]float32, error) {
	x := t[name]
	return safetensors.DecodeFloat32(x.DType, x.Data)
}
