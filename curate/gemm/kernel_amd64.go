//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

// avx2Kernel is the 6×16 micro-kernel of matmul_amd64.s: twelve YMM
// accumulators (two vectors of 8 columns for each of 6 rows), the weight
// micro-panel's 16 values for a k loaded as two vectors, each row value
// broadcast, one VFMADD231PS per accumulator and k. Each output is one
// chain of fused multiply-adds in k order, added to y at the end of the
// block, so its value depends only on its row of x and column of W. On a
// micro-panel in L1 it runs at about 105 GFLOP/s on one core (2 FMAs of 8
// floats a cycle), 11× Portable.
//
// Its tasks are 72 rows (12 micro-panels, 72 KB of packed x in L2 for kc
// = 256) by up to 1024 columns: packing a value of x costs about as much
// as multiplying it by one 16-column micro-panel, so wide blocks keep the
// packing under 2%.
var avx2Kernel = &Kernel{Name: "avx2", mr: 6, nr: 16, mc: 72, ncMax: 1024, tile: tile6x16}

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		active = avx2Kernel
	}
}

// tile6x16 adds a·b to the 6×16 tile of c at c[0:], c[ldc:], … c[5·ldc:].
func tile6x16(a, b, c []float32, ldc int) {
	kb := len(b) / 16
	if kb == 0 {
		return
	}
	// Check what the assembly reads and writes, so that a wrong call
	// panics instead of corrupting memory.
	_, _ = a[6*kb-1], c[5*ldc+15]
	kernel6x16(kb, &a[0], &b[0], &c[0], ldc)
}

// kernel6x16 adds to the 6×16 tile of c (row stride ldc floats) the
// product of a (kb × 6 values, k-major) and b (kb × 16 values, k-major).
//
//go:noescape
func kernel6x16(kb int, a, b, c *float32, ldc int)
