package vit

import (
	"fmt"
	"math/rand/v2"
	"runtime"
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

// The product of a ViT-B/32 attention projection over a batch of 64
// images: 3200 token rows × 768 inputs × 768 outputs.
const benchRows, benchIn, benchOut = 50 * 64, 768, 768

// BenchmarkLinear is the blocked, parallel product; compare its GFLOP/s
// with BenchmarkLinearNaive.
func BenchmarkLinear(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	x, w, bias := randomSlice(rng, benchRows*benchIn), randomSlice(rng, benchOut*benchIn), randomSlice(rng, benchOut)
	l := packLinear(w, bias, benchOut, benchIn)
	y := make([]float32, benchRows*benchOut)
	pool := newWorkers(runtime.GOMAXPROCS(0), 1)
	pool.start()
	defer pool.stop()
	b.ResetTimer()
	for range b.N {
		pool.linear(y, x, benchRows, l, store)
	}
	b.ReportMetric(2*benchRows*benchIn*benchOut*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkLinearNaive is the same product as a triple loop on one thread.
func BenchmarkLinearNaive(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	x, w, bias := randomSlice(rng, benchRows*benchIn), randomSlice(rng, benchOut*benchIn), randomSlice(rng, benchOut)
	y := make([]float32, benchRows*benchOut)
	b.ResetTimer()
	for range b.N {
		for i := range benchRows {
			for j := range benchOut {
				s := bias[j]
				for k := range benchIn {
					s += x[i*benchIn+k] * w[j*benchIn+k]
				}
				y[i*benchOut+j] = s
			}
		}
	}
	b.ReportMetric(2*benchRows*benchIn*benchOut*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
