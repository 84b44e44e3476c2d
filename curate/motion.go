package curate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/motion"
	"github.com/clipfs/clipfs/index"
)

// scoreMotion computes NeMo's motion score from the clip's motion vectors
// (an ffmpeg slot: it decodes the clip). A clip that cannot be scored gets
// -1 for both values and "motion_decode" in its errors, as in NeMo; with
// MotionEnable a small-motion clip (that one included) is filtered. Where
// model stages follow, the same decode keeps the frames they read
// (frames.go); the caller calls done on what it returns.
func (r *runner) scoreMotion(ctx context.Context, clipPath string, m media.VideoInfo, res *clipResult) *sharedFrames {
	want := r.modelFramesWanted(m)
	var admitted func()
	if len(want) > 0 {
		rel, err := r.admitModels(ctx)
		if err != nil {
			return nil // cancelled: the clip is cut short
		}
		admitted = rel
	}
	if r.acquire(ctx) != nil {
		if admitted != nil {
			admitted()
		}
		return nil
	}
	t0 := time.Now()
	var (
		d      motion.Decoded
		err    error
		shared *sharedFrames
	)
	if len(want) > 0 {
		d, err, shared = r.motionWithFrames(ctx, clipPath, m, want, func(d motion.Decoded, err error) bool {
			return !r.motionFilters(res.clip.Source, d, err)
		})
		shared.release = admitted
		if len(shared.rgb) == 0 {
			shared.done()
			shared = nil
		}
	} else {
		d, err = motion.DecodeContext(ctx, clipPath)
	}
	r.release()
	if ctx.Err() != nil {
		return shared
	}
	if ee := fault.AsEnv(res.clip.Source, err); ee != nil && !errors.Is(err, motion.ErrDecodeFailed) {
		ee.Cause = "motion_decode: " + ee.Cause
		res.abortWith(ee)
		return shared
	}
	score := motion.Missing()
	if err == nil {
		score = motion.Compute(d)
		r.observe(StageMotion, t0)
	} else {
		args := []any{"video", res.clip.Source, "clip", res.clip.ID, "step", "motion_decode", "reason", motion.Reason(err)}
		if errors.Is(err, motion.ErrDecodeFailed) {
			args = append(args, "err", err) // libav's words; the others say it all
		} else if errors.Is(err, motion.ErrResolutionTooSmall) {
			args = append(args, "size", fmt.Sprintf("%dx%d", res.clip.Media.Width, res.clip.Media.Height))
		}
		r.log.Warn("clip has no motion score", args...)
		res.clip.Errors = appendOnce(res.clip.Errors, "motion_decode")
	}
	r.setMotion(res, score)
	return shared
}

// motionFilters says whether a motion pass's result leaves the clip out of
// the stages after it: an environment failure aborts it, and with
// MotionEnable a small score (or none) filters it.
func (r *runner) motionFilters(source string, d motion.Decoded, err error) bool {
	if ee := fault.AsEnv(source, err); ee != nil && !errors.Is(err, motion.ErrDecodeFailed) {
		return true
	}
	if r.cfg.Motion != MotionEnable {
		return false
	}
	score := motion.Missing()
	if err == nil {
		score = motion.Compute(d)
	}
	return score.Small(r.cfg.MotionThresholds)
}

// noMotionData scores a clip without bytes as NeMo scores a clip without
// motion data: -1 for both values, which filters it under MotionEnable.
func (r *runner) noMotionData(res *clipResult) {
	if r.cfg.Motion != MotionDisable {
		r.setMotion(res, motion.Missing())
	}
}

func (r *runner) setMotion(res *clipResult, score motion.Score) {
	res.clip.Motion = &index.MotionScore{GlobalMean: score.GlobalMean, PerPatchMin256: score.PerPatchMin256}
	if r.cfg.Motion == MotionEnable && score.Small(r.cfg.MotionThresholds) {
		res.clip.Filtered, res.filteredBy = true, filterMotion
	}
}
