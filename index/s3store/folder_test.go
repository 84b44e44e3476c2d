package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clipfs/clipfs/index/s3store"
	"github.com/clipfs/clipfs/index/s3store/s3test"
)

func openFolder(t *testing.T, uri string, opts s3store.Options) *s3store.Folder {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := s3store.OpenFolder(ctx, uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFolder: files written into a folder are the objects PREFIX/REL with
// their bytes (a multipart one too), and the folder's FS passes the io/fs
// conformance test over them, past folder markers, odd keys and a sibling
// prefix; a missing file is fs.ErrNotExist named by its path.
func TestFolder(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	opts := options(srv)
	opts.PartSize = 5 << 20
	ctx := context.Background()
	f := openFolder(t, srv.URI("trees/one"), opts)
	if empty, err := f.Empty(ctx); err != nil || !empty {
		t.Fatalf("a new prefix: empty %t, %v", empty, err)
	}
	files := map[string][]byte{
		"index.parquet":               randomBytes(1, 300),
		"metas/v0/a.json":             []byte(`{"a": 1}`),
		"metas/v0/b.json":             {},
		"wds/shard-000000.tar":        randomBytes(2, 20<<10),
		"previews/x/0_10.webp":        randomBytes(3, 5000),
		"processed_videos/d/e/v.json": []byte("{}"),
	}
	for rel, b := range files {
		if err := f.Write(ctx, rel, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	// Multipart sizes, from a section and from a plain reader (no ReadAt,
	// no Seek), in a folder of their own (fstest reads every file in
	// small pieces, a GET each).
	bigs := openFolder(t, srv.URI("trees/big"), opts)
	bigFiles := map[string][]byte{"wds/shard-000001.tar": randomBytes(2, 11<<20+17), "clips/big.mp4": randomBytes(4, 6<<20)}
	for rel, b := range bigFiles {
		var r io.Reader = io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))
		if rel == "clips/big.mp4" {
			r = io.LimitReader(bytes.NewReader(b), int64(len(b)))
		}
		if err := bigs.Write(ctx, rel, r, int64(len(b))); err != nil {
			t.Fatal(err)
		}
		obj, err := rawClient(t, srv).GetObject(ctx, srv.Bucket, "trees/big/"+rel, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("object trees/big/%s: %d bytes (%v), want the %d written", rel, len(got), err, len(b))
		}
		if got, err := fs.ReadFile(bigs.FS(ctx), rel); err != nil || !bytes.Equal(got, b) {
			t.Errorf("ReadFile %s: %d bytes (%v), want %d", rel, len(got), err, len(b))
		}
		file, err := bigs.FS(ctx).Open(rel)
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(file)
		file.Close()
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("Read %s: %d bytes (%v), want %d", rel, len(got), err, len(b))
		}
	}
	if empty, err := f.Empty(ctx); err != nil || empty {
		t.Fatalf("after writes: empty %t, %v", empty, err)
	}
	if err := f.Write(ctx, "../x", bytes.NewReader(nil), 0); err == nil {
		t.Error("a write outside the folder was taken")
	}

	cl := rawClient(t, srv)
	for rel, want := range files {
		obj, err := cl.GetObject(ctx, srv.Bucket, "trees/one/"+rel, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("object trees/one/%s: %d bytes (%v), want the %d written", rel, len(got), err, len(want))
		}
	}
	// What other tools leave: folder markers, and a sibling prefix that
	// starts with the same letters.
	for _, key := range []string{"trees/one/metas/", "trees/one/metas/v0/", "trees/onex/not-mine.json"} {
		if _, err := cl.PutObject(ctx, srv.Bucket, key, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	fsys := f.FS(ctx)
	var names []string
	for rel := range files {
		names = append(names, rel)
	}
	if err := fstest.TestFS(fsys, names...); err != nil {
		t.Error(err)
	}
	for rel, want := range files {
		got, err := fs.ReadFile(fsys, rel)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadFile %s: %d bytes (%v), want %d", rel, len(got), err, len(want))
		}
	}
	var root []string
	ents, err := fs.ReadDir(fsys, ".")
	for _, e := range ents {
		root = append(root, e.Name())
	}
	if got := strings.Join(root, " "); err != nil || got != "index.parquet metas previews processed_videos wds" {
		t.Errorf("the root lists %q (%v)", got, err)
	}
	_, err = fs.ReadFile(fsys, "metas/v0/missing.json")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "metas/v0/missing.json") {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := fs.Stat(fsys, "processed_videos/d/nothing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing file: %v", err)
	}
	if _, err := fs.ReadDir(fsys, "nothing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir of a missing folder: %v", err)
	}
	if st, err := fs.Stat(fsys, "processed_videos/d"); err != nil || !st.IsDir() {
		t.Errorf("Stat of a folder: %v, %v", st, err)
	}

	// A folder on a missing prefix opens, empty; nothing is in its FS.
	g := openFolder(t, srv.URI("trees/none"), opts)
	if empty, err := g.Empty(ctx); err != nil || !empty {
		t.Errorf("a missing prefix: empty %t, %v", empty, err)
	}
	if _, err := fs.Stat(g.FS(ctx), "processed_videos"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat in a missing prefix: %v", err)
	}
}

// TestFolderServerDown: with the server gone, a folder's reads and writes
// fail within the tries, naming the file, as Unavailable (a fault of the
// environment) and never as a missing file; open files read again once
// the server is back.
func TestFolderServerDown(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	opts := options(srv)
	opts.Attempts = 2
	opts.RequestTimeout = 3 * time.Second
	ctx := context.Background()
	f := openFolder(t, srv.URI("down"), opts)
	want := randomBytes(5, 1<<20)
	if err := f.Write(ctx, "clips/a.mp4", bytes.NewReader(want), int64(len(want))); err != nil {
		t.Fatal(err)
	}
	fsys := f.FS(ctx)
	file, err := fsys.Open("clips/a.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	srv.Stop()
	unavailable := func(what string, err error) {
		t.Helper()
		var u interface{ Unavailable() bool }
		if err == nil || errors.Is(err, fs.ErrNotExist) || !errors.As(err, &u) || !u.Unavailable() || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s with the server down: %v (want one line, unavailable, not missing)", what, err)
		}
	}
	_, err = fs.ReadFile(fsys, "clips/a.mp4")
	unavailable("ReadFile", err)
	if err != nil && !strings.Contains(err.Error(), "clips/a.mp4") {
		t.Errorf("ReadFile's error does not name the file: %v", err)
	}
	_, err = fs.Stat(fsys, "clips/b.mp4")
	unavailable("Stat", err)
	_, err = fs.ReadDir(fsys, "clips")
	unavailable("ReadDir", err)
	_, err = file.Read(make([]byte, 10))
	unavailable("Read", err)
	err = f.Write(ctx, "clips/c.mp4", bytes.NewReader(want), int64(len(want)))
	unavailable("Write", err)
	if err != nil && !strings.Contains(err.Error(), "s3://"+srv.Bucket+"/down/clips/c.mp4") {
		t.Errorf("Write's error does not name the object: %v", err)
	}
	if _, err := s3store.OpenFolder(ctx, srv.URI("down"), opts); err == nil {
		t.Error("OpenFolder with the server down succeeded")
	}

	srv.Restart()
	got, err := io.ReadAll(file.(io.Reader))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("after a restart the open file reads %d bytes (%v), want %d", len(got), err, len(want))
	}
}
