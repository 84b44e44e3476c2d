package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// kernels are the micro-kernels this machine can run: Portable, and the
// active kernel where init chose another.
func kernels() []*Kernel {
	if active == Portable {
		return []*Kernel{Portable}
	}
	return []*Kernel{active, Portable}
}

// packFor packs W for kernel k.
func packFor(k *Kernel, w, b []float32, out, in int) *Matrix {
	defer Use(k)()
	return Pack(w, b, out, in)
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
			pool := NewPool(threads)
			pool.Start()
			for _, s := range shapes {
				rows, out, in := s[0], s[1], s[2]
				if rows*out*in > 1e9 && (threads != 1 || k == Portable) {
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
				pool.Linear(y, x, rows, l, Store)
				name := fmt.Sprintf("%s, %d threads, %d×%d×%d", k.Name, threads, rows, out, in)
				checkRows(t, name, y, x, w, b, rowList, out, in)
				if rows*out*in > 1e9 {
					continue // the epilogues are the same for every shape
				}

				resid := randomSlice(rng, rows*out)
				acc := slices.Clone(resid)
				pool.Linear(acc, x, rows, l, Accumulate)
				for i := range acc {
					if d := float64(acc[i] - resid[i] - y[i]); math.Abs(d) > 1e-5*(1+math.Abs(float64(resid[i]))+math.Abs(float64(y[i]))) {
						t.Fatalf("%s accumulate: y[%d] = %g, want %g + %g", name, i, acc[i], resid[i], y[i])
					}
				}
				pool.Linear(acc, x, rows, l, StoreQuickGELU)
				gelu := slices.Clone(y)
				QuickGELU(gelu)
				if !slices.Equal(acc, gelu) {
					t.Fatalf("%s: StoreQuickGELU differs from quickGELU of store", name)
				}
			}
			pool.Stop()
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
		one := NewPool(1)
		one.Start()
		all := make([]float32, 157*out)
		one.Linear(all, x, 157, l, Store)
		one.Stop()
		pool := NewPool(3)
		pool.Start()
		for _, r := range [][2]int{{0, 1}, {5, 1}, {3, 7}, {100, 57}, {1, 156}} {
			i0, rows := r[0], r[1]
			y := make([]float32, rows*out)
			pool.Linear(y, x[i0*in:(i0+rows)*in], rows, l, Store)
			if !slices.Equal(y, all[i0*out:(i0+rows)*out]) {
				t.Errorf("%s: rows %d to %d alone differ from the same rows of the whole", k.Name, i0, i0+rows)
			}
		}
		pool.Stop()
	}
}

// BenchmarkMicroKernel runs each kernel's tile on micro-panels of kc
// values of k that stay in L1, one thread: the ceiling of BenchmarkLinear.
func BenchmarkMicroKernel(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range kernels() {
		b.Run(k.Name, func(b *testing.B) {
			a, w := randomSlice(rng, kc*k.mr), randomSlice(rng, kc*k.nr)
			c := make([]float32, k.mr*k.nr)
			for range b.N {
				k.tile(a, w, c, k.nr)
			}
			b.ReportMetric(float64(2*kc*k.mr*k.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// naiveLinear is y = x·Wᵀ + b by the definition, in float64.
func naiveLinear(x, w, b []float32, rows, out, in int) []float64 {
	y := make([]float64, rows*out)
	for i := range rows {
		for j := range out {
			var s float64
			for k := range in {
				s += float64(x[i*in+k]) * float64(w[j*in+k])
			}
			if b != nil {
				s += float64(b[j])
			}
			y[i*out+j] = s
		}
	}
	return y
}

func randomSlice(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// TestLinear checks the blocked product against the definition on shapes
// with partial tiles and blocks on every side, for each epilogue.
func TestLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, threads := range []int{1, 3} {
		pool := NewPool(threads)
		pool.Start()
		for _, s := range [][3]int{{1, 1, 1}, {2, 3, 4}, {5, 7, 3}, {49, 512, 300}, {97, 13, 517}, {50, 768, 64}, {3, 1, 1000}} {
			rows, out, in := s[0], s[1], s[2]
			x, w, b := randomSlice(rng, rows*in), randomSlice(rng, out*in), randomSlice(rng, out)
			want := naiveLinear(x, w, b, rows, out, in)
			l := Pack(w, b, out, in)
			y := make([]float32, rows*out)
			pool.Linear(y, x, rows, l, Store)
			tol := 1e-5 * math.Sqrt(float64(in)) * 4
			for i, v := range y {
				if math.Abs(float64(v)-want[i]) > tol {
					t.Fatalf("%d threads, %v: y[%d] = %g, want %g", threads, s, i, v, want[i])
				}
			}
			resid := randomSlice(rng, rows*out)
			y = slices.Clone(resid)
			pool.Linear(y, x, rows, l, Accumulate)
			for i, v := range y {
				if math.Abs(float64(v)-want[i]-float64(resid[i])) > tol {
					t.Fatalf("%d threads, %v accumulate: y[%d] = %g, want %g", threads, s, i, v, want[i]+float64(resid[i]))
				}
			}
			pool.Linear(y, x, rows, l, StoreQuickGELU)
			for i, v := range y {
				g := want[i] / (1 + math.Exp(-1.702*want[i]))
				if math.Abs(float64(v)-g) > tol {
					t.Fatalf("%d threads, %v gelu: y[%d] = %g, want %g", threads, s, i, v, g)
				}
			}
		}
		pool.Stop()
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
	l := Pack(w, bias, benchOut, benchIn)
	y := make([]float32, benchRows*benchOut)
	pool := NewPool(runtime.GOMAXPROCS(0))
	pool.Start()
	defer pool.Stop()
	b.ResetTimer()
	for range b.N {
		pool.Linear(y, x, benchRows, l, Store)
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

// TestLinearStrided checks a product over some columns of a wider x into
// some columns of a wider y against the same product of compact copies,
// bit for bit, and that y's other columns are left alone.
func TestLinearStrided(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, k := range kernels() {
		for _, s := range [][5]int{ // rows, out, in, ldx, ldy
			{1, 1, 1, 3, 2}, {7, 16, 32, 128, 64}, {73, 17, 40, 96, 40}, {300, 16, 96, 128, 64},
		} {
			rows, out, in, ldx, ldy := s[0], s[1], s[2], s[3], s[4]
			w, bias := randomSlice(rng, out*in), randomSlice(rng, out)
			l := packFor(k, w, bias, out, in)
			wide := randomSlice(rng, rows*ldx)
			compact := make([]float32, rows*in)
			for i := range rows {
				copy(compact[i*in:(i+1)*in], wide[i*ldx+ldx-in:])
			}
			pool := NewPool(2)
			pool.Start()
			want := make([]float32, rows*out)
			pool.Linear(want, compact, rows, l, Accumulate)
			y := randomSlice(rng, rows*ldy)
			before := slices.Clone(y)
			off := ldy - out
			pool.LinearStrided(y[off:], ldy, wide[ldx-in:], ldx, rows, l, Store)
			pool.Stop()
			for i := range rows {
				for j := range ldy {
					got := y[i*ldy+j]
					switch {
					case j < off && got != before[i*ldy+j]:
						t.Fatalf("%s %v: y[%d][%d] outside the product changed", k.Name, s, i, j)
					case j >= off && got != want[i*out+j-off]:
						t.Fatalf("%s %v: y[%d][%d] = %g, want %g", k.Name, s, i, j, got, want[i*out+j-off])
					}
				}
			}
		}
	}
}
