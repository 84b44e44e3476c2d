package test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/pack"
)

// hashTree lists every folder and file under root with its sha256.
func hashTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel+"/"] = "folder"
		} else {
			out[rel] = sha256File(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree reports every path that differs, except those derived(rel) says
// are compared another way.
func sameTree(t *testing.T, what string, want, got map[string]string, derived func(string) bool) {
	t.Helper()
	for rel, h := range want {
		if g, ok := got[rel]; !ok {
			t.Errorf("%s: %s missing", what, rel)
		} else if g != h && (derived == nil || !derived(rel)) {
			t.Errorf("%s: %s differs", what, rel)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s: %s is extra", what, rel)
		}
	}
}

// TestImportRoundTrip: an export of a curated database imports into a
// fresh one that serves the same tree at the same path, byte for byte.
func TestImportRoundTrip(t *testing.T) {
	videos := sampleVideos(t, true)
	dbA := filepath.Join(t.TempDir(), "dbA")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", dbA, "--generate-previews", "--workers", workers())
	m := mount(t, dbA)
	plain := hashTree(t, m.dir)
	m.stop(t)
	exp0 := exportTree(t, dbA, m.dir)
	placed := placeEmbeddings(t, dbA)
	m = mountAt(t, dbA, m.dir)
	embedded := hashTree(t, m.dir)
	m.stop(t)
	exp1 := exportTree(t, dbA, m.dir)
	sameTree(t, "export of A", embedded, hashTree(t, exp1), nil)
	if len(placed["iv2"]) == 0 || !slices.ContainsFunc(slices.Collect(mapKeys(plain)), func(k string) bool { return strings.HasPrefix(k, "wds/shard-") }) {
		t.Fatalf("nothing to compare: %d vectors, tree %v", len(placed["iv2"]), plain)
	}

	// Curated without embeddings: everything, shards and index.parquet included.
	dbB0 := filepath.Join(t.TempDir(), "dbB0")
	r := mustClipfs(t, 0, "import", "--from", exp0, "--db", dbB0, "--input-path", videos)
	if !strings.Contains(r.stderr, "0 files failed") {
		t.Errorf("import: %s", r.stderr)
	}
	m = mountAt(t, dbB0, m.dir)
	sameTree(t, "import without embeddings", plain, hashTree(t, m.dir), nil)
	m.stop(t)

	// With embeddings placed after curation, A's shards (sealed before)
	// hold no .npy members; an import puts the vectors in its shards, as
	// curation does when it computes them. So the shards gain <uuid>.<p>.npy
	// members, and shards.json (sizes) and index.parquet (offsets) follow.
	derived := func(rel string) bool { return strings.HasPrefix(rel, "wds/") || rel == "index.parquet" }
	dbB1 := filepath.Join(t.TempDir(), "dbB1")
	mustClipfs(t, 0, "import", "--from", exp1, "--db", dbB1, "--input-path", videos)
	m = mountAt(t, dbB1, m.dir)
	sameTree(t, "import with embeddings", embedded, hashTree(t, m.dir), derived)
	checkShardsGainVectors(t, exp1, m.dir)
	checkClipTableOffsets(t, exp1, m.dir)

	// Importing the same tree again adds nothing.
	m.stop(t)
	r = mustClipfs(t, 0, "import", "--from", exp1, "--db", dbB1)
	if !strings.Contains(r.stderr, "0 imported") || !strings.Contains(r.stderr, "0 chunks") {
		t.Errorf("second import: %s", r.stderr)
	}
	before := exportTree(t, dbB1, m.dir)
	m = mountAt(t, dbB1, m.dir)
	sameTree(t, "import twice", hashTree(t, before), hashTree(t, m.dir), nil)
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

type tarMember struct {
	name  string
	size  int64
	mtime int64
	data  []byte
}

func readTar(t *testing.T, path string) []tarMember {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tarMember
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, h.Name, err)
		}
		out = append(out, tarMember{h.Name, h.Size, h.ModTime.Unix(), b})
	}
}

// checkShardsGainVectors: each imported shard is the curated one with, after
// each sample's members, <uuid>.ce1.npy and <uuid>.iv2.npy holding the
// vectors the tree's pickles hold.
func checkShardsGainVectors(t *testing.T, curated, imported string) {
	t.Helper()
	shards, _ := filepath.Glob(filepath.Join(curated, "wds", "shard-*.tar"))
	for _, s := range shards {
		rel, _ := filepath.Rel(curated, s)
		want := readTar(t, s)
		got := readTar(t, filepath.Join(imported, rel))
		var rest []tarMember
		for i, m := range got {
			key, ext, _ := strings.Cut(m.name, ".")
			if !strings.HasSuffix(ext, ".npy") {
				if i > 0 && strings.HasPrefix(got[i-1].name, key+".") && strings.HasSuffix(got[i-1].name, ".npy") {
					t.Errorf("%s: %s follows its sample's vectors", rel, m.name)
				}
				rest = append(rest, m)
				continue
			}
			prefix := strings.TrimSuffix(ext, ".npy")
			pk, err := os.ReadFile(filepath.Join(imported, prefix+"_embd", key+".pickle"))
			a, uerr := pack.Unpickle(pk)
			if err != nil || uerr != nil || !bytes.Equal(m.data, pack.NPY(a)) || m.mtime != got[i-1].mtime {
				t.Errorf("%s: %s is not the vector of %s_embd/%s.pickle: %v %v", rel, m.name, prefix, key, err, uerr)
			}
		}
		if len(rest) != len(want) {
			t.Errorf("%s: %d members besides vectors, curated shard has %d", rel, len(rest), len(want))
		}
		for i := range min(len(rest), len(want)) {
			if !reflect.DeepEqual(rest[i], want[i]) {
				t.Errorf("%s: member %d is %s (%d bytes, mtime %d), curated %s (%d bytes, mtime %d)", rel, i,
					rest[i].name, rest[i].size, rest[i].mtime, want[i].name, want[i].size, want[i].mtime)
			}
		}
		if n := len(got) - len(rest); n != 2*countExt(want, ".mp4") {
			t.Errorf("%s: %d vector members for %d samples", rel, n, countExt(want, ".mp4"))
		}
	}
	var idx, idxWant widsIndex
	readJSON(t, filepath.Join(imported, "wds", "shards.json"), &idx)
	readJSON(t, filepath.Join(curated, "wds", "shards.json"), &idxWant)
	if len(idx.Shardlist) != len(idxWant.Shardlist) || len(idx.Shardlist) != len(shards) {
		t.Fatalf("shards.json lists %d shards, curated %d", len(idx.Shardlist), len(idxWant.Shardlist))
	}
	for i, s := range idx.Shardlist {
		st, err := os.Stat(filepath.Join(imported, "wds", s.URL))
		if err != nil || s.URL != idxWant.Shardlist[i].URL || s.NSamples != idxWant.Shardlist[i].NSamples || st.Size() != s.FileSize {
			t.Errorf("shards.json entry %+v, curated %+v: %v", s, idxWant.Shardlist[i], err)
		}
	}
}

func countExt(ms []tarMember, ext string) int {
	n := 0
	for _, m := range ms {
		if strings.HasSuffix(m.name, ext) {
			n++
		}
	}
	return n
}

// checkClipTableOffsets: index.parquet has the curated rows, but for the
// shard offsets, which locate each clip's bytes in the imported shards.
func checkClipTableOffsets(t *testing.T, curated, imported string) {
	t.Helper()
	read := func(root string) []pack.ClipRow {
		rows, err := pack.ReadClipTable([]byte(mustRead(t, filepath.Join(root, "index.parquet"))))
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	want, got := read(curated), read(imported)
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("index.parquet: %d rows, curated %d", len(got), len(want))
	}
	for i, r := range got {
		w := want[i]
		if r.ShardOffset == nil || w.ShardOffset == nil {
			t.Errorf("%s: no shard offset", r.ID)
			continue
		}
		w.ShardOffset = r.ShardOffset
		if !reflect.DeepEqual(r, w) {
			t.Errorf("index.parquet row %d: %+v\ncurated %+v", i, r, w)
		}
		f, err := os.Open(filepath.Join(imported, *r.Shard))
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, *r.ShardSize)
		_, err = f.ReadAt(b, *r.ShardOffset)
		f.Close()
		if err != nil || !bytes.Equal(b, []byte(mustRead(t, filepath.Join(imported, r.ClipPath)))) {
			t.Errorf("%s: bytes at %s+%d are not %s: %v", r.ID, *r.Shard, *r.ShardOffset, r.ClipPath, err)
		}
	}
}

// nemoTree is the Python program that writes a NeMo-style tree: json.dumps
// (indent=4) metas and processed_* files, numpy pickles (iv2 float32 (1,
// 512), ce1 float16 (1, 256)), clips copied from a sample video. Video
// cam1/a.mp4 has two chunks: chunk 0 two passed clips and one filtered by
// motion, chunk 1 one passed clip with captions and no ce1 pickle (its ce1
// vector is only in Parquet). b.mov has no clip. It prints the clip ids.
const nemoTree = `
import json, os, pickle, shutil, sys, uuid
import numpy as np
root, clip, inroot = sys.argv[1:4]
def put(rel, obj=None, raw=None):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(json.dumps(obj, indent=4).encode() if raw is None else raw)
video, fps = inroot + "/cam1/a.mp4", 25.0
spans = [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0), (30.0, 37.5)]
ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video}_{int(s*fps)}_{int(e*fps)}")) for s, e in spans]
size = os.path.getsize(clip)
cap, enh = "A test pattern drifts to the r\u00e9ight.", "A colourful test pattern slowly drifts."
for k, (cid, (s, e)) in enumerate(zip(ids, spans)):
    folder = "filtered_clips" if k == 2 else "clips"
    put(f"{folder}/{cid}.mp4", raw=open(clip, "rb").read())
    w = {"start_frame": 0, "end_frame": 174}
    if k == 3:
        w["qwen_caption"], w["qwen_enhanced_caption"] = cap, enh
    meta = {"span_uuid": cid, "source_video": video, "duration_span": [s, e], "width_source": 1280,
            "height_source": 720, "framerate_source": fps, "clip_location": f"{root}/{folder}/{cid}.mp4",
            "width": 320, "height": 240, "framerate": 25.0, "num_frames": 175, "video_codec": "h264",
            "num_bytes": size, "motion_score": {"global_mean": 0.0005 if k == 2 else 0.0123 * (k + 1),
            "per_patch_min_256": 1.5e-07 if k == 2 else 0.000421}}
    if k == 3:
        meta["aesthetic_score"] = 5.25
    meta["windows"], meta["valid"] = [w], True
    put(f"metas/v0/{cid}.json", meta)
    if k == 2:
        continue
    put(f"iv2_embd/{cid}.pickle", raw=pickle.dumps((np.sin(np.arange(512) + k) / 16).astype(np.float32).reshape(1, 512)))
    if k < 2:
        put(f"ce1_embd/{cid}.pickle", raw=pickle.dumps((((np.arange(256) + k) % 64 - 32) / 64).astype(np.float16).reshape(1, 256)))
    put(f"previews/{cid}/0_174.webp", raw=b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes([k]) * 40)
base = {"height": 720, "width": 1280, "framerate": fps, "num_frames": 1000, "duration": 40.0, "video_codec": "h264",
        "pixel_format": "yuv420p", "audio_format": None}
put("processed_videos/cam1/a.mp4.json", {"video": video, **base, "num_total_clips": 4, "num_clip_chunks": 2})
put("processed_videos/b.mov.json", {"video": inroot + "/b.mov", **base, "num_frames": 30, "duration": 1.2,
    "audio_format": "pcm_s16le", "num_total_clips": 0, "num_clip_chunks": 0})
for i, (clips, filtered) in enumerate([(ids[:2], ids[2:3]), (ids[3:], [])]):
    windows = {c: ({"0_174": cap} if c == ids[3] else {}) for c in clips}
    enhanced = {c: ({"0_174": enh} if c == ids[3] else {}) for c in clips}
    put(f"processed_clip_chunks/cam1/a.mp4_{i}.json", {"video": video, "clip_chunk_index": i,
        "num_clips_filtered_by_motion": len(filtered), "num_clips_filtered_by_aesthetic": 0,
        "num_clips_passed": len(clips), "num_clips_transcoded": len(clips) + len(filtered),
        "num_clips_with_embeddings": 2 * len(clips), "num_clips_with_caption": i, "num_clips_with_webp": len(clips),
        "total_clip_duration": 30.0 if i == 0 else 7.5, "max_clip_duration": 10.0 if i == 0 else 7.5,
        "clips": clips, "filtered_clips": filtered, "all_windows": windows, "all_windows_enhanced_caption": enhanced})
print(json.dumps({"ids": ids, "chunks": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video}_{i}")) for i in range(2)]}))
`

type nemo struct {
	root   string
	IDs    []string             `json:"ids"`
	Chunks []string             `json:"chunks"`
	ce1    map[string][]float64 // the Parquet vectors
}

// makeNemoTree writes the tree of nemoTree, then the ce1 Parquet files with
// pack.EmbeddingParquet (there is no pyarrow here): chunk 0 with the pickled
// vectors, chunk 1 with a float32 vector for its clip, which has no pickle.
func makeNemoTree(t *testing.T) nemo {
	t.Helper()
	needNumpy(t)
	clips, _ := filepath.Glob(filepath.Join(sampleVideos(t, true), "*.mp4"))
	n := nemo{root: filepath.Join(t.TempDir(), "nemo"), ce1: map[string][]float64{}}
	pyJSON(t, &n, nemoTree, n.root, clips[0], "/data/in")
	for k, id := range n.IDs {
		v := make([]float64, 256)
		for i := range v {
			v[i] = float64((i+k)%64-32) / 64
			if k == 3 {
				v[i] = float64(float32(float64(i)/3 - 40))
			}
		}
		n.ce1[id] = v
	}
	for c, ids := range [][]string{n.IDs[:2], n.IDs[3:]} {
		var rows []pack.EmbeddingRow
		for _, id := range ids {
			rows = append(rows, pack.EmbeddingRow{ID: id, Embedding: n.ce1[id]})
		}
		b, err := pack.EmbeddingParquet(rows)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(n.root, "ce1_embd_parquet"), 0o755)
		os.WriteFile(filepath.Join(n.root, "ce1_embd_parquet", n.Chunks[c]+".parquet"), b, 0o644)
	}
	return n
}

// checkNemo is run by Python on the mount: served pickles equal NeMo's,
// and every shard sample's .npy members load with numpy.load to the same
// arrays. It prints the problems it found.
const checkNemo = `
import io, json, os, pickle, sys, tarfile
import numpy as np
mnt, src, ce1 = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
bad, want = [], {}
for p in ("iv2", "ce1"):
    for cid in sorted(set(os.listdir(f"{src}/{p}_embd")) | {c + ".pickle" for c in ce1 if p == "ce1"}):
        cid = cid[:-len(".pickle")]
        if os.path.exists(f"{src}/{p}_embd/{cid}.pickle"):
            a = pickle.load(open(f"{src}/{p}_embd/{cid}.pickle", "rb"))
        else:
            a = np.array(ce1[cid], dtype=np.float32).reshape(1, -1)
        want[(cid, p)] = a
        got = pickle.load(open(f"{mnt}/{p}_embd/{cid}.pickle", "rb"))
        if type(got) is not np.ndarray or got.dtype != a.dtype or got.shape != a.shape or not np.array_equal(got, a):
            bad.append(f"{p}_embd/{cid}.pickle: {got.dtype} {got.shape}, want {a.dtype} {a.shape}")
seen = set()
for name in sorted(os.listdir(f"{mnt}/wds")):
    if not name.endswith(".tar"):
        continue
    with tarfile.open(f"{mnt}/wds/{name}") as tf:
        for m in tf.getmembers():
            key, ext = m.name.split(".", 1)
            data = tf.extractfile(m).read()
            if ext == "mp4" and data != open(f"{src}/clips/{key}.mp4", "rb").read():
                bad.append(f"{m.name}: not the clip's bytes")
            if ext.endswith(".npy"):
                a, w = np.load(io.BytesIO(data)), want.get((key, ext[:-4]))
                seen.add((key, ext[:-4]))
                if w is None or a.dtype != w.dtype or a.shape != w.shape or not np.array_equal(a, w):
                    bad.append(f"{name}: {m.name}: {a.dtype} {a.shape} differs")
bad += [f"no {k}.{p}.npy in the shards" for k, p in sorted(set(want) - seen)]
print(json.dumps(bad))
`

// TestImportNemoTree: a tree written the way NeMo writes it imports with
// --input-path and is served back: the JSON files byte for byte (mounted
// with the same output path), media, pickles and shard vectors equal.
func TestImportNemoTree(t *testing.T) {
	n := makeNemoTree(t)
	db := filepath.Join(t.TempDir(), "db")
	r := mustClipfs(t, 0, "import", "--from", n.root, "--db", db, "--input-path", "/data/in/")
	if !strings.Contains(r.stderr, "2 videos: 2 imported") || !strings.Contains(r.stderr, "2 chunks, 4 clips, 6 embeddings") {
		t.Errorf("import: %s", r.stderr)
	}
	m := mount(t, db, "--output-path", n.root)
	served := hashTree(t, m.dir)
	for rel, h := range hashTree(t, n.root) {
		if served[rel] != h {
			t.Errorf("%s: not served as NeMo wrote it", rel)
		}
	}
	ce1, _ := json.Marshal(map[string][]float64{n.IDs[3]: n.ce1[n.IDs[3]]})
	var bad []string
	pyJSON(t, &bad, checkNemo, m.dir, n.root, string(ce1))
	for _, b := range bad {
		t.Error(b)
	}
	var idx widsIndex
	readJSON(t, filepath.Join(m.dir, "wds", "shards.json"), &idx)
	if len(idx.Shardlist) != 1 || idx.Shardlist[0].NSamples != 3 {
		t.Errorf("shards.json: %+v", idx)
	}
	m.stop(t)
	r = mustClipfs(t, 0, "import", "--from", n.root, "--db", db, "--input-path", "/data/in")
	if !strings.Contains(r.stderr, "0 imported, 2 up to date") {
		t.Errorf("second import: %s", r.stderr)
	}
	r = mustClipfs(t, 3, "import", "--from", n.root, "--db", filepath.Join(t.TempDir(), "db2"), "--input-path", "/data/other")
	if strings.Count(r.stderr, "is not under --input-path /data/other") != 2 {
		t.Errorf("wrong --input-path: %s", r.stderr)
	}
}

// TestImportCorruptFiles: each broken file is named in one line with the
// reason and skipped; the exit status says some failed; the rest is served.
func TestImportCorruptFiles(t *testing.T) {
	n := makeNemoTree(t)
	id := n.IDs
	cut := func(rel string) []byte { b := []byte(mustRead(t, filepath.Join(n.root, rel))); return b[:len(b)/2] }
	bad := map[string][]byte{
		"metas/v0/" + id[1] + ".json":                  cut("metas/v0/" + id[1] + ".json"),
		"iv2_embd/" + id[0] + ".pickle":                cut("iv2_embd/" + id[0] + ".pickle"),
		"ce1_embd_parquet/" + n.Chunks[0] + ".parquet": cut("ce1_embd_parquet/" + n.Chunks[0] + ".parquet"),
		"processed_clip_chunks/cam1/a.mp4_1.json":      bytes.Replace([]byte(mustRead(t, filepath.Join(n.root, "processed_clip_chunks/cam1/a.mp4_1.json"))), []byte(`"clip_chunk_index": 1`), []byte(`"clip_chunk_index": "1"`), 1),
		"processed_videos/b.mov.json":                  bytes.Replace([]byte(mustRead(t, filepath.Join(n.root, "processed_videos/b.mov.json"))), []byte(`"width"`), []byte(`"wide"`), 1),
	}
	reasons := map[string]string{
		"metas/v0/" + id[1] + ".json":                  "not valid JSON",
		"iv2_embd/" + id[0] + ".pickle":                "not a float32 or float16 numpy array pickle",
		"ce1_embd_parquet/" + n.Chunks[0] + ".parquet": "not an embedding parquet file",
		"processed_clip_chunks/cam1/a.mp4_1.json":      `"clip_chunk_index": want an integer`,
		"processed_videos/b.mov.json":                  `missing key "width"`,
	}
	for rel, b := range bad {
		os.WriteFile(filepath.Join(n.root, rel), b, 0o644)
	}
	db := filepath.Join(t.TempDir(), "db")
	r := mustClipfs(t, 3, "import", "--from", n.root, "--db", db)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	for rel, reason := range reasons {
		var hits []string
		for _, l := range lines {
			if strings.Contains(l, filepath.Join(n.root, rel)) {
				hits = append(hits, l)
			}
		}
		if want := "clipfs: " + filepath.Join(n.root, rel) + ": "; len(hits) != 1 || !strings.HasPrefix(hits[0], want) || !strings.Contains(hits[0], reason) {
			t.Errorf("%s: want one line %q...%q, got %q", rel, want, reason, hits)
		}
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("; %d files failed", len(bad))) {
		t.Errorf("summary: %s", r.stderr)
	}
	for _, l := range lines {
		if strings.Contains(l, "goroutine") || strings.Contains(l, "panic") || strings.Contains(l, "*curate.") || strings.Contains(l, "pack:") {
			t.Errorf("internal detail leaked: %q", l)
		}
	}
	m := mount(t, db, "--output-path", n.root)
	for _, rel := range []string{"metas/v0/" + id[0] + ".json", "metas/v0/" + id[2] + ".json", "clips/" + id[0] + ".mp4",
		"filtered_clips/" + id[2] + ".mp4", "ce1_embd/" + id[0] + ".pickle",
		"processed_videos/cam1/a.mp4.json", "processed_clip_chunks/cam1/a.mp4_0.json", "previews/" + id[0] + "/0_174.webp"} {
		if got := sha256Maybe(filepath.Join(m.dir, rel)); got == "" || got != sha256Maybe(filepath.Join(n.root, rel)) {
			t.Errorf("%s: not served as written", rel)
		}
	}
	for _, rel := range []string{"wds/shards.json", "index.parquet", "ce1_embd_parquet/" + n.Chunks[0] + ".parquet"} {
		if sha256Maybe(filepath.Join(m.dir, rel)) == "" {
			t.Errorf("%s: not served", rel)
		}
	}
	for _, rel := range []string{"metas/v0/" + id[1] + ".json", "iv2_embd/" + id[0] + ".pickle", "processed_videos/b.mov.json",
		"processed_clip_chunks/cam1/a.mp4_1.json", "metas/v0/" + id[3] + ".json", "iv2_embd/" + id[3] + ".pickle"} {
		if _, err := os.Stat(filepath.Join(m.dir, rel)); err == nil {
			t.Errorf("%s: served, but it was broken (or its chunk was)", rel)
		}
	}
}

func sha256Maybe(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
