package vit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/curate/safetensors"
)

// namedTensors lists m's tensors under HuggingFace's names.
func namedTensors(m *Model) []struct {
	name  string
	shape []int
	v     []float32
} {
	c := m.Config
	h, in, p := c.HiddenSize, c.IntermediateSize, c.PatchSize
	type nt = struct {
		name  string
		shape []int
		v     []float32
	}
	out := []nt{
		{prefix + "embeddings.class_embedding", []int{h}, m.ClassEmb},
		{prefix + "embeddings.patch_embedding.weight", []int{h, 3, p, p}, m.PatchW},
		{prefix + "embeddings.position_embedding.weight", []int{c.Patches() + 1, h}, m.PosEmb},
		{prefix + "pre_layrnorm.weight", []int{h}, m.PreLNW},
		{prefix + "pre_layrnorm.bias", []int{h}, m.PreLNB},
	}
	for i, l := range m.Layers {
		n := layerPrefix + strconv.Itoa(i) + "."
		a := n + "self_attn."
		out = append(out,
			nt{n + "layer_norm1.weight", []int{h}, l.LN1W}, nt{n + "layer_norm1.bias", []int{h}, l.LN1B},
			nt{a + "q_proj.weight", []int{h, h}, l.QW}, nt{a + "q_proj.bias", []int{h}, l.QB},
			nt{a + "k_proj.weight", []int{h, h}, l.KW}, nt{a + "k_proj.bias", []int{h}, l.KB},
			nt{a + "v_proj.weight", []int{h, h}, l.VW}, nt{a + "v_proj.bias", []int{h}, l.VB},
			nt{a + "out_proj.weight", []int{h, h}, l.OW}, nt{a + "out_proj.bias", []int{h}, l.OB},
			nt{n + "layer_norm2.weight", []int{h}, l.LN2W}, nt{n + "layer_norm2.bias", []int{h}, l.LN2B},
			nt{n + "mlp.fc1.weight", []int{in, h}, l.FC1W}, nt{n + "mlp.fc1.bias", []int{in}, l.FC1B},
			nt{n + "mlp.fc2.weight", []int{h, in}, l.FC2W}, nt{n + "mlp.fc2.bias", []int{h}, l.FC2B})
	}
	return append(out,
		nt{prefix + "post_layernorm.weight", []int{h}, m.PostLNW},
		nt{prefix + "post_layernorm.bias", []int{h}, m.PostLNB},
		nt{projName, []int{c.ProjectionDim, h}, m.Proj})
}

// writeModel writes m in dtype to dir/model.safetensors, with config (nil:
// no config.json); edit may change the tensors first.
func writeModel(t *testing.T, dir string, m *Model, dtype string, config map[string]any, edit func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	var ts []safetensors.Tensor
	for _, n := range namedTensors(m) {
		tn, err := safetensors.FloatTensor(n.name, dtype, n.shape, n.v)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tn)
	}
	if edit != nil {
		ts = edit(ts)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if config != nil {
		raw, _ := json.Marshal(config)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// visionConfig is a complete CLIPVisionConfig of c.
func visionConfig(c Config) map[string]any {
	return map[string]any{"model_type": "clip_vision_model", "hidden_size": c.HiddenSize,
		"intermediate_size": c.IntermediateSize, "num_hidden_layers": c.Layers, "num_attention_heads": c.Heads,
		"patch_size": c.PatchSize, "image_size": c.ImageSize, "projection_dim": c.ProjectionDim,
		"layer_norm_eps": c.LayerNormEps, "hidden_act": "quick_gelu", "num_channels": 3}
}

func TestLoadReferenceFolders(t *testing.T) {
	for _, dir := range []string{"tiny_clip", "tiny_clip_f16"} {
		m, err := Load(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		if m.Config != tinyConfig {
			t.Errorf("%s: config %+v, want %+v", dir, m.Config, tinyConfig)
		}
	}
	// The file alone: everything but the heads comes from the shapes, the
	// heads from hidden/64.
	m, err := Load(filepath.Join("testdata", "tiny_clip", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	want := tinyConfig
	want.Heads = 1
	if m.Config != want {
		t.Errorf("file alone: config %+v, want %+v", m.Config, want)
	}
}

// TestLoadDTypes writes a random model in each float dtype, in both
// config layouts and without a config, and checks every weight.
func TestLoadDTypes(t *testing.T) {
	c := Config{HiddenSize: 128, IntermediateSize: 96, Layers: 3, Heads: 2, PatchSize: 4, ImageSize: 12,
		ProjectionDim: 5, LayerNormEps: 1e-6}
	m := RandomModel(c, 3)
	clipConfig := map[string]any{"model_type": "clip", "projection_dim": c.ProjectionDim,
		"vision_config": map[string]any{"hidden_size": c.HiddenSize, "num_attention_heads": c.Heads, "layer_norm_eps": 1e-6}}
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		for _, layout := range []string{"vision", "clip"} {
			cfg := visionConfig(c)
			if layout == "clip" {
				cfg = clipConfig
			}
			dir := writeModel(t, filepath.Join(t.TempDir(), dtype+layout), m, dtype, cfg, nil)
			got, err := Load(dir)
			if err != nil {
				t.Fatalf("%s, %s config: %v", dtype, layout, err)
			}
			if got.Config != c {
				t.Errorf("%s, %s config: %+v, want %+v", dtype, layout, got.Config, c)
			}
			wants, gots := namedTensors(m), namedTensors(got)
			for i, w := range wants {
				for j, v := range w.v {
					want := v
					switch dtype {
					case "F16":
						want = safetensors.F16ToFloat32(safetensors.Float32ToF16(v))
					case "BF16":
						want = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(v))
					}
					if gots[i].v[j] != want {
						t.Fatalf("%s: %s[%d] = %g, want %g", dtype, w.name, j, gots[i].v[j], want)
					}
				}
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	c := Config{HiddenSize: 128, IntermediateSize: 64, Layers: 4, Heads: 2, PatchSize: 4, ImageSize: 8,
		ProjectionDim: 8, LayerNormEps: 1e-5}
	m := RandomModel(c, 5)
	drop := func(name string) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(t safetensors.Tensor) bool { return t.Name == name })
		}
	}
	reshape := func(name string, shape []int, dtype string) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			n := 1
			for _, d := range shape {
				n *= d
			}
			for i := range ts {
				if ts[i].Name == name {
					ts[i] = safetensors.Tensor{Name: name, DType: dtype, Shape: shape, Data: make([]byte, n*safetensors.DTypeSize(dtype))}
				}
			}
			return ts
		}
	}
	with := func(key string, v any) map[string]any {
		cfg := visionConfig(c)
		cfg[key] = v
		return cfg
	}
	fc1 := layerPrefix + "3.mlp.fc1.weight"
	for _, tc := range []struct {
		name   string
		config map[string]any
		edit   func([]safetensors.Tensor) []safetensors.Tensor
		want   string
	}{
		{"wrong shape", visionConfig(c), reshape(fc1, []int{64, 100}, "F32"),
			"vit: model.safetensors: vision_model.encoder.layers.3.mlp.fc1.weight has shape [64 100], want [64 128]"},
		{"missing", visionConfig(c), drop(prefix + "post_layernorm.bias"),
			"vit: model.safetensors: no tensor vision_model.post_layernorm.bias"},
		{"missing layer", visionConfig(c), drop(layerPrefix + "1.self_attn.k_proj.bias"),
			"vit: model.safetensors: no tensor vision_model.encoder.layers.1.self_attn.k_proj.bias"},
		{"no projection", nil, drop(projName), "vit: model.safetensors: no tensor visual_projection.weight"},
		{"integer weights", visionConfig(c), reshape(fc1, []int{64, 128}, "I32"),
			"vision_model.encoder.layers.3.mlp.fc1.weight is I32, not a float tensor"},
		{"config against tensors", with("hidden_size", 256), nil,
			"vit: model.safetensors: vision_model.embeddings.class_embedding has shape [128], want [256]"},
		{"fewer layers in the config", with("num_hidden_layers", 3), nil,
			"vit: model.safetensors has 4 encoder layers, the config says 3"},
		{"activation", with("hidden_act", "gelu"), nil,
			`vit: config.json: hidden_act "gelu" is not supported (CLIP uses quick_gelu)`},
		{"heads", with("num_attention_heads", 3), nil, "vit: hidden size 128 is not a multiple of 3 heads (model.safetensors)"},
		{"positions", nil, reshape(prefix+"embeddings.position_embedding.weight", []int{6, 128}, "F32"),
			"vision_model.embeddings.position_embedding.weight has shape [6 128], not a square grid of patches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModel(t, t.TempDir(), m, "F32", tc.config, tc.edit)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: err = %v, want %q", err, tc.want)
			}
		})
	}

	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "has no model.safetensors") {
		t.Errorf("folder without weights: err = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nothing")); err == nil {
		t.Error("Load of a missing path succeeded")
	}
	writeModel(t, dir, m, "F32", nil, nil)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.HasPrefix(err.Error(), "vit: config.json: ") {
		t.Errorf("bad config.json: err = %v", err)
	}
}
