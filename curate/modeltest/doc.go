// Package modeltest writes random models in the files the real ones come
// in (a HuggingFace CLIP vision folder, a LAION aesthetic MLP as
// safetensors), so that tests and benchmarks run the whole model path,
// loaders included, without downloading weights.
package modeltest
