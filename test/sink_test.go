package test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/index"
)

// shipSink is how a worker on another machine hands its chunks over:
// every ChunkResult is serialised, read back into a fresh value (nothing
// shared with what curation built) and only then committed. Curation
// commits several videos' chunks at once, so the counts are guarded.
type shipSink struct {
	*curate.LocalSink
	t       *testing.T
	mu      sync.Mutex
	results int
	blobs   int
}

func (s *shipSink) Commit(ctx context.Context, res *curate.ChunkResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		s.t.Errorf("marshal a ChunkResult: %v", err)
		return err
	}
	var back curate.ChunkResult
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		s.t.Errorf("read a ChunkResult back: %v\n%s", err, b)
		return err
	}
	s.mu.Lock()
	s.results++
	s.blobs += len(back.Blobs)
	s.mu.Unlock()
	return s.LocalSink.Commit(ctx, &back)
}

// TestShippedChunkResults: curating through a sink that serialises every
// ChunkResult and commits what it reads back gives the same tree, byte for
// byte, as curating straight into the index.
func TestShippedChunkResults(t *testing.T) {
	videos := sampleVideos(t, true)
	tools, err := media.DefaultTools()
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, sink func(db *index.DB) curate.Sink) string {
		dir := filepath.Join(t.TempDir(), name)
		db, err := index.Open(dir, index.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		cfg := curate.Config{Input: videos, Workers: runtime.NumCPU(), GeneratePreviews: true, Motion: curate.MotionScoreOnly}
		if sink != nil {
			cfg.Sink = sink(db)
		}
		rep, err := curate.Run(context.Background(), db, tools, cfg)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil || rep.Clips == 0 {
			t.Fatalf("%s: curate: %d clips, %v", name, rep.Clips, err)
		}
		return dir
	}
	direct := run("direct", nil)
	var shipped *shipSink
	viaSink := run("shipped", func(db *index.DB) curate.Sink {
		// As the direct run: no free-space guard, default shard limits.
		shipped = &shipSink{LocalSink: curate.NewLocalSink(db, 0, index.ShardLimits{}), t: t}
		return shipped
	})
	if shipped.results == 0 || shipped.blobs == 0 {
		t.Fatalf("the sink committed %d results with %d staged files", shipped.results, shipped.blobs)
	}
	want := hashTree(t, exportTree(t, direct, "/out"))
	got := hashTree(t, exportTree(t, viaSink, "/out"))
	if len(want) < 10 {
		t.Fatalf("the direct tree has %d entries", len(want))
	}
	sameTree(t, "shipped vs direct", want, got, nil)
	for _, dir := range []string{direct, viaSink} {
		if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) > 0 {
			t.Errorf("%s: %d staged files left in tmp/", dir, len(left))
		}
	}
}
