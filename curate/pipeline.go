package curate

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
)

// runner is one Run in progress. Videos run concurrently; every ffmpeg job
// (transcode, preview) takes one of cfg.Workers slots, so clips of all videos
// and chunks share the cores and no chunk boundary leaves a slot idle.
type runner struct {
	sink  Sink
	db    *index.DB // for publishing; nil where the index is elsewhere
	tools media.Tools
	cfg   Config
	sem   chan struct{}
	log   *slog.Logger

	// unreported: a Curator keeps no list of failures (it runs for days);
	// its caller gets each one from Video.
	unreported bool

	mu     sync.Mutex
	report Report

	diskFull atomic.Bool // an environment failure found the disk full
}

// fail reports a video (or a publish step) that did not succeed: an input
// failure goes to Report.Failed, an environment failure (curate/fault) to
// Report.Unfinished, and a full disk stops the run taking new videos.
func (r *runner) fail(err error) {
	list := &r.report.Failed
	if ee := fault.AsEnv("", err); ee != nil {
		err, list = ee, &r.report.Unfinished
		if ee.DiskFull {
			r.diskFull.Store(true)
		}
	}
	if !r.unreported {
		r.mu.Lock()
		*list = append(*list, err)
		r.mu.Unlock()
	}
	r.log.Warn(err.Error())
	if r.cfg.Progress != nil {
		r.cfg.Progress.failed(err)
	}
}

// Outcome is what curating one video did.
type Outcome struct {
	UpToDate bool    // nothing to do: curated before with the same file and settings
	Clips    int     // clips committed
	Bytes    int64   // bytes of clip media committed
	Seconds  float64 // seconds of video in those clips
}

// video curates one source video, chunk by chunk, committing each chunk
// once all its clips are done.
func (r *runner) video(ctx context.Context, sv SourceVideo) (Outcome, error) {
	var out Outcome
	err := r.curateVideo(ctx, sv, &out)
	r.mu.Lock()
	switch {
	case err == errUpToDate:
		err = nil
		out.UpToDate = true
		r.report.UpToDate++
	case err == nil:
		r.report.Curated++
	}
	r.report.Clips += out.Clips
	r.report.Seconds += out.Seconds
	r.mu.Unlock()
	if r.cfg.Progress != nil {
		r.cfg.Progress.videoDone(sv)
	}
	if ee := fault.AsEnv(sv.Path, err); ee != nil && ctx.Err() == nil {
		err = ee // callers (the daemon) tell it from a failure with errors.As
	}
	if err != nil && ctx.Err() == nil {
		r.fail(err)
		r.observeError(err)
	}
	return out, err
}

func (r *runner) curateVideo(ctx context.Context, sv SourceVideo, out *Outcome) error {
	st, err := r.stat(ctx, sv)
	if err != nil {
		return err
	}
	fingerprint := st.identity + " " + r.cfg.settings()
	old, err := r.sink.Video(sv.Path)
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		// The stored record cannot be read (the index owner did not
		// answer, say): curating blind would redo what is committed.
		return &fault.EnvError{Path: sv.Path, Cause: "index: " + errText(err), Err: err}
	}
	if err == nil && old.Fingerprint == fingerprint && old.Complete() {
		r.log.Debug("up to date", "video", sv.Path)
		return errUpToDate
	}
	t0 := time.Now()
	src, err := r.source(ctx, sv, st)
	if err != nil {
		return err
	}
	info, err := r.tools.ProbeSource(ctx, src)
	if err != nil {
		return err
	}
	r.observe(StageProbe, t0)
	spans, err := r.split(ctx, sv, st, info)
	if err != nil {
		return err
	}
	chunks := plan.GroupChunks(spans)
	v := index.VideoRecord{
		Source: sv.Path, Rel: sv.Rel, Fingerprint: fingerprint, SourceMTime: st.mtime.Unix(),
		Width: info.Width, Height: info.Height, FrameRate: info.FrameRate, NumFrames: info.NumFrames,
		Duration: info.Duration, VideoCodec: info.VideoCodec, PixelFormat: info.PixelFormat, AudioCodec: info.AudioCodec,
		NumTotalClips: len(spans), NumClipChunks: len(chunks), CuratedAt: index.Now(),
	}
	if len(chunks) == 0 {
		return r.sink.Commit(ctx, &ChunkResult{Video: v})
	}
	resume := old.Fingerprint == fingerprint
	results := make([][]clipResult, len(chunks))
	waits := make([]sync.WaitGroup, len(chunks))
	// An environment failure of one clip stops the video's other clips
	// (they would meet it too); chunks finished whole before it commit.
	vctx, vcancel := context.WithCancelCause(ctx)
	defer vcancel(nil)
	for ci, chunk := range chunks {
		if resume && old.HasChunk(ci) {
			continue
		}
		results[ci] = make([]clipResult, len(chunk))
		for i, s := range chunk {
			waits[ci].Go(func() {
				res := r.clip(vctx, sv, st, info, s)
				if res.abort != nil {
					vcancel(res.abort)
				}
				results[ci][i] = res
			})
		}
	}
	var firstErr error
	for ci := range chunks {
		waits[ci].Wait()
		if results[ci] == nil || firstErr != nil || ctx.Err() != nil {
			discard(results[ci])
			continue
		}
		if ee := chunkAbort(results[ci]); ee != nil {
			discard(results[ci])
			firstErr = ee
			continue
		}
		if err := r.commit(ctx, v, ci, results[ci], out); err != nil {
			firstErr = err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if firstErr == nil {
		r.log.Debug("curated", "video", sv.Path, "clips", len(spans), "chunks", len(chunks))
	}
	return firstErr
}

// chunkAbort is why a chunk's clips must not be committed: the first
// environment failure among them. Clips cut short because another clip of
// the video met one carry that failure too (ctx's cause, see stepFailed).
func chunkAbort(res []clipResult) *fault.EnvError {
	for _, cr := range res {
		if cr.abort != nil {
			return cr.abort
		}
	}
	return nil
}

// errUpToDate is curateVideo's answer for a video that needs no work.
var errUpToDate = errors.New("up to date")

// acquire takes an ffmpeg slot; it fails only when ctx is done.
func (r *runner) acquire(ctx context.Context) error {
	select {
	case r.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *runner) release() { <-r.sem }
