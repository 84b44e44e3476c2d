package vit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/clipfs/clipfs/curate/safetensors"
)

// Tensor names of HuggingFace's CLIPVisionModelWithProjection; a full
// CLIPModel checkpoint holds the same names next to its text_model.* ones,
// which Load ignores.
const (
	prefix      = "vision_model."
	layerPrefix = prefix + "encoder.layers."
	projName    = "visual_projection.weight"
)

// hfVisionConfig is the part of a CLIPVisionConfig Load reads; nil fields
// were left out of the JSON (HuggingFace omits defaults in nested configs).
type hfVisionConfig struct {
	HiddenSize        *int     `json:"hidden_size"`
	IntermediateSize  *int     `json:"intermediate_size"`
	NumHiddenLayers   *int     `json:"num_hidden_layers"`
	NumAttentionHeads *int     `json:"num_attention_heads"`
	PatchSize         *int     `json:"patch_size"`
	ImageSize         *int     `json:"image_size"`
	ProjectionDim     *int     `json:"projection_dim"`
	LayerNormEps      *float64 `json:"layer_norm_eps"`
	HiddenAct         *string  `json:"hidden_act"`
	NumChannels       *int     `json:"num_channels"`
}

// hfConfig is a config.json: a CLIPVisionConfig at the top level, or a
// CLIPConfig with it under "vision_config" and projection_dim at the top.
type hfConfig struct {
	hfVisionConfig
	VisionConfig *hfVisionConfig `json:"vision_config"`
}

// Load reads a CLIP vision model with projection from path: a folder as
// HuggingFace publishes it (config.json, which may be absent, and
// model.safetensors) or a single .safetensors file. The weights may be F32,
// F16 or BF16. Whatever the config leaves out is inferred from the tensors'
// shapes (the number of heads as hidden/64, the layer norm epsilon as 1e-5);
// every tensor is then checked against the config.
func Load(path string) (*Model, error) {
	weights, cfgPath := path, ""
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	} else if st.IsDir() {
		weights = filepath.Join(path, "model.safetensors")
		if _, err := os.Stat(weights); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("vit: %s has no model.safetensors (only safetensors weights are read)", path)
		}
		cfgPath = filepath.Join(path, "config.json")
		if _, err := os.Stat(cfgPath); errors.Is(err, fs.ErrNotExist) {
			cfgPath = ""
		}
	}
	var vc hfVisionConfig
	if cfgPath != "" {
		var err error
		if vc, err = readConfig(cfgPath); err != nil {
			return nil, err
		}
	}
	f, err := safetensors.Open(weights)
	if err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	defer f.Close()
	l := &loader{f: f, file: filepath.Base(weights)}
	cfg, err := l.config(vc)
	if err != nil {
		return nil, err
	}
	return l.model(cfg)
}

// readConfig reads the vision part of a config.json.
func readConfig(path string) (hfVisionConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return hfVisionConfig{}, fmt.Errorf("vit: %w", err)
	}
	var c hfConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return hfVisionConfig{}, fmt.Errorf("vit: %s: %v", filepath.Base(path), err)
	}
	vc := c.hfVisionConfig
	if c.VisionConfig != nil { // a CLIPConfig: projection_dim is the top level's
		vc = *c.VisionConfig
		if c.ProjectionDim != nil {
			vc.ProjectionDim = c.ProjectionDim
		}
	}
	if vc.HiddenAct != nil && *vc.HiddenAct != "quick_gelu" {
		return vc, fmt.Errorf("vit: %s: hidden_act %q is not supported (CLIP uses quick_gelu)", filepath.Base(path), *vc.HiddenAct)
	}
	if vc.NumChannels != nil && *vc.NumChannels != 3 {
		return vc, fmt.Errorf("vit: %s: num_channels %d is not supported (want 3)", filepath.Base(path), *vc.NumChannels)
	}
	return vc, nil
}

// loader reads a model's tensors from a safetensors file, keeping the
// first error.
type loader struct {
	f    *safetensors.File
	file string // the file's base name, for errors
	err  error
}

// dims returns the shape of tensor name, or an error when it is missing.
func (l *loader) dims(name string) ([]int, error) {
	_, shape, ok := l.f.Info(name)
	if !ok {
		return nil, fmt.Errorf("vit: %s: no tensor %s", l.file, name)
	}
	return shape, nil
}

// config completes vc from the tensors' shapes.
func (l *loader) config(vc hfVisionConfig) (Config, error) {
	pick := func(v *int, infer func() (int, error)) (int, error) {
		if v != nil {
			return *v, nil
		}
		return infer()
	}
	dim := func(name string, rank, i int) func() (int, error) {
		return func() (int, error) {
			shape, err := l.dims(name)
			if err != nil {
				return 0, err
			}
			if len(shape) != rank {
				return 0, fmt.Errorf("vit: %s: %s has shape %v, want %d dimensions", l.file, name, shape, rank)
			}
			return shape[i], nil
		}
	}
	var c Config
	var err error
	steps := []struct {
		dst   *int
		v     *int
		infer func() (int, error)
	}{
		{&c.HiddenSize, vc.HiddenSize, dim(prefix+"embeddings.class_embedding", 1, 0)},
		{&c.PatchSize, vc.PatchSize, dim(prefix+"embeddings.patch_embedding.weight", 4, 3)},
		{&c.IntermediateSize, vc.IntermediateSize, dim(layerPrefix+"0.mlp.fc1.weight", 2, 0)},
		{&c.ProjectionDim, vc.ProjectionDim, dim(projName, 2, 0)},
		{&c.Layers, vc.NumHiddenLayers, func() (int, error) { return l.countLayers(), nil }},
		{&c.Heads, vc.NumAttentionHeads, func() (int, error) { return max(1, c.HiddenSize/64), nil }},
		{&c.ImageSize, vc.ImageSize, l.imageSize(&c)},
	}
	for _, s := range steps {
		if *s.dst, err = pick(s.v, s.infer); err != nil {
			return c, err
		}
	}
	c.LayerNormEps = 1e-5
	if vc.LayerNormEps != nil {
		c.LayerNormEps = float32(*vc.LayerNormEps)
	}
	if n := l.countLayers(); n != c.Layers {
		return c, fmt.Errorf("vit: %s has %d encoder layers, the config says %d", l.file, n, c.Layers)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w (%s)", err, l.file)
	}
	return c, nil
}

// countLayers is one more than the highest encoder layer index of the file.
func (l *loader) countLayers() int {
	n := 0
	for _, name := range l.f.Names() {
		if rest, ok := strings.CutPrefix(name, layerPrefix); ok {
			idx, _, _ := strings.Cut(rest, ".")
			if i, err := strconv.Atoi(idx); err == nil && i >= n {
				n = i + 1
			}
		}
	}
	return n
}

// imageSize infers the input side from the position embeddings: a square
// grid of patches plus the class token.
func (l *loader) imageSize(c *Config) func() (int, error) {
	return func() (int, error) {
		name := prefix + "embeddings.position_embedding.weight"
		shape, err := l.dims(name)
		if err != nil {
			return 0, err
		}
		g := 0
		if len(shape) == 2 && shape[0] > 1 {
			g = int(math.Round(math.Sqrt(float64(shape[0] - 1))))
		}
		if g == 0 || g*g != shape[0]-1 {
			return 0, fmt.Errorf("vit: %s: %s has shape %v, not a square grid of patches plus the class token", l.file, name, shape)
		}
		return g * c.PatchSize, nil
	}
}

// tensor reads tensor name as float32, checking its shape.
func (l *loader) tensor(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	got, err := l.dims(name)
	if err != nil {
		l.err = err
		return nil
	}
	if fmt.Sprint(got) != fmt.Sprint(shape) {
		l.err = fmt.Errorf("vit: %s: %s has shape %v, want %v", l.file, name, got, shape)
		return nil
	}
	v, _, err := l.f.Float32(name)
	if err != nil {
		l.err = fmt.Errorf("vit: %w", err)
	}
	return v
}

// model reads every tensor of a model of shape c.
func (l *loader) model(c Config) (*Model, error) {
	h, in, p := c.HiddenSize, c.IntermediateSize, c.PatchSize
	m := &Model{Config: c}
	e := prefix + "embeddings."
	m.ClassEmb = l.tensor(e+"class_embedding", h)
	m.PatchW = l.tensor(e+"patch_embedding.weight", h, 3, p, p)
	m.PosEmb = l.tensor(e+"position_embedding.weight", c.Patches()+1, h)
	m.PreLNW = l.tensor(prefix+"pre_layrnorm.weight", h)
	m.PreLNB = l.tensor(prefix+"pre_layrnorm.bias", h)
	m.Layers = make([]Layer, c.Layers)
	for i := range m.Layers {
		n := layerPrefix + strconv.Itoa(i) + "."
		a := n + "self_attn."
		m.Layers[i] = Layer{
			LN1W: l.tensor(n+"layer_norm1.weight", h), LN1B: l.tensor(n+"layer_norm1.bias", h),
			QW: l.tensor(a+"q_proj.weight", h, h), QB: l.tensor(a+"q_proj.bias", h),
			KW: l.tensor(a+"k_proj.weight", h, h), KB: l.tensor(a+"k_proj.bias", h),
			VW: l.tensor(a+"v_proj.weight", h, h), VB: l.tensor(a+"v_proj.bias", h),
			OW: l.tensor(a+"out_proj.weight", h, h), OB: l.tensor(a+"out_proj.bias", h),
			LN2W: l.tensor(n+"layer_norm2.weight", h), LN2B: l.tensor(n+"layer_norm2.bias", h),
			FC1W: l.tensor(n+"mlp.fc1.weight", in, h), FC1B: l.tensor(n+"mlp.fc1.bias", in),
			FC2W: l.tensor(n+"mlp.fc2.weight", h, in), FC2B: l.tensor(n+"mlp.fc2.bias", h),
		}
	}
	m.PostLNW = l.tensor(prefix+"post_layernorm.weight", h)
	m.PostLNB = l.tensor(prefix+"post_layernorm.bias", h)
	m.Proj = l.tensor(projName, c.ProjectionDim, h)
	if l.err != nil {
		return nil, l.err
	}
	return m, nil
}

// RandomModel makes a model of shape c with deterministic random weights
// (a function of seed): matrices, embeddings and biases ~N(0, 0.02²), layer
// norm weights ~1 + N(0, 0.02²). It is for tests and benchmarks; c must be
// valid.
func RandomModel(c Config, seed int64) *Model {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636c6970))
	normal := func(n int, mean float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(mean + 0.02*rng.NormFloat64())
		}
		return v
	}
	h, in, p := c.HiddenSize, c.IntermediateSize, c.PatchSize
	m := &Model{
		Config:   c,
		PatchW:   normal(h*3*p*p, 0),
		ClassEmb: normal(h, 0),
		PosEmb:   normal((c.Patches()+1)*h, 0),
		PreLNW:   normal(h, 1), PreLNB: normal(h, 0),
		Layers: make([]Layer, c.Layers),
	}
	for i := range m.Layers {
		m.Layers[i] = Layer{
			LN1W: normal(h, 1), LN1B: normal(h, 0),
			QW: normal(h*h, 0), QB: normal(h, 0), KW: normal(h*h, 0), KB: normal(h, 0),
			VW: normal(h*h, 0), VB: normal(h, 0), OW: normal(h*h, 0), OB: normal(h, 0),
			LN2W: normal(h, 1), LN2B: normal(h, 0),
			FC1W: normal(in*h, 0), FC1B: normal(in, 0), FC2W: normal(h*in, 0), FC2B: normal(h, 0),
		}
	}
	m.PostLNW, m.PostLNB = normal(h, 1), normal(h, 0)
	m.Proj = normal(c.ProjectionDim*h, 0)
	return m
}
