package curate

import (
	"context"
	"os"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
)

// previews writes one WebP preview per window of the clip.
func (r *runner) previews(ctx context.Context, clipPath string, m media.VideoInfo, res *clipResult) {
	for _, win := range res.clip.Windows {
		w := plan.Window{Start: win.Start, End: win.End}
		if err := r.sink.Room(); err != nil {
			res.abortWith(fault.AsEnv(res.clip.Source, err))
			return
		}
		dst := r.sink.Stage(".webp")
		err := r.acquire(ctx)
		if err == nil {
			err = r.tools.Preview(ctx, clipPath, m.FrameRate, w.Start, w.End, dst)
			r.release()
		}
		if err != nil {
			os.Remove(dst)
			r.stepFailed(ctx, res, "preview", err, "preview failed", "window", w)
			if res.abort != nil {
				return
			}
			continue
		}
		b, err := stage(dst)
		if err != nil {
			os.Remove(dst)
			res.abortWith(storeFailed(res.clip.Source, err))
			return
		}
		res.clip.Previews = append(res.clip.Previews, index.Preview{Start: w.Start, End: w.End, Blob: b.Name, Size: b.Size})
		res.blobs = append(res.blobs, b)
	}
}
