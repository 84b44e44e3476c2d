//go:build cuda

package vit

import (
	"bytes"
	"fmt"
	"math"
	"unsafe"

	"gorgonia.org/cu"
)

// Launch shapes. Every elementwise kernel is a grid-stride loop, so
// elementwiseGrid may cap the grid without losing elements.
const (
	elementwiseBlock   = 256
	maxElementwiseGrid = 1 << 20
	layernormBlock     = 256 // threads per row: a multiple of 32, at most 1024
	softmaxBlock       = 256 // 8 warps, one row each
)

// cudaKernels are the functions of kernels/kernels.cu.
type cudaKernels struct {
	im2col, embedTokens, layernorm, splitHeads, mergeHeads, softmaxRows, addBias, biasQuickGelu cu.Function
}

// loadKernels loads the embedded PTX into the current context (the driver
// JIT-compiles it for the GPU) and finds every kernel. On failure nothing
// stays loaded.
func loadKernels() (cu.Module, cudaKernels, error) {
	var k cudaKernels
	mod, err := cu.LoadData(kernelsPTX)
	if err != nil {
		return cu.Module{}, k, fmt.Errorf("vit: cuda: loading the kernels (PTX for compute_70, needs a CUDA 11.8+ driver): %w%s", err, jitLog())
	}
	for _, f := range []struct {
		name string
		fn   *cu.Function
	}{
		{"im2col", &k.im2col},
		{"embed_tokens", &k.embedTokens},
		{"layernorm", &k.layernorm},
		{"split_heads", &k.splitHeads},
		{"merge_heads", &k.mergeHeads},
		{"softmax_rows", &k.softmaxRows},
		{"add_bias", &k.addBias},
		{"bias_quick_gelu", &k.biasQuickGelu},
	} {
		if *f.fn, err = mod.Function(f.name); err != nil {
			if uerr := mod.Unload(); uerr != nil {
				err = fmt.Errorf("%w (and unloading: %v)", err, uerr)
			}
			return cu.Module{}, k, fmt.Errorf("vit: cuda: kernel %s: %w", f.name, err)
		}
	}
	return mod, k, nil
}

// jitLog loads the PTX again asking for the JIT's error log, to explain a
// failed load; it returns "" when there is nothing to add.
func jitLog() string {
	opt := &cu.JITErrorLogBuffer{Buffer: make([]byte, 8192)}
	mod, err := cu.LoadDataEx(kernelsPTX, opt)
	if err == nil {
		_ = mod.Unload()
		return ""
	}
	msg := opt.Buffer
	if i := bytes.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) == 0 {
		return ""
	}
	return ": " + string(bytes.TrimSpace(msg))
}

// kernelArgs packs kernel parameters: each value goes into its own 8-byte
// slot, as gorgonia.org/cu's Launch copies 8 bytes per parameter and the
// driver then reads as many as the kernel's parameter is wide (4 for int
// and float, 8 for pointers and long long) from the slot's start (x86-64
// and arm64 are little-endian).
type kernelArgs struct {
	slots []uint64
}

func (a *kernelArgs) ptr(p cu.DevicePtr) *kernelArgs {
	a.slots = append(a.slots, uint64(p.Uintptr()))
	return a
}

func (a *kernelArgs) i32(v int) *kernelArgs {
	if v < math.MinInt32 || v > math.MaxInt32 {
		panic(fmt.Sprintf("vit: cuda: kernel argument %d overflows int", v))
	}
	a.slots = append(a.slots, uint64(uint32(int32(v))))
	return a
}

func (a *kernelArgs) i64(v int64) *kernelArgs {
	a.slots = append(a.slots, uint64(v))
	return a
}

func (a *kernelArgs) f32(v float32) *kernelArgs {
	a.slots = append(a.slots, uint64(math.Float32bits(v)))
	return a
}

// params points at each slot, the form Launch takes.
func (a *kernelArgs) params() []unsafe.Pointer {
	p := make([]unsafe.Pointer, len(a.slots))
	for i := range a.slots {
		p[i] = unsafe.Pointer(&a.slots[i])
	}
	return p
}

// launch runs fn on the stream with grid × block threads.
func (r *cudaRuntime) launch(name string, fn cu.Function, grid, block int, args *kernelArgs) error {
	if grid < 1 {
		grid = 1
	}
	if err := fn.Launch(grid, 1, 1, block, 1, 1, 0, r.stream, args.params()); err != nil {
		return fmt.Errorf("vit: cuda: launching %s (grid %d, block %d): %w", name, grid, block, err)
	}
	return nil
}

// elementwiseGrid is the grid for a grid-stride loop over n elements.
func elementwiseGrid(n int64) int {
	g := (n + elementwiseBlock - 1) / elementwiseBlock
	if g > maxElementwiseGrid {
		g = maxElementwiseGrid
	}
	return int(g)
}

// runElementwise launches a grid-stride kernel over n elements.
func (r *cudaRuntime) runElementwise(name string, fn cu.Function, n int64, args *kernelArgs) error {
	return r.launch(name, fn, elementwiseGrid(n), elementwiseBlock, args)
}

// layerNorm normalises rows rows of hidden floats, row i read at
// in + i·inStride floats and written at out + i·outStride.
func (r *cudaRuntime) layerNorm(in cu.DevicePtr, inStride int64, out cu.DevicePtr, outStride int64,
	w, b cu.DevicePtr, rows int) error {
	a := new(kernelArgs).ptr(in).i64(inStride).ptr(out).i64(outStride).ptr(w).ptr(b).
		i32(r.cfg.HiddenSize).f32(r.cfg.LayerNormEps)
	return r.launch("layernorm", r.k.layernorm, rows, layernormBlock, a)
}

// softmax replaces each of rows rows of n floats at s by softmax(scale·row).
func (r *cudaRuntime) softmax(s cu.DevicePtr, rows int64, n int, scale float32) error {
	const rowsPerBlock = softmaxBlock / 32
	grid := (rows + rowsPerBlock - 1) / rowsPerBlock
	if grid > math.MaxInt32 {
		return fmt.Errorf("vit: cuda: softmax over %d rows is too many", rows)
	}
	a := new(kernelArgs).ptr(s).i64(rows).i32(n).f32(scale)
	return r.launch("softmax_rows", r.k.softmaxRows, int(grid), softmaxBlock, a)
}
