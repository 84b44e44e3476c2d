package tree

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
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
