package curate

import (
	"context"
	"math"
	"os"
	"time"

	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/curate/publish"
	"github.com/clipfs/clipfs/index"
)

// commit turns a chunk's finished clips into one ChunkResult, commits it
// through the sink and adds it to out.
func (r *runner) commit(ctx context.Context, v index.VideoRecord, ci int, res []clipResult, out *Outcome) error {
	ch := index.ChunkRecord{ID: plan.ChunkUUID(v.Source, ci), Source: v.Source, Index: ci}
	cc := ChunkResult{Video: v}
	var seconds float64
	var bytes int64
	for _, cr := range res {
		c := cr.clip
		if c.Stored() {
			bytes += c.Media.NumBytes
		}
		switch {
		case !c.Filtered:
			ch.Clips = append(ch.Clips, c.ID)
			ch.Stats.Passed++
		case cr.filteredBy == filterMotion:
			ch.Filtered = append(ch.Filtered, c.ID)
			ch.Stats.FilteredByMotion++
		default:
			ch.Filtered = append(ch.Filtered, c.ID)
			ch.Stats.FilteredByAesthetic++
		}
		if hasCaption(c) {
			ch.Stats.WithCaption++
		}
		d := c.Span[1] - c.Span[0]
		ch.Stats.TotalClipDuration += d
		ch.Stats.MaxClipDuration = math.Max(ch.Stats.MaxClipDuration, d)
		seconds += d
		if c.Transcoded() {
			ch.Stats.Transcoded++
		}
		if len(c.Previews) > 0 {
			ch.Stats.WithWebp++
		}
		if !r.cfg.DryRun {
			cc.Clips = append(cc.Clips, c)
		}
		cc.Blobs = append(cc.Blobs, cr.blobs...)
		if !c.Filtered {
			cc.Embeddings = append(cc.Embeddings, cr.embeddings...)
			ch.Stats.WithEmbeddings += len(cr.embeddings)
		}
		if c.Stored() && !c.Filtered {
			cc.Samples = append(cc.Samples, publish.Sample(c, v.SourceMTime, cr.embeddings))
		}
	}
	cc.Chunk = &ch
	t0 := time.Now()
	if err := r.sink.Commit(ctx, &cc); err != nil {
		cc.Discard()
		return err
	}
	r.observe(StageCommit, t0)
	if o := r.cfg.Observer; o != nil {
		for _, cr := range res {
			for _, kind := range cr.clip.Errors {
				o.Error(kind)
			}
		}
	}
	out.Clips += len(res)
	out.Bytes += bytes
	out.Seconds += seconds
	return nil
}

// discard removes the staged files of clips that will not be committed.
func discard(res []clipResult) {
	for _, cr := range res {
		for _, b := range cr.blobs {
			os.Remove(b.Path)
		}
	}
}
