// Package gemm is the CPU matrix product behind the models clipfs runs (the
// ViT embedder, TransNetV2): y = x·Wᵀ + b with W packed once into panels for
// a register-tiled micro-kernel (AVX2+FMA assembly where the CPU has it, a
// portable Go kernel elsewhere), cut into tasks run by a pool of threads.
//
// A result does not depend on the batch a row is in, its place in a tile or
// the number of threads: every output is one chain of sums in k order.
package gemm
