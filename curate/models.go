package curate

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/clipfs/clipfs/curate/aesthetic"
	"github.com/clipfs/clipfs/curate/transnet"
	"github.com/clipfs/clipfs/curate/vit"
)

// ModelOptions say which models a run embeds and scores clips with (NeMo
// Curator's embedding and aesthetic options); LoadModels turns them into
// Config.Embedding and Config.Aesthetics.
type ModelOptions struct {
	GenerateEmbeddings bool   // embed every passed clip (needs EmbeddingModel)
	EmbeddingAlgorithm string // model family: "clip"
	// EmbeddingModel is a CLIP vision model: a HuggingFace folder
	// (config.json + model.safetensors) or a .safetensors file.
	EmbeddingModel  string
	EmbeddingFrames int // frames per clip, evenly spaced, averaged
	// AestheticModel is the LAION aesthetic MLP as .safetensors; set, every
	// clip not filtered by motion is scored.
	AestheticModel string
	// AestheticCLIPModel is the CLIP ViT-L/14 the MLP reads ("": EmbeddingModel).
	AestheticCLIPModel string
	// AestheticThreshold, if set, filters clips scoring below it.
	AestheticThreshold *float64
	AestheticReduction string // how frame scores make the clip's: "min" or "mean"
	// TransNetV2Model is TransNetV2's weights for --splitting-algorithm
	// transnetv2: NeMo's transnetv2-pytorch-weights.pth (a PyTorch
	// state_dict) or a safetensors file with the same tensor names.
	TransNetV2Model string
	// TransNetV2Threshold: a frame whose transition probability is above
	// it is a transition (NeMo's default 0.4).
	TransNetV2Threshold float64
	Device              string // where models run: vit.DeviceAuto, DeviceCPU or DeviceCUDA
	Batch               int    // frames per model call, gathered across clips
}

// DefaultModelOptions are NeMo Curator's defaults: no model, CLIP, 8
// frames, min reduction, the best device, batches of 64 frames.
func DefaultModelOptions() ModelOptions {
	return ModelOptions{EmbeddingAlgorithm: "clip", EmbeddingFrames: 8, AestheticReduction: "min",
		TransNetV2Threshold: 0.4, Device: vit.DeviceAuto, Batch: 64}
}

// Validate checks o without loading anything; every error is a
// *ConfigError.
func (o ModelOptions) Validate() error {
	if o.EmbeddingAlgorithm != "clip" {
		return configErrorf("--embedding-algorithm %q is not available (clip)", o.EmbeddingAlgorithm)
	}
	if o.GenerateEmbeddings && o.EmbeddingModel == "" {
		return configErrorf("--generate-embeddings needs --embedding-model PATH")
	}
	if o.EmbeddingFrames <= 0 || o.Batch <= 0 {
		return configErrorf("--embedding-frames and --model-batch must be positive")
	}
	if !(o.TransNetV2Threshold > 0 && o.TransNetV2Threshold < 1) {
		return configErrorf("--transnetv2-threshold %v must be between 0 and 1 (a probability)", o.TransNetV2Threshold)
	}
	if o.AestheticReduction != "min" && o.AestheticReduction != "mean" {
		return configErrorf("--aesthetic-reduction %q is not min or mean", o.AestheticReduction)
	}
	switch o.Device {
	case vit.DeviceAuto, vit.DeviceCPU, vit.DeviceCUDA:
	default:
		return configErrorf("--device %q is not auto, cpu or cuda", o.Device)
	}
	if o.AestheticModel == "" && (o.AestheticCLIPModel != "" || o.AestheticThreshold != nil) {
		return configErrorf("--aesthetic-clip-model and --aesthetic-threshold need --aesthetic-model PATH")
	}
	if o.AestheticModel != "" && o.aestheticCLIP() == "" {
		return configErrorf("--aesthetic-model needs a CLIP ViT-L/14 model: --aesthetic-clip-model PATH (or --embedding-model)")
	}
	return nil
}

func (o ModelOptions) aestheticCLIP() string {
	if o.AestheticCLIPModel != "" {
		return o.AestheticCLIPModel
	}
	return o.EmbeddingModel
}

// LoadedModels are the models a run holds; Close them after it.
type LoadedModels struct {
	queues   []*ModelQueue
	runtimes []vit.Runtime
	byPath   map[string]loadedModel
}

type loadedModel struct {
	q *ModelQueue
	m *vit.Model
}

// Devices names where the loaded models run ("cpu", "cuda:0 NAME"), one
// per runtime; none when no model is loaded.
func (l *LoadedModels) Devices() []string {
	var out []string
	for _, rt := range l.runtimes {
		out = append(out, rt.Device())
	}
	return out
}

// Close ends the model queues and frees the runtimes.
func (l *LoadedModels) Close() {
	for _, q := range l.queues {
		q.Close()
	}
	for _, rt := range l.runtimes {
		rt.Close()
	}
}

// LoadModels validates o, loads the models it names and sets
// cfg.Embedding, cfg.Aesthetics and, when cfg splits with TransNetV2,
// cfg.TransNet; one model used for both embeddings and aesthetics is loaded
// once. Loads are logged to cfg.Log. On error nothing stays loaded.
func LoadModels(cfg *Config, o ModelOptions) (*LoadedModels, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &LoadedModels{byPath: map[string]loadedModel{}}
	if err := l.load(cfg, o, log); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *LoadedModels) load(cfg *Config, o ModelOptions, log *slog.Logger) error {
	var embedding *Embedding
	if o.GenerateEmbeddings {
		q, _, err := l.queue(o.EmbeddingModel, o, log)
		if err != nil {
			return err
		}
		embedding = &Embedding{Model: q, ModelID: weightsID(o.EmbeddingModel), Prefix: "clip", Frames: o.EmbeddingFrames}
	}
	var aesthetics *Aesthetics
	if o.AestheticModel != "" {
		p, err := aesthetic.Load(o.AestheticModel)
		if err != nil {
			return err
		}
		clipModel := o.aestheticCLIP()
		q, m, err := l.queue(clipModel, o, log)
		if err != nil {
			return err
		}
		if m.Config.ProjectionDim != p.InputDim() {
			return fmt.Errorf("aesthetic model %s takes %d-wide embeddings, but %s makes %d (the LAION MLP needs CLIP ViT-L/14)",
				o.AestheticModel, p.InputDim(), clipModel, m.Config.ProjectionDim)
		}
		aesthetics = &Aesthetics{Model: q, ModelID: weightsID(clipModel) + "+" + weightsID(o.AestheticModel), Predictor: p,
			Mean: o.AestheticReduction == "mean"}
		if t := o.AestheticThreshold; t != nil {
			v := *t
			aesthetics.Threshold = &v
		}
	}
	var split *TransNetSplit
	switch {
	case cfg.Splitting == SplitTransNetV2 && o.TransNetV2Model == "":
		return configErrorf("--splitting-algorithm transnetv2 needs --transnetv2-model PATH (NeMo's transnetv2-pytorch-weights.pth)")
	case cfg.Splitting == SplitTransNetV2:
		m, err := transnet.Load(o.TransNetV2Model)
		if err != nil {
			return err
		}
		net := transnet.NewNet(m, 0)
		log.Info("model loaded", "path", o.TransNetV2Model, "device", net.Device(), "shape", "TransNetV2")
		split = &TransNetSplit{Net: net, ModelID: weightsID(o.TransNetV2Model), Threshold: o.TransNetV2Threshold}
	case o.TransNetV2Model != "":
		return configErrorf("--transnetv2-model is for --splitting-algorithm transnetv2 (not %s)", cmp.Or(cfg.Splitting, SplitFixedStride))
	}
	cfg.Embedding, cfg.Aesthetics, cfg.TransNet = embedding, aesthetics, split
	return nil
}

// queue loads the model at path, or returns the queue it was loaded into.
func (l *LoadedModels) queue(path string, o ModelOptions, log *slog.Logger) (*ModelQueue, *vit.Model, error) {
	if lm, ok := l.byPath[path]; ok {
		return lm.q, lm.m, nil
	}
	m, err := vit.Load(path)
	if err != nil {
		return nil, nil, err
	}
	rt, err := vit.NewRuntime(m, o.Device)
	if err != nil {
		return nil, nil, err
	}
	c := m.Config
	log.Info("model loaded", "path", path, "device", rt.Device(),
		"shape", fmt.Sprintf("ViT %d layers, %d wide, patch %d, %d px -> %d", c.Layers, c.HiddenSize, c.PatchSize, c.ImageSize, c.ProjectionDim))
	q := NewModelQueue(rt, m, o.Batch)
	l.byPath[path] = loadedModel{q, m}
	l.queues, l.runtimes = append(l.queues, q), append(l.runtimes, rt)
	return q, m, nil
}

// weightsID names model weights in the settings fingerprint: the absolute
// path with the size and modification time of what it holds, so that the
// same weights reached by another path are the same, and new weights at
// the same path re-curate.
func weightsID(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	id := abs
	files := []string{abs}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(abs, "*.safetensors"))
		files = append(files, filepath.Join(abs, "config.json"))
	}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			id += fmt.Sprintf(" %s:%d:%d", filepath.Base(f), st.Size(), st.ModTime().UnixNano())
		}
	}
	return id
}
