package curate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
	"github.com/google/uuid"
)

const testSource = "/data/in/cam1/a.mp4"

var testClip = uuid.MustParse("1b4e28ba-2fa1-51d2-883f-0016d3cca427")

// metaObject is a complete metas file of testClip, as docs/formats.md §3 orders it.
func metaObject() pack.Object {
	return pack.Object{
		{Key: "span_uuid", Value: testClip.String()},
		{Key: "source_video", Value: testSource},
		{Key: "duration_span", Value: []float64{10.0, 20.0}},
		{Key: "width_source", Value: 1280},
		{Key: "height_source", Value: 720},
		{Key: "framerate_source", Value: 29.97002997002997},
		{Key: "clip_location", Value: "/out/clips/" + testClip.String() + ".mp4"},
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

func metaRecord() index.ClipRecord {
	aesthetic := 4.5
	return index.ClipRecord{
		ID: testClip, Source: testSource, Span: [2]float64{10, 20},
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

// edit returns a copy of o with key set to value (appended if absent).
func edit(o pack.Object, key string, value any) pack.Object {
	o = slices.Clone(o)
	for i := range o {
		if o[i].Key == key {
			o[i].Value = value
			return o
		}
	}
	return append(o, pack.Field{Key: key, Value: value})
}

func drop(o pack.Object, keys ...string) pack.Object {
	return slices.DeleteFunc(slices.Clone(o), func(f pack.Field) bool { return slices.Contains(keys, f.Key) })
}

func TestParseClipMeta(t *testing.T) {
	bare := metaRecord()
	bare.Media, bare.Motion, bare.Aesthetic, bare.Errors = nil, nil, nil, nil
	bare.Windows = []index.Window{}
	bare.FrameRateSource, bare.StartFrame, bare.EndFrame = 0, 0, 0
	bareObj := edit(drop(metaObject(), append(mediaKeys, "motion_score", "aesthetic_score", "errors")...), "windows", []any{})
	bareObj = edit(edit(bareObj, "valid", false), "framerate_source", nil)
	cases := []struct {
		name     string
		file     []byte
		want     index.ClipRecord
		filtered bool
	}{
		{"complete", pack.JSON(metaObject()), metaRecord(), false},
		{"no media, unknown fps, filtered location", pack.JSON(edit(bareObj, "clip_location", "filtered_clips/"+testClip.String()+".mp4")), bare, true},
		{"integer where a float goes", pack.JSON(edit(drop(metaObject(), "framerate_source"), "framerate_source", 25)),
			func() index.ClipRecord {
				r := metaRecord()
				r.FrameRateSource, r.StartFrame, r.EndFrame = 25, 250, 500
				return r
			}(), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, filtered, err := parseClipMeta(tc.file, testClip)
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
	full := metaObject()
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
		{"uuid differs", pack.JSON(edit(full, "span_uuid", uuid.NewString())), "differs from the file name"},
		{"missing key", pack.JSON(drop(full, "width_source")), `missing key "width_source"`},
		{"missing windows", pack.JSON(drop(full, "windows")), `missing key "windows"`},
		{"string for int", pack.JSON(edit(full, "height_source", "720")), `"height_source": want an integer, got the string "720"`},
		{"float for int", pack.JSON(edit(full, "num_frames", 300.5)), `"num_frames": want an integer, got the number 300.5`},
		{"bool for float", pack.JSON(edit(full, "aesthetic_score", true)), `"aesthetic_score": want a number, got true`},
		{"span of three", pack.JSON(edit(full, "duration_span", []float64{1, 2, 3})), "want [start, end], got 3 values"},
		{"location elsewhere", pack.JSON(edit(full, "clip_location", "/out/other/"+testClip.String()+".mp4")), "is not <out>/clips/"},
		{"location of another clip", pack.JSON(edit(full, "clip_location", "/out/clips/x.mp4")), "is not <out>/clips/"},
		{"media half present", pack.JSON(drop(full, "num_bytes", "video_codec")), "media fields come together"},
		{"motion key missing", pack.JSON(edit(full, "motion_score", pack.Object{{Key: "global_mean", Value: 0.1}})), `missing key "per_patch_min_256"`},
		{"errors not strings", pack.JSON(edit(full, "errors", []int{1})), `"errors": want a string`},
		{"window key", pack.JSON(edit(full, "windows", []any{pack.Object{{Key: "start_frame", Value: 0}, {Key: "end_frame", Value: 9}, {Key: "caption", Value: "x"}}})), `"caption": not start_frame`},
		{"window caption type", pack.JSON(edit(full, "windows", []any{pack.Object{{Key: "start_frame", Value: 0}, {Key: "end_frame", Value: 9}, {Key: "m_caption", Value: 3}}})), `"m_caption": want a string`},
		{"window without end", pack.JSON(edit(full, "windows", []any{pack.Object{{Key: "start_frame", Value: 0}}})), `window 0: missing key "end_frame"`},
		{"valid disagrees", pack.JSON(edit(full, "valid", false)), `"valid" is false`},
		{"unknown key", pack.JSON(edit(full, "color", "red")), `unexpected key "color"`},
		{"empty source", pack.JSON(edit(full, "source_video", "")), `"source_video" is empty`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseClipMeta(tc.file, testClip)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func videoObject() pack.Object {
	return pack.Object{
		{Key: "video", Value: testSource}, {Key: "height", Value: 720}, {Key: "width", Value: 1280},
		{Key: "framerate", Value: 30.0}, {Key: "num_frames", Value: 900}, {Key: "duration", Value: 30.0},
		{Key: "video_codec", Value: "h264"}, {Key: "pixel_format", Value: "yuv420p"}, {Key: "audio_format", Value: "aac"},
		{Key: "num_total_clips", Value: 3}, {Key: "num_clip_chunks", Value: 1},
	}
}

func TestParseVideoMeta(t *testing.T) {
	want := index.VideoRecord{Source: testSource, Height: 720, Width: 1280, FrameRate: 30, NumFrames: 900, Duration: 30,
		VideoCodec: "h264", PixelFormat: "yuv420p", AudioCodec: "aac", NumTotalClips: 3, NumClipChunks: 1}
	silent := want
	silent.AudioCodec = ""
	cases := []struct {
		name string
		file []byte
		want index.VideoRecord
		err  string
	}{
		{"complete", pack.JSON(videoObject()), want, ""},
		{"no audio", pack.JSON(edit(videoObject(), "audio_format", nil)), silent, ""},
		{"missing key", pack.JSON(drop(videoObject(), "num_clip_chunks")), want, `missing key "num_clip_chunks"`},
		{"null framerate", pack.JSON(edit(videoObject(), "framerate", nil)), want, `"framerate": want a number, got null`},
		{"audio a number", pack.JSON(edit(videoObject(), "audio_format", 1)), want, `"audio_format": want a string`},
		{"negative chunks", pack.JSON(edit(videoObject(), "num_clip_chunks", -1)), want, "negative"},
		{"unknown key", pack.JSON(edit(videoObject(), "bitrate", 1)), want, `unexpected key "bitrate"`},
		{"bad JSON", []byte(`{"video": `), want, "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVideoMeta(tc.file)
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

func chunkObject(clips, filtered []string) pack.Object {
	windows := pack.Object{}
	for _, c := range clips {
		windows = append(windows, pack.Field{Key: c, Value: pack.Object{{Key: "0_255", Value: "a cat"}}})
	}
	return pack.Object{
		{Key: "video", Value: testSource}, {Key: "clip_chunk_index", Value: 2},
		{Key: "num_clips_filtered_by_motion", Value: 1}, {Key: "num_clips_filtered_by_aesthetic", Value: 0},
		{Key: "num_clips_passed", Value: len(clips)}, {Key: "num_clips_transcoded", Value: 3},
		{Key: "num_clips_with_embeddings", Value: 4}, {Key: "num_clips_with_caption", Value: 2},
		{Key: "num_clips_with_webp", Value: 2}, {Key: "total_clip_duration", Value: 30.0},
		{Key: "max_clip_duration", Value: 10.0}, {Key: "clips", Value: clips}, {Key: "filtered_clips", Value: filtered},
		{Key: "all_windows", Value: windows}, {Key: "all_windows_enhanced_caption", Value: pack.Object{}},
	}
}

func TestParseChunkMeta(t *testing.T) {
	a, b, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
	want := index.ChunkRecord{Source: testSource, Index: 2,
		Clips: []uuid.UUID{uuid.MustParse(a), uuid.MustParse(b)}, Filtered: []uuid.UUID{uuid.MustParse(c)},
		Stats: index.ChunkStats{FilteredByMotion: 1, Passed: 2, Transcoded: 3, WithEmbeddings: 4, WithCaption: 2,
			WithWebp: 2, TotalClipDuration: 30, MaxClipDuration: 10}}
	good := chunkObject([]string{a, b}, []string{c})
	got, err := parseChunkMeta(pack.JSON(good))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v\nwant %+v", got, err, want)
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"uppercase uuid", pack.JSON(chunkObject([]string{strings.ToUpper(a)}, nil)), "is not a uuid as str(uuid) writes it"},
		{"not a uuid", pack.JSON(chunkObject([]string{"clip-1"}, nil)), "is not a uuid"},
		{"listed twice", pack.JSON(chunkObject([]string{a}, []string{a})), "is listed twice"},
		{"clips not a list", pack.JSON(edit(good, "clips", a)), `"clips": want a list`},
		{"index a string", pack.JSON(edit(good, "clip_chunk_index", "2")), `"clip_chunk_index": want an integer`},
		{"negative index", pack.JSON(edit(good, "clip_chunk_index", -2)), "negative"},
		{"missing counter", pack.JSON(drop(good, "num_clips_with_webp")), `missing key "num_clips_with_webp"`},
		{"all_windows shape", pack.JSON(edit(good, "all_windows", []string{a})), `"all_windows": want an object`},
		{"all_windows caption", pack.JSON(edit(good, "all_windows", pack.Object{{Key: a, Value: pack.Object{{Key: "0_1", Value: 1}}}})), "want a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseChunkMeta(tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestDecodeJSONKeepsOrder(t *testing.T) {
	v, err := decodeJSON([]byte(`{"b": 1, "a": [true, null, "x\u00e9"], "c": {}}`))
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
	if _, err := decodeJSON([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep nesting: %v", err)
	}
}

// testTree is a small ClipWriterStage tree written with Go encoders: one
// video of one chunk with two passed clips and one filtered clip.
type testTree struct {
	root                 string
	chunk                uuid.UUID
	passed, passed2, out uuid.UUID
}

func makeTestTree(t *testing.T) testTree {
	t.Helper()
	root := t.TempDir()
	tt := testTree{root: root, chunk: ChunkUUID(testSource, 0),
		passed: uuid.New(), passed2: uuid.New(), out: uuid.New()}
	write := func(rel string, b []byte) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	video := edit(videoObject(), "num_total_clips", 3)
	write("processed_videos/cam1/a.mp4.json", pack.JSON(video))
	ids := []string{tt.passed.String(), tt.passed2.String()}
	ch := edit(chunkObject(ids, []string{tt.out.String()}), "clip_chunk_index", 0)
	write("processed_clip_chunks/cam1/a.mp4_0.json", pack.JSON(ch))
	for i, id := range []uuid.UUID{tt.passed, tt.passed2, tt.out} {
		folder := "clips"
		if id == tt.out {
			folder = "filtered_clips"
		}
		media := []byte(strings.Repeat("mp4!", 100+i))
		m := edit(metaObject(), "span_uuid", id.String())
		m = edit(m, "clip_location", "/out/"+folder+"/"+id.String()+".mp4")
		m = edit(m, "num_bytes", len(media))
		write("metas/v0/"+id.String()+".json", pack.JSON(m))
		write(folder+"/"+id.String()+".mp4", media)
	}
	write("previews/"+tt.passed.String()+"/0_255.webp", []byte("RIFF....WEBP"))
	v := pack.Float32Array([]int{1, 4}, []float32{0.5, -0.25, 1, 2})
	write("iv2_embd/"+tt.passed.String()+".pickle", pack.Pickle(v))
	pq, err := pack.EmbeddingParquet([]pack.EmbeddingRow{
		{ID: tt.passed.String(), Embedding: []float64{0.5, -0.25, 1, 2}},
		{ID: tt.passed2.String(), Embedding: []float64{3, 4, 5, 6}},
	})
	if err != nil {
		t.Fatal(err)
	}
	write("iv2_embd_parquet/"+tt.chunk.String()+".parquet", pq)
	return tt
}

func importInto(t *testing.T, root string) (*index.DB, ImportReport, error) {
	t.Helper()
	db, err := index.Open(filepath.Join(t.TempDir(), "db"), index.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rep, err := Import(context.Background(), db, ImportConfig{From: root, InputPath: "/data/in",
		RenderMeta: func(index.ClipRecord) []byte { return []byte("{}") }})
	return db, rep, err
}

func TestImportTree(t *testing.T) {
	tt := makeTestTree(t)
	db, rep, err := importInto(t, tt.root)
	if err != nil {
		t.Fatalf("%v: %v", err, rep.Failed)
	}
	if rep.Imported != 1 || rep.Chunks != 1 || rep.Clips != 3 || rep.Embeddings != 2 {
		t.Errorf("report %+v", rep)
	}
	v, err := db.Video(testSource)
	if err != nil || v.Rel != "cam1/a.mp4" || !strings.HasPrefix(v.Fingerprint, "import:") || !v.Complete() {
		t.Errorf("video %+v %v", v, err)
	}
	ch, err := db.Chunk(tt.chunk)
	if err != nil || !slices.Equal(ch.Clips, []uuid.UUID{tt.passed, tt.passed2}) || !slices.Equal(ch.Embedded, []string{"iv2"}) || ch.Stats.WithEmbeddings != 4 {
		t.Errorf("chunk %+v %v", ch, err)
	}
	c, err := db.Clip(tt.passed)
	if err != nil || !c.Stored() || c.Filtered || len(c.Previews) != 1 || c.Previews[0].End != 255 {
		t.Errorf("clip %+v %v", c, err)
	} else if b, _ := os.ReadFile(db.BlobPath(c.Media.Blob)); string(b) != strings.Repeat("mp4!", 100) {
		t.Errorf("blob holds %d bytes", len(b))
	}
	if c, err := db.Clip(tt.out); err != nil || !c.Filtered || !c.Stored() {
		t.Errorf("filtered clip %+v %v", c, err)
	}
	// passed2 has no pickle: its Parquet row becomes a float32 (1, 4) vector.
	e, err := db.Embedding("iv2", tt.passed2)
	if a, aerr := pack.NewArray(e.DType, e.Shape, e.Data); err != nil || aerr != nil || !slices.Equal(a.Float64s(), []float64{3, 4, 5, 6}) || !slices.Equal(e.Shape, []int{1, 4}) {
		t.Errorf("embedding from parquet %+v %v", e, err)
	}
	samples, err := db.ShardSamples(0)
	if err != nil || len(samples) != 2 {
		t.Fatalf("shard 0: %d samples, %v", len(samples), err)
	}
	var exts []string
	for _, m := range samples[0].Members {
		exts = append(exts, m.Ext)
	}
	if !slices.Contains(exts, "iv2.npy") || !slices.Contains(exts, "json") || !slices.Contains(exts, "txt") {
		t.Errorf("sample members %v", exts)
	}
	// The same tree again adds nothing.
	rep, err = Import(context.Background(), db, ImportConfig{From: tt.root})
	if err != nil || rep.UpToDate != 1 || rep.Imported != 0 || rep.Chunks != 0 {
		t.Errorf("second import: %+v %v", rep, err)
	}
	if _, err := db.Shard(1); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("second import opened shard 1: %v", err)
	}
}

func TestImportTreeMalformedFiles(t *testing.T) {
	tt := makeTestTree(t)
	bad := map[string]string{
		"iv2_embd/" + tt.passed.String() + ".pickle":         "not a float32 or float16 numpy array pickle",
		"iv2_embd_parquet/" + tt.chunk.String() + ".parquet": "not an embedding parquet file",
		"clips/" + tt.passed2.String() + ".mp4":              "but its metas file says num_bytes",
		"metas/v0/" + tt.out.String() + ".json":              "not valid JSON",
		"metas/v0/not-a-uuid.json":                           "not <span uuid>.json",
	}
	for rel := range bad {
		os.WriteFile(filepath.Join(tt.root, filepath.FromSlash(rel)), []byte("garbage"), 0o644)
	}
	db, rep, err := importInto(t, tt.root)
	if !errors.Is(err, ErrSomeFilesFailed) {
		t.Fatalf("error %v, want ErrSomeFilesFailed", err)
	}
	lines := map[string][]string{}
	for _, f := range rep.Failed {
		var ie *ImportError
		if !errors.As(f, &ie) {
			t.Errorf("not an ImportError: %v", f)
			continue
		}
		rel, _ := filepath.Rel(tt.root, ie.Path)
		lines[filepath.ToSlash(rel)] = append(lines[filepath.ToSlash(rel)], ie.Reason)
	}
	for rel, want := range bad {
		if got := lines[rel]; len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("%s: reported %q, want one line with %q", rel, got, want)
		}
	}
	if len(rep.Failed) != len(bad) {
		t.Errorf("%d failures, want %d: %v", len(rep.Failed), len(bad), rep.Failed)
	}
	// The rest is imported: the passed clips (passed2 without its media),
	// no iv2 vector (bad pickle, bad Parquet), the filtered clip skipped.
	if c, err := db.Clip(tt.passed2); err != nil || c.Stored() || !c.Transcoded() {
		t.Errorf("passed2: %+v %v", c, err)
	}
	if c, err := db.Clip(tt.passed); err != nil || !c.Stored() {
		t.Errorf("passed: %+v %v", c, err)
	}
	if _, err := db.Clip(tt.out); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("clip with bad metas imported: %v", err)
	}
	if _, err := db.Embedding("iv2", tt.passed); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("bad pickle imported: %v", err)
	}
	// A second run reports the same files again and duplicates no sample.
	rep, err = Import(context.Background(), db, ImportConfig{From: tt.root, RenderMeta: func(index.ClipRecord) []byte { return nil }})
	if !errors.Is(err, ErrSomeFilesFailed) || len(rep.Failed) != len(bad) || rep.Chunks != 0 {
		t.Errorf("second run: %+v %v", rep, err)
	}
	n := 0
	db.SealedShards(func(h index.ShardHeader) error { n += h.Samples; return nil })
	if n != 1 {
		t.Errorf("%d samples in shards after two runs, want 1", n)
	}
}

func TestImportParquetDisagrees(t *testing.T) {
	tt := makeTestTree(t)
	pq, _ := pack.EmbeddingParquet([]pack.EmbeddingRow{{ID: tt.passed.String(), Embedding: []float64{0.5, -0.25, 1, 2.5}}})
	path := filepath.Join(tt.root, "iv2_embd_parquet", tt.chunk.String()+".parquet")
	os.WriteFile(path, pq, 0o644)
	db, rep, err := importInto(t, tt.root)
	if !errors.Is(err, ErrSomeFilesFailed) || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0].Error(), path+": row 0: clip "+tt.passed.String()+": value 3 is 2.5, but its pickle has 2") {
		t.Fatalf("%v %v", err, rep.Failed)
	}
	if _, err := db.Embedding("iv2", tt.passed); err != nil {
		t.Errorf("the pickle is still imported: %v", err)
	}
}

func TestImportLeftoversAndMissing(t *testing.T) {
	tt := makeTestTree(t)
	stray := uuid.New()
	os.WriteFile(filepath.Join(tt.root, "metas", "v0", stray.String()+".json"), []byte("{}"), 0o644)
	os.Remove(filepath.Join(tt.root, "metas", "v0", tt.passed2.String()+".json"))
	os.WriteFile(filepath.Join(tt.root, "processed_clip_chunks", "cam1", "b.mp4_0.json"), []byte("{}"), 0o644)
	_, rep, err := importInto(t, tt.root)
	if !errors.Is(err, ErrSomeFilesFailed) {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Failed {
		got = append(got, strings.TrimPrefix(f.Error(), tt.root+"/"))
	}
	want := []string{
		"processed_clip_chunks/cam1/b.mp4_0.json: no processed_videos/cam1/b.mp4.json for this chunk; not imported",
		"metas/v0/" + tt.passed2.String() + ".json: missing: the clip is listed in " + filepath.Join(tt.root, "processed_clip_chunks/cam1/a.mp4_0.json"),
		"metas/v0: 1 entries not imported: no processed_clip_chunks file lists their clips (first: " + stray.String() + ")",
	}
	if !slices.Equal(got, want) {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
