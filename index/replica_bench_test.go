package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchChunk is a chunk of n clips whose records are the size curation
// writes: probed media fields, motion and aesthetic scores, one window with
// a caption, one preview, and a 512-float InternVideo2 embedding.
func benchChunk(b testing.TB, db *DB, source string, index, n int) ChunkCommit {
	cc := testChunk(b, db, source, "fp1", index, n)
	caption := strings.Repeat("A person walks a dog along a beach at sunset. ", 6)
	aes := 4.2
	for i := range cc.Clips {
		c := &cc.Clips[i]
		c.Span = [2]float64{float64(i) * 5, float64(i)*5 + 5}
		c.StartFrame, c.EndFrame = i*150, i*150+149
		c.WidthSource, c.HeightSource, c.FrameRateSource = 1920, 1080, 30
		c.Media.Width, c.Media.Height, c.Media.FrameRate, c.Media.NumFrames, c.Media.VideoCodec = 1280, 720, 30, 150, "h264"
		c.Motion = &MotionScore{GlobalMean: 0.8, PerPatchMin256: 0.01}
		c.Aesthetic = &aes
		c.Windows = []Window{{Start: 0, End: 149, Captions: []Caption{{Model: "qwen", Text: caption}}}}
		if !c.Filtered {
			p := writeBlob(b, db, "webp-"+c.ID.String())
			c.Previews = []Preview{{Start: 0, End: 149, Blob: p.Name, Size: p.Size}}
		}
	}
	for i := range cc.Embeddings {
		cc.Embeddings[i].Shape = []int{1, 512}
		cc.Embeddings[i].Data = make([]byte, 512*4)
	}
	return cc
}

// BenchmarkPublishIncrement32Clips: one 32-clip chunk committed, then
// published as an increment (ns/op) and applied by a replica (apply-ms);
// incr-B is the increment's size.
func BenchmarkPublishIncrement32Clips(b *testing.B) {
	owner, err := Open(filepath.Join(b.TempDir(), "db"), Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer owner.Close()
	objects := NewFolderStore(filepath.Join(b.TempDir(), "index"))
	pub := owner.NewPublisher(objects, PublishOptions{RebaseAfter: 1 << 20, RebaseRatio: 1e9})
	defer pub.Close()
	ctx := context.Background()
	if err := owner.CommitChunk(benchChunk(b, owner, "/in/first.mp4", 0, 32)); err != nil {
		b.Fatal(err)
	}
	if _, err := pub.Publish(ctx); err != nil {
		b.Fatal(err)
	}
	r, err := OpenReplica(ctx, objects, b.TempDir(), ReplicaOptions{Blobs: NewFolderStore(filepath.Join(owner.Dir(), "blobs"))})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var bytes int64
	var apply time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if err := owner.CommitChunk(benchChunk(b, owner, fmt.Sprintf("/in/v%d.mp4", i), 0, 32)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := pub.Publish(ctx)
		if err != nil || st.Full {
			b.Fatalf("%+v %v", st, err)
		}
		b.StopTimer()
		bytes += st.Bytes
		t0 := time.Now()
		if ps, err := r.Poll(ctx); err != nil || ps.Applied != 1 {
			b.Fatalf("%+v %v", ps, err)
		}
		apply += time.Since(t0)
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "incr-B")
	b.ReportMetric(float64(apply.Milliseconds())/float64(b.N), "apply-ms")
}

// BenchmarkBasePer1000Clips: a full backup of a database of 1024 clips (32
// chunks of 32), written (ns/op) and its size per 1000 clips (base-B/1000clips);
// bootstrap-ms is a replica built from it.
func BenchmarkBasePer1000Clips(b *testing.B) {
	owner, err := Open(filepath.Join(b.TempDir(), "db"), Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer owner.Close()
	const chunks, clips = 32, 32
	for i := range chunks {
		if err := owner.CommitChunk(benchChunk(b, owner, fmt.Sprintf("/in/v%d.mp4", i), 0, clips)); err != nil {
			b.Fatal(err)
		}
	}
	tmp := filepath.Join(b.TempDir(), "base")
	var size int64
	b.ResetTimer()
	for range b.N {
		if _, size, _, err = writeBackup(owner.kv, tmp, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(size)*1000/(chunks*clips), "base-B/1000clips")
	os.Remove(tmp)

	objects := NewFolderStore(filepath.Join(b.TempDir(), "index"))
	pub := owner.NewPublisher(objects, PublishOptions{})
	defer pub.Close()
	if _, err := pub.Publish(context.Background()); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	r, err := OpenReplica(context.Background(), objects, b.TempDir(), ReplicaOptions{Blobs: NewFolderStore(filepath.Join(owner.Dir(), "blobs"))})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(t0).Milliseconds()), "bootstrap-ms")
	r.Close()
}
