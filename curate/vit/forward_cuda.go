//go:build cuda

package vit

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"gorgonia.org/cu"
)

// deviceActivations are the device buffers of a forward pass for up to capacity
// images, in one deviceArena. With B images, T tokens, R = B·T rows, D hidden,
// I intermediate, H heads, P patches and K = 3·patch² values per patch:
type deviceActivations struct {
	mem      deviceArena
	capacity int
	img      cu.DevicePtr // [B, 3, S, S] the preprocessed images
	cols     cu.DevicePtr // [B·P, K] im2col of the images
	patches  cu.DevicePtr // [B·P, D] patch embeddings
	x        cu.DevicePtr // [R, D] the residual stream
	h        cu.DevicePtr // [R, D] layernorm output
	qkv      cu.DevicePtr // [R, 3D] fused q|k|v projection, without bias
	q, k, v  cu.DevicePtr // [B, H, T, D/H] each, with bias
	scores   cu.DevicePtr // [B, H, T, T] attention weights
	heads    cu.DevicePtr // [B, H, T, D/H] attention output per head
	ctx      cu.DevicePtr // [R, D] attention output, heads merged
	mlp      cu.DevicePtr // [R, I] MLP hidden layer
	cls      cu.DevicePtr // [B, D] post-layernormed class tokens
	embed    cu.DevicePtr // [B, projection] the output
}

// newDeviceActivations allocates the buffers for batch images.
func newDeviceActivations(c Config, batch int) (*deviceActivations, error) {
	var (
		a         = &deviceActivations{capacity: batch}
		t         = c.Patches() + 1
		r         = batch * t
		d         = c.HiddenSize
		imgFloats = batch * 3 * c.ImageSize * c.ImageSize
	)
	offs := []struct {
		p *cu.DevicePtr
		n int
	}{
		{&a.img, imgFloats},
		{&a.cols, batch * c.Patches() * 3 * c.PatchSize * c.PatchSize},
		{&a.patches, batch * c.Patches() * d},
		{&a.x, r * d},
		{&a.h, r * d},
		{&a.qkv, r * 3 * d},
		{&a.q, r * d},
		{&a.k, r * d},
		{&a.v, r * d},
		{&a.scores, batch * c.Heads * t * t},
		{&a.heads, r * d},
		{&a.ctx, r * d},
		{&a.mlp, r * c.IntermediateSize},
		{&a.cls, batch * d},
		{&a.embed, batch * c.ProjectionDim},
	}
	at := make([]int64, len(offs))
	for i, o := range offs {
		at[i] = a.mem.reserve(o.n)
	}
	if err := a.mem.alloc(fmt.Sprintf("the activations of %d images", batch)); err != nil {
		return nil, err
	}
	for i, o := range offs {
		*o.p = a.mem.at(at[i])
	}
	return a, nil
}

// free releases the buffers; safe on nil.
func (a *deviceActivations) free() error {
	if a == nil {
		return nil
	}
	return a.mem.free("the activations")
}

// maxBatchElements bounds batch·tokens·max(3·hidden, intermediate, heads·tokens)
// so that every int32 size given to cuBLAS and the kernels fits.
const maxBatchElements = math.MaxInt32

// Embed runs the batch through the model on the GPU; see Runtime.
func (r *cudaRuntime) Embed(images [][]float32) ([][]float32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("vit: cuda: Embed after Close")
	}
	if len(images) == 0 {
		return [][]float32{}, nil
	}
	c := r.cfg
	per := 3 * c.ImageSize * c.ImageSize
	for i, img := range images {
		if len(img) != per {
			return nil, fmt.Errorf("vit: cuda: image %d has %d values, want 3×%d×%d = %d", i, len(img), c.ImageSize, c.ImageSize, per)
		}
	}
	t := int64(c.Patches() + 1)
	widest := max(int64(3*c.HiddenSize), int64(c.IntermediateSize), int64(c.Heads)*t)
	if int64(len(images))*t*widest > maxBatchElements {
		return nil, fmt.Errorf("vit: cuda: a batch of %d images is too large; split it", len(images))
	}

	unbind, err := r.bind()
	if err != nil {
		return nil, err
	}
	defer unbind()
	if err := r.ensureCapacity(len(images)); err != nil {
		return nil, err
	}
	if err := r.upload(images, per); err != nil {
		return nil, err
	}
	if err := r.forward(len(images)); err != nil {
		// Let what was queued finish before the buffers are touched again.
		return nil, errors.Join(err, r.stream.Synchronize())
	}
	if err := r.stream.Synchronize(); err != nil {
		return nil, fmt.Errorf("vit: cuda: running the model: %w", err)
	}
	out := make([]float32, len(images)*c.ProjectionDim)
	if err := cu.MemcpyDtoH(unsafe.Pointer(&out[0]), r.act.embed, int64(len(out))*4); err != nil {
		return nil, fmt.Errorf("vit: cuda: copying the embeddings back: %w", err)
	}
	res := make([][]float32, len(images))
	for i := range res {
		res[i] = out[i*c.ProjectionDim : (i+1)*c.ProjectionDim : (i+1)*c.ProjectionDim]
	}
	return res, nil
}

// upload makes one host→device copy of the whole batch (per floats an
// image) into act.img, packing it first into a reused staging slice.
func (r *cudaRuntime) upload(images [][]float32, per int) error {
	n := len(images) * per
	if cap(r.hostIn) < n {
		r.hostIn = make([]float32, n)
	}
	in := r.hostIn[:n]
	for i, img := range images {
		copy(in[i*per:], img)
	}
	// Synchronous copy on the legacy default stream: it orders before the
	// work queued next on r.stream (a blocking stream), and the host slice
	// may be reused as soon as it returns.
	if err := cu.MemcpyHtoD(r.act.img, unsafe.Pointer(&in[0]), int64(n)*4); err != nil {
		return fmt.Errorf("vit: cuda: copying %d images to the device: %w", len(images), err)
	}
	return nil
}

// ensureCapacity makes the activations hold at least batch images,
// replacing smaller ones; the context must be bound.
func (r *cudaRuntime) ensureCapacity(batch int) error {
	if r.act != nil && r.act.capacity >= batch {
		return nil
	}
	if r.act != nil {
		// The stream is idle here (every Embed synchronises), so the
		// old buffers can go before the new ones are made.
		if err := r.act.free(); err != nil {
			r.act = nil
			return err
		}
		r.act = nil
	}
	a, err := newDeviceActivations(r.cfg, batch)
	if err != nil {
		return err
	}
	r.act = a
	return nil
}

// forward queues the whole forward pass of b images (already in act.img)
// on the stream, ending with their embeddings in act.embed.
func (r *cudaRuntime) forward(b int) error {
	c, a, w := r.cfg, r.act, r.w
	d, p := c.HiddenSize, c.Patches()
	t := p + 1
	rows := b * t
	k := 3 * c.PatchSize * c.PatchSize

	// Patch embedding: a convolution with stride = patch, as im2col + GEMM.
	if err := r.runElementwise("im2col", r.k.im2col, int64(b*p*k),
		new(kernelArgs).ptr(a.img).ptr(a.cols).i32(b).i32(3).i32(c.ImageSize).i32(c.PatchSize)); err != nil {
		return err
	}
	if err := r.linear(a.cols, b*p, k, w.patchW, d, 0, a.patches); err != nil {
		return err
	}
	// Class token first, then the patches, plus position embeddings.
	if err := r.runElementwise("embed_tokens", r.k.embedTokens, int64(rows*d),
		new(kernelArgs).ptr(a.patches).ptr(w.cls).ptr(w.pos).ptr(a.x).i32(b).i32(t).i32(d)); err != nil {
		return err
	}
	if err := r.layerNorm(a.x, int64(d), a.x, int64(d), w.preW, w.preB, rows); err != nil {
		return err
	}
	for i := range w.layers {
		if err := r.encoderLayer(&w.layers[i], b); err != nil {
			return fmt.Errorf("%w (layer %d)", err, i)
		}
	}
	// Post-layernorm of the class tokens only (row stride T·D gathers
	// them), then the projection, which has no bias.
	if err := r.layerNorm(a.x, int64(t*d), a.cls, int64(d), w.postW, w.postB, b); err != nil {
		return err
	}
	return r.linear(a.cls, b, d, w.proj, c.ProjectionDim, 0, a.embed)
}

// encoderLayer queues one pre-norm encoder layer over the residual stream
// act.x of b images.
func (r *cudaRuntime) encoderLayer(l *deviceLayer, b int) error {
	c, a := r.cfg, r.act
	d, heads, t := c.HiddenSize, c.Heads, c.Patches()+1
	hd := d / heads
	rows := b * t

	// x = x + out_proj(attention(LN1(x)))
	if err := r.layerNorm(a.x, int64(d), a.h, int64(d), l.ln1W, l.ln1B, rows); err != nil {
		return err
	}
	if err := r.linear(a.h, rows, d, l.qkvW, 3*d, 0, a.qkv); err != nil {
		return err
	}
	if err := r.runElementwise("split_heads", r.k.splitHeads, int64(rows*d),
		new(kernelArgs).ptr(a.qkv).ptr(l.qkvB).ptr(a.q).ptr(a.k).ptr(a.v).i32(b).i32(t).i32(heads).i32(hd)); err != nil {
		return err
	}
	if err := r.attention(b); err != nil {
		return err
	}
	if err := r.runElementwise("merge_heads", r.k.mergeHeads, int64(rows*d),
		new(kernelArgs).ptr(a.heads).ptr(a.ctx).i32(b).i32(t).i32(heads).i32(hd)); err != nil {
		return err
	}
	if err := r.linear(a.ctx, rows, d, l.oW, d, 1, a.x); err != nil { // x += ctx·Woᵀ
		return err
	}
	if err := r.runElementwise("add_bias", r.k.addBias, int64(rows*d),
		new(kernelArgs).ptr(a.x).ptr(l.oB).i64(int64(rows)).i32(d)); err != nil {
		return err
	}

	// x = x + fc2(quick_gelu(fc1(LN2(x))))
	if err := r.layerNorm(a.x, int64(d), a.h, int64(d), l.ln2W, l.ln2B, rows); err != nil {
		return err
	}
	if err := r.linear(a.h, rows, d, l.fc1W, c.IntermediateSize, 0, a.mlp); err != nil {
		return err
	}
	if err := r.runElementwise("bias_quick_gelu", r.k.biasQuickGelu, int64(rows*c.IntermediateSize),
		new(kernelArgs).ptr(a.mlp).ptr(l.fc1B).i64(int64(rows)).i32(c.IntermediateSize)); err != nil {
		return err
	}
	if err := r.linear(a.mlp, rows, c.IntermediateSize, l.fc2W, d, 1, a.x); err != nil { // x += mlp·W2ᵀ
		return err
	}
	return r.runElementwise("add_bias", r.k.addBias, int64(rows*d),
		new(kernelArgs).ptr(a.x).ptr(l.fc2B).i64(int64(rows)).i32(d))
}

// attention computes softmax(q·kᵀ·headDim^-½)·v for every (image, head)
// of b images, from act.q, act.k, act.v into act.heads. Each (image, head)
// is a contiguous T×headDim matrix, so each product is one strided-batched
// call over b·heads matrices.
func (r *cudaRuntime) attention(b int) error {
	c, a := r.cfg, r.act
	heads, t := c.Heads, c.Patches()+1
	hd := c.HiddenSize / heads
	n := b * heads
	mat := int64(t * hd)
	sq := int64(t * t)
	// scores[T,T] = q[T,hd]·k[T,hd]ᵀ
	if err := r.blas.gemmStrided(false, true, t, t, hd, 1, a.q, hd, mat, a.k, hd, mat,
		0, a.scores, t, sq, n); err != nil {
		return err
	}
	scale := float32(1 / math.Sqrt(float64(hd)))
	if err := r.softmax(a.scores, int64(n*t), t, scale); err != nil {
		return err
	}
	// heads[T,hd] = scores[T,T]·v[T,hd]
	return r.blas.gemmStrided(false, false, t, hd, t, 1, a.scores, t, sq, a.v, hd, mat,
		0, a.heads, hd, mat, n)
}

// linear computes y[rows,out] = x[rows,in]·W[out,in]ᵀ + beta·y: a PyTorch
// Linear without its bias (beta 0 overwrites y, 1 accumulates into it).
func (r *cudaRuntime) linear(x cu.DevicePtr, rows, in int, w cu.DevicePtr, out int, beta float32, y cu.DevicePtr) error {
	return r.blas.gemm(false, true, rows, out, in, 1, x, in, w, in, beta, y, out)
}
