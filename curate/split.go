package curate

import (
	"context"
	"time"

	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/plan"
)

// split cuts a video into clip spans with the configured algorithm. Scene
// detection decodes the whole video once and takes an ffmpeg slot for it.
func (r *runner) split(ctx context.Context, sv SourceVideo, st sourceState, info media.VideoInfo) ([]plan.Span, error) {
	if r.cfg.Splitting != SplitScene {
		return plan.FixedStride(info.NumFrames, info.FrameRate, r.cfg.Stride), nil
	}
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	t0 := time.Now()
	src, err := r.source(ctx, sv, st)
	if err != nil {
		r.release()
		return nil, err
	}
	cuts, frames, err := r.tools.DetectCutsSource(ctx, src, info.Width, info.Height, r.cfg.Scene.Threshold, r.cfg.Scene.MinSceneLen)
	r.release()
	if err != nil {
		return nil, err
	}
	r.observe(StageSplit, t0)
	spans := plan.SceneSpans(cuts, frames, info.FrameRate, r.cfg.Scene)
	r.log.Debug("scenes", "video", sv.Path, "frames", frames, "cuts", len(cuts), "clips", len(spans))
	return spans, nil
}
