// Package motion scores how much a clip moves, from the motion vectors its
// codec already carries, exactly as NeMo Curator's motion filter does
// (nemo_curator/stages/video/filtering/motion_vector_backend.py:
// decode_for_motion and check_if_small_motion).
//
// # What it computes
//
// [Decode] samples a clip at about 2 fps: every max(1, round(fps/2))-th
// decoded frame (round half to even, fps from avg_frame_rate, else
// r_frame_rate, else 30), keeping the motion vectors libavcodec exports for it
// (flags2 +export_mvs). Frames without vectors (I-frames) add nothing; it
// stops after max(10, round(duration)) frames with vectors, duration being
// the container's duration truncated to whole seconds (30 when unknown).
//
// [Compute] turns each sampled frame into a dense flow field: every vector of
// block size 8×8, 16×16, 16×8 or 8×16 (in that order; other sizes are
// ignored) writes -motion/scale into its block, centred on dst and clamped to
// the frame, the last write winning. The per-pixel magnitude is
// ‖flow‖₂ / (W + H). GlobalMean is the mean magnitude over all pixels and
// frames; PerPatchMin256 is the minimum of the per-pixel mean image after
// OpenCV's INTER_LINEAR resize by 1/256. A clip has small motion when
// GlobalMean < 0.00098 or PerPatchMin256 < 1e-6 ([DefaultThresholds]).
//
// # Numerics
//
// Where NeMo computes in float32 (torch on the CPU, OpenCV), so does this
// package, with explicit conversions so that no multiply-add is fused. A
// pixel's magnitude depends only on the vector written there last, so it is
// computed once per vector. Per-pixel sums follow torch's float32 reduction
// order (sequential within chunks of 16 frames, batches of 256) and the
// resize is OpenCV's own arithmetic: PerPatchMin256 is NeMo's bit for bit.
// The global sum is accumulated in float64, as close to exact as torch's
// float32 sum, whose order depends on its thread count: GlobalMean is within
// a few float32 steps of NeMo's.
//
// # Errors
//
// Decode fails with [ErrResolutionTooSmall] when the first frame is narrower
// or shorter than 256 pixels, with [ErrNoMotionFrames] when no sampled frame
// has motion vectors (an all-intra clip), and with an error matching
// [ErrDecodeFailed] for anything else, its text ending with libav's message.
// [Reason] names the three for records; a clip that could not be scored gets
// [Missing] scores (-1), which count as small motion.
//
// # Threads
//
// Decoding uses libavformat and libavcodec through cgo with one decoder thread
// per clip; callers parallelise across clips. NeMo asks PyAV for 4 threads of
// type AUTO, that is frame threading, under which libavcodec (5.1 at least)
// exports B-frame vectors that vary from run to run: NeMo's own scores of a
// clip with B-frames are then not reproducible. With one thread (or slice
// threads) the vectors are deterministic, and this package's scores equal
// NeMo's for them (testdata/nemo_golden.py, run with one thread, checks it).
//
// Decode reads the first video stream, as NeMo's streams.video[0].
//
// # One decode for every stage
//
// [DecodeWithFrames] is Decode in a pass that also hands other consumers
// the decoded frames they list ([Picture]: libav's planes, and whether
// they are plain yuv420p of limited range with the BT.601 or BT.709
// matrix, which curate converts to RGB with ffmpeg's arithmetic). It goes
// on decoding past the end of the sampling until the last listed frame
// unless told the clip needs none; its motion result is Decode's exactly.
//
// The package imports nothing else of clipfs.
package motion
