package tree

import (
	"errors"
	"testing"

	"github.com/clipfs/clipfs/fs/tree/treetest"
	"github.com/clipfs/clipfs/index"
)

// TestSizeIsWhatRenders walks the whole tree without FUSE: every listed
// entry is found again by Lookup, and the size of every generated file is
// the length of its rendered bytes.
func TestSizeIsWhatRenders(t *testing.T) {
	ix := treetest.New(t, 4, nil)
	tr := New(ix.DB, "/mnt/out")
	rendered := 0
	var walk func(dir string)
	walk = func(dir string) {
		page, err := tr.ReadDir(dir, "", readDirPage)
		if err != nil {
			t.Fatalf("%q: %v", dir, err)
		}
		for _, e := range page {
			path := ChildPath(dir, e.Name)
			if got, err := tr.Lookup(dir, e.Name); err != nil || got != e {
				t.Fatalf("%s: lookup %+v %v, listed %+v", path, got, err, e)
			}
			if e.IsDir() {
				walk(path)
				continue
			}
			if e.Kind == index.KindBlob || e.Kind == index.KindShard {
				continue
			}
			b, err := tr.Render(e)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if n, err := tr.Size(e); err != nil || n != int64(len(b)) {
				t.Fatalf("%s: size %d %v, rendered %d bytes", path, n, err, len(b))
			}
			rendered++
		}
	}
	walk("")
	if rendered == 0 {
		t.Fatal("no generated file in the tree")
	}
}

// TestMissingNameIsNotFound: the tree's errors are plain Go errors; a name
// that does not exist is index.ErrNotFound (the FUSE adapter makes it ENOENT).
func TestMissingNameIsNotFound(t *testing.T) {
	tr := New(treetest.New(t, 1, nil).DB, "/mnt/out")
	if _, err := tr.Lookup(index.DirClips, "nope.mp4"); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("lookup of a missing name: %v, want index.ErrNotFound", err)
	}
}
