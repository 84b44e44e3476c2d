package curate

import (
	"context"
	"time"

	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/curate/transnet"
)

// TransNetSplit is TransNetV2 loaded for --splitting-algorithm transnetv2.
type TransNetSplit struct {
	Net       *transnet.Net
	ModelID   string  // the weights in the settings fingerprint (weightsID)
	Threshold float64 // a frame above it is a transition
}

// split cuts a video into clip spans with the configured algorithm. Scene
// detection decodes the whole video once and takes an ffmpeg slot for it.
func (r *runner) split(ctx context.Context, sv SourceVideo, st sourceState, info media.VideoInfo) ([]plan.Span, error) {
	if r.cfg.Splitting == SplitFixedStride {
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
	var scenes [][2]int
	var frames int
	switch r.cfg.Splitting {
	case SplitTransNetV2:
		scenes, frames, err = r.transNetScenes(ctx, src)
	default:
		var a *media.SceneAnalysis
		if a, err = r.tools.AnalyzeScenes(ctx, src, info.Width, info.Height, info.PixelFormat, r.cfg.Scene.Threshold, r.cfg.Scene.MinSceneLen, 1); err == nil {
			frames, scenes = a.Frames, plan.ScenesFromCuts(a.Cuts, a.Frames)
		}
	}
	r.release()
	if err != nil {
		return nil, err
	}
	r.observe(StageSplit, t0)
	spans := plan.SpansOfScenes(plan.FilterScenes(scenes, info.FrameRate, r.cfg.Scene), info.FrameRate)
	r.log.Debug("scenes", "video", sv.Path, "algorithm", r.cfg.Splitting, "frames", frames, "scenes", len(scenes), "clips", len(spans))
	return spans, nil
}

// transNetScenes decodes src as NeMo does for TransNetV2 and returns its
// scenes as NeMo's _get_scenes makes them, the frames scored as they come.
func (r *runner) transNetScenes(ctx context.Context, src media.Source) ([][2]int, int, error) {
	tn := r.cfg.TransNet
	sc := tn.Net.NewScorer()
	frames, err := r.tools.DecodeShotFrames(ctx, src, 1, sc.Push)
	if err != nil {
		return nil, 0, err
	}
	scores, err := sc.Finish()
	if err != nil {
		return nil, 0, &media.MediaError{Path: src.Name, Reason: "scene detection failed: " + err.Error()}
	}
	return transnet.Scenes(scores, tn.Threshold), frames, nil
}
