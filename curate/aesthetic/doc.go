// Package aesthetic scores images with the LAION improved aesthetic
// predictor (christophschuhmann/improved-aesthetic-predictor, the
// "sac+logos+ava1-l14-linearMSE" weights) as NeMo Curator uses it: an MLP
// over a CLIP ViT-L/14 image embedding,
//
//	Linear(768, 1024) → Dropout(0.2) → Linear(1024, 128) → Dropout(0.2) →
//	Linear(128, 64) → Dropout(0.1) → Linear(64, 16) → Linear(16, 1)
//
// with no activations between the layers (the original comments its ReLUs
// out). The weights are read from safetensors under the nn.Sequential
// indices, layers.{0,2,4,6,7}.{weight,bias}, optionally prefixed "mlp.".
//
// Invariants:
//   - Dropout is the identity at inference, so the predictor is an affine
//     map of the embedding. Load folds the five layers, in float64, into one
//     weight vector and one bias; Score is a dot product. The result equals
//     the layer-by-layer float64 computation to rounding and a float32 torch
//     run to about 1e-6.
//   - The input must be the L2-normalised image embedding; the predictor
//     does not normalise it.
//   - Other layer widths load as long as they chain and end in one output;
//     InputDim says what the file expects.
//
// The package imports only the standard library and curate/safetensors.
package aesthetic
