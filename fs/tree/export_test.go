package tree

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/fs/tree/treetest"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/blobcache"
)

// TestExportThroughStoreReader: an export over a store without local files
// (read through its reader, or fetched through a cache) holds the same
// files and bytes as one from local files.
func TestExportThroughStoreReader(t *testing.T) {
	local := treetest.New(t, 4, nil)
	remote, _ := treetest.NewRemote(t, 4)
	cache, err := blobcache.New(treetest.RemoteStore{BlobStore: index.NewFolderStore(filepath.Join(t.TempDir(), "blobs"))},
		t.TempDir(), 1<<30, blobcache.Options{NoCopyOnPut: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	cached := treetest.New(t, 4, cache)
	trees := map[string]string{}
	for name, db := range map[string]*index.DB{"local": local.DB, "remote": remote.DB, "cached": cached.DB} {
		dir := filepath.Join(t.TempDir(), name)
		st, err := Export(context.Background(), New(db, "/mnt/out"), dir, nil)
		if err != nil || st.Files == 0 {
			t.Fatalf("%s export: %+v %v", name, st, err)
		}
		trees[name] = dir
	}
	want := readTree(t, trees["local"])
	for _, name := range []string{"remote", "cached"} {
		got := readTree(t, trees[name])
		if len(got) != len(want) {
			t.Fatalf("%d files exported %s, %d from local files", len(got), name, len(want))
		}
		clips := 0
		for rel, b := range want {
			if !bytes.Equal(got[rel], b) {
				t.Errorf("%s: %s differs", name, rel)
			}
			if filepath.Dir(rel) == index.DirClips {
				clips++
			}
		}
		if clips == 0 {
			t.Fatal("no clips exported")
		}
	}
	if st := cache.Stats(); st.Files == 0 {
		t.Errorf("the cached export fetched nothing into the cache: %+v", st)
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[rel], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// failingDir is a local folder whose writes of one file fail.
type failingDir struct {
	LocalDir
	bad string
}

func (d failingDir) Write(ctx context.Context, rel string, r io.Reader, size int64) error {
	if rel == d.bad {
		return errors.New("the disk said no")
	}
	return d.LocalDir.Write(ctx, rel, r, size)
}

// TestExportToParallel: files written several at once are the files a
// one-at-a-time export writes, counted once each; one write that fails is
// the export's error, naming its file.
func TestExportToParallel(t *testing.T) {
	db := treetest.New(t, 4, nil).DB
	ctx := context.Background()
	one := filepath.Join(t.TempDir(), "one")
	st1, err := Export(ctx, New(db, "/out"), one, nil)
	if err != nil {
		t.Fatal(err)
	}
	many := t.TempDir()
	calls := 0
	st8, err := ExportTo(ctx, New(db, "/out"), LocalDir(many), ExportOptions{Writes: 8, Progress: func(ExportStats) { calls++ }})
	if err != nil || st8 != st1 || calls != st1.Files {
		t.Fatalf("8 at once: %+v (%d progress calls), %v; one at a time: %+v", st8, calls, err, st1)
	}
	want, got := readTree(t, one), readTree(t, many)
	if len(got) != len(want) {
		t.Fatalf("%d files, want %d", len(got), len(want))
	}
	for rel, b := range want {
		if !bytes.Equal(got[rel], b) {
			t.Errorf("%s differs", rel)
		}
	}
	bad := ""
	for rel := range want {
		if filepath.Dir(rel) == index.DirClips {
			bad = filepath.ToSlash(rel)
			break
		}
	}
	_, err = ExportTo(ctx, New(db, "/out"), failingDir{LocalDir(t.TempDir()), bad}, ExportOptions{Writes: 8})
	if err == nil || !strings.Contains(err.Error(), bad+": the disk said no") {
		t.Errorf("a failed write: %v", err)
	}
}
