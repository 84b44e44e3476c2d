package clipwriter

import (
	"fmt"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
	"github.com/google/uuid"
)

// ClipJSON is metas/v0/<uuid>.json of clip c (docs/formats.md §3), its
// clip_location under out (the output path; "" keeps it relative, as
// shards carry it).
func ClipJSON(c index.ClipRecord, out string) []byte { return pack.JSON(clipMeta(c, out)) }

// ShardClipJSON is a clip's metas JSON as shards carry it: clip_location is
// relative (clips/<uuid>.mp4), so a shard's bytes do not depend on where
// the tree is served.
func ShardClipJSON(c index.ClipRecord) []byte { return ClipJSON(c, "") }

// VideoJSON is processed_videos/<rel>.json of video v (docs/formats.md §3).
func VideoJSON(v index.VideoRecord) []byte { return pack.JSON(videoMeta(v)) }

// ChunkJSON is processed_clip_chunks/<rel>_<i>.json of chunk ch, clips being
// the records its passed and filtered clips name (docs/formats.md §3).
func ChunkJSON(ch index.ChunkRecord, clips []index.ClipRecord) []byte {
	return pack.JSON(chunkMeta(ch, clips))
}

// clipMeta builds metas/v0/<uuid>.json (docs/formats.md §3) in key order.
func clipMeta(c index.ClipRecord, out string) pack.Object {
	dir := index.DirClips
	if c.Filtered {
		dir = index.DirFilteredClips
	}
	location := dir + "/" + c.ID.String() + ".mp4" // relative: shards carry it so
	if out != "" {
		location = out + "/" + location
	}
	var fps any
	if c.FrameRateSource > 0 {
		fps = c.FrameRateSource
	}
	o := pack.Object{
		{Key: "span_uuid", Value: c.ID.String()},
		{Key: "source_video", Value: c.Source},
		{Key: "duration_span", Value: []float64{c.Span[0], c.Span[1]}},
		{Key: "width_source", Value: c.WidthSource},
		{Key: "height_source", Value: c.HeightSource},
		{Key: "framerate_source", Value: fps},
		{Key: "clip_location", Value: location},
	}
	if c.Transcoded() {
		m := c.Media
		o = append(o,
			pack.Field{Key: "width", Value: m.Width},
			pack.Field{Key: "height", Value: m.Height},
			pack.Field{Key: "framerate", Value: m.FrameRate},
			pack.Field{Key: "num_frames", Value: m.NumFrames},
			pack.Field{Key: "video_codec", Value: m.VideoCodec},
			pack.Field{Key: "num_bytes", Value: m.NumBytes})
	}
	if c.Motion != nil {
		o = append(o, pack.Field{Key: "motion_score", Value: pack.Object{
			{Key: "global_mean", Value: c.Motion.GlobalMean},
			{Key: "per_patch_min_256", Value: c.Motion.PerPatchMin256},
		}})
	}
	if c.Aesthetic != nil {
		o = append(o, pack.Field{Key: "aesthetic_score", Value: *c.Aesthetic})
	}
	if len(c.Errors) > 0 {
		o = append(o, pack.Field{Key: "errors", Value: c.Errors})
	}
	windows := make([]any, 0, len(c.Windows))
	for _, w := range c.Windows {
		wo := pack.Object{{Key: "start_frame", Value: w.Start}, {Key: "end_frame", Value: w.End}}
		for _, cap := range w.Captions {
			wo = append(wo, pack.Field{Key: cap.Model + "_caption", Value: cap.Text})
		}
		for _, cap := range w.Enhanced {
			wo = append(wo, pack.Field{Key: cap.Model + "_enhanced_caption", Value: cap.Text})
		}
		windows = append(windows, wo)
	}
	o = append(o, pack.Field{Key: "windows", Value: windows})
	return append(o, pack.Field{Key: "valid", Value: c.Transcoded() && len(c.Windows) > 0})
}

// videoMeta builds processed_videos/<rel>.json.
func videoMeta(v index.VideoRecord) pack.Object {
	var audio any
	if v.AudioCodec != "" {
		audio = v.AudioCodec
	}
	o := pack.Object{
		{Key: "video", Value: v.Source},
		{Key: "height", Value: v.Height},
		{Key: "width", Value: v.Width},
		{Key: "framerate", Value: v.FrameRate},
		{Key: "num_frames", Value: v.NumFrames},
		{Key: "duration", Value: v.Duration},
		{Key: "video_codec", Value: v.VideoCodec},
		{Key: "pixel_format", Value: v.PixelFormat},
		{Key: "audio_format", Value: audio},
		{Key: "num_total_clips", Value: v.NumTotalClips},
		{Key: "num_clip_chunks", Value: v.NumClipChunks},
	}
	if v.Failure != "" {
		// As NeMo's Video.errors: the step that failed, and why.
		o = append(o, pack.Field{Key: "errors", Value: pack.Object{{Key: FailedStep, Value: v.Failure}}})
	}
	return o
}

// FailedStep is the key under which a video that could not be curated
// names its reason in processed_videos ("errors": {"curate": REASON}).
const FailedStep = "curate"

// chunkMeta builds processed_clip_chunks/<rel>_<i>.json; clips are the
// chunk's passed clips, in order.
func chunkMeta(ch index.ChunkRecord, clips []index.ClipRecord) pack.Object {
	s := ch.Stats
	windows, enhanced := pack.Object{}, pack.Object{}
	for _, c := range clips {
		w, e := pack.Object{}, pack.Object{}
		for _, win := range c.Windows {
			key := fmt.Sprintf("%d_%d", win.Start, win.End)
			if len(win.Captions) > 0 {
				w = append(w, pack.Field{Key: key, Value: win.Captions[0].Text})
			}
			if len(win.Enhanced) > 0 {
				e = append(e, pack.Field{Key: key, Value: win.Enhanced[0].Text})
			}
		}
		windows = append(windows, pack.Field{Key: c.ID.String(), Value: w})
		enhanced = append(enhanced, pack.Field{Key: c.ID.String(), Value: e})
	}
	return pack.Object{
		{Key: "video", Value: ch.Source},
		{Key: "clip_chunk_index", Value: ch.Index},
		{Key: "num_clips_filtered_by_motion", Value: s.FilteredByMotion},
		{Key: "num_clips_filtered_by_aesthetic", Value: s.FilteredByAesthetic},
		{Key: "num_clips_passed", Value: s.Passed},
		{Key: "num_clips_transcoded", Value: s.Transcoded},
		{Key: "num_clips_with_embeddings", Value: s.WithEmbeddings},
		{Key: "num_clips_with_caption", Value: s.WithCaption},
		{Key: "num_clips_with_webp", Value: s.WithWebp},
		{Key: "total_clip_duration", Value: s.TotalClipDuration},
		{Key: "max_clip_duration", Value: s.MaxClipDuration},
		{Key: "clips", Value: uuidStrings(ch.Clips)},
		{Key: "filtered_clips", Value: uuidStrings(ch.Filtered)},
		{Key: "all_windows", Value: windows},
		{Key: "all_windows_enhanced_caption", Value: enhanced},
	}
}

func uuidStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
