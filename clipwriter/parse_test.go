package clipwriter

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	cwt "github.com/clipfs/clipfs/clipwriter/clipwritertest"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
	"github.com/google/uuid"
)

func metaRecord() index.ClipRecord {
	aesthetic := 4.5
	return index.ClipRecord{
		ID: cwt.Clip, Source: cwt.Source, Span: [2]float64{10, 20},
		StartFrame: 299, EndFrame: 599, // int(10 * 29.97...) = 299, int(20 * 29.97...) = 599
		WidthSource: 1280, HeightSource: 720, FrameRateSource: 29.97002997002997,
		Media:     &index.ClipMedia{Width: 640, Height: 360, FrameRate: 29.97002997002997, NumFrames: 300, VideoCodec: "h264", NumBytes: 123456},
		Motion:    &index.MotionScore{GlobalMean: 0.0042, PerPatchMin256: 1e-06},
		Aesthetic: &aesthetic,
		Errors:    []string{"motion_decode"},
		Windows: []index.Window{
			{Start: 0, End: 255, Captions: []index.Caption{{Model: "qwen", Text: "a cat"}, {Model: "vila", Text: "a small cat"}},
				Enhanced: []index.Caption{{Model: "qwen", Text: "a cat on a mat"}}},
			{Start: 256, End: 299},
		},
	}
}

func TestParseClipMeta(t *testing.T) {
	bare := metaRecord()
	bare.Media, bare.Motion, bare.Aesthetic, bare.Errors = nil, nil, nil, nil
	bare.Windows = []index.Window{}
	bare.FrameRateSource, bare.StartFrame, bare.EndFrame = 0, 0, 0
	bareObj := cwt.Edit(cwt.Drop(cwt.ClipObject(), append(mediaKeys, "motion_score", "aesthetic_score", "errors")...), "windows", []any{})
	bareObj = cwt.Edit(cwt.Edit(bareObj, "valid", false), "framerate_source", nil)
	cases := []struct {
		name     string
		file     []byte
		want     index.ClipRecord
		filtered bool
	}{
		{"complete", pack.JSON(cwt.ClipObject()), metaRecord(), false},
		{"no media, unknown fps, filtered location", pack.JSON(cwt.Edit(bareObj, "clip_location", "filtered_clips/"+cwt.Clip.String()+".mp4")), bare, true},
		{"integer where a float goes", pack.JSON(cwt.Edit(cwt.Drop(cwt.ClipObject(), "framerate_source"), "framerate_source", 25)),
			func() index.ClipRecord {
				r := metaRecord()
				r.FrameRateSource, r.StartFrame, r.EndFrame = 25, 250, 500
				return r
			}(), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, filtered, err := ParseClip(tc.file, cwt.Clip)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) || filtered != tc.filtered {
				t.Errorf("got %+v filtered=%v\nwant %+v filtered=%v", got, filtered, tc.want, tc.filtered)
			}
		})
	}
}

func TestParseClipMetaMalformed(t *testing.T) {
	full := cwt.ClipObject()
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"truncated", pack.JSON(full)[:100], "not valid JSON: truncated"},
		{"not JSON", []byte("span_uuid: x"), "not valid JSON"},
		{"NaN", []byte(strings.Replace(string(pack.JSON(full)), "4.5", "NaN", 1)), "not valid JSON"},
		{"trailing data", append(pack.JSON(full), "{}"...), "data after the top-level value"},
		{"a list", []byte("[]"), "want an object"},
		{"duplicate key", []byte(`{"span_uuid": "x", "span_uuid": "y"}`), `key "span_uuid" appears twice`},
		{"uuid differs", pack.JSON(cwt.Edit(full, "span_uuid", uuid.NewString())), "differs from the file name"},
		{"missing key", pack.JSON(cwt.Drop(full, "width_source")), `missing key "width_source"`},
		{"missing windows", pack.JSON(cwt.Drop(full, "windows")), `missing key "windows"`},
		{"string for int", pack.JSON(cwt.Edit(full, "height_source", "720")), `"height_source": want an integer, got the string "720"`},
		{"float for int", pack.JSON(cwt.Edit(full, "num_frames", 300.5)), `"num_frames": want an integer, got the number 300.5`},
		{"bool for float", pack.JSON(cwt.Edit(full, "aesthetic_score", true)), `"aesthetic_score": want a number, got true`},
		{"span of three", pack.JSON(cwt.Edit(full, "duration_span", []float64{1, 2, 3})), "want [start, end], got 3 values"},
		{"location elsewhere", pack.JSON(cwt.Edit(full, "clip_location", "/out/other/"+cwt.Clip.String()+".mp4")), "is not <out>/clips/"},
		{"location of another clip", pack.JSON(cwt.Edit(full, "clip_location", "/out/clips/x.mp4")), "is not <out>/clips/"},
		{"media half present", pack.JSON(cwt.Drop(full, "num_bytes", "video_codec")), "media fields come together"},
		{"motion key missing", pack.JSON(cwt.Edit(full, "motion_score", pack.Object{{Key: "global_mean", Value: 0.1}})), `missing key "per_patch_min_256"`},
		{"errors not strings", pack.JSON(cwt.Edit(full, "errors", []int{1})), `"errors": want a string`},
		{"window key", pack.JSON(cwt.Edit(full, "windows", []any{pack.Object{{Key: "start_frame", Value: 0}, {Key: "end_frame", Value: 9}, {Key: "caption", Value: "x"}}})), `"caption": not start_frame`},
		{"window caption type", pack.JSON(cwt.Edit(full, "windows", []any{pack.Object{{Key: "start_frame", Value: 0}, {Key: "end_frame", Value: 9}, {Key: "m_caption", Value: 3}}})), `"m_caption": want a string`},
		{"window without end", pack.JSON(cwt.Edit(full, "windows", []any{pack.Object{{Key: "start_frame", Value: 0}}})), `window 0: missing key "end_frame"`},
		{"valid disagrees", pack.JSON(cwt.Edit(full, "valid", false)), `"valid" is false`},
		{"unknown key", pack.JSON(cwt.Edit(full, "color", "red")), `unexpected key "color"`},
		{"empty source", pack.JSON(cwt.Edit(full, "source_video", "")), `"source_video" is empty`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseClip(tc.file, cwt.Clip)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestParseVideoMeta(t *testing.T) {
	want := index.VideoRecord{Source: cwt.Source, Height: 720, Width: 1280, FrameRate: 30, NumFrames: 900, Duration: 30,
		VideoCodec: "h264", PixelFormat: "yuv420p", AudioCodec: "aac", NumTotalClips: 3, NumClipChunks: 1}
	silent := want
	silent.AudioCodec = ""
	cases := []struct {
		name string
		file []byte
		want index.VideoRecord
		err  string
	}{
		{"complete", pack.JSON(cwt.VideoObject()), want, ""},
		{"no audio", pack.JSON(cwt.Edit(cwt.VideoObject(), "audio_format", nil)), silent, ""},
		{"missing key", pack.JSON(cwt.Drop(cwt.VideoObject(), "num_clip_chunks")), want, `missing key "num_clip_chunks"`},
		{"null framerate", pack.JSON(cwt.Edit(cwt.VideoObject(), "framerate", nil)), want, `"framerate": want a number, got null`},
		{"audio a number", pack.JSON(cwt.Edit(cwt.VideoObject(), "audio_format", 1)), want, `"audio_format": want a string`},
		{"negative chunks", pack.JSON(cwt.Edit(cwt.VideoObject(), "num_clip_chunks", -1)), want, "negative"},
		{"unknown key", pack.JSON(cwt.Edit(cwt.VideoObject(), "bitrate", 1)), want, `unexpected key "bitrate"`},
		{"bad JSON", []byte(`{"video": `), want, "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVideo(tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseChunkMeta(t *testing.T) {
	a, b, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
	want := index.ChunkRecord{Source: cwt.Source, Index: 2,
		Clips: []uuid.UUID{uuid.MustParse(a), uuid.MustParse(b)}, Filtered: []uuid.UUID{uuid.MustParse(c)},
		Stats: index.ChunkStats{FilteredByMotion: 1, Passed: 2, Transcoded: 3, WithEmbeddings: 4, WithCaption: 2,
			WithWebp: 2, TotalClipDuration: 30, MaxClipDuration: 10}}
	good := cwt.ChunkObject([]string{a, b}, []string{c})
	got, err := ParseChunk(pack.JSON(good))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v\nwant %+v", got, err, want)
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"uppercase uuid", pack.JSON(cwt.ChunkObject([]string{strings.ToUpper(a)}, nil)), "is not a uuid as str(uuid) writes it"},
		{"not a uuid", pack.JSON(cwt.ChunkObject([]string{"clip-1"}, nil)), "is not a uuid"},
		{"listed twice", pack.JSON(cwt.ChunkObject([]string{a}, []string{a})), "is listed twice"},
		{"clips not a list", pack.JSON(cwt.Edit(good, "clips", a)), `"clips": want a list`},
		{"index a string", pack.JSON(cwt.Edit(good, "clip_chunk_index", "2")), `"clip_chunk_index": want an integer`},
		{"negative index", pack.JSON(cwt.Edit(good, "clip_chunk_index", -2)), "negative"},
		{"missing counter", pack.JSON(cwt.Drop(good, "num_clips_with_webp")), `missing key "num_clips_with_webp"`},
		{"all_windows shape", pack.JSON(cwt.Edit(good, "all_windows", []string{a})), `"all_windows": want an object`},
		{"all_windows caption", pack.JSON(cwt.Edit(good, "all_windows", pack.Object{{Key: a, Value: pack.Object{{Key: "0_1", Value: 1}}}})), "want a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseChunk(tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestDecodeJSONKeepsOrder(t *testing.T) {
	v, err := DecodeJSON([]byte(`{"b": 1, "a": [true, null, "x\u00e9"], "c": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	obj := v.(jsonObject)
	var keys []string
	for _, f := range obj {
		keys = append(keys, f.key)
	}
	if !slices.Equal(keys, []string{"b", "a", "c"}) {
		t.Errorf("keys %v", keys)
	}
	if l := obj[1].value.([]any); l[0] != true || l[1] != nil || l[2] != "xé" {
		t.Errorf("list %v", l)
	}
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, err := DecodeJSON([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep nesting: %v", err)
	}
}
