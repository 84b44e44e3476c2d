// Package safetensors reads and writes HuggingFace safetensors files: an
// 8-byte little-endian header length, a JSON header mapping each tensor name
// to its dtype, shape and [begin, end) byte offsets (plus an optional
// "__metadata__" map of strings), then the tensors' bytes, little-endian and
// row-major.
//
// Invariants:
//   - Open validates the whole header before any tensor is read: every entry
//     has a known dtype, non-negative dimensions, a byte size equal to the
//     product of its shape times the dtype's size, and offsets inside the
//     file that do not overlap another tensor's. A file that passes Open
//     never yields a short read unless it changes on disk.
//   - Tensors are read with ReadAt on demand; nothing is mapped or cached, so
//     a File is safe for concurrent use.
//   - Float32 converts F32, F16 and BF16 to float32 exactly (every F16 and
//     BF16 value, subnormals, infinities and NaNs included, is a float32);
//     integer and other dtypes are never converted to floats.
//
// The package imports nothing outside the standard library.
package safetensors
