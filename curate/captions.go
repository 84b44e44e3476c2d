package curate

import (
	"context"
	"sync"

	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
)

// jpegQuality is the quality of the frames sent to a captioning model.
const jpegQuality = 85

// caption captions every window of a passed clip (docs/formats.md §5): the
// frames of all windows are decoded in one ffmpeg run (an ffmpeg slot),
// then each window's frames go to the vision-language model as JPEGs, all
// windows at once (the client bounds the requests in flight), and each
// answer is optionally rewritten by the enhancement model. A window whose
// request is refused keeps no caption and the clip's errors name the step
// ("caption", "enhance_caption"); curation goes on. An endpoint that stays
// unavailable through its retries aborts the clip's chunk instead
// (stepFailed): the window is captioned by a re-run.
func (r *runner) caption(ctx context.Context, clipPath string, m media.VideoInfo, res *clipResult) {
	cp := r.cfg.Captions
	windows := res.clip.Windows
	if len(windows) == 0 {
		return
	}
	var frames []int
	spans := make([][2]int, len(windows)) // each window's frames in the list
	for i, w := range windows {
		picked := plan.EvenFrames(plan.Window{Start: w.Start, End: w.End}, cp.Frames)
		spans[i] = [2]int{len(frames), len(frames) + len(picked)}
		frames = append(frames, picked...)
	}
	if r.acquire(ctx) != nil {
		return
	}
	images, err := r.tools.ExtractFrames(ctx, clipPath, m.Width, m.Height, frames, cp.MaxSide)
	var jpegs [][]byte
	for _, img := range images {
		if err != nil {
			break
		}
		var b []byte
		b, err = media.EncodeJPEG(img, jpegQuality)
		jpegs = append(jpegs, b)
	}
	r.release()
	if err != nil {
		r.stepFailed(ctx, res, "caption", err, "clip not captioned")
		return
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range windows {
		wg.Go(func() {
			w := &windows[i]
			text, err := cp.Model.Describe(ctx, cp.Prompt, jpegs[spans[i][0]:spans[i][1]])
			if err != nil {
				r.captionFailed(ctx, &mu, res, "caption", w, err)
				return
			}
			w.Captions = []index.Caption{{Model: cp.Model.Model(), Text: text}}
			if cp.Enhance == nil {
				return
			}
			better, err := cp.Enhance.Rewrite(ctx, cp.EnhancePrompt, text)
			if err != nil {
				r.captionFailed(ctx, &mu, res, "enhance_caption", w, err)
				return
			}
			w.Enhanced = []index.Caption{{Model: cp.Enhance.Model(), Text: better}}
		})
	}
	wg.Wait()
}

func (r *runner) captionFailed(ctx context.Context, mu *sync.Mutex, res *clipResult, step string, w *index.Window, err error) {
	mu.Lock()
	defer mu.Unlock()
	r.stepFailed(ctx, res, step, err, "window not captioned", "window", [2]int{w.Start, w.End})
}

// hasCaption reports whether any window of the clip has a caption.
func hasCaption(c index.ClipRecord) bool {
	for _, w := range c.Windows {
		if len(w.Captions) > 0 {
			return true
		}
	}
	return false
}
