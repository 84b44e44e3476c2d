// Command randread times random reads of one file with pread, for the shard
// benchmark in bench/run.sh, and prints the reads per second (one number).
//
//	randread [-n 2000] [-bs 65536] [-threads 1] [-seed 1] [-align 4096] FILE
//
// The -n offsets are drawn from -seed before the clock starts, uniformly in
// [0, size-bs] and rounded down to -align, so two files of the same size
// are read at the same offsets. -threads goroutines (each locked to its own
// thread) share the reads; each read must return all -bs bytes.
package main
