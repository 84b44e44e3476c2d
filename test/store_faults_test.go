package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"

	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// Faults of object storage, end to end: a server that dies under a mount
// gives EIO, never a short or wrong file, and the mount recovers when it
// is back; curate killed during its uploads leaves nothing a re-run does
// not clean up.

// eioWithin bounds how long a read through an s3 mount may take to fail
// once the server is gone (cmd/clipfs/mount.go tunes the mount's retries
// to stay well inside it).
const eioWithin = 60 * time.Second

// readThrough copies src (a file in a mount) to a fresh file with cp,
// killed after limit: the bytes it got, how long it took, and cp's error
// with its message.
func readThrough(t *testing.T, src string, limit time.Duration) ([]byte, time.Duration, error, string) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "cp", src, dst).CombinedOutput()
	took := time.Since(start)
	b, _ := os.ReadFile(dst)
	return b, took, err, string(out)
}

// firstFile is the first file under root, in walk order, whose path ends
// in suffix and holds a folder named in, relative to root.
func firstFile(t *testing.T, root, in, suffix string) string {
	t.Helper()
	found := ""
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && found == "" && !d.IsDir() && strings.HasSuffix(p, suffix) &&
			strings.Contains(p, string(filepath.Separator)+in+string(filepath.Separator)) {
			found, _ = filepath.Rel(root, p)
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no %s/…%s file in %s", in, suffix, root)
	}
	return found
}

// TestObjectStorageServerKilledDuringColdRead: with the server killed, a
// read through `clipfs mount s3://` of a clip and of a shard the cache has
// not seen fails with EIO within eioWithin, never giving a short or wrong
// file; once the server is back, the same reads give the export's bytes.
func TestObjectStorageServerKilledDuringColdRead(t *testing.T) {
	needFUSE(t)
	videos := sampleVideos(t, true)
	srv := useS3(t)
	uri := srv.URI("cold")
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db, "--store", uri, "--generate-previews", "--workers", workers())

	mnt := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(mnt, 0o755)
	export := exportTree(t, db, mnt)
	clip := firstFile(t, export, "clips", ".mp4")
	shard := firstFile(t, export, "wds", ".tar")
	m := mountWith(t, mnt, "mount", uri, mnt, "--cache-dir", filepath.Join(t.TempDir(), "cache"), "--cache-size", "1GiB", "--poll", "1s")

	srv.Kill()
	for _, rel := range []string{clip, shard} {
		want, err := os.ReadFile(filepath.Join(export, rel))
		if err != nil {
			t.Fatal(err)
		}
		got, took, err, msg := readThrough(t, filepath.Join(mnt, rel), 2*eioWithin)
		t.Logf("%s with the server down: %v after %s (%d of %d bytes)", rel, err, took.Round(time.Millisecond), len(got), len(want))
		switch {
		case err == nil && !bytes.Equal(got, want):
			t.Errorf("%s read with the server down gave %d bytes that are not the export's %d", rel, len(got), len(want))
		case err == nil:
			t.Errorf("%s read whole with the server down: it was cached before any read", rel)
		case !strings.Contains(msg, "Input/output error"):
			t.Errorf("%s with the server down: %v %s, want EIO", rel, err, msg)
		case took > eioWithin:
			t.Errorf("%s: EIO only after %s, want within %s", rel, took, eioWithin)
		}
	}

	srv.Restart()
	for _, rel := range []string{clip, shard} {
		want, _ := os.ReadFile(filepath.Join(export, rel))
		got, took, err, msg := readThrough(t, filepath.Join(mnt, rel), 2*eioWithin)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after the server is back: %v %s (%d of %d bytes, %s)\n%s", rel, err, msg, len(got), len(want), took, m.stderr)
		}
	}
}

// bucketBlobs lists the objects under prefix/blobs/ but the store's claim.
func bucketBlobs(t *testing.T, srv *s3test.Server, prefix string) []string {
	t.Helper()
	cl, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for obj := range cl.ListObjects(context.Background(), srv.Bucket, minio.ListObjectsOptions{Prefix: prefix + "/blobs/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list %s/blobs/: %v", prefix, obj.Err)
		}
		if !strings.HasSuffix(obj.Key, "/CLIPFS") {
			keys = append(keys, obj.Key)
		}
	}
	return keys
}

// unfinishedUploads lists the multipart uploads begun under prefix/ and
// neither completed nor aborted.
func unfinishedUploads(t *testing.T, srv *s3test.Server, prefix string) []string {
	t.Helper()
	cl, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for up := range cl.ListIncompleteUploads(context.Background(), srv.Bucket, prefix+"/", true) {
		if up.Err != nil {
			t.Fatalf("list the uploads under %s/: %v", prefix, up.Err)
		}
		keys = append(keys, up.Key)
	}
	return keys
}

// TestCurateKilledDuringUploadsToObjectStorage: `clipfs curate --store`
// killed with SIGKILL once its first uploads land in the bucket, then run
// again, gives the export of a clean run byte for byte; the re-run's
// writable open removes the blobs no record names and aborts the
// unfinished multipart uploads (one is begun beside the killed run's, as a
// kill during a multipart Put leaves it: these clips are below the part
// size), and `clipfs check` then finds nothing, though it names an orphan
// object and an unfinished upload put in the bucket afterwards.
func TestCurateKilledDuringUploadsToObjectStorage(t *testing.T) {
	in := noisyInput(t)
	_, clean := cleanRun(t, in, "--generate-previews")
	srv := useS3(t)
	const prefix = "killed"
	uri := srv.URI(prefix)
	db := filepath.Join(t.TempDir(), "db")

	cmd := exec.Command(binPath, "curate", "--input", in, "--db", db, "--store", uri, "--generate-previews", "--workers", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	landed := 0
	for deadline := time.Now().Add(2 * time.Minute); landed < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("curate ended (exit %d) before two uploads landed:\n%s", cmd.ProcessState.ExitCode(), &stderr)
		default:
		}
		landed = len(bucketBlobs(t, srv, prefix))
	}
	cmd.Process.Kill()
	<-done
	t.Logf("curate killed with %d blobs in the bucket", landed)
	if landed < 2 {
		t.Fatalf("no uploads within 2 minutes:\n%s", &stderr)
	}

	// What a kill during a multipart Put leaves: an upload with a part.
	cl, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	core := minio.Core{Client: cl}
	partial := prefix + "/blobs/" + uuid.NewString() + ".mp4"
	id, err := core.NewMultipartUpload(ctx, srv.Bucket, partial, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("x"), 5<<20)
	if _, err := core.PutObjectPart(ctx, srv.Bucket, partial, id, 1, bytes.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}

	if ups := unfinishedUploads(t, srv, prefix); len(ups) == 0 {
		t.Fatal("the bucket lists no unfinished upload after one was begun")
	}
	before := bucketBlobs(t, srv, prefix)

	r := mustClipfs(t, 0, "curate", "--input", in, "--db", db, "--store", uri, "--generate-previews", "--workers", workers())
	sameAsClean(t, db, clean)
	after := map[string]bool{}
	for _, k := range bucketBlobs(t, srv, prefix) {
		after[k] = true
	}
	swept := 0
	for _, k := range before {
		if !after[k] {
			swept++
		}
	}
	t.Logf("the re-run removed %d of the %d blobs the killed run left unreferenced or not", swept, len(before))
	if ups := unfinishedUploads(t, srv, prefix); len(ups) > 0 {
		t.Errorf("unfinished uploads left after the re-run: %q\n%s", ups, r.stderr)
	}
	if r := mustClipfs(t, 0, "check", "--db", db, "--read-data"); !strings.Contains(r.stderr, " 0 problems") {
		t.Errorf("check after the re-run:\n%s", r.stderr)
	}

	// check sees the bucket: an object no record names is an orphan.
	orphan := uuid.NewString() + ".mp4"
	if _, err := cl.PutObject(ctx, srv.Bucket, prefix+"/blobs/"+orphan, bytes.NewReader([]byte("not a clip")), 10, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	unfinished := uuid.NewString() + ".mp4"
	id, err = core.NewMultipartUpload(ctx, srv.Bucket, prefix+"/blobs/"+unfinished, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lines := checkFinds(t, db, nil, orphan, unfinished)
	if len(lines) != 2 || !strings.Contains(strings.Join(lines, "\n"), "referenced by no record") || !strings.Contains(strings.Join(lines, "\n"), "unfinished since") {
		t.Errorf("want a line naming the orphan object and one naming the unfinished upload: %q", lines)
	}
}
