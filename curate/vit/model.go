package vit

import (
	"errors"
	"fmt"
)

// Config is the shape of a CLIP vision tower with its projection.
type Config struct {
	HiddenSize       int     // width of the residual stream (768 for ViT-B, 1024 for ViT-L)
	IntermediateSize int     // width of the MLP (4 × hidden)
	Layers           int     // encoder layers
	Heads            int     // attention heads (head dim = hidden / heads)
	PatchSize        int     // pixels per patch side (32, 16, 14)
	ImageSize        int     // input side in pixels (224)
	ProjectionDim    int     // output embedding width (512 for ViT-B/32, 768 for ViT-L/14)
	LayerNormEps     float32 // 1e-5
}

// Patches is the number of patches per image; the sequence is Patches()+1
// tokens long (the class token first).
func (c Config) Patches() int { g := c.ImageSize / c.PatchSize; return g * g }

// Validate checks that the shape is usable: every size positive, the image
// a whole number of patches, the hidden size a whole number of heads.
func (c Config) Validate() error {
	for _, v := range []struct {
		name string
		n    int
	}{{"hidden size", c.HiddenSize}, {"intermediate size", c.IntermediateSize}, {"layers", c.Layers},
		{"heads", c.Heads}, {"patch size", c.PatchSize}, {"image size", c.ImageSize}, {"projection dim", c.ProjectionDim}} {
		if v.n <= 0 {
			return fmt.Errorf("vit: %s must be positive, got %d", v.name, v.n)
		}
	}
	if c.ImageSize%c.PatchSize != 0 {
		return fmt.Errorf("vit: image size %d is not a multiple of the patch size %d", c.ImageSize, c.PatchSize)
	}
	if c.HiddenSize%c.Heads != 0 {
		return fmt.Errorf("vit: hidden size %d is not a multiple of %d heads", c.HiddenSize, c.Heads)
	}
	if !(c.LayerNormEps > 0) {
		return fmt.Errorf("vit: layer norm epsilon must be positive, got %g", c.LayerNormEps)
	}
	return nil
}

// Layer is one encoder layer. Matrices are row-major in PyTorch's layout:
// a Linear weight is [out, in], so y = x·Wᵀ + b.
type Layer struct {
	LN1W, LN1B     []float32 // [hidden]
	QW, KW, VW, OW []float32 // [hidden, hidden]
	QB, KB, VB, OB []float32 // [hidden]
	LN2W, LN2B     []float32 // [hidden]
	FC1W           []float32 // [intermediate, hidden]
	FC1B           []float32 // [intermediate]
	FC2W           []float32 // [hidden, intermediate]
	FC2B           []float32 // [hidden]
}

// Model is a CLIP vision model with projection (HuggingFace's
// CLIPVisionModelWithProjection) in host memory, as float32.
type Model struct {
	Config           Config
	PatchW           []float32 // [hidden, 3, patch, patch]: the patch embedding (a conv without bias)
	ClassEmb         []float32 // [hidden]
	PosEmb           []float32 // [patches+1, hidden]
	PreLNW, PreLNB   []float32 // [hidden]
	Layers           []Layer
	PostLNW, PostLNB []float32 // [hidden]
	Proj             []float32 // [projection, hidden], no bias
}

// Runtime runs a model on one device. It is safe for use by one goroutine
// at a time; callers serialise or keep one per worker.
type Runtime interface {
	// Embed maps a batch of preprocessed images (each 3×S×S float32,
	// channel-major, S = Config.ImageSize, from Preprocess) to their image
	// embeddings (Config.ProjectionDim each, not normalised).
	Embed(images [][]float32) ([][]float32, error)
	// Device names where it runs: "cpu (N threads)" or "cuda:0 <GPU name>".
	Device() string
	// Close frees what the runtime holds (device memory).
	Close() error
}

// Devices a runtime can be asked for.
const (
	DeviceAuto = "auto" // CUDA when built with it and a GPU is present, else CPU
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
)

// ErrNoCUDA is returned for DeviceCUDA by a build without the cuda tag.
var ErrNoCUDA = errors.New("vit: this clipfs was built without CUDA (build with -tags cuda: make build-cuda)")

// newCUDA is set by the cuda build (runtime_cuda.go); nil otherwise.
// It fails when no driver or GPU is usable.
var newCUDA func(m *Model) (Runtime, error)

// NewRuntime prepares m to run on device (DeviceAuto, DeviceCPU or
// DeviceCUDA). Auto falls back to the CPU when CUDA is not built in or not
// usable; asking for CUDA explicitly fails instead.
func NewRuntime(m *Model, device string) (Runtime, error) {
	if err := m.Config.Validate(); err != nil {
		return nil, err
	}
	switch device {
	case DeviceCPU:
		return newCPU(m), nil
	case DeviceCUDA:
		if newCUDA == nil {
			return nil, ErrNoCUDA
		}
		return newCUDA(m)
	case DeviceAuto, "":
		if newCUDA != nil {
			if rt, err := newCUDA(m); err == nil {
				return rt, nil
			}
		}
		return newCPU(m), nil
	}
	return nil, fmt.Errorf("vit: device %q is not auto, cpu or cuda", device)
}
