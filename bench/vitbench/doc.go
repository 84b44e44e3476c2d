//go:build cuda

// Command vitbench measures how many frames a second the CLIP vision
// transformer embeds, on the CPU and on the GPU, with a randomly initialised
// ViT-B/32 (the speed does not depend on the weights). It needs the cuda
// build tag, so it is meant for a GPU machine:
//
//	CGO_CFLAGS=-I/usr/include CGO_LDFLAGS=-L/usr/lib/x86_64-linux-gnu/stubs \
//	    go build -tags cuda -o bin/vitbench ./bench/vitbench
//	bin/vitbench [-devices cpu,cuda] [-batches 1,64,256] [-min-time 3s]
//
// Each (device, batch) runs once to warm up (buffers, cuBLAS heuristics,
// PTX JIT), then repeatedly until -min-time has passed (at least -min-iters
// times), and prints frames/s. The CPU at batch 256 takes minutes on a
// small machine: -devices cuda, or -batches 1,64, keeps it short.
// CLIPFS_CUDA_TF32=1 lets cuBLAS use TF32 tensor cores.
package main
