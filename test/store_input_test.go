package test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// uploadTree puts every file under dir into the bucket under prefix/,
// keyed by its path below dir, and returns the keys with their sizes.
func uploadTree(t *testing.T, srv *s3test.Server, dir, prefix string) map[string]int64 {
	t.Helper()
	cl, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int64{}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := cl.FPutObject(context.Background(), srv.Bucket, prefix+"/"+filepath.ToSlash(rel), p, minio.PutObjectOptions{})
		keys[prefix+"/"+filepath.ToSlash(rel)] = info.Size
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// clipKeys maps each clip's uuid in an export to "REL SPAN": its video's
// name below the input (source_video less root) and its span, which a
// clip of the same video curated from another place shares.
func clipKeys(t *testing.T, export, root string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(export, "metas", "v0"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		var m struct {
			UUID   string     `json:"span_uuid"`
			Source string     `json:"source_video"`
			Span   [2]float64 `json:"duration_span"`
		}
		readJSON(t, filepath.Join(export, "metas", "v0", e.Name()), &m)
		rel, ok := strings.CutPrefix(m.Source, root)
		if !ok {
			t.Errorf("%s: source_video %q is not under %s", e.Name(), m.Source, root)
		}
		out[m.UUID] = rel + " " + strings.Trim(strings.Join(strings.Fields(strings.Trim(jsonText(m.Span), "[]")), " "), " ")
	}
	return out
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// normalisedTree is an export with every uuid replaced by the clip's key
// (clipKeys) and every source_video's root by "ROOT/": each path with
// the sha256 of its bytes so rewritten, and each WebDataset shard as its
// members (the tar itself differs: its members' sizes and times do).
func normalisedTree(t *testing.T, export, root string) map[string]string {
	t.Helper()
	keys := clipKeys(t, export, root)
	rewrite := func(s string) string {
		s = uuidRE.ReplaceAllStringFunc(s, func(u string) string {
			if k, ok := keys[u]; ok {
				return "<" + k + ">"
			}
			return u
		})
		return strings.ReplaceAll(s, jsonEscaped(root), "ROOT/")
	}
	digest := func(b []byte, name string) string {
		if strings.HasSuffix(name, ".json") {
			b = []byte(rewrite(string(b)))
		}
		h := sha256.Sum256(b)
		return hex.EncodeToString(h[:])
	}
	out := map[string]string{}
	for rel, h := range hashTree(t, export) {
		p := filepath.Join(export, rel)
		switch {
		case strings.HasSuffix(rel, "/") || rel == "index.parquet" || rel == "wds/shards.json":
			out[rewrite(rel)] = h // index.parquet and shards.json: compared below
		case strings.HasSuffix(rel, ".tar"):
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(f)
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("%s: %v", rel, err)
				}
				b, _ := io.ReadAll(tr)
				out[rewrite(rel+"!"+hdr.Name)] = digest(b, hdr.Name)
			}
			f.Close()
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[rewrite(rel)] = digest(b, rel)
		}
	}
	return out
}

// jsonEscaped is s as clipfs's (Python-style, ASCII) JSON writes it.
func jsonEscaped(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
		} else {
			b.WriteString(strings.Trim(strings.ToLower(jsonASCII(r)), `"`))
		}
	}
	return b.String()
}

func jsonASCII(r rune) string {
	if r > 0xffff {
		return string(r) // not in the sample names
	}
	const hexdigits = "0123456789abcdef"
	return `\u` + string([]byte{hexdigits[r>>12&15], hexdigits[r>>8&15], hexdigits[r>>4&15], hexdigits[r&15]})
}

// TestCurateFromObjectStorage: `clipfs curate --input s3://BUCKET/videos/`
// curates the videos of a bucket where they are: ffmpeg reads them through
// presigned URLs with range requests (clipfs itself downloads none), the
// tree is the local curation's with source_video the object's s3:// URI
// (and the clip uuids NeMo derives from it), a second run is up to date, a
// replaced object is curated again, a corrupt one fails alone in one line,
// and a server that is down leaves the run unfinished.
func TestCurateFromObjectStorage(t *testing.T) {
	videos := sampleVideos(t, true)
	srv := useS3(t)
	keys := uploadTree(t, srv, videos, "videos")
	uploadTree(t, srv, writeFiles(t, map[string]string{"README.txt": "not a video"}), "videos")
	proxy := srv.Counter(t) // counts the GETs of the videos
	t.Setenv("AWS_ENDPOINT_URL", proxy.Endpoint)
	input := srv.URI("videos") + "/"

	dbS := filepath.Join(t.TempDir(), "dbS")
	r := mustClipfs(t, 0, "curate", "--input", input, "--db", dbS, "--generate-previews", "--workers", workers())
	if !strings.Contains(r.stderr, "6 videos: 6 curated") {
		t.Errorf("curate of the bucket:\n%s", r.stderr)
	}
	dbL := filepath.Join(t.TempDir(), "dbL")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", dbL, "--generate-previews", "--workers", workers())

	expS, expL := exportTree(t, dbS, "/out"), exportTree(t, dbL, "/out")
	var pv map[string]any
	readJSON(t, filepath.Join(expS, "processed_videos", "a", "with spaces.webm.json"), &pv)
	if got, want := pv["video"], input+"a/with spaces.webm"; got != want {
		t.Errorf("processed_videos/a/with spaces.webm.json: video %q, want the object's URI %q", got, want)
	}
	kS, kL := clipKeys(t, expS, input), clipKeys(t, expL, videos+"/")
	if len(kS) != len(kL) || len(kS) == 0 {
		t.Errorf("%d clips from the bucket, %d from the folder", len(kS), len(kL))
	}
	sameTree(t, "bucket curation vs local (uuids and source_video roots normalised)",
		normalisedTree(t, expL, videos+"/"), normalisedTree(t, expS, input),
		func(rel string) bool { return rel == "index.parquet" || rel == "wds/shards.json" })
	var shS, shL struct {
		Shards []struct {
			N int `json:"nsamples"`
		} `json:"shardlist"`
	}
	readJSON(t, filepath.Join(expS, "wds", "shards.json"), &shS)
	readJSON(t, filepath.Join(expL, "wds", "shards.json"), &shL)
	if jsonText(shS) != jsonText(shL) {
		t.Errorf("shards.json: %s from the bucket, %s from the folder", jsonText(shS), jsonText(shL))
	}

	// Only ffmpeg and ffprobe read the videos, and they seek with ranges.
	var ranged int
	for key, size := range keys {
		rd := proxy.Reads(key)
		t.Logf("%s: %d bytes served (object %d) in %d GETs, ranges %q", key, rd.Bytes, size, rd.GETs, rd.Ranges)
		ranged += rd.Ranged
		if rd.GETs == 0 {
			t.Errorf("%s was never read through the proxy", key)
		}
		for agent := range rd.Agents {
			if agent != "Lavf" {
				t.Errorf("%s was read by %q, not by ffmpeg (Lavf): clipfs must not download it", key, agent)
			}
		}
	}
	if ranged == 0 {
		t.Error("no GET of a video had a Range header: ffmpeg did not seek")
	}
	if n := countFiles(t, filepath.Join(dbS, "tmp")); n != 0 {
		t.Errorf("%d files left in the database's tmp folder", n)
	}
	if leaked := regexp.MustCompile(`X-Amz-|https?://`).FindString(r.stderr); leaked != "" {
		t.Errorf("curate's output shows a URL (%q):\n%s", leaked, r.stderr)
	}

	r = mustClipfs(t, 0, "curate", "--input", input, "--db", dbS, "--generate-previews", "--workers", workers())
	if !strings.Contains(r.stderr, "0 curated, 6 up to date") {
		t.Errorf("second run:\n%s", r.stderr)
	}

	// Replace one object (with another sample's bytes): it alone is curated again.
	cl, _ := srv.Client()
	if _, err := cl.FPutObject(context.Background(), srv.Bucket, "videos/clip_320x240_25fps_7s.mp4",
		filepath.Join(videos, "a", "bars_320x240_2997fps_23s.mp4"), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	r = mustClipfs(t, 0, "curate", "--input", input, "--db", dbS, "--generate-previews", "--workers", workers())
	if !strings.Contains(r.stderr, "1 curated, 5 up to date") {
		t.Errorf("after replacing an object:\n%s", r.stderr)
	}
	readJSON(t, filepath.Join(exportTree(t, dbS, "/out"), "processed_videos", "clip_320x240_25fps_7s.mp4.json"), &pv)
	if d, _ := pv["duration"].(float64); d < 20 {
		t.Errorf("the replaced video's record says %v s, want the new 23 s video's", pv["duration"])
	}

	// A corrupt object fails alone, in one line naming its URI.
	if _, err := cl.PutObject(context.Background(), srv.Bucket, "videos/broken.mp4", strings.NewReader("no mp4"), 6, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	r = mustClipfs(t, 3, "curate", "--input", input, "--db", dbS, "--workers", workers())
	if !regexp.MustCompile(`(?m)^.*`+regexp.QuoteMeta(input+"broken.mp4: not a readable video: ")+`.*$`).MatchString(r.stderr) || strings.Contains(r.stderr, "X-Amz-") {
		t.Errorf("a corrupt object:\n%s", r.stderr)
	}

	// A server that is down: the run is unfinished (exit 4), in one line.
	srv.Stop()
	r = mustClipfs(t, 4, "curate", "--input", input, "--db", dbS, "--workers", workers())
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], input) {
		t.Errorf("curate with the server down:\n%s", r.stderr)
	}
	// serve watches folders only, and says so.
	r = mustClipfs(t, 2, "serve", "--input", input, "--db", dbS, "--mount", t.TempDir())
	if !strings.Contains(r.stderr, "--input takes a folder to watch, not "+input) {
		t.Errorf("serve --input s3://:\n%s", r.stderr)
	}
}

// writeFiles writes name → content into a new folder.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(files[n]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
