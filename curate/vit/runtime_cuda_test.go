//go:build cuda

package vit

// These tests compare the CUDA runtime with the CPU one. They need an
// NVIDIA GPU: where the driver reports no device they skip, saying so.
// Where no driver is installed at all, gorgonia.org/cu's package init ends
// the test binary (exit 1, "Error in initialization ...") before any test
// runs; CI builds without the cuda tag and never gets here. Run them on a
// GPU machine with
//
//	go test -tags cuda -run CUDA -bench CUDA ./curate/vit/
//
// or build the binary here (make check-cuda does, into bin/) and carry it.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/cu"
)

// cudaTolerance is the largest difference allowed between CUDA and CPU
// embeddings: both are float32, summed in different orders.
const cudaTolerance = 1e-3

// Configs the CUDA path is checked on: a small one, one whose sizes are
// not powers of two (partial warps, odd token counts), and ViT-B/32.
var (
	cudaTinyConfig = Config{HiddenSize: 64, IntermediateSize: 256, Layers: 2, Heads: 4,
		PatchSize: 8, ImageSize: 32, ProjectionDim: 16, LayerNormEps: 1e-5}
	cudaOddConfig = Config{HiddenSize: 40, IntermediateSize: 72, Layers: 3, Heads: 5,
		PatchSize: 4, ImageSize: 12, ProjectionDim: 24, LayerNormEps: 1e-5}
	cudaViTB32Config = Config{HiddenSize: 768, IntermediateSize: 3072, Layers: 12, Heads: 12,
		PatchSize: 32, ImageSize: 224, ProjectionDim: 512, LayerNormEps: 1e-5}
)

// requireGPU skips tb unless the driver reports at least one device.
func requireGPU(tb testing.TB) {
	tb.Helper()
	n, err := cu.NumDevices()
	if err != nil {
		tb.Skipf("skipping: no usable CUDA driver (%v)", err)
	}
	if n == 0 {
		tb.Skip("skipping: no CUDA GPU present")
	}
}

// newCUDAForTest makes a CUDA runtime for m, failing tb if that fails on a
// machine with a GPU.
func newCUDAForTest(tb testing.TB, m *Model) Runtime {
	tb.Helper()
	requireGPU(tb)
	rt, err := newCUDARuntime(m)
	if err != nil {
		tb.Fatalf("newCUDARuntime: %v", err)
	}
	tb.Cleanup(func() {
		if err := rt.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return rt
}

// cudaTestImages makes n preprocessed-looking images: values in [-2, 2].
func cudaTestImages(c Config, n int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([][]float32, n)
	for i := range out {
		img := make([]float32, 3*c.ImageSize*c.ImageSize)
		for j := range img {
			img[j] = float32(rng.Float64()*4 - 2)
		}
		out[i] = img
	}
	return out
}

// cudaMaxDiff returns the largest |a-b| over all embeddings, and the
// largest |b| for scale.
func cudaMaxDiff(tb testing.TB, got, want [][]float32) (diff, scale float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d embeddings, want %d", len(got), len(want))
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			tb.Fatalf("embedding %d has %d values, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range got[i] {
			diff = max(diff, math.Abs(float64(got[i][j])-float64(want[i][j])))
			scale = max(scale, math.Abs(float64(want[i][j])))
			if math.IsNaN(float64(got[i][j])) {
				tb.Fatalf("embedding %d value %d is NaN", i, j)
			}
		}
	}
	return diff, scale
}

// TestCUDAMatchesCPU runs the same random models and images on both
// runtimes, with batches that grow and then shrink again.
func TestCUDAMatchesCPU(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"tiny", cudaTinyConfig},
		{"odd", cudaOddConfig},
		{"ViT-B-32", cudaViTB32Config},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireGPU(t)
			m := RandomModel(tc.cfg, 1)
			gpu := newCUDAForTest(t, m)
			cpu := newCPU(m)
			// 3 again after 64 runs a batch smaller than the buffers.
			for _, batch := range []int{1, 3, 64, 3} {
				if batch == 64 && tc.cfg.HiddenSize >= 768 && testing.Short() {
					continue // the CPU side takes a while
				}
				images := cudaTestImages(tc.cfg, batch, uint64(batch))
				want, err := cpu.Embed(images)
				if err != nil {
					t.Fatalf("cpu Embed(%d): %v", batch, err)
				}
				got, err := gpu.Embed(images)
				if err != nil {
					t.Fatalf("cuda Embed(%d): %v", batch, err)
				}
				diff, scale := cudaMaxDiff(t, got, want)
				t.Logf("%s batch %d: max |cuda-cpu| = %.3g (max |cpu| = %.3g)", tc.name, batch, diff, scale)
				if diff > cudaTolerance {
					t.Errorf("%s batch %d: max |cuda-cpu| = %.3g > %g", tc.name, batch, diff, cudaTolerance)
				}
			}
		})
	}
}

// TestCUDABatchIndependence checks that an image's embedding does not
// depend on the other images of its batch.
func TestCUDABatchIndependence(t *testing.T) {
	requireGPU(t)
	m := RandomModel(cudaOddConfig, 2)
	gpu := newCUDAForTest(t, m)
	images := cudaTestImages(cudaOddConfig, 5, 7)
	all, err := gpu.Embed(images)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range images {
		one, err := gpu.Embed([][]float32{img})
		if err != nil {
			t.Fatal(err)
		}
		if diff, _ := cudaMaxDiff(t, one, all[i:i+1]); diff > 1e-5 {
			t.Errorf("image %d alone differs from image %d in a batch by %.3g", i, i, diff)
		}
	}
}

// TestCUDAEdges covers the empty batch, a wrong image size, Device, and
// use after Close.
func TestCUDAEdges(t *testing.T) {
	requireGPU(t)
	m := RandomModel(cudaTinyConfig, 3)
	rt, err := newCUDARuntime(m)
	if err != nil {
		t.Fatalf("newCUDARuntime: %v", err)
	}
	if d := rt.Device(); !strings.HasPrefix(d, "cuda:") {
		t.Errorf("Device() = %q, want cuda:N <name>", d)
	}
	if out, err := rt.Embed(nil); err != nil || len(out) != 0 {
		t.Errorf("Embed(nil) = %d embeddings, %v; want none, nil", len(out), err)
	}
	if _, err := rt.Embed([][]float32{make([]float32, 5)}); err == nil {
		t.Error("Embed of a short image succeeded")
	}
	if err := rt.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := rt.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := rt.Embed(cudaTestImages(cudaTinyConfig, 1, 1)); err == nil {
		t.Error("Embed after Close succeeded")
	}
}

// BenchmarkViTB32CUDA reports frames/s of a random ViT-B/32 at batches
// 1, 64 and 256 (float32; CLIPFS_CUDA_TF32=1 for TF32).
func BenchmarkViTB32CUDA(b *testing.B) {
	requireGPU(b)
	m := RandomModel(cudaViTB32Config, 1)
	rt := newCUDAForTest(b, m)
	for _, batch := range []int{1, 64, 256} {
		images := cudaTestImages(cudaViTB32Config, batch, 1)
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			if _, err := rt.Embed(images); err != nil { // warm up: buffers, cuBLAS
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				if _, err := rt.Embed(images); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(batch*n)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
