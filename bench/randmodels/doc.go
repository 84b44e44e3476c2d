// Command randmodels writes the random models bench/run.sh's stages
// benchmark curates with: a small CLIP vision tower for embeddings
// (DIR/clip-embed), one 768 wide for aesthetics (DIR/clip-aesthetic) and a
// LAION-shaped aesthetic MLP (DIR/aesthetic.safetensors).
//
//	randmodels -out DIR
package main
