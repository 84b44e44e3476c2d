package test

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKill9ThenRerunMatchesCleanRun kills curation with SIGKILL at several
// moments, re-runs it, and compares the final tree with a clean run's: the
// same files, the same bytes, and no blob left that nothing references.
func TestKill9ThenRerunMatchesCleanRun(t *testing.T) {
	videos := sampleVideos(t, true)
	clean := filepath.Join(t.TempDir(), "clean")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", clean, "--generate-previews", "--workers", "2")
	want := exportTree(t, clean, "/out")

	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			db := filepath.Join(t.TempDir(), "db")
			for kill := 0; kill < 3; kill++ {
				cmd := exec.Command(binPath, "curate", "--input", videos, "--db", db, "--generate-previews", "--workers", "2")
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(200+rng.Intn(1500)) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
			}
			mustClipfs(t, 0, "curate", "--input", videos, "--db", db, "--generate-previews", "--workers", "2")
			got := exportTree(t, db, "/out")
			if out, err := exec.Command("diff", "-r", want, got).CombinedOutput(); err != nil {
				t.Fatalf("tree after kills differs from a clean run:\n%s", out)
			}
			if blobs, media := countFiles(t, filepath.Join(db, "blobs")), servedMedia(t, got); blobs != media {
				t.Errorf("%d blob files, tree serves %d distinct blob-backed files", blobs, media)
			}
		})
	}
}

// TestRerunIsIdempotentAndChangedVideoIsRecurated: a second run adds
// nothing; a video replaced on disk is curated again and its old clips go.
func TestRerunIsIdempotentAndChangedVideoIsRecurated(t *testing.T) {
	videos := copyTree(t, sampleVideos(t, true))
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db)
	first := exportTree(t, db, "/out")
	r := mustClipfs(t, 0, "curate", "--input", videos, "--db", db)
	if !strings.Contains(r.stderr, "0 curated") {
		t.Errorf("second run: %s", r.stderr)
	}
	if out, err := exec.Command("diff", "-r", first, exportTree(t, db, "/out")).CombinedOutput(); err != nil {
		t.Fatalf("second run changed the tree:\n%s", out)
	}

	// Replace the 23 s video by a 12 s one with the same name.
	victim := filepath.Join(videos, "a", "bars_320x240_2997fps_23s.mp4")
	out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-t", "12", "-c:v", "libx264", "-preset", "ultrafast", victim).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	r = mustClipfs(t, 0, "curate", "--input", videos, "--db", db)
	if !strings.Contains(r.stderr, "1 curated") {
		t.Errorf("run after change: %s", r.stderr)
	}
	after := exportTree(t, db, "/out")
	var v videoMeta
	readJSON(t, filepath.Join(after, "processed_videos", "a", "bars_320x240_2997fps_23s.mp4.json"), &v)
	if v.NumFrames != 300 || v.NumTotalClips != 2 {
		t.Errorf("changed video: %+v", v)
	}
	metas, _ := os.ReadDir(filepath.Join(after, "metas", "v0"))
	n := 0
	for _, e := range metas {
		var c clipMeta
		readJSON(t, filepath.Join(after, "metas", "v0", e.Name()), &c)
		if c.SourceVideo == victim {
			n++
			if c.DurationSpan[1] > 12 {
				t.Errorf("old clip survived: %v", c.DurationSpan)
			}
		}
	}
	if n != 2 {
		t.Errorf("changed video has %d clips, want 2", n)
	}
	// Every blob left is media the tree still serves: a clip, or a clip
	// inside a sealed shard (which never changes); old media is gone.
	if blobs, media := countFiles(t, filepath.Join(db, "blobs")), servedMedia(t, after); blobs != media {
		t.Errorf("%d blobs for %d distinct served media files: old media not removed", blobs, media)
	}
}

// TestDryRunAndNoUploadClips: ClipWriterStage's switches.
func TestDryRunAndNoUploadClips(t *testing.T) {
	videos := sampleVideos(t, true)
	dry := filepath.Join(t.TempDir(), "dry")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", dry, "--dry-run")
	exp := exportTree(t, dry, "/out")
	for _, d := range []string{"clips", "metas", "previews"} {
		if _, err := os.Stat(filepath.Join(exp, d)); err == nil {
			t.Errorf("dry run wrote %s/", d)
		}
	}
	if countFiles(t, filepath.Join(exp, "processed_videos")) != countVideos(t, videos) {
		t.Errorf("dry run: processed_videos incomplete")
	}
	var chunk struct {
		Clips      []string `json:"clips"`
		Transcoded int      `json:"num_clips_transcoded"`
	}
	readJSON(t, filepath.Join(exp, "processed_clip_chunks", "clip_320x240_25fps_7s.mp4_0.json"), &chunk)
	if len(chunk.Clips) != 1 || chunk.Transcoded != 0 {
		t.Errorf("dry-run chunk: %+v", chunk)
	}

	noUp := filepath.Join(t.TempDir(), "noup")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", noUp, "--no-upload-clips", "--generate-previews")
	exp = exportTree(t, noUp, "/out")
	if _, err := os.Stat(filepath.Join(exp, "clips")); err == nil {
		t.Errorf("--no-upload-clips served clips/")
	}
	metas, _ := os.ReadDir(filepath.Join(exp, "metas", "v0"))
	if len(metas) == 0 {
		t.Fatal("--no-upload-clips wrote no metas")
	}
	var c clipMeta
	readJSON(t, filepath.Join(exp, "metas", "v0", metas[0].Name()), &c)
	if c.NumBytes == 0 || c.NumFrames == 0 || !c.Valid {
		t.Errorf("--no-upload-clips metas lack the probed clip: %+v", c)
	}
	if countFiles(t, filepath.Join(exp, "previews")) == 0 {
		t.Errorf("--no-upload-clips dropped previews")
	}
}

// servedMedia counts the distinct contents of the blob-backed files of an
// exported tree: clips, previews, index.parquet, and the mp4 members of
// its shards.
func servedMedia(t *testing.T, root string) int {
	t.Helper()
	seen := map[string]bool{}
	clips, _ := filepath.Glob(filepath.Join(root, "clips", "*.mp4"))
	previews, _ := filepath.Glob(filepath.Join(root, "previews", "*", "*.webp"))
	table, _ := filepath.Glob(filepath.Join(root, "index.parquet"))
	for _, c := range append(append(clips, previews...), table...) {
		seen[sha256File(t, c)] = true
	}
	shards, _ := filepath.Glob(filepath.Join(root, "wds", "*.tar"))
	for _, s := range shards {
		f, err := os.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if strings.HasSuffix(h.Name, ".mp4") {
				hash := sha256.New()
				io.Copy(hash, tr)
				seen[hex.EncodeToString(hash.Sum(nil))] = true
			}
		}
		f.Close()
	}
	return len(seen)
}
