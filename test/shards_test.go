package test

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

type widsIndex struct {
	Kind      string `json:"__kind__"`
	Version   int    `json:"wids_version"`
	Shardlist []struct {
		URL      string `json:"url"`
		NSamples int    `json:"nsamples"`
		FileSize int64  `json:"filesize"`
		MD5      string `json:"md5sum"`
	} `json:"shardlist"`
}

// TestShards: curate with small shards, then read them as loaders do.
func TestShards(t *testing.T) {
	needNumpy(t)
	videos := copyTree(t, sampleVideos(t, true))
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db, "--shard-max-samples", "2")
	m := mount(t, db)
	wds := filepath.Join(m.dir, "wds")

	var idx widsIndex
	readJSON(t, filepath.Join(wds, "shards.json"), &idx)
	if idx.Kind != "wids-shard-index-v1" || idx.Version != 1 || len(idx.Shardlist) < 2 {
		t.Fatalf("shards.json: %+v", idx)
	}
	clips, _ := filepath.Glob(filepath.Join(m.dir, "clips", "*.mp4"))
	total := 0
	hashes := map[string]string{}
	for _, s := range idx.Shardlist {
		path := filepath.Join(wds, s.URL)
		st, err := os.Stat(path)
		if err != nil || st.Size() != s.FileSize {
			t.Fatalf("%s: stat %v %v, shards.json says %d", s.URL, st.Size(), err, s.FileSize)
		}
		n := checkShard(t, m.dir, path)
		if n != s.NSamples {
			t.Errorf("%s: %d samples read, nsamples %d", s.URL, n, s.NSamples)
		}
		total += n
		hashes[s.URL] = sha256File(t, path)
		if got := md5File(t, path); s.MD5 != got {
			t.Errorf("%s: md5sum %q in shards.json, the bytes hash to %s", s.URL, s.MD5, got)
		}
	}
	if total != len(clips) {
		t.Errorf("shards hold %d samples, clips/ has %d passed clips", total, len(clips))
	}
	first := filepath.Join(wds, idx.Shardlist[0].URL)
	checkRandomReads(t, first)
	checkPythonTarfile(t, wds, idx)
	checkClipTable(t, m.dir)

	// More videos later: sealed shards keep every byte, new ones appear.
	m.stop(t)
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-t", "25", "-c:v", "libx264", "-preset", "ultrafast", filepath.Join(videos, "late.mp4")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db, "--shard-max-samples", "2")
	m = mountAt(t, db, m.dir)
	var idx2 widsIndex
	readJSON(t, filepath.Join(wds, "shards.json"), &idx2)
	if len(idx2.Shardlist) <= len(idx.Shardlist) {
		t.Errorf("no new shard after curating more: %d then %d", len(idx.Shardlist), len(idx2.Shardlist))
	}
	for url, h := range hashes {
		if got := sha256File(t, filepath.Join(wds, url)); got != h {
			t.Errorf("sealed %s changed after more curation", url)
		}
	}
}

func md5File(t *testing.T, path string) string    { t.Helper(); return hashFile(t, path, md5.New()) }
func sha256File(t *testing.T, path string) string { t.Helper(); return hashFile(t, path, sha256.New()) }

// hashFile streams path through h and returns the hex digest.
func hashFile(t *testing.T, path string, h hash.Hash) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkShard compares the shard with a reference tar built independently
// with archive/tar from the tree's own files, and with GNU tar's view.
func checkShard(t *testing.T, root, path string) int {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ref bytes.Buffer
	tw := tar.NewWriter(&ref)
	tr := tar.NewReader(bytes.NewReader(got))
	keys := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		key, ext, _ := strings.Cut(h.Name, ".")
		keys[key] = true
		var want []byte
		switch ext {
		case "mp4":
			want, err = os.ReadFile(filepath.Join(root, "clips", h.Name))
		case "json":
			meta, rerr := os.ReadFile(filepath.Join(root, "metas", "v0", h.Name))
			want, err = bytes.ReplaceAll(meta, []byte(root+"/clips/"), []byte("clips/")), rerr
		default:
			t.Errorf("%s: unexpected member %s", path, h.Name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: h.Name, Size: int64(len(want)), Mode: 0o644,
			ModTime: h.ModTime, Format: tar.FormatUSTAR})
		tw.Write(want)
	}
	tw.Close()
	if !bytes.Equal(got, ref.Bytes()) {
		t.Errorf("%s: bytes differ from a reference tar of the tree's files", path)
	}
	out, err := exec.Command("tar", "-tvf", path).CombinedOutput()
	if err != nil || strings.Count(string(out), "\n") != 2*len(keys) {
		t.Errorf("tar -tvf %s: %v\n%s", path, err, out)
	}
	x := t.TempDir()
	if out, err := exec.Command("tar", "-xf", path, "-C", x).CombinedOutput(); err != nil {
		t.Errorf("tar -xf %s: %v %s", path, err, out)
	}
	return len(keys)
}

// checkRandomReads: reads at random offsets and lengths (1-byte reads,
// reads across members) equal the same slice of a materialised copy, with
// 8 readers at once.
func checkRandomReads(t *testing.T, path string) {
	t.Helper()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkRandomReadsOf(t, path, want)
}

// checkRandomReadsOf is checkRandomReads against want.
func checkRandomReadsOf(t *testing.T, path string, want []byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for r := range 8 {
		wg.Go(func() {
			f, err := os.Open(path)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer f.Close()
			rng := rand.New(rand.NewSource(int64(r)))
			for range 300 {
				off := rng.Int63n(int64(len(want)))
				n := []int{1, 7, 511, 512, 513, 4096, 70000, 1 << 20}[rng.Intn(8)]
				buf := make([]byte, n)
				k, err := f.ReadAt(buf, off)
				end := min(off+int64(n), int64(len(want)))
				if (err != nil && err != io.EOF) || !bytes.Equal(buf[:k], want[off:end]) {
					errs <- fmt.Sprintf("read %d at %d: %d bytes, %v", n, off, k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// checkPythonTarfile lists every shard with Python's tarfile and checks
// nsamples and member bytes against the files of the tree.
func checkPythonTarfile(t *testing.T, wds string, idx widsIndex) {
	t.Helper()
	var got map[string]struct {
		Keys    int               `json:"keys"`
		Members map[string]string `json:"members"`
	}
	pyJSON(t, &got, `
import hashlib, json, sys, tarfile, os
out = {}
for url in sys.argv[2:]:
    with tarfile.open(os.path.join(sys.argv[1], url)) as tf:
        members = {m.name: hashlib.sha256(tf.extractfile(m).read()).hexdigest() for m in tf.getmembers()}
    out[url] = {"keys": len({n.split(".")[0] for n in members}), "members": members}
json.dump(out, sys.stdout)`, append([]string{wds}, shardURLs(idx)...)...)
	for _, s := range idx.Shardlist {
		g := got[s.URL]
		if g.Keys != s.NSamples {
			t.Errorf("python tarfile: %s has %d samples, nsamples %d", s.URL, g.Keys, s.NSamples)
		}
		names := make([]string, 0, len(g.Members))
		for n := range g.Members {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if strings.HasSuffix(n, ".mp4") {
				want := sha256File(t, filepath.Join(filepath.Dir(wds), "clips", n))
				if g.Members[n] != want {
					t.Errorf("python tarfile: %s/%s differs from clips/%s", s.URL, n, n)
				}
			}
		}
	}
}

func shardURLs(idx widsIndex) []string {
	var out []string
	for _, s := range idx.Shardlist {
		out = append(out, s.URL)
	}
	return out
}
