package modeltest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"

	"github.com/clipfs/clipfs/curate/safetensors"
	"github.com/clipfs/clipfs/curate/vit"
)

// TinyCLIP is a small CLIP vision tower (224 px input, as CLIP's
// preprocessing makes) that runs fast on the CPU; proj sets its output
// width (768 for the one an aesthetic MLP reads).
func TinyCLIP(proj int) vit.Config {
	return vit.Config{HiddenSize: 64, IntermediateSize: 256, Layers: 2, Heads: 4, PatchSize: 32, ImageSize: 224,
		ProjectionDim: proj, LayerNormEps: 1e-5}
}

// tensor is a float32 tensor as safetensors stores it.
func tensor(name string, data []float32, shape ...int) safetensors.Tensor {
	b := make([]byte, 4*len(data))
	for i, x := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return safetensors.Tensor{Name: name, DType: "F32", Shape: shape, Data: b}
}

// WriteCLIP saves a random CLIP vision model of shape c (vit.RandomModel
// of seed) in HuggingFace's layout under dir: config.json and
// model.safetensors with CLIPVisionModelWithProjection's tensor names.
func WriteCLIP(dir string, c vit.Config, seed int64) error {
	m := vit.RandomModel(c, seed)
	var ts []safetensors.Tensor
	add := func(name string, data []float32, shape ...int) { ts = append(ts, tensor(name, data, shape...)) }
	h, p := c.HiddenSize, c.PatchSize
	add("vision_model.embeddings.class_embedding", m.ClassEmb, h)
	add("vision_model.embeddings.patch_embedding.weight", m.PatchW, h, 3, p, p)
	add("vision_model.embeddings.position_embedding.weight", m.PosEmb, c.Patches()+1, h)
	add("vision_model.pre_layrnorm.weight", m.PreLNW, h)
	add("vision_model.pre_layrnorm.bias", m.PreLNB, h)
	for i, l := range m.Layers {
		pre := fmt.Sprintf("vision_model.encoder.layers.%d.", i)
		for _, lin := range []struct {
			name    string
			w, b    []float32
			out, in int
		}{{"self_attn.q_proj", l.QW, l.QB, h, h}, {"self_attn.k_proj", l.KW, l.KB, h, h}, {"self_attn.v_proj", l.VW, l.VB, h, h},
			{"self_attn.out_proj", l.OW, l.OB, h, h}, {"mlp.fc1", l.FC1W, l.FC1B, c.IntermediateSize, h},
			{"mlp.fc2", l.FC2W, l.FC2B, h, c.IntermediateSize}} {
			add(pre+lin.name+".weight", lin.w, lin.out, lin.in)
			add(pre+lin.name+".bias", lin.b, lin.out)
		}
		add(pre+"layer_norm1.weight", l.LN1W, h)
		add(pre+"layer_norm1.bias", l.LN1B, h)
		add(pre+"layer_norm2.weight", l.LN2W, h)
		add(pre+"layer_norm2.bias", l.LN2B, h)
	}
	add("vision_model.post_layernorm.weight", m.PostLNW, h)
	add("vision_model.post_layernorm.bias", m.PostLNB, h)
	add("visual_projection.weight", m.Proj, c.ProjectionDim, h)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`{"architectures": ["CLIPVisionModelWithProjection"], "model_type": "clip_vision_model",
 "hidden_size": %d, "intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
 "patch_size": %d, "image_size": %d, "projection_dim": %d, "layer_norm_eps": 1e-05, "hidden_act": "quick_gelu"}`,
		c.HiddenSize, c.IntermediateSize, c.Layers, c.Heads, c.PatchSize, c.ImageSize, c.ProjectionDim)
	return os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
}

// WriteAestheticMLP saves a random LAION-shaped aesthetic MLP
// (768->1024->128->64->16->1, weights of std 1/sqrt(fan-in)) to path as
// safetensors with nn.Sequential's names.
func WriteAestheticMLP(path string, seed int64) error {
	rng := rand.New(rand.NewSource(seed))
	var ts []safetensors.Tensor
	dims := []int{768, 1024, 128, 64, 16, 1}
	for i, idx := range []int{0, 2, 4, 6, 7} {
		in, out := dims[i], dims[i+1]
		scale := 1 / math.Sqrt(float64(in))
		for _, part := range []struct {
			name  string
			shape []int
		}{{"weight", []int{out, in}}, {"bias", []int{out}}} {
			n := 1
			for _, d := range part.shape {
				n *= d
			}
			data := make([]float32, n)
			for j := range data {
				data[j] = float32(rng.NormFloat64() * scale)
			}
			ts = append(ts, tensor(fmt.Sprintf("layers.%d.%s", idx, part.name), data, part.shape...))
		}
	}
	return safetensors.Write(path, ts, nil)
}
