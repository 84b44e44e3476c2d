package test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// hashObjects lists every object under prefix/ with its sha256, by the
// path below prefix, as hashTree lists a folder's files.
func hashObjects(t *testing.T, srv *s3test.Server, prefix string) map[string]string {
	t.Helper()
	cl, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out := map[string]string{}
	for obj := range cl.ListObjects(ctx, srv.Bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		r, err := cl.GetObject(ctx, srv.Bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", obj.Key, err)
		}
		out[strings.TrimPrefix(obj.Key, prefix+"/")] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

// filesOf is a hashTree without its folders (a bucket has none).
func filesOf(tree map[string]string) map[string]string {
	out := map[string]string{}
	for rel, h := range tree {
		if !strings.HasSuffix(rel, "/") {
			out[filepath.ToSlash(rel)] = h
		}
	}
	return out
}

// oneLine is stderr's last line, and fails when stderr has others.
func oneLine(t *testing.T, what, stderr string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1 {
		t.Errorf("%s: %d lines, want one:\n%s", what, len(lines), stderr)
	}
	return lines[len(lines)-1]
}

// TestExportImportThroughObjectStorage: `export --out s3://` writes, as
// objects, byte for byte the files a local export writes (clip_location
// naming the URI, as NeMo records its output_path); `import --from s3://`
// of that bucket gives a database whose tree is the curated one, shards
// and index.parquet included. A non-empty prefix is refused, a prefix with
// no tree and a server that is down are one clear line each, the second
// "unfinished", and the import then finishes on a re-run.
func TestExportImportThroughObjectStorage(t *testing.T) {
	videos := sampleVideos(t, true)
	srv := useS3(t)
	uri := srv.URI("nemo/run1")
	dbA := filepath.Join(t.TempDir(), "dbA")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", dbA, "--generate-previews", "--workers", workers())
	local := hashTree(t, exportTree(t, dbA, uri))

	start := time.Now()
	r := mustClipfs(t, 0, "export", "--db", dbA, "--out", uri+"/")
	t.Logf("export to the bucket: %s, %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(r.stderr))
	if line := oneLine(t, "export", r.stderr); !strings.HasSuffix(line, "to "+uri) {
		t.Errorf("export to the bucket says %q", line)
	}
	objects := hashObjects(t, srv, "nemo/run1")
	want := filesOf(local)
	sameTree(t, "bucket vs local export", want, objects, nil)
	for _, rel := range []string{"wds/shard-000000.tar", "index.parquet", "processed_videos"} {
		found := false
		for k := range objects {
			found = found || strings.HasPrefix(k, rel)
		}
		if !found {
			t.Errorf("the bucket holds no %s", rel)
		}
	}

	// A prefix that holds something is refused, as a non-empty folder is.
	r = clipfs(t, "export", "--db", dbA, "--out", uri)
	if line := oneLine(t, "export onto the export", r.stderr); r.code == 0 || line != "clipfs: export: "+uri+" is not empty" {
		t.Errorf("export onto a non-empty prefix: exit %d, %q", r.code, line)
	}
	if got := hashObjects(t, srv, "nemo/run1"); len(got) != len(objects) {
		t.Errorf("the refused export changed the bucket: %d objects, were %d", len(got), len(objects))
	}

	// Import of the bucket: the same tree as the curated database.
	// It goes through a counting proxy: the import takes sizes and mtimes
	// from the folder listings, so no metas or clip file is stat'ed on its
	// own (a HEAD) beside what reading it asks.
	dbB := filepath.Join(t.TempDir(), "dbB")
	counter := srv.Counter(t)
	t.Setenv("AWS_ENDPOINT_URL", counter.Endpoint)
	start = time.Now()
	r = mustClipfs(t, 0, "import", "--from", uri, "--db", dbB, "--input-path", videos)
	t.Logf("import from the bucket: %s", time.Since(start).Round(time.Millisecond))
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	files := 0
	for rel := range objects {
		if !strings.HasPrefix(rel, "metas/v0/") && !strings.HasPrefix(rel, "clips/") {
			continue
		}
		files++
		heads := 0 // a metas file is read whole (a GET)
		if strings.HasPrefix(rel, "clips/") {
			heads = 1 // a clip is opened (a HEAD, whose size and ETag its reads are held to), then read
		}
		if rd := counter.Reads("nemo/run1/" + rel); rd.GETs == 0 || rd.HEADs > heads {
			t.Errorf("the import read %s with %d GETs and %d HEADs; want its GETs and at most %d HEADs", rel, rd.GETs, rd.HEADs, heads)
		}
	}
	if files == 0 {
		t.Error("the bucket holds no metas or clips to count")
	}
	if !strings.Contains(r.stderr, "0 files failed") || strings.Contains(r.stderr, " 0 imported") {
		t.Errorf("import from the bucket: %s", r.stderr)
	}
	sameTree(t, "import from the bucket", local, hashTree(t, exportTree(t, dbB, uri)), nil)
	r = mustClipfs(t, 0, "import", "--from", uri, "--db", dbB)
	if !strings.Contains(r.stderr, "0 imported") || !strings.Contains(r.stderr, "0 chunks") {
		t.Errorf("second import from the bucket: %s", r.stderr)
	}

	// A prefix with no tree.
	missing := srv.URI("nemo/nothing")
	r = clipfs(t, "import", "--from", missing, "--db", filepath.Join(t.TempDir(), "dbC"))
	if line := oneLine(t, "import of a missing prefix", r.stderr); r.code != 1 ||
		line != "clipfs: import "+missing+": not a ClipWriterStage output tree (no processed_videos folder)" {
		t.Errorf("import of a missing prefix: exit %d, %q", r.code, line)
	}

	// The server down: unfinished (exit 4), one line naming the URI; the
	// re-run once it is back imports the tree.
	dbD := filepath.Join(t.TempDir(), "dbD")
	srv.Stop()
	r = clipfs(t, "import", "--from", uri, "--db", dbD)
	if line := oneLine(t, "import with the server down", r.stderr); r.code != 4 || !strings.Contains(line, uri) {
		t.Errorf("import with the server down: exit %d, %q", r.code, line)
	}
	srv.Restart()
	mustClipfs(t, 0, "import", "--from", uri, "--db", dbD, "--input-path", videos)
	sameTree(t, "import after the server came back", local, hashTree(t, exportTree(t, dbD, uri)), nil)
}
