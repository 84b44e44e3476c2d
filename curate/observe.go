package curate

import (
	"errors"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
)

// Observer is told how curation goes: how long each stage of a video or
// clip took, and each error by kind. Implementations must be safe for
// concurrent use; clipfs serve turns these into Prometheus metrics.
type Observer interface {
	// Stage reports that one video (probe, split) or clip (the others) went
	// through stage in d, not counting the wait for an ffmpeg slot.
	Stage(stage string, d time.Duration)
	// Error reports one failure: a clip error of docs/formats.md §3
	// ("transcode", "motion_decode", "caption", ...), or for a video that
	// could not be curated "media" (the file is at fault) or "internal".
	Error(kind string)
}

// The stages Observer.Stage names.
const (
	StageProbe     = "probe"     // ffprobe of a source video
	StageSplit     = "split"     // scene detection (fixed stride costs nothing)
	StageTranscode = "transcode" // ffmpeg cuts and encodes a clip
	StageMotion    = "motion"    // motion vectors decoded and scored
	StageAesthetic = "aesthetic" // frames, CLIP and the aesthetic MLP
	StageEmbed     = "embed"     // frames and the embedding model
	StagePreview   = "preview"   // WebP previews of a clip's windows
	StageCaption   = "caption"   // the caption endpoint(s), all windows of a clip
	StageCommit    = "commit"    // one chunk's index transaction
)

// observe reports stage as taking the time since start.
func (r *runner) observe(stage string, start time.Time) {
	if r.cfg.Observer != nil {
		r.cfg.Observer.Stage(stage, time.Since(start))
	}
}

// observeError reports a video that could not be curated.
func (r *runner) observeError(err error) {
	if r.cfg.Observer == nil {
		return
	}
	var me *media.MediaError
	var ee *fault.EnvError
	if errors.As(err, &ee) {
		r.cfg.Observer.Error("environment") // not the video's: it waits for a retry
	} else if errors.As(err, &me) {
		r.cfg.Observer.Error("media")
	} else {
		r.cfg.Observer.Error("internal")
	}
}
