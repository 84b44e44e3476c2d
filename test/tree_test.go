package test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/clipfs/clipfs/index"
	"github.com/google/uuid"
)

// treeReport is what check_tree.py prints.
type treeReport struct {
	JSON map[string]struct {
		Exact    bool     `json:"exact"`
		Keys     []string `json:"keys"`
		Size     int64    `json:"size"`
		StatSize int64    `json:"stat_size"`
	} `json:"json"`
	Pickle map[string]struct {
		Type   string    `json:"type"`
		DType  string    `json:"dtype"`
		Shape  []int     `json:"shape"`
		Values []float64 `json:"values"`
	} `json:"pickle"`
	UUID5 map[string]string `json:"uuid5"`
}

var metaKeys = []string{"span_uuid", "source_video", "duration_span", "width_source", "height_source",
	"framerate_source", "clip_location", "width", "height", "framerate", "num_frames", "video_codec",
	"num_bytes", "windows", "valid"}

var videoKeys = []string{"video", "height", "width", "framerate", "num_frames", "duration", "video_codec",
	"pixel_format", "audio_format", "num_total_clips", "num_clip_chunks"}

var chunkKeys = []string{"video", "clip_chunk_index", "num_clips_filtered_by_motion", "num_clips_filtered_by_aesthetic",
	"num_clips_passed", "num_clips_transcoded", "num_clips_with_embeddings", "num_clips_with_caption",
	"num_clips_with_webp", "total_clip_duration", "max_clip_duration", "clips", "filtered_clips",
	"all_windows", "all_windows_enhanced_caption"}

type clipMeta struct {
	SpanUUID     string     `json:"span_uuid"`
	SourceVideo  string     `json:"source_video"`
	DurationSpan [2]float64 `json:"duration_span"`
	ClipLocation string     `json:"clip_location"`
	NumFrames    int        `json:"num_frames"`
	NumBytes     int64      `json:"num_bytes"`
	Windows      []struct {
		Start int `json:"start_frame"`
		End   int `json:"end_frame"`
	} `json:"windows"`
	Valid bool `json:"valid"`
}

type videoMeta struct {
	Video         string  `json:"video"`
	Framerate     float64 `json:"framerate"`
	NumFrames     int     `json:"num_frames"`
	NumTotalClips int     `json:"num_total_clips"`
	NumClipChunks int     `json:"num_clip_chunks"`
}

// expectedSpans is docs/formats.md §6's fixed-stride rule with NeMo's defaults,
// written out again here so the test does not trust curate's copy.
func expectedSpans(numFrames int, fps float64) [][2]float64 {
	duration := float64(numFrames) / fps
	var out [][2]float64
	for start := 0.0; start < duration; start += 10 {
		end := math.Min(start+10, duration)
		if end-start >= 2 {
			out = append(out, [2]float64{start, end})
		}
	}
	return out
}

// TestCurateMountServeTree is the whole path: sample videos (several
// resolutions, frame rates, containers, with and without audio, nested
// folders, odd names) -> curate with previews -> embeddings placed through
// the index API -> mount -> every file checked with real readers.
func TestCurateMountServeTree(t *testing.T) {
	needNumpy(t)
	videos := sampleVideos(t, false)
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db, "--generate-previews", "--workers", workers())
	placed := placeEmbeddings(t, db)
	m := mount(t, db)

	// processed_videos: one per source video, at <rel>.json.
	var sources []string
	filepath.WalkDir(videos, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			sources = append(sources, p)
		}
		return nil
	})
	spans := map[string][][2]float64{}
	var names []string
	for _, src := range sources {
		rel, _ := filepath.Rel(videos, src)
		var v videoMeta
		readJSON(t, filepath.Join(m.dir, "processed_videos", rel+".json"), &v)
		if v.Video != src {
			t.Errorf("%s: video %q", rel, v.Video)
		}
		spans[src] = expectedSpans(v.NumFrames, v.Framerate)
		if v.NumTotalClips != len(spans[src]) {
			t.Errorf("%s: num_total_clips %d, fixed-stride rule gives %d", rel, v.NumTotalClips, len(spans[src]))
		}
		for _, s := range spans[src] {
			names = append(names, fmt.Sprintf("%s_%d_%d", src, int(s[0]*v.Framerate), int(s[1]*v.Framerate)))
		}
		if _, err := os.Stat(filepath.Join(m.dir, "processed_clip_chunks", fmt.Sprintf("%s_%d.json", rel, 0))); v.NumClipChunks > 0 && err != nil {
			t.Errorf("%s: chunk 0 missing: %v", rel, err)
		}
	}
	namesFile := filepath.Join(t.TempDir(), "names")
	os.WriteFile(namesFile, []byte(strings.Join(names, "\n")), 0o644)
	var rep treeReport
	pyJSON(t, &rep, mustRead(t, filepath.Join(repoRoot, "test", "check_tree.py")), m.dir, namesFile)

	// Every JSON file is byte-for-byte Python's json.dumps(indent=4), with the right keys.
	if len(rep.JSON) == 0 {
		t.Fatal("python saw no JSON files")
	}
	for rel, j := range rep.JSON {
		if !j.Exact {
			t.Errorf("%s: not what json.dumps(indent=4) writes", rel)
		}
		if j.Size != j.StatSize {
			t.Errorf("%s: stat says %d bytes, read %d", rel, j.StatSize, j.Size)
		}
		var want []string
		switch {
		case strings.HasPrefix(rel, "metas/v0/"):
			want = metaKeys
		case strings.HasPrefix(rel, "processed_videos/"):
			want = videoKeys
		case strings.HasPrefix(rel, "processed_clip_chunks/"):
			want = chunkKeys
		case rel == "wds/shards.json":
			want = []string{"__kind__", "wids_version", "name", "shardlist"}
		}
		if !slices.Equal(j.Keys, want) {
			t.Errorf("%s: keys %v\nwant %v", rel, j.Keys, want)
		}
	}

	// Clips: spans follow the rule, ids are Python's uuid5, media decodes.
	wantIDs := map[string]bool{}
	for _, id := range rep.UUID5 {
		wantIDs[id] = true
	}
	metas, _ := os.ReadDir(filepath.Join(m.dir, "metas", "v0"))
	if len(metas) != len(names) {
		t.Errorf("%d metas, fixed-stride rule gives %d clips", len(metas), len(names))
	}
	got := map[string][][2]float64{}
	for _, e := range metas {
		var c clipMeta
		readJSON(t, filepath.Join(m.dir, "metas", "v0", e.Name()), &c)
		if !wantIDs[c.SpanUUID] || e.Name() != c.SpanUUID+".json" {
			t.Errorf("%s: span_uuid %s is not uuid5 of any expected span", e.Name(), c.SpanUUID)
		}
		got[c.SourceVideo] = append(got[c.SourceVideo], c.DurationSpan)
		clip := filepath.Join(m.dir, "clips", c.SpanUUID+".mp4")
		if c.ClipLocation != clip {
			t.Errorf("clip_location %s, want %s", c.ClipLocation, clip)
		}
		checkClipMedia(t, clip, c)
		checkPreviews(t, m.dir, c)
	}
	for src, want := range spans {
		g := got[src]
		sort.Slice(g, func(i, j int) bool { return g[i][0] < g[j][0] })
		if fmt.Sprintf("%.6f", g) != fmt.Sprintf("%.6f", want) {
			t.Errorf("%s: spans %v, want %v", src, g, want)
		}
	}

	// Pickles load with numpy and hold the vectors placed.
	checkPickles(t, rep, placed)
	// Parquet reads back the same vectors with DuckDB.
	checkParquet(t, m.dir, placed)
	// Read-only: every kind of write fails with EROFS.
	checkReadOnly(t, m.dir)

	// An export with the same output path is the same tree, byte for byte.
	exp := filepath.Join(t.TempDir(), "export")
	mustClipfs(t, 0, "export", "--db", db, "--out", exp, "--output-path", m.dir)
	if out, err := exec.Command("diff", "-r", m.dir, exp).CombinedOutput(); err != nil {
		t.Fatalf("diff -r mount export: %v\n%s", err, out)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkClipMedia decodes the clip fully and compares it with its metas.
func checkClipMedia(t *testing.T, clip string, c clipMeta) {
	t.Helper()
	st, err := os.Stat(clip)
	if err != nil {
		t.Errorf("clip %s: %v", clip, err)
		return
	}
	if st.Size() != c.NumBytes {
		t.Errorf("%s: %d bytes, metas say %d", clip, st.Size(), c.NumBytes)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0", clip).CombinedOutput()
	if err != nil {
		t.Errorf("ffprobe %s: %v %s", clip, err, out)
		return
	}
	var codec string
	var frames int
	fmt.Sscanf(strings.ReplaceAll(strings.TrimSpace(string(out)), ",", " "), "%s %d", &codec, &frames)
	if codec != "h264" || frames != c.NumFrames || frames == 0 {
		t.Errorf("%s: decoded %s with %d frames, metas say %d", clip, codec, frames, c.NumFrames)
	}
}

// checkPreviews: one WebP per window, named <start>_<end>.webp, readable.
func checkPreviews(t *testing.T, root string, c clipMeta) {
	t.Helper()
	if !c.Valid || len(c.Windows) == 0 {
		t.Errorf("%s: previews requested but no windows (valid=%v)", c.SpanUUID, c.Valid)
		return
	}
	for _, w := range c.Windows {
		p := filepath.Join(root, "previews", c.SpanUUID, fmt.Sprintf("%d_%d.webp", w.Start, w.End))
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", p).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "webp") {
			t.Errorf("preview %s: %v %s", p, err, out)
		}
	}
}

// placed are the vectors placeEmbeddings wrote: prefix -> clip -> values.
type placed map[string]map[string][]float64

// placeEmbeddings writes known iv2 (float32 1x512) and ce1 (float16 1x256)
// vectors on every passed clip through the index API.
func placeEmbeddings(t *testing.T, dbDir string) placed {
	t.Helper()
	db, err := index.Open(dbDir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := placed{"iv2": {}, "ce1": {}}
	var recs []index.EmbeddingRecord
	err = db.Videos(func(v index.VideoRecord) error {
		for _, cr := range v.ChunksDone {
			ch, err := db.Chunk(cr.ID)
			if err != nil {
				return err
			}
			for k, id := range ch.Clips {
				recs = append(recs, f32Vector(out, id, k), f16Vector(out, id, k))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutEmbeddings(recs); err != nil {
		t.Fatal(err)
	}
	return out
}

func f32Vector(out placed, id uuid.UUID, k int) index.EmbeddingRecord {
	data := make([]byte, 512*4)
	vals := make([]float64, 512)
	for i := range 512 {
		f := float32(math.Sin(float64(i+k))) / 16
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(f))
		vals[i] = float64(f)
	}
	out["iv2"][id.String()] = vals
	return index.EmbeddingRecord{Prefix: "iv2", Clip: id, Embedding: index.Embedding{DType: "<f4", Shape: []int{1, 512}, Data: data}}
}

// f16Vector uses values exact in float16: small multiples of 1/64.
func f16Vector(out placed, id uuid.UUID, k int) index.EmbeddingRecord {
	data := make([]byte, 256*2)
	vals := make([]float64, 256)
	for i := range 256 {
		n := (i+k)%64 - 32 // -32..31, /64 -> exact halfs
		vals[i] = float64(n) / 64
		binary.LittleEndian.PutUint16(data[2*i:], halfBits(vals[i]))
	}
	out["ce1"][id.String()] = vals
	return index.EmbeddingRecord{Prefix: "ce1", Clip: id, Embedding: index.Embedding{DType: "<f2", Shape: []int{1, 256}, Data: data}}
}

// halfBits encodes v (a multiple of 1/64 in [-0.5, 0.5)) as IEEE binary16.
func halfBits(v float64) uint16 {
	if v == 0 {
		return 0
	}
	var sign uint16
	if v < 0 {
		sign, v = 0x8000, -v
	}
	exp := int(math.Floor(math.Log2(v)))
	mant := uint16(math.Round((v/math.Pow(2, float64(exp)) - 1) * 1024))
	return sign | uint16(exp+15)<<10 | mant
}

func checkPickles(t *testing.T, rep treeReport, want placed) {
	t.Helper()
	n := 0
	for prefix, clips := range want {
		for id, vals := range clips {
			rel := filepath.Join(prefix+"_embd", id+".pickle")
			p, ok := rep.Pickle[rel]
			if !ok {
				t.Errorf("%s missing", rel)
				continue
			}
			n++
			wantType, wantShape := "<f4", []int{1, 512}
			if prefix == "ce1" {
				wantType, wantShape = "<f2", []int{1, 256}
			}
			if p.Type != "numpy.ndarray" || p.DType != wantType || !slices.Equal(p.Shape, wantShape) {
				t.Errorf("%s: %s %s %v", rel, p.Type, p.DType, p.Shape)
			}
			if !slices.Equal(p.Values, vals) {
				t.Errorf("%s: values differ from those placed", rel)
			}
		}
	}
	if n == 0 || n != len(rep.Pickle) {
		t.Errorf("checked %d pickles, tree has %d", n, len(rep.Pickle))
	}
}

func checkReadOnly(t *testing.T, root string) {
	t.Helper()
	clips, _ := filepath.Glob(filepath.Join(root, "clips", "*.mp4"))
	if len(clips) == 0 {
		t.Fatal("no clips to try writing")
	}
	attempts := map[string]error{
		"create":   func() error { _, err := os.Create(filepath.Join(root, "clips", "new.mp4")); return err }(),
		"write":    func() error { _, err := os.OpenFile(clips[0], os.O_WRONLY, 0); return err }(),
		"truncate": os.Truncate(clips[0], 0),
		"remove":   os.Remove(clips[0]),
		"rename":   os.Rename(clips[0], clips[0]+".x"),
		"mkdir":    os.Mkdir(filepath.Join(root, "newdir"), 0o755),
		"chmod":    os.Chmod(clips[0], 0o644),
		"symlink":  os.Symlink("x", filepath.Join(root, "link")),
	}
	for op, err := range attempts {
		if !errorIs(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", op, err)
		}
	}
}

func errorIs(err error, errno syscall.Errno) bool {
	for err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return e == errno
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
