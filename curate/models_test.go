package curate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWeightsID: the same weights reached by two paths have one id;
// touching or rewriting a file of them changes it.
func TestWeightsID(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "clip-vit")
	os.MkdirAll(folder, 0o755)
	weights := filepath.Join(folder, "model.safetensors")
	config := filepath.Join(folder, "config.json")
	file := filepath.Join(dir, "mlp.safetensors")
	for _, f := range []string{weights, config, file} {
		if err := os.WriteFile(f, []byte("weights of "+filepath.Base(f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	for _, paths := range [][]string{
		{folder, "clip-vit", "./clip-vit/", filepath.Join(folder, "..", "clip-vit")},
		{file, "mlp.safetensors", "./x/../mlp.safetensors"},
	} {
		want := weightsID(paths[0])
		for _, p := range paths[1:] {
			if got := weightsID(p); got != want {
				t.Errorf("weightsID(%q) = %q, want %q as for %s", p, got, want, paths[0])
			}
		}
	}

	before := map[string]string{"folder": weightsID(folder), "file": weightsID(file)}
	later := time.Now().Add(time.Hour)
	for _, c := range []struct {
		what, touch, id string
	}{
		{"folder", weights, folder},
		{"folder", config, folder},
		{"file", file, file},
	} {
		if err := os.Chtimes(c.touch, later, later); err != nil {
			t.Fatal(err)
		}
		later = later.Add(time.Minute)
		if id := weightsID(c.id); id == before[c.what] {
			t.Errorf("touching %s left the id of %s unchanged: %q", c.touch, c.id, id)
		} else {
			before[c.what] = id
		}
	}
	// Same modification time, other size: still another id.
	st, _ := os.Stat(file)
	os.WriteFile(file, []byte("other weights, longer"), 0o644)
	os.Chtimes(file, st.ModTime(), st.ModTime())
	if id := weightsID(file); id == before["file"] {
		t.Errorf("rewriting %s left its id unchanged", file)
	}
	if a, b := weightsID(folder), weightsID(file); a == b || !strings.HasPrefix(a, folder) {
		t.Errorf("ids %q and %q: want distinct ids beginning with the absolute path", a, b)
	}
}

// TestModelOptionsValidate: each bad combination is a *ConfigError naming
// the flag at fault, found before anything is loaded.
func TestModelOptionsValidate(t *testing.T) {
	five := 5.0
	for _, c := range []struct {
		name string
		edit func(*ModelOptions)
		want string // "" = valid
	}{
		{"defaults", func(o *ModelOptions) {}, ""},
		{"embeddings", func(o *ModelOptions) { o.GenerateEmbeddings, o.EmbeddingModel = true, "m" }, ""},
		{"aesthetics from the embedding model", func(o *ModelOptions) { o.AestheticModel, o.EmbeddingModel = "mlp", "m" }, ""},
		{"algorithm", func(o *ModelOptions) { o.EmbeddingAlgorithm = "internvideo2" }, `--embedding-algorithm "internvideo2" is not available`},
		{"no embedding model", func(o *ModelOptions) { o.GenerateEmbeddings = true }, "--generate-embeddings needs --embedding-model PATH"},
		{"frames", func(o *ModelOptions) { o.EmbeddingFrames = 0 }, "--embedding-frames and --model-batch must be positive"},
		{"batch", func(o *ModelOptions) { o.Batch = -1 }, "--embedding-frames and --model-batch must be positive"},
		{"reduction", func(o *ModelOptions) { o.AestheticReduction = "max" }, `--aesthetic-reduction "max" is not min or mean`},
		{"device", func(o *ModelOptions) { o.Device = "gpu" }, `--device "gpu" is not auto, cpu or cuda`},
		{"threshold alone", func(o *ModelOptions) { o.AestheticThreshold = &five }, "need --aesthetic-model PATH"},
		{"clip model alone", func(o *ModelOptions) { o.AestheticCLIPModel = "c" }, "need --aesthetic-model PATH"},
		{"mlp without clip", func(o *ModelOptions) { o.AestheticModel = "mlp" }, "--aesthetic-model needs a CLIP ViT-L/14 model"},
	} {
		o := DefaultModelOptions()
		c.edit(&o)
		err := o.Validate()
		var ce *ConfigError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want valid", c.name, err)
		case c.want != "" && (!errors.As(err, &ce) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want a *ConfigError saying %q", c.name, err, c.want)
		}
		if c.want != "" {
			cfg := Config{}
			if m, err := LoadModels(&cfg, o); m != nil || !errors.As(err, &ce) || cfg.Embedding != nil || cfg.Aesthetics != nil {
				t.Errorf("%s: LoadModels = %v, %v; want the same *ConfigError and nothing loaded", c.name, m, err)
			}
		}
	}
}

// TestLoadModelsMissing: a model that is not there is a plain error naming
// it (a failure, not a usage error), and nothing stays loaded.
func TestLoadModelsMissing(t *testing.T) {
	o := DefaultModelOptions()
	o.GenerateEmbeddings, o.EmbeddingModel, o.Device = true, filepath.Join(t.TempDir(), "missing"), "cpu"
	var cfg Config
	m, err := LoadModels(&cfg, o)
	var ce *ConfigError
	if m != nil || err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "missing") || cfg.Embedding != nil {
		t.Errorf("LoadModels of a missing model: %v, %v (embedding %v)", m, err, cfg.Embedding)
	}
	o.GenerateEmbeddings = false
	if m, err := LoadModels(&cfg, o); err != nil || cfg.Embedding != nil || cfg.Aesthetics != nil {
		t.Errorf("no models asked for: %v, %v", m, err)
	} else {
		m.Close()
	}
}
