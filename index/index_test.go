package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
)

func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "db"), Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// writeBlob adopts a blob holding content.
func writeBlob(t testing.TB, db *DB, content string) Blob {
	t.Helper()
	p := db.TempPath(".mp4")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := db.AdoptBlob(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testCommit(t *testing.T, db *DB, source, fp string, index, nclips int) ChunkCommit {
	t.Helper()
	cc := testChunk(t, db, source, fp, index, nclips)
	if err := db.CommitChunk(cc); err != nil {
		t.Fatal(err)
	}
	return cc
}

// testChunk builds (without committing) a chunk of nclips clips with their
// blobs; clip 1 is filtered, the others carry an iv2 embedding.
func testChunk(t testing.TB, db *DB, source, fp string, index, nclips int) ChunkCommit {
	t.Helper()
	v := VideoRecord{Source: source, Rel: filepath.Base(source), Fingerprint: fp, NumClipChunks: 2, NumTotalClips: 2 * nclips, CuratedAt: 100}
	ch := ChunkRecord{ID: uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%s_%d", source, index)), Source: source, Index: index}
	cc := ChunkCommit{Video: v, Chunk: ch}
	for i := range nclips {
		id := uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%s_%d_%d", source, index, i))
		b := writeBlob(t, db, fmt.Sprintf("%s-%s", fp, id))
		c := ClipRecord{ID: id, Source: source, Filtered: i == 1, Media: &ClipMedia{Blob: b.Name, NumBytes: b.Size}}
		if i == 1 {
			cc.Chunk.Filtered = append(cc.Chunk.Filtered, id)
		} else {
			cc.Chunk.Clips = append(cc.Chunk.Clips, id)
			cc.Embeddings = append(cc.Embeddings, EmbeddingRecord{Prefix: "iv2", Clip: id, Embedding: Embedding{DType: "<f4", Shape: []int{1, 2}, Data: make([]byte, 8)}})
		}
		cc.Clips = append(cc.Clips, c)
	}
	return cc
}

func names(t *testing.T, db *DB, dir string) []string {
	t.Helper()
	ents, err := db.ReadDir(dir, "", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}

func TestCommitMakesTree(t *testing.T) {
	db := openTemp(t)
	cc := testCommit(t, db, "/in/a/v.mp4", "fp1", 0, 3)
	root := names(t, db, "")
	want := []string{"clips", "filtered_clips", "iv2_embd", "iv2_embd_parquet", "metas", "processed_clip_chunks", "processed_videos"}
	if fmt.Sprint(root) != fmt.Sprint(want) {
		t.Fatalf("root = %v, want %v", root, want)
	}
	if n := len(names(t, db, DirClips)); n != 2 {
		t.Errorf("clips/ has %d entries, want 2", n)
	}
	if n := len(names(t, db, DirMetas)); n != 3 {
		t.Errorf("metas/v0 has %d entries, want 3", n)
	}
	if got := names(t, db, "processed_clip_chunks"); fmt.Sprint(got) != "[v.mp4_0.json]" {
		t.Errorf("processed_clip_chunks = %v", got)
	}
	e, err := db.Lookup(DirClips, cc.Clips[0].ID.String()+".mp4")
	if err != nil || e.Kind != KindBlob || e.Size != cc.Clips[0].Media.NumBytes {
		t.Fatalf("lookup clip: %+v %v", e, err)
	}
	got, err := os.ReadFile(db.blobPath(e.Ref))
	if err != nil || string(got) != "fp1-"+cc.Clips[0].ID.String() {
		t.Fatalf("blob = %q, %v", got, err)
	}
	if _, err := db.Lookup(DirClips, "nope.mp4"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing lookup: %v", err)
	}
	v, err := db.Video("/in/a/v.mp4")
	if err != nil || v.Complete() || !v.HasChunk(0) {
		t.Fatalf("video: %+v %v", v, err)
	}
}

func TestReplaceOnNewFingerprint(t *testing.T) {
	db := openTemp(t)
	old := testCommit(t, db, "/in/v.mp4", "fp1", 0, 3)
	testCommit(t, db, "/in/v.mp4", "fp1", 1, 3)
	oldBlob := db.blobPath(old.Clips[0].Media.Blob)
	testCommit(t, db, "/in/v.mp4", "fp2", 0, 2)
	if _, err := os.Stat(oldBlob); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old blob still on disk: %v", err)
	}
	if n := len(names(t, db, DirMetas)); n != 2 {
		t.Errorf("metas after replace: %d, want 2", n)
	}
	if got := names(t, db, "processed_clip_chunks"); fmt.Sprint(got) != "[v.mp4_0.json]" {
		t.Errorf("chunks after replace = %v", got)
	}
	v, _ := db.Video("/in/v.mp4")
	if len(v.ChunksDone) != 1 || v.Fingerprint != "fp2" {
		t.Errorf("video after replace: %+v", v)
	}
}

func TestRecommitSameChunkIsIdempotent(t *testing.T) {
	db := openTemp(t)
	testCommit(t, db, "/in/v.mp4", "fp1", 0, 3)
	testCommit(t, db, "/in/v.mp4", "fp1", 0, 3)
	if n := len(names(t, db, DirMetas)); n != 3 {
		t.Errorf("metas: %d, want 3", n)
	}
	blobs := 0
	filepath.WalkDir(filepath.Join(db.Dir(), "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			blobs++
		}
		return nil
	})
	if blobs != 3 {
		t.Errorf("%d blob files after re-commit, want 3", blobs)
	}
}

func TestSweepRemovesOrphans(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := Open(dir, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	cc := testCommit(t, db, "/in/v.mp4", "fp1", 0, 2)
	orphan := writeBlob(t, db, "never committed")
	os.WriteFile(db.TempPath(".mp4"), []byte("half written"), 0o644)
	db.Close()
	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := os.Stat(db.blobPath(orphan.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("orphan survived: %v", err)
	}
	if _, err := os.Stat(db.blobPath(cc.Clips[0].Media.Blob)); err != nil {
		t.Errorf("referenced blob swept: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("tmp not emptied: %v", ents)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("missing db: %v", err)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "x"), nil, 0o644)
	if _, err := Open(other, Options{Create: true}); err == nil {
		t.Errorf("non-empty foreign folder opened")
	}
	db, err := Open(dir, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: %v, want ErrLocked", err)
	}
}

func TestReadDirPages(t *testing.T) {
	db := openTemp(t)
	for i := range 5 {
		testCommit(t, db, fmt.Sprintf("/in/v%d.mp4", i), "fp", 0, 3)
	}
	all := names(t, db, DirMetas)
	var paged []string
	after := ""
	for {
		ents, err := db.ReadDir(DirMetas, after, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			paged = append(paged, e.Name)
		}
		if len(ents) < 4 {
			break
		}
		after = ents[len(ents)-1].Name
	}
	if len(all) != 15 || fmt.Sprint(paged) != fmt.Sprint(all) {
		t.Fatalf("paged %v, all %v", paged, all)
	}
}

func TestPutEmbeddings(t *testing.T) {
	db := openTemp(t)
	cc := testCommit(t, db, "/in/v.mp4", "fp", 0, 3)
	vec := Embedding{DType: "<f2", Shape: []int{1, 4}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	if err := db.PutEmbeddings([]EmbeddingRecord{{Prefix: "ce1", Clip: cc.Clips[0].ID, Embedding: vec}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Embedding("ce1", cc.Clips[0].ID)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(vec) {
		t.Fatalf("embedding = %+v, %v", got, err)
	}
	ch, _ := db.Chunk(cc.Chunk.ID)
	if fmt.Sprint(ch.Embedded) != "[ce1 iv2]" {
		t.Errorf("chunk embedded = %v", ch.Embedded)
	}
	if err := db.PutEmbeddings([]EmbeddingRecord{{Prefix: "ce1", Clip: cc.Clips[1].ID, Embedding: vec}}); err == nil {
		t.Errorf("embedding of a filtered clip accepted")
	}
	bad := Embedding{DType: "<f4", Shape: []int{1, 4}, Data: []byte{1}}
	if err := db.PutEmbeddings([]EmbeddingRecord{{Prefix: "ce1", Clip: cc.Clips[0].ID, Embedding: bad}}); err == nil {
		t.Errorf("embedding with wrong length accepted")
	}
	// Replacing the video removes the late embedding too.
	testCommit(t, db, "/in/v.mp4", "fp2", 0, 1)
	if _, err := db.Embedding("ce1", cc.Clips[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("embedding survived replace: %v", err)
	}
}
