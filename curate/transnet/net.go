package transnet

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/clipfs/clipfs/curate/gemm"
)

// How the network runs on the CPU.
//
// Activations are channels-last: a stack's input is [T][H][W][C] floats.
// A block's four 1×3×3 convolutions read the same input, so they are one
// product: the input unfolded into rows of 3×3×C values (zeros outside the
// picture), times the four weights side by side, [8F, 9C]; unfolding is
// done a few frames at a time so that the unfolded rows stay a few MB.
// Each branch's 3×1×1 convolution with dilation d is then three products
// of [F, 2F], one per tap, reading the branch's channels at frames t-d, t
// and t+d in place (strided rows) and adding into the branch's quarter of
// the block's output (zeros outside the window: the outer taps skip the
// frames at its edges). Batch norm is folded into those weights and a bias
// (inference uses the running statistics only), then the ReLU that follows
// the first block of a stack.
const unfoldFloats = 1 << 21

// Net is a Model ready to run on the CPU. Its methods may be called from
// several goroutines; calls run one at a time, each on all cores.
type Net struct {
	mu      sync.Mutex
	pool    *gemm.Pool
	blocks  [stacks][blocksPer]netBlock
	simProj *gemm.Matrix
	simFC   *gemm.Matrix
	histFC  *gemm.Matrix
	fc1     *gemm.Matrix
	clsW    []float32
	clsB    float32
}

// netBlock is a Block packed for the products.
type netBlock struct {
	in, f    int
	spatial  *gemm.Matrix                          // [8F, 9·in]: the four 1×3×3 convolutions
	temporal [dilations][temporalTaps]*gemm.Matrix // [F, 2F] per tap, batch norm folded in (its shift the middle tap's bias)
	relu     bool
}

// NewNet packs m for threads threads (0: GOMAXPROCS).
func NewNet(m *Model, threads int) *Net {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	n := &Net{pool: gemm.NewPool(threads)}
	for s := range stacks {
		for b := range blocksPer {
			n.blocks[s][b] = packBlock(&m.Blocks[s][b], b == 0)
		}
	}
	n.simProj = gemm.Pack(m.SimProjW, m.SimProjB, simDim, simInputs)
	n.simFC = gemm.Pack(m.SimFCW, m.SimFCB, simDim, lookup)
	n.histFC = gemm.Pack(m.HistFCW, m.HistFCB, histDim, lookup)
	n.fc1 = gemm.Pack(m.FC1W, m.FC1B, hidden, fc1Inputs)
	n.clsW, n.clsB = m.ClsW, m.ClsB[0]
	return n
}

// Device says where the network runs.
func (n *Net) Device() string { return fmt.Sprintf("cpu (%d threads)", n.pool.Threads()) }

func packBlock(b *Block, relu bool) netBlock {
	in, f := b.In, b.Filters
	spatial := make([]float32, 8*f*9*in)
	for d := range dilations {
		w := b.Spatial[d] // [2F, in, 1, 3, 3]
		for oc := range 2 * f {
			row := spatial[(d*2*f+oc)*9*in:][:9*in]
			for c := range in {
				for k := range spatialTaps {
					row[k*in+c] = w[(oc*in+c)*9+k]
				}
			}
		}
	}
	nb := netBlock{in: in, f: f, spatial: gemm.Pack(spatial, nil, 8*f, 9*in), relu: relu}
	for d := range dilations {
		w := b.Temporal[d] // [F, 2F, 3, 1, 1]
		folded := make([]float32, f*3*2*f)
		bias := make([]float32, f)
		for o := range f {
			ch := d*f + o
			scale := float64(b.Gamma[ch]) / math.Sqrt(float64(b.Var[ch])+bnEpsilon)
			bias[o] = float32(float64(b.Beta[ch]) - float64(b.Mean[ch])*scale)
			for c := range 2 * f {
				for k := range temporalTaps {
					folded[o*6*f+k*2*f+c] = float32(float64(w[(o*2*f+c)*3+k]) * scale)
				}
			}
		}
		for k := range temporalTaps {
			tap := make([]float32, f*2*f)
			for o := range f {
				copy(tap[o*2*f:(o+1)*2*f], folded[o*6*f+k*2*f:][:2*f])
			}
			var b []float32
			if k == 1 {
				b = bias
			}
			nb.temporal[d][k] = gemm.Pack(tap, b, f, 2*f)
		}
	}
	return nb
}

// window is the scratch of one forward pass, grown to the longest window.
type window struct {
	x, y, z, mid, unfold []float32
	pooled               [stacks][]float32
	head                 []float32
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// forward returns the transition probability of each of the t frames of
// rgb (t × 27 × 48 × 3 bytes): sigmoid of the single-frame head, as NeMo's
// model returns it.
func (n *Net) forward(w *window, rgb []byte, t int) []float32 {
	h, wd := Height, Width
	w.x = grow(w.x, t*FrameBytes)
	for i, v := range rgb[:t*FrameBytes] {
		w.x[i] = float32(v) / 255
	}
	in := w.x
	for s := range stacks {
		b0, b1 := &n.blocks[s][0], &n.blocks[s][1]
		out := 4 * b0.f
		w.y = grow(w.y, t*h*wd*out)
		w.z = grow(w.z, t*h*wd*out)
		n.block(w, b0, in, w.y, t, h, wd)
		n.block(w, b1, w.y, w.z, t, h, wd)
		// relu(z) + shortcut, then the 1×2×2 average pool (a last odd row
		// or column dropped, as AvgPool3d does).
		ph, pw := h/2, wd/2
		w.pooled[s] = grow(w.pooled[s], t*ph*pw*out)
		pooled := w.pooled[s]
		z, y := w.z, w.y
		n.pool.Parallel(t*ph, func(_, r int) {
			f, py := r/ph, r%ph
			for px := range pw {
				dst := pooled[((f*ph+py)*pw+px)*out:][:out]
				i00 := ((f*h+2*py)*wd + 2*px) * out
				i10 := i00 + wd*out
				z00, z01, z10, z11 := z[i00:][:out], z[i00+out:][:out], z[i10:][:out], z[i10+out:][:out]
				y00, y01, y10, y11 := y[i00:][:out], y[i00+out:][:out], y[i10:][:out], y[i10+out:][:out]
				for ch := range dst {
					sum := max(z00[ch], 0) + y00[ch]
					sum += max(z01[ch], 0) + y01[ch]
					sum += max(z10[ch], 0) + y10[ch]
					sum += max(z11[ch], 0) + y11[ch]
					dst[ch] = sum / 4
				}
			}
		})
		h, wd, in = ph, pw, pooled
	}
	// The head's input per frame: colour histograms' and frame
	// similarities' features, then the last stack's pixels (H, W, C order).
	w.head = grow(w.head, t*fc1Inputs)
	head := w.head
	hist := n.colorHistograms(rgb, t)
	sim := n.frameSimilarity(w, t)
	last := w.pooled[stacks-1]
	for f := range t {
		row := head[f*fc1Inputs:][:fc1Inputs]
		copy(row, hist[f*histDim:][:histDim])
		copy(row[histDim:], sim[f*simDim:][:simDim])
		copy(row[histDim+simDim:], last[f*featureDim:][:featureDim])
	}
	hid := make([]float32, t*hidden)
	n.pool.Linear(hid, head, t, n.fc1, gemm.StoreReLU)
	scores := make([]float32, t)
	for f := range t {
		var logit float32
		for i, v := range hid[f*hidden:][:hidden] {
			logit += v * n.clsW[i]
		}
		logit += n.clsB
		scores[f] = float32(1 / (1 + math.Exp(-float64(logit))))
	}
	return scores
}

// block runs one DilatedDCNNV2 on in ([t][h][w][b.in]) into out
// ([t][h][w][4F]).
func (n *Net) block(w *window, b *netBlock, in, out []float32, t, h, wd int) {
	hw, f := h*wd, b.f
	w.mid = grow(w.mid, t*hw*8*f)
	mid := w.mid
	n.spatial(w, b, in, mid, t, h, wd)
	n.temporal(b, mid, out, t, hw)
}

// spatial is the block's four 1×3×3 convolutions as one product over the
// input unfolded into rows of 3×3×in values.
func (n *Net) spatial(w *window, b *netBlock, in, mid []float32, t, h, wd int) {
	hw, f := h*wd, b.f
	k1 := 9 * b.in
	chunk := max(1, min(t, unfoldFloats/(hw*k1)))
	w.unfold = grow(w.unfold, chunk*hw*k1)
	unfold := w.unfold
	for t0 := 0; t0 < t; t0 += chunk {
		frames := min(chunk, t-t0)
		n.pool.Parallel(frames*h, func(_, r int) {
			fr, y := t0+r/h, r%h
			for x := range wd {
				dst := unfold[((r/h*h+y)*wd+x)*k1:][:k1]
				for ky := range 3 {
					for kx := range 3 {
						seg := dst[(ky*3+kx)*b.in:][:b.in]
						sy, sx := y+ky-1, x+kx-1
						if sy < 0 || sy >= h || sx < 0 || sx >= wd {
							clear(seg)
							continue
						}
						copy(seg, in[((fr*h+sy)*wd+sx)*b.in:][:b.in])
					}
				}
			}
		})
		n.pool.Linear(mid[t0*hw*8*f:], unfold[:frames*hw*k1], frames*hw, b.spatial, gemm.Store)
	}
}

// temporal is the block's four 3×1×1 convolutions (with batch norm and,
// for a stack's first block, the ReLU) of mid into out. Each branch's
// convolution is three products, one per tap, reading its quarter of mid's
// channels shifted by the dilation in time and adding into its quarter of
// out: the middle tap over every frame (with the bias), the others over the
// frames whose neighbour lies inside the window (outside it is zero
// padding).
func (n *Net) temporal(b *netBlock, mid, out []float32, t, hw int) {
	f := b.f
	ldx, ldy := 8*f, 4*f
	for d := range dilations {
		dil := 1 << d
		x, y := mid[d*2*f:], out[d*f:]
		n.pool.LinearStrided(y, ldy, x, ldx, t*hw, b.temporal[d][1], gemm.Store)
		if t <= dil {
			continue
		}
		rows := (t - dil) * hw
		n.pool.LinearStrided(y[dil*hw*ldy:], ldy, x, ldx, rows, b.temporal[d][0], gemm.Accumulate)
		n.pool.LinearStrided(y, ldy, x[dil*hw*ldx:], ldx, rows, b.temporal[d][2], gemm.Accumulate)
	}
	if b.relu {
		n.pool.Parallel(t, func(_, fr int) { gemm.ReLU(out[fr*hw*ldy : (fr+1)*hw*ldy]) })
	}
}

// lookupWindow turns the t × t similarities sim into rows of the lookup
// window's 101 values, row i holding sim[i][i-50 … i+50] (zeros outside).
func lookupWindow(sim []float32, t int) []float32 {
	half := (lookup - 1) / 2
	out := make([]float32, t*lookup)
	for i := range t {
		for j := range lookup {
			if u := i + j - half; u >= 0 && u < t {
				out[i*lookup+j] = sim[i*t+u]
			}
		}
	}
	return out
}

// normalizeRows divides each row of dim values by its L2 norm (at least
// 1e-12), as torch.nn.functional.normalize does.
func normalizeRows(x []float32, dim int) {
	for r := 0; r+dim <= len(x); r += dim {
		row := x[r : r+dim]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		norm := float32(max(math.Sqrt(ss), normEpsilon))
		for i := range row {
			row[i] /= norm
		}
	}
}

// gram is x·xᵀ for t rows of dim values.
func gram(x []float32, t, dim int) []float32 {
	sim := make([]float32, t*t)
	for i := range t {
		a := x[i*dim:][:dim]
		for j := i; j < t; j++ {
			b := x[j*dim:][:dim]
			var s float32
			for k, v := range a {
				s += v * b[k]
			}
			sim[i*t+j], sim[j*t+i] = s, s
		}
	}
	return sim
}

// frameSimilarity is FrameSimilarity over the three stacks' outputs.
func (n *Net) frameSimilarity(w *window, t int) []float32 {
	means := make([]float32, t*simInputs)
	h, wd := Height, Width
	off := 0
	for s := range stacks {
		h, wd = h/2, wd/2
		ch := 4 * baseFilters << s
		p := w.pooled[s]
		for f := range t {
			dst := means[f*simInputs+off:][:ch]
			for px := range h * wd {
				for c, v := range p[(f*h*wd+px)*ch:][:ch] {
					dst[c] += v
				}
			}
			for c := range dst {
				dst[c] /= float32(h * wd)
			}
		}
		off += ch
	}
	proj := make([]float32, t*simDim)
	n.pool.Linear(proj, means, t, n.simProj, gemm.Store)
	normalizeRows(proj, simDim)
	out := make([]float32, t*simDim)
	n.pool.Linear(out, lookupWindow(gram(proj, t, simDim), t), t, n.simFC, gemm.StoreReLU)
	return out
}

// colorHistograms is ColorHistograms: per frame, the 512-bin histogram of
// the top 3 bits of R, G and B, L2-normalised, compared across frames.
func (n *Net) colorHistograms(rgb []byte, t int) []float32 {
	hist := make([]float32, t*histBins)
	for f := range t {
		var counts [histBins]int32
		px := rgb[f*FrameBytes:][:FrameBytes]
		for i := 0; i < FrameBytes; i += 3 {
			counts[int(px[i]>>5)<<6|int(px[i+1]>>5)<<3|int(px[i+2]>>5)]++
		}
		for i, c := range counts {
			hist[f*histBins+i] = float32(c)
		}
	}
	normalizeRows(hist, histBins)
	out := make([]float32, t*histDim)
	n.pool.Linear(out, lookupWindow(gram(hist, t, histBins), t), t, n.histFC, gemm.StoreReLU)
	return out
}

// Window geometry of NeMo's _get_batches: windows of up to 100 frames, one
// every 50, each with 25 frames of context before and after the 50 it
// scores.
const (
	windowStep    = 50
	windowContext = 25
)

// Scores returns the transition probability of every frame of rgb, frames
// of 27×48 RGB one after another (a Scorer fed them all).
func (n *Net) Scores(rgb []byte) ([]float32, error) {
	if len(rgb)%FrameBytes != 0 {
		return nil, fmt.Errorf("transnet: %d bytes is not a whole number of %d×%d RGB frames", len(rgb), Width, Height)
	}
	sc := n.NewScorer()
	for i := 0; i < len(rgb); i += FrameBytes {
		sc.Push(rgb[i : i+FrameBytes])
	}
	return sc.Finish()
}

// Scorer computes the transition probabilities of a video's frames as they
// come, as NeMo's _get_predictions computes them before thresholding: the
// video cut into windows as _get_batches does (one every 50 frames, from 25
// before to 75 after its start; the first led by 25 copies of frame 0;
// windows at the end are shorter, as NeMo leaves them), each window's
// frames 25 to 75 kept. It holds at most 125 frames.
type Scorer struct {
	n      *Net
	w      window
	base   int    // number of the first frame in frames
	frames []byte // frames base, base+1, ... as they came
	next   int    // start of the next window to run
	total  int
	scores []float32
	buf    []byte
}

// NewScorer starts scoring a video.
func (n *Net) NewScorer() *Scorer { return &Scorer{n: n} }

// Push adds the next frame, FrameBytes of RGB; it is copied. A window runs
// as soon as its last frame is in.
func (s *Scorer) Push(frame []byte) {
	s.frames = append(s.frames, frame[:FrameBytes]...)
	s.total++
	for s.total >= s.next+windowStep+windowContext {
		s.run()
	}
}

// Finish runs the windows left and returns every frame's probability. A
// video without frames is an error.
func (s *Scorer) Finish() ([]float32, error) {
	if s.total == 0 {
		return nil, fmt.Errorf("transnet: no frames")
	}
	for s.next < s.total {
		s.run()
	}
	return s.scores[:s.total], nil
}

// run runs the window starting at s.next and drops the frames no later
// window needs.
func (s *Scorer) run() {
	i := s.next
	start, end := max(i-windowContext, 0), min(i+windowStep+windowContext, s.total)
	s.buf = s.buf[:0]
	for range max(0, windowContext-i) {
		s.buf = append(s.buf, s.frames[:FrameBytes]...) // frame 0: base is 0 until i >= 25
	}
	s.buf = append(s.buf, s.frames[(start-s.base)*FrameBytes:(end-s.base)*FrameBytes]...)
	t := len(s.buf) / FrameBytes
	s.n.mu.Lock()
	s.n.pool.Start()
	out := s.n.forward(&s.w, s.buf, t)
	s.n.pool.Stop()
	s.n.mu.Unlock()
	s.scores = append(s.scores, out[windowContext:min(t, windowContext+windowStep)]...)
	s.next += windowStep
	if keep := s.next - windowContext; keep > s.base {
		drop := min(keep, s.base+len(s.frames)/FrameBytes) - s.base
		s.frames = s.frames[:copy(s.frames, s.frames[drop*FrameBytes:])]
		s.base += drop
	}
}

// Scenes reads per-frame probabilities as NeMo's _get_scenes does: a frame
// above threshold is a transition; a scene runs from the first frame after
// a run of transitions to the frame where the next run starts; the last
// scene, when the video does not end in a transition, ends at the last
// frame's number (frames-1, as NeMo's loop leaves it). A video without
// transitions is one scene [0, frames).
func Scenes(scores []float32, threshold float64) [][2]int {
	var scenes [][2]int
	// NeMo compares a float32 tensor with a Python float, which torch
	// casts to float32.
	th := float32(threshold)
	prev, cur, start := 0, -1, 0
	i := 0
	for i = range scores {
		cur = 0
		if scores[i] > th {
			cur = 1
		}
		if prev == 1 && cur == 0 {
			start = i
		}
		if prev == 0 && cur == 1 && i != 0 {
			scenes = append(scenes, [2]int{start, i})
		}
		prev = cur
	}
	if len(scenes) > 0 && cur == 0 {
		scenes = append(scenes, [2]int{start, i})
	}
	if len(scenes) == 0 {
		scenes = append(scenes, [2]int{0, len(scores)})
	}
	return scenes
}
