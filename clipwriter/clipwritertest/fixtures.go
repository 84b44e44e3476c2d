package clipwritertest

import (
	"slices"

	"github.com/clipfs/clipfs/pack"
	"github.com/google/uuid"
)

// Source is the source video the fixtures name.
const Source = "/data/in/cam1/a.mp4"

// Clip is the clip ClipObject describes.
var Clip = uuid.MustParse("1b4e28ba-2fa1-51d2-883f-0016d3cca427")

// metaObject is a complete metas file of Clip, as docs/formats.md §3 orders it.
func ClipObject() pack.Object {
	return pack.Object{
		{Key: "span_uuid", Value: Clip.String()},
		{Key: "source_video", Value: Source},
		{Key: "duration_span", Value: []float64{10.0, 20.0}},
		{Key: "width_source", Value: 1280},
		{Key: "height_source", Value: 720},
		{Key: "framerate_source", Value: 29.97002997002997},
		{Key: "clip_location", Value: "/out/clips/" + Clip.String() + ".mp4"},
		{Key: "width", Value: 640},
		{Key: "height", Value: 360},
		{Key: "framerate", Value: 29.97002997002997},
		{Key: "num_frames", Value: 300},
		{Key: "video_codec", Value: "h264"},
		{Key: "num_bytes", Value: 123456},
		{Key: "motion_score", Value: pack.Object{{Key: "global_mean", Value: 0.0042}, {Key: "per_patch_min_256", Value: 1e-06}}},
		{Key: "aesthetic_score", Value: 4.5},
		{Key: "errors", Value: []string{"motion_decode"}},
		{Key: "windows", Value: []any{
			pack.Object{{Key: "start_frame", Value: 0}, {Key: "end_frame", Value: 255},
				{Key: "qwen_caption", Value: "a cat"}, {Key: "vila_caption", Value: "a small cat"},
				{Key: "qwen_enhanced_caption", Value: "a cat on a mat"}},
			pack.Object{{Key: "start_frame", Value: 256}, {Key: "end_frame", Value: 299}},
		}},
		{Key: "valid", Value: true},
	}
}

// edit returns a copy of o with key set to value (appended if absent).
func Edit(o pack.Object, key string, value any) pack.Object {
	o = slices.Clone(o)
	for i := range o {
		if o[i].Key == key {
			o[i].Value = value
			return o
		}
	}
	return append(o, pack.Field{Key: key, Value: value})
}

// Drop returns a copy of o without keys.
func Drop(o pack.Object, keys ...string) pack.Object {
	return slices.DeleteFunc(slices.Clone(o), func(f pack.Field) bool { return slices.Contains(keys, f.Key) })
}

// VideoObject is a processed_videos file of Source.
func VideoObject() pack.Object {
	return pack.Object{
		{Key: "video", Value: Source}, {Key: "height", Value: 720}, {Key: "width", Value: 1280},
		{Key: "framerate", Value: 30.0}, {Key: "num_frames", Value: 900}, {Key: "duration", Value: 30.0},
		{Key: "video_codec", Value: "h264"}, {Key: "pixel_format", Value: "yuv420p"}, {Key: "audio_format", Value: "aac"},
		{Key: "num_total_clips", Value: 3}, {Key: "num_clip_chunks", Value: 1},
	}
}

// ChunkObject is a processed_clip_chunks file of Source with the passed
// clips and filtered clips named.
func ChunkObject(clips, filtered []string) pack.Object {
	windows := pack.Object{}
	for _, c := range clips {
		windows = append(windows, pack.Field{Key: c, Value: pack.Object{{Key: "0_255", Value: "a cat"}}})
	}
	return pack.Object{
		{Key: "video", Value: Source}, {Key: "clip_chunk_index", Value: 2},
		{Key: "num_clips_filtered_by_motion", Value: 1}, {Key: "num_clips_filtered_by_aesthetic", Value: 0},
		{Key: "num_clips_passed", Value: len(clips)}, {Key: "num_clips_transcoded", Value: 3},
		{Key: "num_clips_with_embeddings", Value: 4}, {Key: "num_clips_with_caption", Value: 2},
		{Key: "num_clips_with_webp", Value: 2}, {Key: "total_clip_duration", Value: 30.0},
		{Key: "max_clip_duration", Value: 10.0}, {Key: "clips", Value: clips}, {Key: "filtered_clips", Value: filtered},
		{Key: "all_windows", Value: windows}, {Key: "all_windows_enhanced_caption", Value: pack.Object{}},
	}
}
