// Package vit runs a CLIP vision transformer (HuggingFace's
// CLIPVisionModelWithProjection) from safetensors weights the user supplies:
// CLIP's preprocessing, then patch embedding, class token, position
// embeddings, pre-layernorm, encoder layers (layernorm, multi-head
// attention, layernorm, MLP with quick-GELU), post-layernorm on the class
// token and the visual projection. It runs in pure Go on all cores, or on a
// GPU through gorgonia.org/cu and cuBLAS when built with the cuda tag
// (files *_cuda.go); the same NewRuntime call picks the device.
package vit
