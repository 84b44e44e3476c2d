// Package transnet runs TransNetV2, the shot-transition network NeMo Curator
// splits videos with by default, in pure Go: its per-frame transition
// probabilities from frames of 48×27 RGB, NeMo's windowing of a video into
// 100-frame batches, and NeMo's reading of the probabilities into scenes.
//
// The weights are the PyTorch port's state_dict (soCzech/TransNetV2,
// inference-pytorch), either the transnetv2-pytorch-weights.pth file NeMo
// downloads (read with pack's torch reader, nothing executed) or a
// safetensors file with the same tensor names. The convolutions and linear
// layers run as matrix products through curate/gemm on all cores.
package transnet
