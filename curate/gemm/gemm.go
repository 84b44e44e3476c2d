package gemm

import (
	"math"
	"sync"
	"sync/atomic"
)

// The matrix product behind every Linear layer, y = x·Wᵀ + b.
//
// W is packed once, when a model is loaded, into panels of nr output columns
// stored k-major (for each input index the nr weights side by side, K padded
// with zeros to a multiple of ku). A product is cut into tasks of up to mc
// rows × nc columns that the worker pool takes in turn; a task packs its rows
// of x, kc input columns at a time, into mr-row micro-panels (which stay in
// L2) and runs the micro-kernel over every pair of micro-panels, the weight
// micro-panel (kc × nr) staying in L1. Missing rows and columns of a tile at
// the edge are zeros in the packed panels; the kernel then writes into a
// scratch tile of which only the valid part is added to y.
//
// The micro-kernel and its tile (mr × nr) and task (mc × at most ncMax)
// sizes are a Kernel, chosen when the package starts (active):
// the AVX2+FMA assembly kernel of matmul_amd64.s where the CPU has it,
// else Portable. A Matrix remembers the kernel it was packed for.
//
// Every output is the bias (or bias + residual), then for each block of kc
// inputs in order the block's sum added to it, that sum being computed by
// the kernel in k order in a register of its own. Nothing depends on the
// output's place in a tile or task, so a row's result is the same whatever
// batch it is in and however many threads run.
const (
	ku = 4   // K is padded to a multiple of ku
	kc = 256 // input columns per packed block
)

// Kernel is a register-tiled kernel and the blocking that suits it.
type Kernel struct {
	Name   string
	mr, nr int // rows and columns of a tile
	mc     int // rows per task, a multiple of mr
	ncMax  int // most columns per task (rounded up to a multiple of nr)
	// tile adds a·b to the mr × nr tile of c at c[0:], c[ldc:], …: a is a
	// micro-panel of x (k-major, mr values per k), b one of W (nr values
	// per k), of the same length in k, a multiple of ku.
	tile func(a, b, c []float32, ldc int)
}

// Portable is the portable kernel (goTile below): 2 × 3, 48 rows per task.
//
// Go does not vectorise and has 15 usable float registers, and its
// scheduler issues every product of a straight-line block before the
// additions that end the loop iteration, so a larger tile (4×4, 4×8)
// spills its accumulators to the stack and runs at less than half the
// speed. At 2×3 the six accumulators, six products and two row values
// fit, and unrolling 4 times along k lets the first three steps of each
// iteration interleave their products and additions; on the machines
// measured this ran 2.5× faster than 4×4 and within a few percent of the
// best of 1×6, 3×2 and 2×4.
var Portable = &Kernel{Name: "go", mr: 2, nr: 3, mc: 48, ncMax: 256, tile: goTile}

// active is the kernel Pack packs for: Portable unless init found a
// faster one for this CPU.
var active = Portable

// Active is the kernel Pack packs for on this CPU.
func Active() *Kernel { return active }

// Use makes Pack pack for k until the returned function is called (tests
// force Portable with it, to check the fallback a CPU without AVX2 takes).
// Matrices packed before keep their kernel.
func Use(k *Kernel) (restore func()) {
	prev := active
	active = k
	return func() { active = prev }
}

// Matrix is a Linear layer's weight ([out, in], PyTorch's layout) and bias
// packed for a micro-kernel.
type Matrix struct {
	out, in int
	kp      int       // in, rounded up to a multiple of ku
	kernel  *Kernel   // the kernel the panels are laid out for
	panels  []float32 // ceil(out/nr) panels of kp × nr
	bias    []float32 // [out], nil for none
}

// roundUp rounds x up to a multiple of m.
func roundUp(x, m int) int { return (x + m - 1) / m * m }

// Pack packs weight w [out, in] and bias (nil for none) for the active
// kernel. The Matrix keeps bias, not a copy.
func Pack(w, bias []float32, out, in int) *Matrix {
	nr, kp := active.nr, roundUp(in, ku)
	l := &Matrix{out: out, in: in, kp: kp, kernel: active, panels: make([]float32, roundUp(out, nr)*kp), bias: bias}
	for j := 0; j < out; j++ {
		panel := l.panels[(j/nr)*kp*nr : (j/nr+1)*kp*nr]
		for k, v := range w[j*in : (j+1)*in] {
			panel[k*nr+j%nr] = v
		}
	}
	return l
}

// Epilogue is what a product does with its output.
type Epilogue int

const (
	Store          Epilogue = iota // y = x·Wᵀ + b
	Accumulate                     // y += x·Wᵀ + b (a residual connection)
	StoreQuickGELU                 // y = quick_gelu(x·Wᵀ + b)
	StoreReLU                      // y = max(0, x·Wᵀ + b)
)

// Out and In are the matrix's output and input sizes.
func (m *Matrix) Out() int { return m.out }
func (m *Matrix) In() int  { return m.in }

// Pool is a pool of goroutines, one per thread, started for the length
// of a model call (Start, then Stop); the calling goroutine is worker 0.
// Products and Parallel loops may run while it is stopped, on the calling
// goroutine alone.
type Pool struct {
	n     int
	jobs  chan *job   // nil when stopped
	apack [][]float32 // per worker: packed rows of x (mc × kc), grown on use
	tiles [][]float32 // per worker: an edge tile (mr × nr), grown on use
}

// job is one parallel loop: fn(worker, i) for i in [0, n).
type job struct {
	next atomic.Int64
	n    int64
	fn   func(worker, i int)
	wg   sync.WaitGroup
}

// loop runs iterations of j until none is left.
func (j *job) loop(worker int) {
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		j.fn(worker, int(i))
	}
}

// NewPool makes a pool of n threads (at least 1).
func NewPool(n int) *Pool {
	n = max(1, n)
	return &Pool{n: n, apack: make([][]float32, n), tiles: make([][]float32, n)}
}

// Threads is the number of workers, the calling goroutine included; a
// Parallel loop's worker argument is below it.
func (w *Pool) Threads() int { return w.n }

// Start starts the helper goroutines.
func (w *Pool) Start() {
	w.jobs = make(chan *job, w.n)
	for id := 1; id < w.n; id++ {
		go func(jobs <-chan *job) {
			for j := range jobs {
				j.loop(id)
				j.wg.Done()
			}
		}(w.jobs)
	}
}

// Stop ends the helper goroutines.
func (w *Pool) Stop() {
	close(w.jobs)
	w.jobs = nil
}

// Parallel runs fn(worker, i) for every i in [0, n) on the pool and returns
// when all have returned.
func (w *Pool) Parallel(n int, fn func(worker, i int)) {
	j := &job{n: int64(n), fn: fn}
	helpers := 0
	if w.jobs != nil {
		helpers = min(w.n-1, n-1)
	}
	j.wg.Add(helpers)
	for range helpers {
		w.jobs <- j
	}
	j.loop(0)
	j.wg.Wait()
}

// Linear computes y = x·Wᵀ + b for the rows × l.In() matrix x into the
// rows × l.Out() matrix y, finishing as e says.
func (w *Pool) Linear(y, x []float32, rows int, l *Matrix, e Epilogue) {
	w.LinearStrided(y, l.out, x, l.in, rows, l, e)
}

// LinearStrided is Linear of matrices whose rows lie ldx (x) and ldy (y)
// floats apart, at least l.In() and l.Out(): a product can then read
// some columns of a wider matrix (a group of channels, frames shifted in
// time) and write into some columns of another, without copies.
func (w *Pool) LinearStrided(y []float32, ldy int, x []float32, ldx int, rows int, l *Matrix, e Epilogue) {
	if ldx < l.in || ldy < l.out {
		panic("gemm: row stride shorter than the row")
	}
	k := l.kernel
	rowTasks := (rows + k.mc - 1) / k.mc
	// Enough column blocks that every thread has about four tasks, but
	// no narrower than 8 micro-tiles nor wider than ncMax columns.
	colTasks := max(1, (4*w.n+rowTasks-1)/rowTasks)
	nc := min(max(roundUp((l.out+colTasks-1)/colTasks, k.nr), 8*k.nr), roundUp(k.ncMax, k.nr))
	colTasks = (l.out + nc - 1) / nc
	w.Parallel(rowTasks*colTasks, func(worker, t int) {
		if len(w.apack[worker]) < k.mc*kc || len(w.tiles[worker]) < k.mr*k.nr {
			w.apack[worker] = make([]float32, max(len(w.apack[worker]), k.mc*kc))
			w.tiles[worker] = make([]float32, max(len(w.tiles[worker]), k.mr*k.nr))
		}
		i0, j0 := (t/colTasks)*k.mc, (t%colTasks)*nc
		b := block{y: y, x: x, ldy: ldy, ldx: ldx, l: l, i0: i0, i1: min(i0+k.mc, rows), j0: j0, j1: min(j0+nc, l.out)}
		b.run(w.apack[worker], w.tiles[worker][:k.mr*k.nr], e)
	})
}

// block is one task of a product: rows [i0, i1) and columns [j0, j1) of y.
type block struct {
	y, x           []float32
	ldy, ldx       int // row strides of y and x
	l              *Matrix
	i0, i1, j0, j1 int
}

// run computes the block, packing x into apack and computing edge tiles
// in tile.
func (b *block) run(apack, tile []float32, e Epilogue) {
	b.begin(e)
	k := b.l.kernel
	mr, nr, n := k.mr, k.nr, b.ldy
	groups := (b.i1 - b.i0 + mr - 1) / mr
	for k0 := 0; k0 < b.l.kp; k0 += kc {
		kb := min(kc, b.l.kp-k0)
		b.pack(apack, k0, kb)
		for j := b.j0; j < b.j1; j += nr {
			p := (j / nr) * b.l.kp * nr
			bp := b.l.panels[p+k0*nr : p+(k0+kb)*nr]
			for g := range groups {
				ap := apack[g*kb*mr : (g+1)*kb*mr]
				i := b.i0 + g*mr
				if i+mr <= b.i1 && j+nr <= b.j1 {
					k.tile(ap, bp, b.y[i*n+j:], n)
					continue
				}
				// A partial tile at the bottom or right edge.
				clear(tile)
				k.tile(ap, bp, tile, nr)
				for r := 0; r < mr && i+r < b.i1; r++ {
					row := b.y[(i+r)*n+j : (i+r)*n+min(j+nr, b.j1)]
					for q, v := range tile[r*nr : r*nr+len(row)] {
						row[q] += v
					}
				}
			}
		}
	}
	switch e {
	case StoreQuickGELU:
		for i := b.i0; i < b.i1; i++ {
			QuickGELU(b.y[i*n+b.j0 : i*n+b.j1])
		}
	case StoreReLU:
		for i := b.i0; i < b.i1; i++ {
			ReLU(b.y[i*n+b.j0 : i*n+b.j1])
		}
	}
}

// begin puts the bias (and for Accumulate, the old value) into the block.
func (b *block) begin(e Epilogue) {
	n := b.ldy
	for i := b.i0; i < b.i1; i++ {
		row := b.y[i*n+b.j0 : i*n+b.j1]
		switch {
		case e == Accumulate && b.l.bias != nil:
			for j, v := range b.l.bias[b.j0:b.j1] {
				row[j] += v
			}
		case e == Accumulate:
		case b.l.bias != nil:
			copy(row, b.l.bias[b.j0:b.j1])
		default:
			clear(row)
		}
	}
}

// pack copies columns [k0, k0+kb) of the block's rows of x into apack as
// micro-panels of mr rows, k-major, padding missing rows and columns with
// zeros.
func (b *block) pack(apack []float32, k0, kb int) {
	in, ld, mr := b.l.in, b.ldx, b.l.kernel.mr
	kend := max(0, min(kb, in-k0))
	for g := 0; g < (b.i1-b.i0+mr-1)/mr; g++ {
		dst := apack[g*kb*mr : (g+1)*kb*mr]
		i := b.i0 + g*mr
		if mr == 6 && i+6 <= b.i1 {
			pack6(dst[:kend*6], b.x[i*ld+k0:], ld)
			clear(dst[kend*6:])
			continue
		}
		for r := range mr {
			if i+r >= b.i1 {
				for k := range kb {
					dst[k*mr+r] = 0
				}
				continue
			}
			src := b.x[(i+r)*ld+k0 : (i+r)*ld+k0+kend]
			for k, v := range src {
				dst[k*mr+r] = v
			}
			for k := kend; k < kb; k++ {
				dst[k*mr+r] = 0
			}
		}
	}
}

// pack6 copies len(dst)/6 columns of 6 rows of x (row stride in) into dst,
// k-major: the common case of pack for the 6-row tile of avx2Kernel.
func pack6(dst, x []float32, in int) {
	n := len(dst) / 6
	r0, r1, r2 := x[:n], x[in:][:n], x[2*in:][:n]
	r3, r4, r5 := x[3*in:][:n], x[4*in:][:n], x[5*in:][:n]
	for k := range n {
		d := dst[k*6:][:6]
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[k], r1[k], r2[k], r3[k], r4[k], r5[k]
	}
}

// goTile is Portable's tile: it adds a·b to the 2×3 tile of c at rows
// c[0:], c[ldc:], unrolled 4 times along k.
func goTile(a, b, c []float32, ldc int) {
	var c00, c01, c02, c10, c11, c12 float32
	for len(a) >= 8 && len(b) >= 12 {
		x0, x1 := a[0], a[1]
		c00 += x0 * b[0]
		c10 += x1 * b[0]
		c01 += x0 * b[1]
		c11 += x1 * b[1]
		c02 += x0 * b[2]
		c12 += x1 * b[2]
		x0, x1 = a[2], a[3]
		c00 += x0 * b[3]
		c10 += x1 * b[3]
		c01 += x0 * b[4]
		c11 += x1 * b[4]
		c02 += x0 * b[5]
		c12 += x1 * b[5]
		x0, x1 = a[4], a[5]
		c00 += x0 * b[6]
		c10 += x1 * b[6]
		c01 += x0 * b[7]
		c11 += x1 * b[7]
		c02 += x0 * b[8]
		c12 += x1 * b[8]
		x0, x1 = a[6], a[7]
		c00 += x0 * b[9]
		c10 += x1 * b[9]
		c01 += x0 * b[10]
		c11 += x1 * b[10]
		c02 += x0 * b[11]
		c12 += x1 * b[11]
		a, b = a[8:], b[12:]
	}
	r0 := c[0:3:3]
	r0[0] += c00
	r0[1] += c01
	r0[2] += c02
	r1 := c[ldc : ldc+3 : ldc+3]
	r1[0] += c10
	r1[1] += c11
	r1[2] += c12
}

// QuickGELU applies x·sigmoid(1.702·x) to every value, as HF's
// QuickGELUActivation does in float32.
func QuickGELU(x []float32) {
	for i, v := range x {
		x[i] = v * float32(1/(1+math.Exp(-float64(1.702*v))))
	}
}

// ReLU replaces every negative value (and -0) by 0.
func ReLU(x []float32) {
	for i, v := range x {
		if !(v > 0) {
			x[i] = 0
		}
	}
}
