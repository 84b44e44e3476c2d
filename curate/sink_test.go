package curate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
)

// chunkOf stages one clip file of content through sink and returns the
// ChunkResult that commits it as chunk 0 of a one-clip video.
func chunkOf(t *testing.T, sink Sink, content string) *ChunkResult {
	t.Helper()
	const source = "/in/v.mp4"
	p := sink.Stage(".mp4")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := stage(p)
	if err != nil {
		t.Fatal(err)
	}
	s := plan.Span{Start: 0, End: 2, StartFrame: 0, EndFrame: 50}
	c := index.ClipRecord{ID: plan.SpanUUID(source, s), Source: source, Span: [2]float64{0, 2}, EndFrame: 50,
		WidthSource: 64, HeightSource: 48, FrameRateSource: 25, Windows: []index.Window{},
		Media: &index.ClipMedia{Blob: b.Name, Width: 64, Height: 48, FrameRate: 25, NumFrames: 50, VideoCodec: "h264", NumBytes: b.Size}}
	ch := index.ChunkRecord{ID: plan.ChunkUUID(source, 0), Source: source, Clips: []uuid.UUID{c.ID}}
	ch.Stats.Passed = 1
	v := index.VideoRecord{Source: source, Rel: "v.mp4", Fingerprint: "f", NumTotalClips: 1, NumClipChunks: 1, CuratedAt: index.Now()}
	return &ChunkResult{Video: v, Chunk: &ch, Clips: []index.ClipRecord{c}, Blobs: []StagedBlob{b}}
}

func openDB(t *testing.T) *index.DB {
	t.Helper()
	db, err := index.Open(filepath.Join(t.TempDir(), "db"), index.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestChunkResultJSON: a result survives JSON unchanged, the digest as hex.
func TestChunkResultJSON(t *testing.T) {
	res := chunkOf(t, NewLocalSink(openDB(t), 0, index.ShardLimits{}), "clip bytes")
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back ChunkResult
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, res) {
		t.Errorf("round trip\n got %+v\nwant %+v", back, *res)
	}
	var raw struct {
		Blobs []map[string]any `json:"blobs"`
	}
	json.Unmarshal(b, &raw)
	if h, _ := raw.Blobs[0]["sha256"].(string); len(h) != 64 {
		t.Errorf("sha256 in JSON = %v, want 64 hex digits", raw.Blobs[0]["sha256"])
	}
	bad := []byte(`{"name": "x.mp4", "path": "/tmp/x.mp4", "size": 1, "sha256": "abc"}`)
	if err := json.Unmarshal(bad, new(StagedBlob)); err == nil {
		t.Error("a short sha256 was taken")
	}
}

// TestLocalSinkCommit: a committed result's clip is visible with its blob;
// a staged file that changed after staging is refused as a fault of the
// machine, and nothing of its chunk is committed or left as a blob.
func TestLocalSinkCommit(t *testing.T) {
	db := openDB(t)
	sink := NewLocalSink(db, 0, index.ShardLimits{})
	res := chunkOf(t, sink, "clip bytes")
	if err := sink.Commit(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	c, err := db.Clip(res.Clips[0].ID)
	if err != nil || c.Media.Blob != res.Blobs[0].Name {
		t.Fatalf("committed clip %+v, %v", c, err)
	}
	if _, err := os.Stat(res.Blobs[0].Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the staged file is still in tmp/ after its commit: %v", err)
	}

	db2 := openDB(t)
	sink2 := NewLocalSink(db2, 0, index.ShardLimits{})
	changed := chunkOf(t, sink2, "clip bytes")
	os.WriteFile(changed.Blobs[0].Path, []byte("clip bytez"), 0o644) // same size, other bytes
	err = sink2.Commit(context.Background(), changed)
	if ee, ok := errors.AsType[*fault.EnvError](err); !ok || ee.Path != "/in/v.mp4" {
		t.Fatalf("commit of a changed staged file = %v, want an *fault.EnvError for the video", err)
	}
	if _, err := db2.Clip(changed.Clips[0].ID); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("the clip of a refused chunk is visible: %v", err)
	}
	if p, ok := db2.BlobLocalPath(changed.Blobs[0].Name); ok && fileExists(p) {
		t.Errorf("the refused chunk's file was left as a blob at %s", p)
	}

	outside := chunkOf(t, sink2, "other bytes")
	elsewhere := filepath.Join(t.TempDir(), outside.Blobs[0].Name)
	os.Rename(outside.Blobs[0].Path, elsewhere)
	outside.Blobs[0].Path = elsewhere
	if err := sink2.Commit(context.Background(), outside); err == nil {
		t.Error("a staged file outside the database's tmp folder was adopted")
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
