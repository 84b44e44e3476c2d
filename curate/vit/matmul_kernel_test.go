package vit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// kernels are the micro-kernels this machine can run: goKernel, and
// activeKernel where init chose another.
func kernels() []*microKernel {
	if activeKernel == &goKernel {
		return []*microKernel{&goKernel}
	}
	return []*microKernel{activeKernel, &goKernel}
}

// withKernel makes packLinear (and so newCPU) use k until the test ends.
func withKernel(t *testing.T, k *microKernel) {
	prev := activeKernel
	activeKernel = k
	t.Cleanup(func() { activeKernel = prev })
}

// packFor packs W for kernel k.
func packFor(k *microKernel, w, b []float32, out, in int) *linear {
	prev := activeKernel
	activeKernel = k
	defer func() { activeKernel = prev }()
	return packLinear(w, b, out, in)
}

// checkRows compares rows of y with x·Wᵀ + b in float64, relative to the
// sum of the magnitudes of the terms (Σ|x·w| + |b|), where the rounding
// of a float32 sum is bounded.
func checkRows(t *testing.T, name string, y, x, w, b []float32, rowList []int, out, in int) {
	t.Helper()
	var worst float64
	for _, i := range rowList {
		for j := range out {
			s, mag := float64(b[j]), math.Abs(float64(b[j]))
			for k := range in {
				p := float64(x[i*in+k]) * float64(w[j*in+k])
				s += p
				mag += math.Abs(p)
			}
			if mag == 0 {
				mag = 1
			}
			rel := math.Abs(float64(y[i*out+j])-s) / mag
			if rel > 1e-5 {
				t.Fatalf("%s: y[%d][%d] = %g, want %g (relative error %.3g)", name, i, j, y[i*out+j], s, rel)
			}
			worst = max(worst, rel)
		}
	}
	t.Logf("%s: max relative error %.3g", name, worst)
}

// TestKernels checks each micro-kernel, through the blocked product, on
// shapes with partial tiles, blocks and unroll steps on every side and on
// the shapes of ViT-B/32, for each epilogue.
func TestKernels(t *testing.T) {
	shapes := [][3]int{ // rows, out, in
		{1, 1, 1}, {1, 16, 1}, {6, 16, 4}, {5, 15, 3}, {7, 17, 5}, {13, 33, 257},
		{73, 47, 513}, {1, 1000, 3}, {145, 1, 77}, {50, 768, 768}, {3200, 3072, 768},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range kernels() {
		for _, threads := range []int{1, 3} {
			pool := newWorkers(threads, 1)
			pool.start()
			for _, s := range shapes {
				rows, out, in := s[0], s[1], s[2]
				if rows*out*in > 1e9 && (threads != 1 || k == &goKernel) {
					continue // once, with the fast kernel: Go under -race takes minutes
				}
				x, w, b := randomSlice(rng, rows*in), randomSlice(rng, out*in), randomSlice(rng, out)
				l := packFor(k, w, b, out, in)
				rowList := make([]int, 0, rows)
				for i := 0; i < rows; i += max(1, rows/40) {
					rowList = append(rowList, i)
				}
				rowList = append(rowList, rows-1)

				y := make([]float32, rows*out)
				pool.linear(y, x, rows, l, store)
				name := fmt.Sprintf("%s, %d threads, %d×%d×%d", k.name, threads, rows, out, in)
				checkRows(t, name, y, x, w, b, rowList, out, in)
				if rows*out*in > 1e9 {
					continue // the epilogues are the same for every shape
				}

				resid := randomSlice(rng, rows*out)
				acc := slices.Clone(resid)
				pool.linear(acc, x, rows, l, accumulate)
				for i := range acc {
					if d := float64(acc[i] - resid[i] - y[i]); math.Abs(d) > 1e-5*(1+math.Abs(float64(resid[i]))+math.Abs(float64(y[i]))) {
						t.Fatalf("%s accumulate: y[%d] = %g, want %g + %g", name, i, acc[i], resid[i], y[i])
					}
				}
				pool.linear(acc, x, rows, l, storeGELU)
				gelu := slices.Clone(y)
				quickGELU(gelu)
				if !slices.Equal(acc, gelu) {
					t.Fatalf("%s: storeGELU differs from quickGELU of store", name)
				}
			}
			pool.stop()
		}
	}
}

// TestKernelRowInvariance checks that a row of the product is bit for bit
// the same wherever it lies in x (first or last of a tile, a full or a
// partial tile, a task or the next) and however many threads run.
func TestKernelRowInvariance(t *testing.T) {
	const out, in = 70, 600
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range kernels() {
		w, b := randomSlice(rng, out*in), randomSlice(rng, out)
		l := packFor(k, w, b, out, in)
		x := randomSlice(rng, 157*in)
		one := newWorkers(1, 1)
		one.start()
		all := make([]float32, 157*out)
		one.linear(all, x, 157, l, store)
		one.stop()
		pool := newWorkers(3, 1)
		pool.start()
		for _, r := range [][2]int{{0, 1}, {5, 1}, {3, 7}, {100, 57}, {1, 156}} {
			i0, rows := r[0], r[1]
			y := make([]float32, rows*out)
			pool.linear(y, x[i0*in:(i0+rows)*in], rows, l, store)
			if !slices.Equal(y, all[i0*out:(i0+rows)*out]) {
				t.Errorf("%s: rows %d to %d alone differ from the same rows of the whole", k.name, i0, i0+rows)
			}
		}
		pool.stop()
	}
}

// TestReferenceGoKernel runs the reference comparison and batch
// invariance with the portable kernel forced, as on a CPU without AVX2.
func TestReferenceGoKernel(t *testing.T) {
	if activeKernel == &goKernel {
		t.Skip("goKernel is already the active kernel: TestReference covers it")
	}
	withKernel(t, &goKernel)
	images, ref := readReference(t)
	m, err := Load(filepath.Join("testdata", "tiny_clip"))
	if err != nil {
		t.Fatal(err)
	}
	got := embed(t, m, images)
	if d := maxDiff(t, got, ref.Float32); d > 1e-4 {
		t.Errorf("max |diff| %.3g against torch float32, want ≤ 1e-4", d)
	}
	for i, img := range images[:2] {
		if one := embed(t, m, [][]float32{img}); !slices.Equal(one[0], got[i]) {
			t.Errorf("image %d alone differs from image %d of a batch", i, i)
		}
	}
}

// BenchmarkMicroKernel runs each kernel's tile on micro-panels of kc
// values of k that stay in L1, one thread: the ceiling of BenchmarkLinear.
func BenchmarkMicroKernel(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range kernels() {
		b.Run(k.name, func(b *testing.B) {
			a, w := randomSlice(rng, kc*k.mr), randomSlice(rng, kc*k.nr)
			c := make([]float32, k.mr*k.nr)
			for range b.N {
				k.tile(a, w, c, k.nr)
			}
			b.ReportMetric(float64(2*kc*k.mr*k.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
