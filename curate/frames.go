package curate

import (
	"context"
	"slices"

	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/motion"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/curate/vit"
)

// A clip's frames are decoded once for every stage that reads them where
// possible: the motion pass (libav, in process) also converts the frames
// the model stages will read (aesthetics, one a second; embeddings, evenly
// spread), so that they need no ffmpeg of their own. The conversion is
// ffmpeg's own arithmetic (media.YUV420ToRGB24), for the frames where that
// is known exact (motion.Picture.Plain, at the clip's own size); any other
// clip, or a frame the pass did not reach, is decoded by ffmpeg as before
// (frameImages).

// sharedFrames are frames of a clip decoded in its motion pass, as RGB24
// of w×h by frame index.
type sharedFrames struct {
	w, h    int
	rgb     map[int][]byte
	release func() // gives back the clip's admissions to the model queues
}

// images preprocesses frames for a model of input side size; ok is false
// unless every one of them was decoded.
func (s *sharedFrames) images(frames []int, size int) ([][]float32, bool) {
	if s == nil || len(frames) == 0 {
		return nil, false
	}
	out := make([][]float32, len(frames))
	for i, f := range frames {
		rgb, ok := s.rgb[f]
		if !ok {
			return nil, false
		}
		out[i] = vit.Preprocess(rgb, s.w, s.h, size)
	}
	return out, true
}

func (s *sharedFrames) done() {
	if s != nil && s.release != nil {
		s.release()
		s.release = nil
	}
}

// aestheticFrames and embeddingFrames are the frames those stages read of
// a clip of m.
func aestheticFrames(m media.VideoInfo) []int { return oneFPS(m.NumFrames, m.FrameRate) }

func (r *runner) embeddingFrames(m media.VideoInfo) []int {
	return plan.EvenFrames(plan.Window{Start: 0, End: m.NumFrames - 1}, r.cfg.Embedding.Frames)
}

// modelFramesWanted is every frame the model stages read of a clip of m,
// ascending; nil when they are off, or when the frames would be scaled
// (ffmpeg's scaler is not reproduced).
func (r *runner) modelFramesWanted(m media.VideoInfo) []int {
	if w, h := media.FrameSize(m.Width, m.Height, max(m.Width, m.Height)); w != m.Width || h != m.Height {
		return nil
	}
	var want []int
	if r.cfg.Aesthetics != nil {
		want = append(want, aestheticFrames(m)...)
	}
	if r.cfg.Embedding != nil {
		want = append(want, r.embeddingFrames(m)...)
	}
	slices.Sort(want)
	return slices.Compact(want)
}

// admitModels admits the clip to the queues of the model stages before its
// frames are decoded (each queue bounds the clips holding frames), always
// in the same order; release gives the admissions back.
func (r *runner) admitModels(ctx context.Context) (release func(), err error) {
	var queues []*ModelQueue
	if a := r.cfg.Aesthetics; a != nil {
		queues = append(queues, a.Model)
	}
	if e := r.cfg.Embedding; e != nil && !slices.Contains(queues, e.Model) {
		queues = append(queues, e.Model)
	}
	var held []*ModelQueue
	release = func() {
		for _, q := range held {
			<-q.admit
		}
		held = nil
	}
	for _, q := range queues {
		select {
		case q.admit <- struct{}{}:
			held = append(held, q)
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	return release, nil
}

// motionWithFrames is the motion pass of a clip that also keeps the frames
// want lists (sharedFrames), unless the motion score filters the clip
// (then no model stage runs). keep says whether a motion result leaves the
// clip to the model stages.
func (r *runner) motionWithFrames(ctx context.Context, clipPath string, m media.VideoInfo, want []int, keep func(motion.Decoded, error) bool) (motion.Decoded, error, *sharedFrames) {
	shared := &sharedFrames{w: m.Width, h: m.Height, rgb: map[int][]byte{}}
	d, err := motion.DecodeWithFrames(ctx, clipPath, want, keep, func(i int, p motion.Picture) bool {
		if !p.Plain || p.Width != shared.w || p.Height != shared.h {
			return false // ffmpeg decodes them (frameImages)
		}
		shared.rgb[i] = media.YUV420ToRGB24(p.Width, p.Height, p.Y, p.U, p.V, p.YStride, p.UStride, p.VStride, p.BT709)
		return true
	})
	return d, err, shared
}
