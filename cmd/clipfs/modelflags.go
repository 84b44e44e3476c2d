package main

import (
	"flag"
	"math"

	"github.com/clipfs/clipfs/curate"
)

// modelFlags are curate's embedding and aesthetic flags, parsed into
// curate.ModelOptions.
type modelFlags struct {
	opts      curate.ModelOptions
	threshold float64 // NaN: not given
}

func addModelFlags(fs *flag.FlagSet) *modelFlags {
	f := &modelFlags{opts: curate.DefaultModelOptions()}
	o := &f.opts
	fs.BoolVar(&o.GenerateEmbeddings, "generate-embeddings", false, "embed every passed clip (needs --embedding-model)")
	fs.StringVar(&o.EmbeddingAlgorithm, "embedding-algorithm", o.EmbeddingAlgorithm, "embedding model family: clip (a CLIP vision transformer)")
	fs.StringVar(&o.EmbeddingModel, "embedding-model", "", "CLIP vision model: a HuggingFace folder (config.json + model.safetensors) or a .safetensors file")
	fs.IntVar(&o.EmbeddingFrames, "embedding-frames", o.EmbeddingFrames, "frames per clip, evenly spaced, whose embeddings are averaged")
	fs.StringVar(&o.AestheticModel, "aesthetic-model", "", "LAION aesthetic MLP (768->1024->128->64->16->1) as .safetensors: score every clip")
	fs.StringVar(&o.AestheticCLIPModel, "aesthetic-clip-model", "", "CLIP ViT-L/14 model for aesthetic scores (default: --embedding-model)")
	fs.Float64Var(&f.threshold, "aesthetic-threshold", math.NaN(), "move clips scoring below this to filtered_clips/ (default: score only)")
	fs.StringVar(&o.AestheticReduction, "aesthetic-reduction", o.AestheticReduction, "how frame scores make the clip's: min or mean")
	fs.StringVar(&o.TransNetV2Model, "transnetv2-model", "", "TransNetV2 weights for --splitting-algorithm transnetv2: NeMo's transnetv2-pytorch-weights.pth, or a .safetensors with the same tensor names")
	fs.Float64Var(&o.TransNetV2Threshold, "transnetv2-threshold", o.TransNetV2Threshold, "transnetv2: a frame whose transition probability is above this is a transition")
	fs.StringVar(&o.Device, "device", o.Device, "where models run: auto, cpu or cuda")
	fs.IntVar(&o.Batch, "model-batch", o.Batch, "frames per model call, gathered across clips")
	return f
}

// options are the parsed flags.
func (f *modelFlags) options() curate.ModelOptions {
	o := f.opts
	if !math.IsNaN(f.threshold) {
		t := f.threshold
		o.AestheticThreshold = &t
	}
	return o
}
