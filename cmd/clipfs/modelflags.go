package main

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/aesthetic"
	"github.com/clipfs/clipfs/curate/vit"
)

// modelOptions are curate's embedding and aesthetic flags.
type modelOptions struct {
	generate                    bool
	algorithm, model            string
	frames, batch               int
	aestheticMLP, aestheticCLIP string
	threshold                   float64
	reduction, device           string
}

func modelFlags(fs *flag.FlagSet) *modelOptions {
	o := &modelOptions{}
	fs.BoolVar(&o.generate, "generate-embeddings", false, "embed every passed clip (needs --embedding-model)")
	fs.StringVar(&o.algorithm, "embedding-algorithm", "clip", "embedding model family: clip (a CLIP vision transformer)")
	fs.StringVar(&o.model, "embedding-model", "", "CLIP vision model: a HuggingFace folder (config.json + model.safetensors) or a .safetensors file")
	fs.IntVar(&o.frames, "embedding-frames", 8, "frames per clip, evenly spaced, whose embeddings are averaged")
	fs.StringVar(&o.aestheticMLP, "aesthetic-model", "", "LAION aesthetic MLP (768->1024->128->64->16->1) as .safetensors: score every clip")
	fs.StringVar(&o.aestheticCLIP, "aesthetic-clip-model", "", "CLIP ViT-L/14 model for aesthetic scores (default: --embedding-model)")
	fs.Float64Var(&o.threshold, "aesthetic-threshold", math.NaN(), "move clips scoring below this to filtered_clips/ (default: score only)")
	fs.StringVar(&o.reduction, "aesthetic-reduction", "min", "how frame scores make the clip's: min or mean")
	fs.StringVar(&o.device, "device", vit.DeviceAuto, "where models run: auto, cpu or cuda")
	fs.IntVar(&o.batch, "model-batch", 64, "frames per model call, gathered across clips")
	return o
}

// loadedModels holds what apply loaded, for closing after the run.
type loadedModels struct {
	queues   []*curate.ModelQueue
	runtimes []vit.Runtime
}

func (l *loadedModels) close() {
	for _, q := range l.queues {
		q.Close()
	}
	for _, rt := range l.runtimes {
		rt.Close()
	}
}

// apply loads the models the flags ask for into cfg. One model used for
// both embeddings and aesthetics is loaded once.
func (o *modelOptions) apply(cfg *curate.Config, log *slog.Logger) (*loadedModels, error) {
	l := &loadedModels{}
	if o.algorithm != "clip" {
		return nil, usageError{fmt.Sprintf("--embedding-algorithm %q is not available (clip)", o.algorithm)}
	}
	if o.generate && o.model == "" {
		return nil, usageError{"--generate-embeddings needs --embedding-model PATH"}
	}
	if o.frames <= 0 || o.batch <= 0 {
		return nil, usageError{"--embedding-frames and --model-batch must be positive"}
	}
	if o.reduction != "min" && o.reduction != "mean" {
		return nil, usageError{fmt.Sprintf("--aesthetic-reduction %q is not min or mean", o.reduction)}
	}
	switch o.device {
	case vit.DeviceAuto, vit.DeviceCPU, vit.DeviceCUDA:
	default:
		return nil, usageError{fmt.Sprintf("--device %q is not auto, cpu or cuda", o.device)}
	}
	clipModel := o.aestheticCLIP
	if clipModel == "" {
		clipModel = o.model
	}
	if o.aestheticMLP == "" && (o.aestheticCLIP != "" || !math.IsNaN(o.threshold)) {
		return nil, usageError{"--aesthetic-clip-model and --aesthetic-threshold need --aesthetic-model PATH"}
	}
	if o.aestheticMLP != "" && clipModel == "" {
		return nil, usageError{"--aesthetic-model needs a CLIP ViT-L/14 model: --aesthetic-clip-model PATH (or --embedding-model)"}
	}
	type loaded struct {
		q *curate.ModelQueue
		m *vit.Model
	}
	byPath := map[string]loaded{}
	queue := func(path string) (*curate.ModelQueue, *vit.Model, error) {
		if l, ok := byPath[path]; ok {
			return l.q, l.m, nil
		}
		m, err := vit.Load(path)
		if err != nil {
			return nil, nil, err
		}
		rt, err := vit.NewRuntime(m, o.device)
		if err != nil {
			return nil, nil, err
		}
		c := m.Config
		log.Info("model loaded", "path", path, "device", rt.Device(),
			"shape", fmt.Sprintf("ViT %d layers, %d wide, patch %d, %d px -> %d", c.Layers, c.HiddenSize, c.PatchSize, c.ImageSize, c.ProjectionDim))
		q := curate.NewModelQueue(rt, m, o.batch)
		byPath[path] = loaded{q, m}
		l.queues, l.runtimes = append(l.queues, q), append(l.runtimes, rt)
		return q, m, nil
	}
	if o.generate {
		q, _, err := queue(o.model)
		if err != nil {
			l.close()
			return nil, err
		}
		cfg.Embedding = &curate.Embedding{Model: q, ModelID: weightsID(o.model), Prefix: "clip", Frames: o.frames}
	}
	if o.aestheticMLP != "" {
		p, err := aesthetic.Load(o.aestheticMLP)
		if err != nil {
			l.close()
			return nil, err
		}
		q, m, err := queue(clipModel)
		if err != nil {
			l.close()
			return nil, err
		}
		if m.Config.ProjectionDim != p.InputDim() {
			l.close()
			return nil, fmt.Errorf("aesthetic model %s takes %d-wide embeddings, but %s makes %d (the LAION MLP needs CLIP ViT-L/14)",
				o.aestheticMLP, p.InputDim(), clipModel, m.Config.ProjectionDim)
		}
		a := &curate.Aesthetics{Model: q, ModelID: weightsID(clipModel) + "+" + weightsID(o.aestheticMLP), Predictor: p, Mean: o.reduction == "mean"}
		if !math.IsNaN(o.threshold) {
			a.Threshold = &o.threshold
		}
		cfg.Aesthetics = a
	}
	return l, nil
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
