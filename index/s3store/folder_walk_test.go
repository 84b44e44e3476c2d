package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clipfs/clipfs/index/s3store"
	"github.com/clipfs/clipfs/index/s3store/s3test"
)

type listed struct {
	name string
	size int64
	mod  time.Time
	etag string
}

func walkAll(t *testing.T, f *s3store.Folder) []listed {
	t.Helper()
	var got []listed
	err := f.Walk(context.Background(), func(name string, size int64, mod time.Time, etag string) error {
		got = append(got, listed{name, size, mod, etag})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// A folder lists every object below its prefix at any depth, named
// relative to it, and nothing beside it; Stat agrees with the listing to
// the second and ETag; a presigned URL serves ranges to a plain HTTP
// client without credentials.
func TestFolderWalkStatPresign(t *testing.T) {
	srv := s3test.Start(t)
	cl := rawClient(t, srv)
	ctx := context.Background()
	objects := map[string][]byte{
		"videos/a.mp4":           randomBytes(1, 3000),
		"videos/sub/deep/b.mov":  randomBytes(2, 10),
		"videos/sub/":            nil, // a folder marker
		"videos-other/c.mp4":     randomBytes(3, 5),
		"elsewhere/videos/d.mp4": randomBytes(4, 5),
	}
	for key, data := range objects {
		if _, err := cl.PutObject(ctx, srv.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := s3store.OpenFolder(ctx, srv.URI("videos")+"/", options(srv))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.URI("sub/deep/b.mov"), "s3://"+srv.Bucket+"/videos/sub/deep/b.mov"; got != want {
		t.Errorf("URI = %q, want %q", got, want)
	}
	got := walkAll(t, f)
	var names []string
	for _, o := range got {
		names = append(names, o.name)
	}
	if want := []string{"a.mp4", "sub/deep/b.mov"}; !slices.Equal(names, want) {
		t.Fatalf("Walk named %q, want %q", names, want)
	}
	for _, o := range got {
		size, mod, etag, err := f.Stat(ctx, o.name)
		if err != nil {
			t.Fatal(err)
		}
		if size != o.size || !mod.Equal(o.mod) || etag != o.etag || etag == "" || mod.IsZero() {
			t.Errorf("%s: Stat = %d %v %q, listing %d %v %q", o.name, size, mod, etag, o.size, o.mod, o.etag)
		}
		if want := int64(len(objects["videos/"+o.name])); size != want {
			t.Errorf("%s: size %d, want %d", o.name, size, want)
		}
	}
	if _, _, _, err := f.Stat(ctx, "missing.mp4"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "s3://"+srv.Bucket+"/videos/missing.mp4") {
		t.Errorf("Stat of a missing object: %v, want fs.ErrNotExist naming its URI", err)
	}
	if _, err := f.Presign(ctx, "../x", time.Hour); err == nil {
		t.Error("Presign took a name with ..")
	}

	u, err := f.Presign(ctx, "a.mp4", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Range", "bytes=1000-1999")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, objects["videos/a.mp4"][1000:2000]) {
		t.Errorf("ranged GET of the presigned URL: %s, %d bytes; want 206 and bytes 1000-1999", resp.Status, len(body))
	}
	short, err := f.Presign(ctx, "a.mp4", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if resp, err := http.Get(short); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("an expired presigned URL: %v %v, want 403", resp.Status, err)
	}

	whole, err := s3store.OpenFolder(ctx, srv.URI(""), options(srv))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(walkAll(t, whole)); n != 4 {
		t.Errorf("the whole bucket lists %d objects, want 4", n)
	}
}

// Opening a folder on a server that is down fails at once, in one line
// naming the folder; so does a wrong key.
func TestOpenFolderFails(t *testing.T) {
	srv := s3test.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bad := options(srv)
	bad.SecretAccessKey = "wrong" + bad.SecretAccessKey
	if _, err := s3store.OpenFolder(ctx, srv.URI("videos"), bad); err == nil || !strings.Contains(err.Error(), "secret access key") {
		t.Errorf("a wrong secret: %v", err)
	}
	srv.Stop()
	down := options(srv)
	down.Attempts = 1
	if _, err := s3store.OpenFolder(ctx, srv.URI("videos"), down); err == nil || !strings.Contains(err.Error(), srv.URI("videos")) || strings.Contains(err.Error(), "\n") {
		t.Errorf("a server that is down: %v", err)
	}
}
