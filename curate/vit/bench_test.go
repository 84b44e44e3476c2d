package vit

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// vitB32 is the shape of CLIP ViT-B/32 (openai/clip-vit-base-patch32).
var vitB32 = Config{HiddenSize: 768, IntermediateSize: 3072, Layers: 12, Heads: 12, PatchSize: 32,
	ImageSize: 224, ProjectionDim: 512, LayerNormEps: 1e-5}

// BenchmarkViTB32CPU embeds batches of random images with a random
// ViT-B/32 and reports frames per second. Batch 256 takes minutes per
// iteration on a few cores: run it with -benchtime=1x.
func BenchmarkViTB32CPU(b *testing.B) {
	rt := newCPU(RandomModel(vitB32, 1))
	defer rt.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, batch := range []int{1, 8, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			images := make([][]float32, batch)
			for i := range images {
				images[i] = randomSlice(rng, 3*224*224)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := rt.Embed(images); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
