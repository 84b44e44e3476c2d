package test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/curate/modeltest"
	"github.com/clipfs/clipfs/curate/safetensors"
	"github.com/clipfs/clipfs/curate/vit"
)

// writeCLIP saves a random CLIP vision model in HuggingFace's layout
// (modeltest.WriteCLIP) and returns dir.
func writeCLIP(t *testing.T, dir string, c vit.Config, seed int64) string {
	t.Helper()
	if err := modeltest.WriteCLIP(dir, c, seed); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeAestheticMLP saves a random LAION-shaped aesthetic MLP
// (modeltest.WriteAestheticMLP).
func writeAestheticMLP(t *testing.T, path string, seed int64) {
	t.Helper()
	if err := modeltest.WriteAestheticMLP(path, seed); err != nil {
		t.Fatal(err)
	}
}

var tinyCLIP = modeltest.TinyCLIP

type modelMeta struct {
	SpanUUID     string   `json:"span_uuid"`
	ClipLocation string   `json:"clip_location"`
	Aesthetic    *float64 `json:"aesthetic_score"`
	Errors       []string `json:"errors"`
}

// modelStageArgs are curate's arguments for the small sample videos with
// embeddings (a random CLIP model 48 wide) and aesthetic scores (another,
// 768 wide, and a LAION-shaped MLP) on the CPU.
func modelStageArgs(t *testing.T) []string {
	t.Helper()
	videos := sampleVideos(t, true)
	models := t.TempDir()
	embedModel := writeCLIP(t, filepath.Join(models, "clip-b"), tinyCLIP(48), 1)
	aesClip := writeCLIP(t, filepath.Join(models, "clip-l"), tinyCLIP(768), 2)
	mlp := filepath.Join(models, "aesthetic.safetensors")
	writeAestheticMLP(t, mlp, 3)
	return []string{"--input", videos, "--workers", workers(), "--device", "cpu",
		"--generate-embeddings", "--embedding-model", embedModel, "--aesthetic-model", mlp, "--aesthetic-clip-model", aesClip}
}

// TestEmbeddingsAndAesthetics curates with a CLIP model for embeddings and
// another (768 wide) plus a LAION-shaped MLP for aesthetic scores, on the
// CPU; then checks pickles (numpy), the per-chunk Parquet (DuckDB), the .npy
// members of shards, the scores and the aesthetic filter, and the counters.
func TestEmbeddingsAndAesthetics(t *testing.T) {
	needNumpy(t)
	base := modelStageArgs(t)

	// Score only, to learn the scores; then filter at their median.
	db1 := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, append([]string{"curate", "--db", db1}, base...)...)
	out1 := filepath.Join(t.TempDir(), "out")
	mustClipfs(t, 0, "export", "--db", db1, "--out", out1)
	scores := map[string]float64{}
	metas, _ := filepath.Glob(filepath.Join(out1, "metas", "v0", "*.json"))
	for _, p := range metas {
		var m modelMeta
		readJSON(t, p, &m)
		if m.Aesthetic == nil {
			t.Fatalf("%s: no aesthetic_score (errors %v)", p, m.Errors)
		}
		if float64(float32(*m.Aesthetic)) != *m.Aesthetic {
			t.Errorf("%s: aesthetic_score %v is not a float32 value", p, *m.Aesthetic)
		}
		scores[m.SpanUUID] = *m.Aesthetic
	}
	if len(scores) < 3 {
		t.Fatalf("only %d clips", len(scores))
	}
	sorted := slices.Sorted(func(yield func(float64) bool) {
		for _, s := range scores {
			if !yield(s) {
				return
			}
		}
	})
	threshold := sorted[len(sorted)/2]
	checkEmbeddings(t, out1, 48)
	checkCounters(t, out1)

	// Settings that do not change results leave the database up to date;
	// one that does re-curates.
	r := mustClipfs(t, 0, append(append([]string{"curate", "--db", db1}, base...), "--model-batch", "7", "--workers", "1")...)
	if !strings.Contains(r.stderr, " 0 curated") {
		t.Errorf("--model-batch/--workers re-curated: %s", r.stderr)
	}
	r = mustClipfs(t, 0, append([]string{"curate", "--db", db1, "--embedding-frames", "3"}, base...)...)
	if !strings.Contains(r.stderr, " 0 up to date") {
		t.Errorf("--embedding-frames 3 did not re-curate: %s", r.stderr)
	}

	db2 := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, append([]string{"curate", "--db", db2, "--aesthetic-threshold", fmt.Sprint(threshold)}, base...)...)
	m := mount(t, db2)
	for id, s := range scores {
		var meta modelMeta
		readJSON(t, filepath.Join(m.dir, "metas", "v0", id+".json"), &meta)
		if meta.Aesthetic == nil || *meta.Aesthetic != s {
			t.Errorf("%s: aesthetic_score %v, the first run gave %v", id, meta.Aesthetic, s)
		}
		wantFiltered := s < threshold
		if got := strings.Contains(meta.ClipLocation, "/filtered_clips/"); got != wantFiltered {
			t.Errorf("%s: score %v threshold %v: clip_location %s", id, s, threshold, meta.ClipLocation)
		}
		_, err := os.Stat(filepath.Join(m.dir, "clip_embd", id+".pickle"))
		if wantFiltered != os.IsNotExist(err) {
			t.Errorf("%s: filtered %t but embedding pickle: %v", id, wantFiltered, err)
		}
	}
	checkEmbeddings(t, m.dir, 48)
	totals := checkCounters(t, m.dir, "--aesthetic", fmt.Sprint(threshold))
	if totals["num_clips_filtered_by_aesthetic"] == 0 || totals["num_clips_passed"] == 0 ||
		totals["num_clips_with_embeddings"] != totals["num_clips_passed"] {
		t.Errorf("counters %v: want some clips filtered by aesthetics, some passed, every passed clip embedded", totals)
	}

	// Shards carry <uuid>.clip.npy for every passed clip.
	var npy map[string][]int
	pyJSON(t, &npy, `
import io, json, sys, tarfile, numpy
out = {}
with tarfile.open(sys.argv[1]) as tf:
    for m in tf:
        if m.name.endswith(".clip.npy"):
            a = numpy.load(io.BytesIO(tf.extractfile(m).read()))
            assert a.dtype == numpy.float32, a.dtype
            assert abs(float(numpy.linalg.norm(a)) - 1) < 1e-5
            out[m.name[:-9]] = list(a.shape)
json.dump(out, sys.stdout)`, filepath.Join(m.dir, "wds", "shard-000000.tar"))
	for id, s := range scores {
		if shape, ok := npy[id]; ok == (s < threshold) || (ok && !slices.Equal(shape, []int{1, 48})) {
			t.Errorf("%s (score %v, threshold %v): in shard %t with shape %v", id, s, threshold, ok, shape)
		}
	}
}

// checkEmbeddings loads every clip_embd pickle with numpy (float32 (1, D),
// unit norm) and every clip_embd_parquet file with DuckDB, and checks that
// the two agree.
func checkEmbeddings(t *testing.T, root string, dim int) {
	t.Helper()
	var rep treeReport
	runPy(t, &rep, filepath.Join(repoRoot, "test", "check_tree.py"), root)
	pickles := map[string][]float64{}
	for rel, p := range rep.Pickle {
		if !strings.HasPrefix(rel, "clip_embd/") {
			continue
		}
		if p.DType != "<f4" || !slices.Equal(p.Shape, []int{1, dim}) || p.Type != "numpy.ndarray" {
			t.Errorf("%s: %s %s %v", rel, p.Type, p.DType, p.Shape)
		}
		var n float64
		for _, v := range p.Values {
			n += v * v
		}
		if math.Abs(math.Sqrt(n)-1) > 1e-5 {
			t.Errorf("%s: norm %v", rel, math.Sqrt(n))
		}
		pickles[strings.TrimSuffix(filepath.Base(rel), ".pickle")] = p.Values
	}
	if len(pickles) == 0 {
		t.Fatalf("no clip_embd pickles under %s", root)
	}
	parquets, _ := filepath.Glob(filepath.Join(root, "clip_embd_parquet", "*.parquet"))
	rows := 0
	for _, p := range parquets {
		types, got := duckRead(t, p)
		if types["id"] != "VARCHAR" || types["embedding"] != "DOUBLE[]" {
			t.Errorf("%s: column types %v", p, types)
		}
		for _, row := range got {
			rows++
			want, ok := pickles[row.ID]
			if !ok {
				t.Errorf("%s: row %s has no pickle", p, row.ID)
				continue
			}
			for i := range want {
				if float64(float32(row.Embedding[i])) != want[i] {
					t.Errorf("%s: %s[%d] = %v, pickle %v", p, row.ID, i, row.Embedding[i], want[i])
					break
				}
			}
		}
	}
	if rows != len(pickles) {
		t.Errorf("%d parquet rows for %d pickles", rows, len(pickles))
	}
}

// TestModelErrors: wrong model flags are usage errors (exit 2); models
// that cannot be used fail the run at once (exit 1) with one line naming
// the file and the reason.
func TestModelErrors(t *testing.T) {
	in, db := t.TempDir(), filepath.Join(t.TempDir(), "db")
	models := t.TempDir()
	small := writeCLIP(t, filepath.Join(models, "clip-b"), tinyCLIP(48), 1)
	mlp := filepath.Join(models, "aesthetic.safetensors")
	writeAestheticMLP(t, mlp, 3)
	broken := filepath.Join(models, "broken")
	writeCLIP(t, broken, tinyCLIP(48), 1)
	f, err := safetensors.Open(filepath.Join(broken, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var keep []safetensors.Tensor
	for _, name := range f.Names() {
		if name == "vision_model.encoder.layers.1.mlp.fc2.bias" {
			continue
		}
		data, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4*len(data))
		for i, x := range data {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		keep = append(keep, safetensors.Tensor{Name: name, DType: "F32", Shape: shape, Data: b})
	}
	f.Close()
	if err := safetensors.Write(filepath.Join(broken, "model.safetensors"), keep, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		code int
		args []string
		want string
	}{
		{2, []string{"--generate-embeddings"}, "--embedding-model"},
		{2, []string{"--generate-embeddings", "--embedding-model", small, "--embedding-algorithm", "internvideo2"}, "internvideo2"},
		{2, []string{"--aesthetic-threshold", "5"}, "--aesthetic-model"},
		{2, []string{"--generate-embeddings", "--embedding-model", small, "--device", "gpu"}, "--device"},
		{1, []string{"--generate-embeddings", "--embedding-model", filepath.Join(models, "missing")}, "missing"},
		{1, []string{"--generate-embeddings", "--embedding-model", small, "--device", "cuda"}, "without CUDA"},
		{1, []string{"--aesthetic-model", mlp, "--aesthetic-clip-model", small}, "768"},
		{1, []string{"--generate-embeddings", "--embedding-model", broken}, "vision_model.encoder.layers.1.mlp.fc2.bias"},
	} {
		r := mustClipfs(t, c.code, append([]string{"curate", "--input", in, "--db", db}, c.args...)...)
		if !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
			t.Errorf("%v: %q should be one line naming %s", c.args, r.stderr, c.want)
		}
	}
}

// TestModelFramesDecodedOnce: with motion scoring on, the frames the
// aesthetic and embedding models read come from the motion pass itself (one
// decode of the clip): no ffmpeg runs to extract them for a clip whose
// conversion the pass reproduces, and every score and embedding is bit for
// bit what the same curate gives with the frames from ffmpeg (motion off).
func TestModelFramesDecodedOnce(t *testing.T) {
	base := modelStageArgs(t)

	// ffmpeg behind a script that logs each run's arguments
	realFFmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >>\"$FFMPEG_LOG\"\nexec " + realFFmpeg + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "ffmpeg"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	curate := func(motion string) (out string, extractions int) {
		db := filepath.Join(t.TempDir(), "db")
		log := filepath.Join(t.TempDir(), "ffmpeg.log")
		cmd := exec.Command(binPath, append([]string{"curate", "--db", db, "--motion-filter", motion}, base...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FFMPEG_LOG="+log)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("curate --motion-filter %s: %v\n%s", motion, err, b)
		}
		out = filepath.Join(t.TempDir(), "out")
		mustClipfs(t, 0, "export", "--db", db, "--out", out)
		b, _ := os.ReadFile(log)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "-f rawvideo") && strings.Contains(line, "select=") {
				extractions++
			}
		}
		return out, extractions
	}
	once, onceRuns := curate("score-only")
	twice, twiceRuns := curate("disable")

	metas, _ := filepath.Glob(filepath.Join(twice, "metas", "v0", "*.json"))
	if len(metas) < 3 {
		t.Fatalf("only %d clips", len(metas))
	}
	passed := 0
	for _, p := range metas {
		var a, b modelMeta
		readJSON(t, p, &b)
		readJSON(t, filepath.Join(once, "metas", "v0", filepath.Base(p)), &a)
		if a.Aesthetic == nil || b.Aesthetic == nil || *a.Aesthetic != *b.Aesthetic {
			t.Errorf("%s: aesthetic_score %v with the motion pass's frames, %v with ffmpeg's", b.SpanUUID, a.Aesthetic, b.Aesthetic)
		}
		pb, errB := os.ReadFile(filepath.Join(twice, "clip_embd", b.SpanUUID+".pickle"))
		pa, errA := os.ReadFile(filepath.Join(once, "clip_embd", b.SpanUUID+".pickle"))
		if errA != nil || errB != nil || string(pa) != string(pb) {
			t.Errorf("%s: embedding pickles differ (%v, %v)", b.SpanUUID, errA, errB)
		}
		passed++
	}
	t.Logf("%d clips; ffmpeg frame extractions: %d with the motion pass, %d without", passed, onceRuns, twiceRuns)
	if twiceRuns < passed || onceRuns != 0 {
		t.Errorf("ffmpeg extracted frames %d times with the motion pass (want 0: the sample clips are plain yuv420p) and %d without (want at least %d)", onceRuns, twiceRuns, passed)
	}
}
