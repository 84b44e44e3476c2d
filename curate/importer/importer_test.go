package importer

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cwt "github.com/clipfs/clipfs/clipwriter/clipwritertest"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
	"github.com/google/uuid"
)

const testSource = "/data/in/cam1/a.mp4"

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
	tt := testTree{root: root, chunk: plan.ChunkUUID(testSource, 0),
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
	video := cwt.Edit(cwt.VideoObject(), "num_total_clips", 3)
	write("processed_videos/cam1/a.mp4.json", pack.JSON(video))
	ids := []string{tt.passed.String(), tt.passed2.String()}
	ch := cwt.Edit(cwt.ChunkObject(ids, []string{tt.out.String()}), "clip_chunk_index", 0)
	write("processed_clip_chunks/cam1/a.mp4_0.json", pack.JSON(ch))
	for i, id := range []uuid.UUID{tt.passed, tt.passed2, tt.out} {
		folder := "clips"
		if id == tt.out {
			folder = "filtered_clips"
		}
		media := []byte(strings.Repeat("mp4!", 100+i))
		m := cwt.Edit(cwt.ClipObject(), "span_uuid", id.String())
		m = cwt.Edit(m, "clip_location", "/out/"+folder+"/"+id.String()+".mp4")
		m = cwt.Edit(m, "num_bytes", len(media))
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
	rep, err := Import(context.Background(), db, ImportConfig{From: root, InputPath: "/data/in"})
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
	} else if b := readBlob(t, db, c.Media.Blob); string(b) != strings.Repeat("mp4!", 100) {
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
	rep, err = Import(context.Background(), db, ImportConfig{From: tt.root})
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

// readBlob is the bytes of blob name, read through the store.
func readBlob(t *testing.T, db *index.DB, name string) []byte {
	t.Helper()
	r, err := db.OpenBlob(context.Background(), name)
	if err != nil {
		t.Fatalf("open blob %s: %v", name, err)
	}
	defer r.Close()
	b := make([]byte, r.Size())
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatalf("read blob %s: %v", name, err)
	}
	return b
}

// storeDown is the error an object store gives for a server that stays
// unreachable (s3store.Error says Unavailable).
type storeDown struct{}

func (storeDown) Error() string     { return "connection refused, after 10 tries" }
func (storeDown) Unavailable() bool { return true }

// downFS is a tree whose named files (or folders) cannot be reached.
type downFS struct {
	fs.FS
	down map[string]bool
}

func (d downFS) Open(name string) (fs.File, error) {
	if d.down[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: storeDown{}}
	}
	return d.FS.Open(name)
}

// TestImportStoreDown: a file of the tree the store cannot serve leaves
// its video unfinished (nothing committed, no file failed) and a re-run
// imports it whole; a folder the store cannot list stops the import
// before any video, as unfinished too.
func TestImportStoreDown(t *testing.T) {
	tt := makeTestTree(t)
	db, err := index.Open(filepath.Join(t.TempDir(), "db"), index.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const uri = "s3://bucket/run1"
	flaky := downFS{os.DirFS(tt.root), map[string]bool{"metas/v0/" + tt.passed2.String() + ".json": true}}
	rep, err := Import(context.Background(), db, ImportConfig{From: uri, Tree: flaky})
	if !errors.Is(err, fault.ErrUnfinished) || len(rep.Unfinished) != 1 || len(rep.Failed) != 0 || rep.Chunks != 0 {
		t.Fatalf("import with a file unreachable: %v, %+v", err, rep)
	}
	if msg := rep.Unfinished[0].Error(); !strings.Contains(msg, uri+"/metas/v0/"+tt.passed2.String()+".json") || !strings.Contains(msg, "connection refused") {
		t.Errorf("unfinished: %q", msg)
	}
	if v, err := db.Video(testSource); err == nil && v.Complete() {
		t.Errorf("the video is complete after a file could not be read: %+v", v)
	}
	rep, err = Import(context.Background(), db, ImportConfig{From: uri, Tree: os.DirFS(tt.root)})
	if err != nil || rep.Imported != 1 || rep.Clips != 3 || rep.Embeddings != 2 {
		t.Fatalf("re-run: %v, %+v", err, rep)
	}

	db2, err := index.Open(filepath.Join(t.TempDir(), "db2"), index.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	flaky = downFS{os.DirFS(tt.root), map[string]bool{"clips": true}}
	rep, err = Import(context.Background(), db2, ImportConfig{From: uri, Tree: flaky})
	if err == nil || !fault.Environmental(err) || rep.Videos != 0 || !strings.Contains(err.Error(), uri+"/clips") {
		t.Errorf("import with a folder unlistable: %v, %+v", err, rep)
	}
}
