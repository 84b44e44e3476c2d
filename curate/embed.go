package curate

import (
	"context"
	"encoding/binary"
	"errors"
	"math"

	"github.com/clipfs/clipfs/curate/aesthetic"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/vit"
	"github.com/clipfs/clipfs/index"
)

// Embedding is how clip embeddings are made: Frames frames spread evenly
// over each passed clip go through a CLIP vision model; their image
// embeddings are L2-normalised, averaged and normalised again, and stored
// as float32 (1, D) under <Prefix>_embd/ (docs/formats.md §4).
type Embedding struct {
	Model   *ModelQueue
	ModelID string // names the weights in the settings fingerprint (a path)
	Prefix  string // "" = "clip"
	Frames  int    // 0 = 8
}

// Aesthetics is NeMo's aesthetic score: a CLIP ViT-L/14 image embedding of
// one frame per second, L2-normalised, through the LAION aesthetic MLP,
// reduced over the frames by min (or mean). Clips scoring below Threshold
// are filtered (when Threshold is set).
type Aesthetics struct {
	Model     *ModelQueue
	ModelID   string // names the weights in the settings fingerprint (paths)
	Predictor *aesthetic.Predictor
	Mean      bool     // reduce by mean instead of min
	Threshold *float64 // nil: score only
}

// modelFrames decodes the given frames of a clip and returns their image
// embeddings from q (not normalised); no frames is an error. Frames the
// motion pass kept (shared, admitted to q already) are not decoded again.
// Otherwise the clip is admitted to q first, so that only a bounded number
// of clips hold decoded frames at once.
func (r *runner) modelFrames(ctx context.Context, q *ModelQueue, clipPath string, m media.VideoInfo, frames []int, shared *sharedFrames) ([][]float32, error) {
	if len(frames) == 0 {
		return nil, errors.New("the clip has no frames")
	}
	if images, ok := shared.images(frames, q.size); ok {
		return q.Embed(ctx, images)
	}
	select {
	case q.admit <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-q.admit }()
	images, err := r.frameImages(ctx, clipPath, m, frames, q.size)
	if err != nil {
		return nil, err
	}
	return q.Embed(ctx, images)
}

// frameImages decodes the given frames of a clip at full size and
// preprocesses them for a model of input side size (an ffmpeg slot for the
// decode).
func (r *runner) frameImages(ctx context.Context, clipPath string, m media.VideoInfo, frames []int, size int) ([][]float32, error) {
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	raw, w, h, err := r.tools.ExtractRGB(ctx, clipPath, m.Width, m.Height, frames, max(m.Width, m.Height))
	r.release()
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(raw))
	for i, rgb := range raw {
		out[i] = vit.Preprocess(rgb, w, h, size)
	}
	return out, nil
}

// oneFPS picks one frame per second of a clip: frame int(k·fps) for
// k = 0, 1, ... while it is inside the clip (at least frame 0).
func oneFPS(numFrames int, fps float64) []int {
	if numFrames <= 0 {
		return nil
	}
	if !(fps > 0) || math.IsInf(fps, 0) {
		return []int{0}
	}
	var out []int
	for k := 0; ; k++ {
		f := int(float64(k) * fps)
		if f >= numFrames {
			break
		}
		out = append(out, f)
	}
	return out
}

// scoreAesthetics computes the clip's aesthetic score and filters it when
// it is under the threshold. A clip that cannot be scored gets "aesthetic"
// in its errors and no score, and is not filtered.
func (r *runner) scoreAesthetics(ctx context.Context, clipPath string, m media.VideoInfo, shared *sharedFrames, res *clipResult) {
	a := r.cfg.Aesthetics
	embs, err := r.modelFrames(ctx, a.Model, clipPath, m, aestheticFrames(m), shared)
	if err != nil {
		r.stepFailed(ctx, res, "aesthetic", err, "clip has no aesthetic score")
		return
	}
	var score float64
	for i, e := range embs {
		s := float64(a.Predictor.Score(normalise(e)))
		switch {
		case i == 0:
			score = s
		case a.Mean:
			score += s
		default:
			score = math.Min(score, s)
		}
	}
	if a.Mean {
		score /= float64(len(embs))
	}
	score = float64(float32(score)) // a float32 value, as NeMo's
	res.clip.Aesthetic = &score
	if a.Threshold != nil && score < *a.Threshold {
		res.clip.Filtered, res.filteredBy = true, filterAesthetic
	}
}

// embed makes the clip's embedding (docs/formats.md §4): Frames frames spread
// evenly over the clip, each image embedding L2-normalised, the mean
// normalised again. A failure leaves the clip without an embedding and
// "embedding" in its errors.
func (r *runner) embed(ctx context.Context, clipPath string, m media.VideoInfo, shared *sharedFrames, res *clipResult) {
	e := r.cfg.Embedding
	embs, err := r.modelFrames(ctx, e.Model, clipPath, m, r.embeddingFrames(m), shared)
	if err != nil {
		r.stepFailed(ctx, res, "embedding", err, "clip has no embedding")
		return
	}
	mean := make([]float64, len(embs[0]))
	for _, v := range embs {
		for i, x := range normalise(v) {
			mean[i] += float64(x)
		}
	}
	out := make([]float32, len(mean))
	var norm float64
	for _, x := range mean {
		norm += x * x
	}
	norm = math.Sqrt(norm)
	data := make([]byte, 4*len(out))
	for i, x := range mean {
		if norm > 0 {
			out[i] = float32(x / norm)
		}
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(out[i]))
	}
	res.embeddings = append(res.embeddings, index.EmbeddingRecord{Prefix: e.Prefix, Clip: res.clip.ID,
		Embedding: index.Embedding{DType: "<f4", Shape: []int{1, len(out)}, Data: data}})
}

// normalise returns v / ‖v‖ (v itself when its norm is zero).
func normalise(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	inv := 1 / math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}
