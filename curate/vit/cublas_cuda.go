//go:build cuda

package vit

// This file calls cuBLAS through a small cgo wrapper of our own rather than
// gorgonia.org/cu/blas, for three reasons:
//
//   - gorgonia.org/cu/blas has no cublasSetStream and no
//     cublasSgemmStridedBatched, and takes Go slices where the data is in
//     device memory;
//   - it links -lcublas at build time, and cuBLAS versions its symbols by
//     major release (cublasSgemm_v2@libcublas.so.11): a binary built against
//     the CUDA 11.8 headers here would refuse to start on a machine that has
//     only libcublas.so.12 or .13;
//   - so the library is opened at run time with dlopen instead, newest major
//     first (see cublasCandidates). The entry points used (create, destroy,
//     set stream, set math mode, sgemm, sgemm strided batched) have kept
//     their signatures with 32-bit sizes from CUDA 11 to 13.
//
// Device pointers cross into C as uintptr_t, never as Go pointers, so no cgo
// pointer rule is involved; alpha and beta are passed by value and their
// addresses taken in C (cuBLAS's default host pointer mode).

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

typedef int (*fnCreate)(void**);
typedef int (*fnDestroy)(void*);
typedef int (*fnSetStream)(void*, void*);
typedef int (*fnSetMathMode)(void*, int);
typedef int (*fnSgemm)(void*, int, int, int, int, int, const float*, const float*, int,
                       const float*, int, const float*, float*, int);
typedef int (*fnSgemmStrided)(void*, int, int, int, int, int, const float*, const float*, int,
                              long long, const float*, int, long long, const float*, float*, int,
                              long long, int);

typedef struct {
	void* lib;
	fnCreate create;
	fnDestroy destroy;
	fnSetStream setStream;
	fnSetMathMode setMathMode;
	fnSgemm sgemm;
	fnSgemmStrided sgemmStrided;
} clipfs_cublas;

static clipfs_cublas clipfs_cb;

// clipfs_sym looks up the first of two names that the library exports.
static void* clipfs_sym(void* lib, const char* a, const char* b) {
	void* p = dlsym(lib, a);
	if (p == NULL && b != NULL) {
		p = dlsym(lib, b);
	}
	return p;
}

// clipfs_cublas_open opens path and resolves every entry point. It returns
// 0 on success, 1 if the library does not open, 2 if a symbol is missing
// (the library is closed again). On success the library stays open for the
// life of the process.
static int clipfs_cublas_open(const char* path) {
	void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		return 1;
	}
	clipfs_cublas cb;
	cb.lib = lib;
	cb.create = (fnCreate)clipfs_sym(lib, "cublasCreate_v2", "cublasCreate");
	cb.destroy = (fnDestroy)clipfs_sym(lib, "cublasDestroy_v2", "cublasDestroy");
	cb.setStream = (fnSetStream)clipfs_sym(lib, "cublasSetStream_v2", "cublasSetStream");
	cb.setMathMode = (fnSetMathMode)clipfs_sym(lib, "cublasSetMathMode", NULL);
	cb.sgemm = (fnSgemm)clipfs_sym(lib, "cublasSgemm_v2", "cublasSgemm");
	cb.sgemmStrided = (fnSgemmStrided)clipfs_sym(lib, "cublasSgemmStridedBatched", NULL);
	if (!cb.create || !cb.destroy || !cb.setStream || !cb.setMathMode || !cb.sgemm || !cb.sgemmStrided) {
		dlclose(lib);
		return 2;
	}
	clipfs_cb = cb;
	return 0;
}

static const char* clipfs_dlerror(void) {
	const char* e = dlerror();
	return e ? e : "unknown dlopen error";
}

static int clipfs_cublas_create(uintptr_t* h) {
	void* p = NULL;
	int st = clipfs_cb.create(&p);
	*h = (uintptr_t)p;
	return st;
}

static int clipfs_cublas_destroy(uintptr_t h) { return clipfs_cb.destroy((void*)h); }

static int clipfs_cublas_set_stream(uintptr_t h, uintptr_t s) {
	return clipfs_cb.setStream((void*)h, (void*)s);
}

static int clipfs_cublas_set_math_mode(uintptr_t h, int mode) {
	return clipfs_cb.setMathMode((void*)h, mode);
}

static int clipfs_cublas_sgemm(uintptr_t h, int ta, int tb, int m, int n, int k, float alpha,
                               uintptr_t a, int lda, uintptr_t b, int ldb, float beta,
                               uintptr_t c, int ldc) {
	return clipfs_cb.sgemm((void*)h, ta, tb, m, n, k, &alpha, (const float*)a, lda,
	                       (const float*)b, ldb, &beta, (float*)c, ldc);
}

static int clipfs_cublas_sgemm_strided(uintptr_t h, int ta, int tb, int m, int n, int k,
                                       float alpha, uintptr_t a, int lda, long long sa,
                                       uintptr_t b, int ldb, long long sb, float beta,
                                       uintptr_t c, int ldc, long long sc, int count) {
	return clipfs_cb.sgemmStrided((void*)h, ta, tb, m, n, k, &alpha, (const float*)a, lda, sa,
	                              (const float*)b, ldb, sb, &beta, (float*)c, ldc, sc, count);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"gorgonia.org/cu"
)

// cuBLAS constants (cublas_api.h), stable across CUDA 11 to 13.
const (
	cublasOpN            = 0 // CUBLAS_OP_N
	cublasOpT            = 1 // CUBLAS_OP_T
	cublasDefaultMath    = 0 // CUBLAS_DEFAULT_MATH: true float32 products
	cublasTF32TensorMath = 3 // CUBLAS_TF32_TENSOR_OP_MATH: float32 in, TF32 tensor cores
)

// cublasCandidates lists where the cuBLAS library is looked for, in order:
// $CLIPFS_CUBLAS (a path), the sonames of CUDA 13, 12 and 11 through the
// loader's search path (LD_LIBRARY_PATH, ld.so.cache), then the usual
// install folders of the CUDA toolkit and of the nvidia-cublas Python
// wheels that PyTorch brings.
func cublasCandidates() []string {
	var c []string
	if p := os.Getenv("CLIPFS_CUBLAS"); p != "" {
		c = append(c, p)
	}
	sonames := []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}
	c = append(c, sonames...)
	for _, pattern := range []string{
		"/usr/local/cuda/lib64/libcublas.so.1[123]",
		"/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.1[123]",
		"/usr/local/cuda-1[123]*/lib64/libcublas.so.1[123]",
		"/usr/local/lib/python3*/dist-packages/nvidia/*/lib/libcublas.so.1[123]",
		"/usr/lib/python3/dist-packages/nvidia/*/lib/libcublas.so.1[123]",
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib/libcublas.so.1[123]",
		"/opt/*/lib/python3*/site-packages/nvidia/*/lib/libcublas.so.1[123]",
	} {
		m, _ := filepath.Glob(pattern)
		// Newest major first: the glob sorts .11 before .13.
		for i := len(m) - 1; i >= 0; i-- {
			c = append(c, m[i])
		}
	}
	return append(c, "libcublas.so")
}

var (
	cublasOnce sync.Once
	cublasErr  error
	cublasPath string
)

// loadCublas opens cuBLAS once per process; later calls return the first
// outcome.
func loadCublas() error {
	cublasOnce.Do(func() {
		var tried []string
		for _, p := range cublasCandidates() {
			cp := C.CString(p)
			rc := C.clipfs_cublas_open(cp)
			C.free(unsafe.Pointer(cp))
			switch rc {
			case 0:
				cublasPath = p
				return
			case 1:
				tried = append(tried, p+": "+C.GoString(C.clipfs_dlerror()))
			default:
				tried = append(tried, p+": missing a cuBLAS entry point")
			}
		}
		cublasErr = fmt.Errorf("vit: cuda: cuBLAS not found (set CLIPFS_CUBLAS to the path of libcublas.so.N or add its folder to LD_LIBRARY_PATH); tried %s",
			strings.Join(tried, "; "))
	})
	return cublasErr
}

// cublasStatusText names a cublasStatus_t.
func cublasStatusText(st C.int) string {
	switch st {
	case 1:
		return "CUBLAS_STATUS_NOT_INITIALIZED"
	case 3:
		return "CUBLAS_STATUS_ALLOC_FAILED"
	case 7:
		return "CUBLAS_STATUS_INVALID_VALUE"
	case 8:
		return "CUBLAS_STATUS_ARCH_MISMATCH"
	case 11:
		return "CUBLAS_STATUS_MAPPING_ERROR"
	case 13:
		return "CUBLAS_STATUS_EXECUTION_FAILED"
	case 14:
		return "CUBLAS_STATUS_INTERNAL_ERROR"
	case 15:
		return "CUBLAS_STATUS_NOT_SUPPORTED"
	case 16:
		return "CUBLAS_STATUS_LICENSE_ERROR"
	}
	return fmt.Sprintf("cuBLAS status %d", int(st))
}

// cublasCheck turns a cublasStatus_t into an error naming what failed.
func cublasCheck(what string, st C.int) error {
	if st == 0 {
		return nil
	}
	return fmt.Errorf("vit: cuda: %s: %s", what, cublasStatusText(st))
}

// blasHandle is a cuBLAS handle bound to one stream. It must be used with
// its context current on the calling thread.
type blasHandle struct {
	h C.uintptr_t
}

// newBlasHandle creates a handle in the current context, binds it to stream
// and sets its math mode (cublasDefaultMath or cublasTF32TensorMath).
func newBlasHandle(stream cu.Stream, mathMode int) (*blasHandle, error) {
	if err := loadCublas(); err != nil {
		return nil, err
	}
	var h C.uintptr_t
	if err := cublasCheck("cublasCreate", C.clipfs_cublas_create(&h)); err != nil {
		return nil, err
	}
	b := &blasHandle{h: h}
	s := C.uintptr_t(uintptr(unsafe.Pointer(stream.C())))
	err := cublasCheck("cublasSetStream", C.clipfs_cublas_set_stream(h, s))
	if err == nil {
		err = cublasCheck("cublasSetMathMode", C.clipfs_cublas_set_math_mode(h, C.int(mathMode)))
	}
	if err != nil {
		return nil, errors.Join(err, b.destroy())
	}
	return b, nil
}

// destroy frees the handle; it is safe to call twice.
func (b *blasHandle) destroy() error {
	if b == nil || b.h == 0 {
		return nil
	}
	err := cublasCheck("cublasDestroy", C.clipfs_cublas_destroy(b.h))
	b.h = 0
	return err
}

// cublasOp maps a transpose flag to cuBLAS's operation.
func cublasOp(trans bool) C.int {
	if trans {
		return cublasOpT
	}
	return cublasOpN
}

// gemm computes, for row-major matrices, C[m,n] = alpha·op(A)[m,k]·op(B)[k,n]
// + beta·C, where op transposes when the flag says so and lda, ldb, ldc are
// the row strides of A, B and C as stored. cuBLAS is column-major, and a
// row-major matrix read column-major is its transpose, so this asks cuBLAS
// for Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap and m and n swap, the
// transpose flags and leading dimensions stay.
func (b *blasHandle) gemm(transA, transB bool, m, n, k int, alpha float32, a cu.DevicePtr, lda int,
	bm cu.DevicePtr, ldb int, beta float32, c cu.DevicePtr, ldc int) error {
	st := C.clipfs_cublas_sgemm(b.h, cublasOp(transB), cublasOp(transA), C.int(n), C.int(m), C.int(k),
		C.float(alpha), devAddr(bm), C.int(ldb), devAddr(a), C.int(lda), C.float(beta), devAddr(c), C.int(ldc))
	if st != 0 {
		return cublasCheck(fmt.Sprintf("sgemm m=%d n=%d k=%d", m, n, k), st)
	}
	return nil
}

// gemmStrided is gemm over count matrices at once: matrix i of A starts
// strideA floats after matrix i-1, likewise for B and C.
func (b *blasHandle) gemmStrided(transA, transB bool, m, n, k int, alpha float32,
	a cu.DevicePtr, lda int, strideA int64, bm cu.DevicePtr, ldb int, strideB int64,
	beta float32, c cu.DevicePtr, ldc int, strideC int64, count int) error {
	st := C.clipfs_cublas_sgemm_strided(b.h, cublasOp(transB), cublasOp(transA), C.int(n), C.int(m), C.int(k),
		C.float(alpha), devAddr(bm), C.int(ldb), C.longlong(strideB), devAddr(a), C.int(lda),
		C.longlong(strideA), C.float(beta), devAddr(c), C.int(ldc), C.longlong(strideC), C.int(count))
	if st != 0 {
		return cublasCheck(fmt.Sprintf("sgemm strided batched count=%d m=%d n=%d k=%d", count, m, n, k), st)
	}
	return nil
}

// devAddr passes a device address to C as an integer.
func devAddr(p cu.DevicePtr) C.uintptr_t { return C.uintptr_t(p.Uintptr()) }
