package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// useS3 starts a SeaweedFS and points clipfs processes at it (the AWS_*
// variables, which the child processes inherit).
func useS3(t *testing.T) *s3test.Server {
	t.Helper()
	srv := s3test.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return srv
}

// TestCurateIntoObjectStorage: curating with --store keeps no clip media in
// the database folder, and the database (which remembers its store) exports
// and checks through the bucket exactly as a local run does.
func TestCurateIntoObjectStorage(t *testing.T) {
	videos := sampleVideos(t, true)
	srv := useS3(t)
	uri := srv.URI("run1")
	dbS := filepath.Join(t.TempDir(), "dbS")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", dbS, "--store", uri, "--generate-previews", "--workers", workers())
	for _, sub := range []string{"blobs", "tmp"} {
		n := 0
		filepath.WalkDir(filepath.Join(dbS, sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		if n > 0 {
			t.Errorf("%d files left in the database's %s/ folder", n, sub)
		}
	}
	dbL := filepath.Join(t.TempDir(), "dbL")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", dbL, "--generate-previews", "--workers", workers())
	want := hashTree(t, exportTree(t, dbL, "/out"))
	got := hashTree(t, exportTree(t, dbS, "/out"))
	sameTree(t, "export of the --store database vs a local one", want, got, nil)

	r := mustClipfs(t, 0, "check", "--db", dbS, "--read-data")
	if !strings.Contains(r.stderr, " 0 problems") {
		t.Errorf("check of the --store database:\n%s", r.stderr)
	}
	// The database remembers its store: another one, or none, is refused.
	if r := clipfs(t, "curate", "--input", videos, "--db", dbS, "--store", srv.URI("other")); r.code == 0 || !strings.Contains(r.stderr, "keeps its blobs in "+uri) {
		t.Errorf("curate with another --store: exit %d\n%s", r.code, r.stderr)
	}
	// A second database cannot take over a store that holds another's blobs.
	if r := clipfs(t, "curate", "--input", videos, "--db", filepath.Join(t.TempDir(), "dbX"), "--store", uri); r.code == 0 || !strings.Contains(r.stderr, "holds the blobs of another database") {
		t.Errorf("a second database on the same store: exit %d\n%s", r.code, r.stderr)
	}
}

// TestMountFromObjectStorage: a mount of s3://BUCKET/PREFIX, in a process
// with its own empty cache and no access to the database, shows byte for
// byte what an export of the database shows (shards and index.parquet
// included), and more curation appears in it without a remount.
func TestMountFromObjectStorage(t *testing.T) {
	needFUSE(t)
	videos := sampleVideos(t, true)
	srv := useS3(t)
	uri := srv.URI("team/clips")
	in := copyTree(t, videos)
	held := filepath.Join(t.TempDir(), "held")
	var late string // the longest video, curated only after the mount is up
	var size int64
	filepath.WalkDir(in, func(p string, d os.DirEntry, err error) error {
		if info, ierr := d.Info(); err == nil && ierr == nil && !d.IsDir() && strings.HasSuffix(p, ".mp4") && info.Size() > size {
			late, size = p, info.Size()
		}
		return nil
	})
	if late == "" {
		t.Fatal("no .mp4 among the sample videos")
	}
	if err := os.Rename(late, held); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", in, "--db", db, "--store", uri, "--generate-previews", "--workers", workers())

	mnt := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(mnt, 0o755)
	cache := filepath.Join(t.TempDir(), "cache")
	m := mountWith(t, mnt, "mount", uri, mnt, "--cache-dir", cache, "--cache-size", "1GiB", "--poll", "1s")
	same := func(what string) {
		t.Helper()
		want := hashTree(t, exportTree(t, db, mnt))
		sameTree(t, what, want, hashTree(t, mnt), nil)
	}
	same("s3 mount vs export")
	clips := func() int { ents, _ := os.ReadDir(filepath.Join(mnt, "clips")); return len(ents) }
	before := clips()

	if err := os.Rename(held, late); err != nil {
		t.Fatal(err)
	}
	mustClipfs(t, 0, "curate", "--input", in, "--db", db, "--store", uri, "--generate-previews", "--workers", workers())
	deadline := time.Now().Add(30 * time.Second)
	for clips() <= before && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if clips() <= before {
		t.Fatalf("the new curation did not appear in the mount within 30 s (%d clips)\n%s", clips(), m.stderr)
	}
	time.Sleep(2 * time.Second) // the rest of that publish (index.parquet, shards)
	same("s3 mount vs export after more curation")
}

// TestOwnerMountReadsThroughCache: `clipfs mount --db` of a database that
// keeps its blobs in object storage reads them through a bounded cache on
// disk, as a mount elsewhere does: the tree equals the export, and what
// was read is then in --cache-dir.
func TestOwnerMountReadsThroughCache(t *testing.T) {
	needFUSE(t)
	videos := sampleVideos(t, true)
	srv := useS3(t)
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db, "--store", srv.URI("owner"), "--generate-previews", "--workers", workers())
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(mnt, 0o755)
	cache := filepath.Join(t.TempDir(), "cache")
	m := mountWith(t, mnt, "mount", "--db", db, mnt, "--cache-dir", cache, "--cache-size", "1GiB")
	want := hashTree(t, exportTree(t, db, mnt))
	sameTree(t, "mount --db of an object-storage database vs export", want, hashTree(t, mnt), nil)
	var files int
	var bytes int64
	filepath.WalkDir(filepath.Join(cache, "blobs", "blobs"), func(p string, d os.DirEntry, err error) error {
		if info, ierr := d.Info(); err == nil && ierr == nil && !d.IsDir() {
			files, bytes = files+1, bytes+info.Size()
		}
		return nil
	})
	clips, _ := os.ReadDir(filepath.Join(mnt, "clips"))
	if files < len(clips) || bytes == 0 {
		t.Errorf("after reading the whole tree the cache holds %d complete blobs (%d bytes) for %d clips", files, bytes, len(clips))
	}
	m.stop(t) // its stderr is complete (and no longer written)
	if !strings.Contains(m.stderr.String(), "through a cache in "+cache) {
		t.Errorf("mount --db does not say it reads through the cache:\n%s", m.stderr)
	}
}
