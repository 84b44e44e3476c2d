package vit

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/clipfs/clipfs/curate/gemm"
)

// cpuRuntime runs a model in plain Go on every thread GOMAXPROCS allows.
// The images of a batch go through each matrix product together (batch ×
// tokens rows), so large batches amortise the cost of streaming the
// weights; activations live in buffers kept from one call to the next.
type cpuRuntime struct {
	mu      sync.Mutex
	m       *Model
	patch   *gemm.Matrix // the patch embedding as a product: [hidden, 3·P·P]
	layers  []cpuLayer
	proj    *gemm.Matrix
	pool    *gemm.Pool
	scores  [][]float32 // per pool worker: attention scores of one query (tokens)
	buf     activations
	closed  bool
	threads int
}

// cpuLayer is an encoder layer with its products packed.
type cpuLayer struct {
	*Layer
	qkv *gemm.Matrix // q, k and v projections as one product of 3 × hidden outputs
	out *gemm.Matrix
	fc1 *gemm.Matrix
	fc2 *gemm.Matrix
}

// activations are the buffers of one forward pass, sized for rows tokens.
type activations struct {
	rows int
	x    []float32 // [rows, hidden]: the residual stream
	h    []float32 // [rows, hidden]: a layer norm's output, then the attention's
	qkv  []float32 // [rows, 3 × hidden]
	wide []float32 // [rows, intermediate]: the MLP's middle, or the patches
}

// newCPU packs m's weights for the CPU runtime.
func newCPU(m *Model) Runtime {
	c := m.Config
	h := c.HiddenSize
	threads := runtime.GOMAXPROCS(0)
	r := &cpuRuntime{
		m:       m,
		patch:   gemm.Pack(m.PatchW, nil, h, 3*c.PatchSize*c.PatchSize),
		proj:    gemm.Pack(m.Proj, nil, c.ProjectionDim, h),
		pool:    gemm.NewPool(threads),
		threads: threads,
	}
	r.scores = make([][]float32, r.pool.Threads())
	for i := range r.scores {
		r.scores[i] = make([]float32, c.Patches()+1)
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		qkvW := append(append(append(make([]float32, 0, 3*h*h), l.QW...), l.KW...), l.VW...)
		qkvB := append(append(append(make([]float32, 0, 3*h), l.QB...), l.KB...), l.VB...)
		r.layers = append(r.layers, cpuLayer{
			Layer: l,
			qkv:   gemm.Pack(qkvW, qkvB, 3*h, h),
			out:   gemm.Pack(l.OW, l.OB, h, h),
			fc1:   gemm.Pack(l.FC1W, l.FC1B, c.IntermediateSize, h),
			fc2:   gemm.Pack(l.FC2W, l.FC2B, h, c.IntermediateSize),
		})
	}
	return r
}

// Device says "cpu (N threads)".
func (r *cpuRuntime) Device() string { return fmt.Sprintf("cpu (%d threads)", r.threads) }

// Close drops the packed weights and the buffers; Embed fails afterwards.
func (r *cpuRuntime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.layers, r.buf = nil, activations{}
	return nil
}

// Embed runs the forward pass on a batch of images (see Runtime).
func (r *cpuRuntime) Embed(images [][]float32) ([][]float32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("vit: Embed on a closed runtime")
	}
	c := r.m.Config
	want := 3 * c.ImageSize * c.ImageSize
	for i, img := range images {
		if len(img) != want {
			return nil, fmt.Errorf("vit: image %d has %d values, want %d (3×%d×%d)", i, len(img), want, c.ImageSize, c.ImageSize)
		}
	}
	if len(images) == 0 {
		return [][]float32{}, nil
	}
	r.pool.Start()
	defer r.pool.Stop()
	r.embedPatches(images)
	for i := range r.layers {
		r.encoderLayer(&r.layers[i], len(images))
	}
	return r.project(len(images)), nil
}

// grow makes the activation buffers hold rows tokens.
func (r *cpuRuntime) grow(rows int) {
	if rows <= r.buf.rows {
		return
	}
	c := r.m.Config
	pp := 3 * c.PatchSize * c.PatchSize
	r.buf = activations{
		rows: rows,
		x:    make([]float32, rows*c.HiddenSize),
		h:    make([]float32, rows*c.HiddenSize),
		qkv:  make([]float32, rows*3*c.HiddenSize),
		wide: make([]float32, rows*max(c.IntermediateSize, pp)),
	}
}

// embedPatches fills the residual stream with the embeddings: the patch
// embedding (a convolution of stride P, as im2col and a product), the class
// embedding first, the position embeddings added, then pre_layrnorm.
func (r *cpuRuntime) embedPatches(images [][]float32) {
	c, m := r.m.Config, r.m
	hid, p, s := c.HiddenSize, c.PatchSize, c.ImageSize
	g, np, tokens := s/p, c.Patches(), c.Patches()+1
	r.grow(len(images) * tokens)
	pp := 3 * p * p
	patches := r.buf.wide[:len(images)*np*pp]
	r.pool.Parallel(len(images)*np, func(_, row int) {
		img, gy, gx := images[row/np], (row%np)/g, row%g
		dst := patches[row*pp : (row+1)*pp]
		for ch := range 3 {
			for py := range p {
				src := img[ch*s*s+(gy*p+py)*s+gx*p:]
				copy(dst[(ch*p+py)*p:(ch*p+py+1)*p], src[:p])
			}
		}
	})
	embedded := r.buf.h[:len(images)*np*hid]
	r.pool.Linear(embedded, patches, len(images)*np, r.patch, gemm.Store)
	x := r.buf.x[:len(images)*tokens*hid]
	r.pool.Parallel(len(images)*tokens, func(_, row int) {
		t := row % tokens
		dst, pos := x[row*hid:(row+1)*hid], m.PosEmb[t*hid:(t+1)*hid]
		src := m.ClassEmb
		if t > 0 {
			pr := (row/tokens)*np + t - 1
			src = embedded[pr*hid : (pr+1)*hid]
		}
		for i, v := range src[:hid] {
			dst[i] = v + pos[i]
		}
		layerNorm(dst, dst, m.PreLNW, m.PreLNB, c.LayerNormEps)
	})
}

// encoderLayer runs one layer over the residual stream of n images:
// x += out_proj(attention(LN1(x))); x += fc2(quick_gelu(fc1(LN2(x)))).
func (r *cpuRuntime) encoderLayer(l *cpuLayer, n int) {
	c := r.m.Config
	hid, tokens := c.HiddenSize, c.Patches()+1
	rows := n * tokens
	x, h := r.buf.x[:rows*hid], r.buf.h[:rows*hid]
	qkv, wide := r.buf.qkv[:rows*3*hid], r.buf.wide[:rows*c.IntermediateSize]
	r.layerNorms(h, x, rows, l.LN1W, l.LN1B)
	r.pool.Linear(qkv, h, rows, l.qkv, gemm.Store)
	r.attention(h, qkv, n)
	r.pool.Linear(x, h, rows, l.out, gemm.Accumulate)
	r.layerNorms(h, x, rows, l.LN2W, l.LN2B)
	r.pool.Linear(wide, h, rows, l.fc1, gemm.StoreQuickGELU)
	r.pool.Linear(x, wide, rows, l.fc2, gemm.Accumulate)
}

// layerNorms normalises each of the rows of src into dst.
func (r *cpuRuntime) layerNorms(dst, src []float32, rows int, w, b []float32) {
	hid := r.m.Config.HiddenSize
	const chunk = 16
	r.pool.Parallel((rows+chunk-1)/chunk, func(_, t int) {
		for i := t * chunk; i < min(rows, (t+1)*chunk); i++ {
			layerNorm(dst[i*hid:(i+1)*hid], src[i*hid:(i+1)*hid], w, b, r.m.Config.LayerNormEps)
		}
	})
}

// attention computes multi-head self-attention for n images from the
// packed projections qkv ([rows, q|k|v]) into out ([rows, hidden]), one
// (image, head) pair per task.
func (r *cpuRuntime) attention(out, qkv []float32, n int) {
	c := r.m.Config
	hid, heads, tokens := c.HiddenSize, c.Heads, c.Patches()+1
	d := hid / heads
	scale := float32(1 / math.Sqrt(float64(d)))
	r.pool.Parallel(n*heads, func(worker, t int) {
		img, head := t/heads, t%heads
		rows := qkv[img*tokens*3*hid : (img+1)*tokens*3*hid]
		scores := r.scores[worker][:tokens]
		for i := range tokens {
			q := rows[i*3*hid+head*d : i*3*hid+head*d+d]
			best := float32(math.Inf(-1))
			for j := range tokens {
				k := rows[j*3*hid+hid+head*d : j*3*hid+hid+head*d+d]
				s := dot(q, k) * scale
				scores[j] = s
				best = max(best, s)
			}
			var sum float32
			for j, s := range scores {
				e := float32(math.Exp(float64(s - best)))
				scores[j] = e
				sum += e
			}
			o := out[(img*tokens+i)*hid+head*d : (img*tokens+i)*hid+head*d+d]
			clear(o)
			inv := 1 / sum
			for j, s := range scores {
				v := rows[j*3*hid+2*hid+head*d : j*3*hid+2*hid+head*d+d]
				axpy(o, v, s*inv)
			}
		}
	})
}

// project applies post_layernorm to the class token of each of n images
// and the visual projection.
func (r *cpuRuntime) project(n int) [][]float32 {
	c, m := r.m.Config, r.m
	hid, tokens := c.HiddenSize, c.Patches()+1
	pooled := make([]float32, n*hid)
	for i := range n {
		layerNorm(pooled[i*hid:(i+1)*hid], r.buf.x[i*tokens*hid:(i*tokens+1)*hid], m.PostLNW, m.PostLNB, c.LayerNormEps)
	}
	emb := make([]float32, n*c.ProjectionDim)
	r.pool.Linear(emb, pooled, n, r.proj, gemm.Store)
	out := make([][]float32, n)
	for i := range out {
		out[i] = emb[i*c.ProjectionDim : (i+1)*c.ProjectionDim : (i+1)*c.ProjectionDim]
	}
	return out
}

// layerNorm sets dst to (src - mean) / sqrt(var + eps) · w + b, with the
// mean and the biased variance over the row taken in float64.
func layerNorm(dst, src, w, b []float32, eps float32) {
	n := len(src)
	dst, w, b = dst[:n], w[:n], b[:n]
	var sum float64
	for _, v := range src {
		sum += float64(v)
	}
	mean := sum / float64(n)
	var sq float64
	for _, v := range src {
		d := float64(v) - mean
		sq += d * d
	}
	rstd := float32(1 / math.Sqrt(sq/float64(n)+float64(eps)))
	m := float32(mean)
	for i, v := range src {
		dst[i] = (v-m)*rstd*w[i] + b[i]
	}
}

// dot is the dot product of a and b (of the same length).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 4 && len(b) >= 4 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		a, b = a[4:], b[4:]
	}
	for i, v := range a {
		s0 += v * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds s·x to y (of the same length).
func axpy(y, x []float32, s float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += s * v
	}
}
