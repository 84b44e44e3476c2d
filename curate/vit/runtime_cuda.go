//go:build cuda

// The CUDA runtime: the same forward pass as the CPU one, on one NVIDIA GPU,
// through gorgonia.org/cu (the CUDA driver API) and cuBLAS.
//
// # Building and running
//
//	make build-cuda            # bin/clipfs-cuda: go build -tags cuda ./cmd/clipfs
//	bin/clipfs-cuda curate --device cuda ...
//	make check-cuda            # vet, and compile the cuda tests without running them
//
// Building needs the CUDA driver API header (cuda.h, Debian's nvidia-cuda-dev
// or any toolkit, 11.8 here) and a libcuda.so to link against (the stub of
// the toolkit is enough): make build-cuda CUDA_INCLUDE=... CUDA_STUBS=...
// It needs no nvcc: the kernels are PTX (kernels/kernels.ptx, generated from
// kernels/kernels.cu by make ptx and committed) embedded in the binary.
//
// Running needs:
//   - an NVIDIA GPU of compute capability 7.0 or newer (Volta, Turing,
//     Ampere, Ada, Hopper), $CLIPFS_CUDA_DEVICE picks it (default 0);
//   - a driver that JIT-compiles PTX 7.8, i.e. CUDA 11.8 or newer (R520+);
//     its libcuda.so.1 must be on the loader path (the binary links it);
//   - cuBLAS 11, 12 or 13 (libcublas.so.N), opened at run time: the loader
//     path, the CUDA toolkit and PyTorch's nvidia-cublas wheels are searched,
//     or $CLIPFS_CUBLAS names the file (see cublas_cuda.go);
//   - optionally CLIPFS_CUDA_TF32=1 to let cuBLAS use TF32 tensor cores
//     (faster, about 1e-3 relative error); the default is true float32.
//
// gorgonia.org/cu calls cuInit in its package init and, when that fails (no
// driver, no GPU), prints "Error in initialization, please refer to ..." and
// exits the process with status 1 before main runs. So a binary built with
// the cuda tag runs only where a driver and a GPU are present; DeviceAuto's
// fall back to the CPU covers the failures after that (device busy or too
// small, cuBLAS missing, PTX refused). That is why every file importing
// gorgonia.org/cu carries the cuda build tag and the default build has none.
//
// # Design
//
// The weights are uploaded once, as float32, into one device allocation;
// the activations live in a second one sized for the largest batch seen. An
// Embed call makes one host→device copy of the whole batch, runs every
// image through every layer together (the products over batch×tokens rows
// in cuBLAS; attention as strided-batched products over (image, head)),
// and copies back only the projected class tokens. Everything runs on one
// stream, to which the cuBLAS handle is bound. CUDA contexts belong to OS
// threads, so each method locks its goroutine to its thread and pushes the
// context for the length of the call.

package vit

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"

	"gorgonia.org/cu"
)

func init() { newCUDA = newCUDARuntime }

// kernelsPTX is kernels/kernels.cu compiled to PTX for compute_70.
//
//go:embed kernels/kernels.ptx
var kernelsPTX string

// cudaRuntime runs a Model on one GPU. Its methods serialise on mu.
type cudaRuntime struct {
	mu      sync.Mutex
	cfg     Config
	ordinal int
	name    string
	dev     cu.Device
	ctx     cu.CUContext
	stream  cu.Stream
	blas    *blasHandle
	mod     cu.Module
	k       cudaKernels
	w       *deviceWeights
	act     *deviceActivations
	hostIn  []float32 // staging for the batch, reused
	closed  bool
}

// cudaOrdinal reads $CLIPFS_CUDA_DEVICE (default 0).
func cudaOrdinal() (int, error) {
	s := os.Getenv("CLIPFS_CUDA_DEVICE")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("vit: cuda: CLIPFS_CUDA_DEVICE=%q is not a device number", s)
	}
	return n, nil
}

// newCUDARuntime prepares m on the GPU: context, stream, cuBLAS handle,
// kernels and weights. On any failure it frees what it made and returns the
// error.
func newCUDARuntime(m *Model) (Runtime, error) {
	if err := m.Config.Validate(); err != nil {
		return nil, err
	}
	ordinal, err := cudaOrdinal()
	if err != nil {
		return nil, err
	}
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("vit: cuda: counting devices: %w", err)
	}
	if ordinal >= n {
		return nil, fmt.Errorf("vit: cuda: device %d asked for, %d present", ordinal, n)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("vit: cuda: device %d: %w", ordinal, err)
	}
	major, minor, err := dev.ComputeCapability()
	if err != nil {
		return nil, fmt.Errorf("vit: cuda: device %d: compute capability: %w", ordinal, err)
	}
	if major < 7 {
		return nil, fmt.Errorf("vit: cuda: device %d has compute capability %d.%d, 7.0 or newer needed", ordinal, major, minor)
	}
	name, err := dev.Name()
	if err != nil {
		return nil, fmt.Errorf("vit: cuda: device %d: name: %w", ordinal, err)
	}
	ctx, err := dev.RetainPrimaryCtx()
	if err != nil {
		return nil, fmt.Errorf("vit: cuda: device %d: primary context: %w", ordinal, err)
	}
	r := &cudaRuntime{cfg: m.Config, ordinal: ordinal, name: name, dev: dev, ctx: ctx}

	unbind, err := r.bind()
	if err != nil {
		return nil, errors.Join(err, r.releaseContext())
	}
	err = r.setUp(m)
	if err != nil {
		err = errors.Join(err, r.freeAll())
	}
	unbind()
	if err != nil {
		return nil, errors.Join(err, r.releaseContext())
	}
	return r, nil
}

// setUp makes the stream, the cuBLAS handle, loads the kernels and uploads
// the weights; the context must be bound. What it made before a failure is
// left for freeAll.
func (r *cudaRuntime) setUp(m *Model) error {
	var err error
	if r.stream, err = cu.MakeStream(cu.DefaultStream); err != nil {
		return fmt.Errorf("vit: cuda: creating a stream: %w", err)
	}
	mathMode := cublasDefaultMath
	if os.Getenv("CLIPFS_CUDA_TF32") == "1" {
		mathMode = cublasTF32TensorMath
	}
	if r.blas, err = newBlasHandle(r.stream, mathMode); err != nil {
		return err
	}
	if r.mod, r.k, err = loadKernels(); err != nil {
		return err
	}
	if r.w, err = uploadWeights(m); err != nil {
		return err
	}
	return nil
}

// bind locks the calling goroutine to its OS thread and makes the
// runtime's context current there; the returned func undoes both.
func (r *cudaRuntime) bind() (unbind func(), err error) {
	runtime.LockOSThread()
	if err := cu.PushCurrentCtx(r.ctx); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("vit: cuda: making the context current: %w", err)
	}
	return func() {
		// Popping only fails if the stack is empty, which bind rules out.
		_, _ = cu.PopCurrentCtx()
		runtime.UnlockOSThread()
	}, nil
}

// Device names the GPU: "cuda:N <name>".
func (r *cudaRuntime) Device() string { return fmt.Sprintf("cuda:%d %s", r.ordinal, r.name) }

// Close frees every device allocation, the kernels, the cuBLAS handle and
// the stream, and releases the context. A second call does nothing.
func (r *cudaRuntime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	unbind, err := r.bind()
	if err != nil {
		return errors.Join(err, r.releaseContext())
	}
	err = r.freeAll()
	unbind()
	return errors.Join(err, r.releaseContext())
}

// freeAll waits for the stream, then frees in reverse order of creation
// whatever exists; the context must be bound. It goes on past failures and
// returns them all.
func (r *cudaRuntime) freeAll() error {
	var errs []error
	if r.stream != (cu.Stream{}) {
		if err := r.stream.Synchronize(); err != nil {
			errs = append(errs, fmt.Errorf("vit: cuda: waiting for the stream: %w", err))
		}
	}
	errs = append(errs, r.act.free(), r.w.free())
	r.act, r.w = nil, nil
	if r.mod != (cu.Module{}) {
		if err := r.mod.Unload(); err != nil {
			errs = append(errs, fmt.Errorf("vit: cuda: unloading kernels: %w", err))
		}
		r.mod = cu.Module{}
	}
	errs = append(errs, r.blas.destroy())
	r.blas = nil
	if r.stream != (cu.Stream{}) {
		if err := r.stream.Destroy(); err != nil {
			errs = append(errs, fmt.Errorf("vit: cuda: destroying the stream: %w", err))
		}
	}
	return errors.Join(errs...)
}

// releaseContext drops this runtime's hold on the primary context.
func (r *cudaRuntime) releaseContext() error {
	if err := r.dev.ReleasePrimaryCtx(); err != nil {
		return fmt.Errorf("vit: cuda: releasing the context: %w", err)
	}
	return nil
}
