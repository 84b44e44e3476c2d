package curate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/motion"
	"github.com/clipfs/clipfs/index"
)

// scoreMotion computes NeMo's motion score from the clip's motion vectors
// (an ffmpeg slot: it decodes the clip). A clip that cannot be scored gets
// -1 for both values and "motion_decode" in its errors, as in NeMo; with
// MotionEnable a small-motion clip (that one included) is filtered.
func (r *runner) scoreMotion(ctx context.Context, clipPath string, res *clipResult) {
	if r.acquire(ctx) != nil {
		return
	}
	t0 := time.Now()
	d, err := motion.DecodeContext(ctx, clipPath)
	r.release()
	if ctx.Err() != nil {
		return
	}
	if ee := fault.AsEnv(res.clip.Source, err); ee != nil && !errors.Is(err, motion.ErrDecodeFailed) {
		ee.Cause = "motion_decode: " + ee.Cause
		res.abortWith(ee)
		return
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
