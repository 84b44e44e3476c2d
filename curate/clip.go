package curate

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
)

// clipResult is a processed clip and the files it staged.
type clipResult struct {
	clip       index.ClipRecord
	blobs      []StagedBlob
	filteredBy string // filterMotion, filterAesthetic; "" when passed
	embeddings []index.EmbeddingRecord
	// abort is set when the clip met an environment failure or was cut
	// short by cancellation: its chunk must not be committed.
	abort *fault.EnvError
}

// stepFailed takes a failed step of the clip. An input failure is the
// clip's own: it is named in its errors (as NeMo does) and logged, and the
// clip goes on. An environment failure (curate/fault), or any failure once ctx
// is done, aborts the clip instead: nothing is recorded, and the chunk is
// not committed. The caller holds whatever lock guards res.
func (r *runner) stepFailed(ctx context.Context, res *clipResult, step string, err error, msg string, args ...any) {
	if ctx.Err() != nil {
		res.abortWith(fault.AsEnv(res.clip.Source, context.Cause(ctx)))
		return
	}
	if ee := fault.AsEnv(res.clip.Source, err); ee != nil {
		if !strings.HasPrefix(ee.Cause, step) {
			ee.Cause = step + ": " + ee.Cause
		}
		res.abortWith(ee)
		return
	}
	r.log.Warn(msg, append([]any{"video", res.clip.Source, "clip", res.clip.ID, "step", step, "err", err}, args...)...)
	res.clip.Errors = appendOnce(res.clip.Errors, step)
}

// storeFailed is a blob that could not be adopted: never the clip's fault.
func storeFailed(source string, err error) *fault.EnvError {
	ee := fault.AsEnv(source, err)
	if ee == nil {
		ee = &fault.EnvError{Path: source, Cause: errText(err), Err: err}
	}
	c := *ee
	c.Cause = "store: " + ee.Cause
	return &c
}

func (res *clipResult) abortWith(ee *fault.EnvError) {
	if res.abort == nil {
		res.abort = ee
	}
}

// Why a clip was filtered.
const (
	filterMotion    = "motion"
	filterAesthetic = "aesthetic"
)

// clip makes one clip: transcode, probe the result, score motion and
// aesthetics (and move a clip with too little motion or beauty to
// filtered_clips/), then for passed clips the embedding, windows, previews
// and captions, and finally stage the kept media for the chunk's commit.
// A failed step is named in the clip's errors (docs/formats.md §3) and the clip is
// still recorded.
func (r *runner) clip(ctx context.Context, sv SourceVideo, st sourceState, info media.VideoInfo, s plan.Span) clipResult {
	source := sv.Path
	c := index.ClipRecord{
		ID: plan.SpanUUID(source, s), Source: source, Span: [2]float64{s.Start, s.End},
		StartFrame: s.StartFrame, EndFrame: s.EndFrame,
		WidthSource: info.Width, HeightSource: info.Height, FrameRateSource: info.FrameRate,
		Windows: []index.Window{},
	}
	res := clipResult{clip: c}
	if r.cfg.DryRun {
		r.clipDone(sv, info, s, &res)
		return res
	}
	defer r.clipDone(sv, info, s, &res)
	defer func() { // cut short: the chunk waits for a re-run
		if res.abort == nil && ctx.Err() != nil {
			res.abortWith(fault.AsEnv(source, context.Cause(ctx)))
		}
	}()
	if err := r.sink.Room(); err != nil {
		res.abortWith(fault.AsEnv(source, err))
		return res
	}
	tmp := r.sink.Stage(".mp4")
	defer func() { // the transcode, once staged, goes with its chunk
		if !slices.ContainsFunc(res.blobs, func(b StagedBlob) bool { return b.Path == tmp }) {
			os.Remove(tmp)
		}
	}()
	if err := r.transcode(ctx, sv, st, s, tmp); err != nil {
		r.stepFailed(ctx, &res, "transcode", err, "clip not transcoded", "span", s)
		r.noMotionData(&res)
		return res
	}
	m, err := media.ProbeMP4(tmp) // our own transcode: read its boxes, no ffprobe process
	if err != nil {
		m, err = r.tools.Probe(ctx, tmp)
	}
	if err != nil {
		r.stepFailed(ctx, &res, "probe", err, "transcoded clip not readable")
		r.noMotionData(&res)
		return res
	}
	res.clip.Media = &index.ClipMedia{Width: m.Width, Height: m.Height, FrameRate: m.FrameRate,
		NumFrames: m.NumFrames, VideoCodec: m.VideoCodec, NumBytes: m.NumBytes}
	var shared *sharedFrames // the model stages' frames, from the motion pass
	if r.cfg.Motion != MotionDisable {
		shared = r.scoreMotion(ctx, tmp, m, &res)
		defer shared.done()
	}
	if r.cfg.Aesthetics != nil && !res.clip.Filtered {
		t0 := time.Now()
		r.scoreAesthetics(ctx, tmp, m, shared, &res)
		r.observe(StageAesthetic, t0)
	}
	if r.cfg.Embedding != nil && !res.clip.Filtered {
		t0 := time.Now()
		r.embed(ctx, tmp, m, shared, &res)
		r.observe(StageEmbed, t0)
	}
	shared.done()
	if !res.clip.Filtered && (r.cfg.GeneratePreviews || r.cfg.Captions != nil) {
		for _, w := range plan.Windows(m.NumFrames) {
			res.clip.Windows = append(res.clip.Windows, index.Window{Start: w.Start, End: w.End})
		}
		if r.cfg.GeneratePreviews {
			t0 := time.Now()
			r.previews(ctx, tmp, m, &res)
			r.observe(StagePreview, t0)
		}
		if r.cfg.Captions != nil {
			t0 := time.Now()
			r.caption(ctx, tmp, m, &res)
			r.observe(StageCaption, t0)
		}
	}
	if !r.cfg.NoUploadClips && ctx.Err() == nil && res.abort == nil {
		b, err := stage(tmp)
		if err != nil {
			res.abortWith(storeFailed(source, err))
		} else {
			res.clip.Media.Blob, res.clip.Media.NumBytes = b.Name, b.Size
			res.blobs = append(res.blobs, b)
		}
	}
	return res
}

// transcode cuts span s of sv into dst; an object's URL is presigned once
// the slot is taken, right before ffmpeg reads it.
func (r *runner) transcode(ctx context.Context, sv SourceVideo, st sourceState, s plan.Span, dst string) error {
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	t0 := time.Now()
	src, err := r.source(ctx, sv, st)
	if err != nil {
		return err
	}
	if err := r.tools.TranscodeSource(ctx, src, s.Start, s.End, dst); err != nil {
		return err
	}
	r.observe(StageTranscode, t0)
	return nil
}

func (r *runner) clipDone(sv SourceVideo, info media.VideoInfo, s plan.Span, res *clipResult) {
	r.log.Debug("clip", "id", res.clip.ID, "source", res.clip.Source, "span", s, "errors", res.clip.Errors)
	if r.cfg.Progress != nil {
		r.cfg.Progress.clipDone(sv, s.Duration(), info.Duration)
	}
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
