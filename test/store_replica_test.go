package test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// chunkView watches one `clipfs mount s3://` while the owner publishes:
// each round reads the tree as a reader would and checks that every chunk
// it shows is whole. Curating new videos only adds to the tree, so what a
// round lists first must be whole in what it reads after: a clip's metas
// or media listed before the chunk files must belong to a chunk file read
// after, and every clip a chunk file names must have its metas and media.
type chunkView struct {
	mnt    string
	seen   map[string]string // path -> SHA-256 of the bytes read, for the end
	rounds int
	states map[int]int // chunk files a round saw -> rounds that saw that many
	first  int         // chunk files of the first round
	err    error
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// read reads rel (whole; the media once per view) and remembers its hash.
func (v *chunkView) read(rel string) ([]byte, error) {
	if _, ok := v.seen[rel]; ok && strings.HasSuffix(rel, ".mp4") {
		_, err := os.Stat(filepath.Join(v.mnt, rel))
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(v.mnt, rel))
	if err != nil {
		return nil, err
	}
	h := sha(b)
	if old, ok := v.seen[rel]; ok && old != h {
		return nil, fmt.Errorf("%s changed bytes between two rounds", rel)
	}
	v.seen[rel] = h
	return b, nil
}

func listNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, err
}

// round is one look at the tree; an error is half a chunk (or a read that
// failed).
func (v *chunkView) round() error {
	metas, err := listNames(filepath.Join(v.mnt, "metas", "v0"))
	if err != nil {
		return err
	}
	media, err := listNames(filepath.Join(v.mnt, "clips"))
	if err != nil {
		return err
	}
	var chunkFiles []string
	root := filepath.Join(v.mnt, "processed_clip_chunks")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return filepath.SkipDir
		}
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(v.mnt, p)
			chunkFiles = append(chunkFiles, rel)
		}
		return err
	})
	if err != nil {
		return err
	}
	inChunk := map[string]string{}
	for _, rel := range chunkFiles {
		b, err := v.read(rel)
		if err != nil {
			return err
		}
		var ch struct {
			Video    string   `json:"video"`
			Index    int      `json:"clip_chunk_index"`
			Passed   int      `json:"num_clips_passed"`
			Clips    []string `json:"clips"`
			Filtered []string `json:"filtered_clips"`
		}
		if err := json.Unmarshal(b, &ch); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if ch.Passed != len(ch.Clips) || len(ch.Clips) == 0 {
			return fmt.Errorf("%s: %d clips, num_clips_passed %d", rel, len(ch.Clips), ch.Passed)
		}
		video := strings.TrimSuffix(strings.TrimPrefix(rel, "processed_clip_chunks/"), fmt.Sprintf("_%d.json", ch.Index))
		var vm struct {
			Chunks int `json:"num_clip_chunks"`
		}
		vb, err := v.read(filepath.Join("processed_videos", video+".json"))
		if err == nil {
			err = json.Unmarshal(vb, &vm)
		}
		if err != nil {
			return fmt.Errorf("half a chunk: %s without its video's processed_videos/%s.json: %w", rel, video, err)
		}
		if ch.Index >= vm.Chunks {
			return fmt.Errorf("%s: chunk %d of a video of %d chunks", rel, ch.Index, vm.Chunks)
		}
		for _, c := range ch.Clips {
			inChunk[c] = rel
			if _, err := v.read("metas/v0/" + c + ".json"); err != nil {
				return fmt.Errorf("half a chunk: %s lists clip %s: %w", rel, c, err)
			}
			if _, err := v.read("clips/" + c + ".mp4"); err != nil {
				return fmt.Errorf("half a chunk: %s lists clip %s: %w", rel, c, err)
			}
		}
		for _, c := range ch.Filtered {
			inChunk[c] = rel
			if _, err := v.read("metas/v0/" + c + ".json"); err != nil {
				return fmt.Errorf("half a chunk: %s lists filtered clip %s: %w", rel, c, err)
			}
		}
	}
	for _, name := range metas {
		if _, ok := inChunk[strings.TrimSuffix(name, ".json")]; !ok {
			return fmt.Errorf("half a chunk: metas/v0/%s listed, no chunk file read after it names the clip", name)
		}
	}
	for _, name := range media {
		if _, ok := inChunk[strings.TrimSuffix(name, ".mp4")]; !ok {
			return fmt.Errorf("half a chunk: clips/%s listed, no chunk file read after it names the clip", name)
		}
	}
	if v.rounds == 0 {
		v.first = len(chunkFiles)
	}
	v.rounds++
	v.states[len(chunkFiles)]++
	return nil
}

// manifests counts the replication manifests under prefix/index/.
func manifests(t *testing.T, srv *s3test.Server, prefix string) int {
	t.Helper()
	cl, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for obj := range cl.ListObjects(context.Background(), srv.Bucket, minio.ListObjectsOptions{Prefix: prefix + "/index/manifest-"}) {
		if obj.Err == nil {
			n++
		}
	}
	return n
}

// TestReplicaBootstrappedMidRunNeverShowsHalfAChunk: while `clipfs serve
// --store` curates videos copied in one after another (one chunk of 12
// one-second clips each) and publishes its index every 5 s, a `clipfs
// mount s3://` is started after each copy, polling every 200 ms, so that
// replicas bootstrap from the base and increments at different moments of
// the run (rebases among them). Each mount is read in rounds until the
// end, and no round shows half a chunk: every chunk file's clips have
// their metas and media, every listed clip's chunk file is there, its
// video's processed_videos file too, and every byte read mid-run is the
// byte the final export has.
func TestReplicaBootstrappedMidRunNeverShowsHalfAChunk(t *testing.T) {
	needFUSE(t)
	needMedia(t)
	srv := useS3(t)
	const prefix, nVideos = "live", 4
	uri := srv.URI(prefix)
	src := t.TempDir()
	for i := range nVideos {
		ffmpeg(t, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=s=320x240:r=25:d=12,hue=h=%d", 40*i), "-c:v", "libx264",
			"-preset", "ultrafast", "-threads", "1", filepath.Join(src, fmt.Sprintf("v%d.mp4", i)))
	}
	input, db, mnt := serveDirs(t)
	s := serve(t, input, db, mnt, "--store", uri, "--fixed-stride-split-duration", "1", "--fixed-stride-stride", "1", "--fixed-stride-min-clip-length-s", "0.5")

	var mu sync.Mutex
	var views []*chunkView
	stop := make(chan struct{})
	var wg sync.WaitGroup
	startView := func() {
		dir := filepath.Join(t.TempDir(), "mnt")
		os.MkdirAll(dir, 0o755)
		at := manifests(t, srv, prefix)
		mountWith(t, dir, "mount", uri, dir, "--cache-dir", filepath.Join(t.TempDir(), "cache"), "--cache-size", "1GiB",
			"--poll", "200ms", "--output-path", "/out")
		v := &chunkView{mnt: dir, seen: map[string]string{}, states: map[int]int{}}
		mu.Lock()
		views = append(views, v)
		mu.Unlock()
		t.Logf("mount %d started with %d manifests in the bucket", len(views), at)
		wg.Go(func() {
			for {
				if v.err = v.round(); v.err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}

	for i := range nVideos {
		copyFile(t, filepath.Join(src, fmt.Sprintf("v%d.mp4", i)), filepath.Join(input, fmt.Sprintf("v%d.mp4", i)))
		if i == 0 {
			waitFor(t, time.Minute, "the first manifest", func() bool { return manifests(t, srv, prefix) > 0 })
		}
		time.Sleep(time.Duration(700+900*i) * time.Millisecond)
		startView()
	}
	waitIdle(t, db, nVideos)
	s.stop(t) // publishes once more at the end
	want := hashTree(t, exportTree(t, db, "/out"))
	chunks := 0
	for rel := range want {
		if strings.HasPrefix(rel, "processed_clip_chunks/") && !strings.HasSuffix(rel, "/") {
			chunks++
		}
	}
	if chunks != nVideos {
		t.Fatalf("the export has %d chunk files, want %d", chunks, nVideos)
	}
	// Every mount catches up with the last publish.
	waitFor(t, time.Minute, "every mount to show every chunk", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range views {
			if ents, _ := os.ReadDir(filepath.Join(v.mnt, "processed_clip_chunks")); len(ents) < nVideos {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // a last round on each
	close(stop)
	wg.Wait()

	midRun := 0
	for i, v := range views {
		t.Logf("mount %d: %d rounds, first showed %d chunks; rounds by chunks shown %v", i+1, v.rounds, v.first, v.states)
		if v.err != nil {
			t.Errorf("mount %d: %v", i+1, v.err)
		}
		if v.first < nVideos {
			midRun++
		}
		for rel, h := range v.seen {
			if want[rel] != h {
				t.Errorf("mount %d read %s mid-run with bytes the final export does not have", i+1, rel)
			}
		}
	}
	if midRun == 0 {
		t.Error("no mount bootstrapped before the run's end: the test saw no mid-run state")
	}
	last := views[len(views)-1]
	deadline := time.Now().Add(30 * time.Second)
	for got := hashTree(t, last.mnt); ; got = hashTree(t, last.mnt) {
		if fmt.Sprint(got) == fmt.Sprint(want) || time.Now().After(deadline) {
			sameTree(t, "the last mount at the end vs the export", want, got, nil)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
}
