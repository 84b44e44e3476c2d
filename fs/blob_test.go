package fs

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipfs/clipfs/index"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// remoteStore hides the local files of the store it wraps (LocalPath), as
// an object store would: blobs are read through its ReaderAt alone.
type remoteStore struct{ index.BlobStore }

// newRemoteFixture is newFixture over a store without local files; the
// folder behind it is returned for tests that look at the blob files.
func newRemoteFixture(t *testing.T, nclips int) (*fixture, *index.FolderStore) {
	t.Helper()
	folder := index.NewFolderStore(filepath.Join(t.TempDir(), "blobs"))
	return newFixtureOver(t, nclips, remoteStore{folder}), folder
}

func folderBlob(t *testing.T, folder *index.FolderStore, name string) string {
	t.Helper()
	p, _ := folder.LocalPath(name)
	return p
}

// TestOpenBlobPicksHandle: a blob with a local file is served from it (by
// the kernel with passthrough), one without through the store's reader,
// passthrough or not.
func TestOpenBlobPicksHandle(t *testing.T) {
	local := newFixture(t, 1)
	remote, _ := newRemoteFixture(t, 1)
	cases := []struct {
		name        string
		db          *index.DB
		passthrough bool
		want        string
	}{
		{"local", local.db, false, "*fs.blobHandle"},
		{"local passthrough", local.db, true, "*fs.passthroughHandle"},
		{"no local file", remote.db, false, "*fs.storeHandle"},
		{"no local file, passthrough", remote.db, true, "*fs.storeHandle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tree := NewTree(tc.db, "/mnt/out", nil)
			tree.passthrough = tc.passthrough
			page, err := tree.ReadDir(index.DirClips, "", 1)
			if err != nil || len(page) != 1 {
				t.Fatal(page, err)
			}
			n := &blobNode{t: tree, dir: index.DirClips, e: page[0]}
			h, err := n.openBlob(context.Background(), page[0])
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release(context.Background())
			if got := fmt.Sprintf("%T", h); got != tc.want {
				t.Fatalf("handle %s, want %s", got, tc.want)
			}
		})
	}
}

// TestBlobReadThroughStoreReader reads every clip of a store without local
// files in pieces of several sizes, across the end of the file.
func TestBlobReadThroughStoreReader(t *testing.T) {
	f, folder := newRemoteFixture(t, 4)
	for _, c := range f.clips {
		if c.Filtered {
			continue
		}
		e := f.walk(t, "clips", c.ID.String()+".mp4")
		want, err := os.ReadFile(folderBlob(t, folder, c.Media.Blob))
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []uint32{333, 1000, 4096, 1 << 20} {
			if got := f.readAll(t, e.NodeId, e.Attr.Size, chunk); !bytes.Equal(got, want) {
				t.Fatalf("%s in %d-byte pieces: %d bytes, want %d", c.ID, chunk, len(got), len(want))
			}
		}
	}
}

// TestBlobMissingFromStoreIsENOENT: a blob gone from the store fails its
// open with ENOENT.
func TestBlobMissingFromStoreIsENOENT(t *testing.T) {
	f, folder := newRemoteFixture(t, 1)
	c := f.clips[0]
	e := f.walk(t, "clips", c.ID.String()+".mp4")
	os.Remove(folderBlob(t, folder, c.Media.Blob))
	var open fuse.OpenOut
	if st := f.raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: e.NodeId}}, &open); st != fuse.ENOENT {
		t.Fatalf("open of a missing blob: %v, want ENOENT", st)
	}
}

// TestCorruptBlobThroughStoreReaderIsEIO: verification holds without
// local files too.
func TestCorruptBlobThroughStoreReaderIsEIO(t *testing.T) {
	f, folder := newRemoteFixture(t, 1)
	c := f.clips[0]
	p := folderBlob(t, folder, c.Media.Blob)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o644)
	e := f.walk(t, "clips", c.ID.String()+".mp4")
	var open fuse.OpenOut
	if st := f.raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: e.NodeId}}, &open); st != fuse.EIO {
		t.Fatalf("open of a corrupt blob: %v, want EIO", st)
	}
}

// TestExportThroughStoreReader: an export over a store without local files
// holds the same files and bytes as one from local files.
func TestExportThroughStoreReader(t *testing.T) {
	local := newFixture(t, 4)
	remote, _ := newRemoteFixture(t, 4)
	trees := map[string]string{}
	for name, db := range map[string]*index.DB{"local": local.db, "remote": remote.db} {
		dir := filepath.Join(t.TempDir(), name)
		st, err := Export(context.Background(), NewTree(db, "/mnt/out", nil), dir, nil)
		if err != nil || st.Files == 0 {
			t.Fatalf("%s export: %+v %v", name, st, err)
		}
		trees[name] = dir
	}
	want, got := readTree(t, trees["local"]), readTree(t, trees["remote"])
	if len(got) != len(want) {
		t.Fatalf("%d files exported without local files, %d with", len(got), len(want))
	}
	clips := 0
	for rel, b := range want {
		if !bytes.Equal(got[rel], b) {
			t.Errorf("%s differs", rel)
		}
		if filepath.Dir(rel) == index.DirClips {
			clips++
		}
	}
	if clips == 0 {
		t.Fatal("no clips exported")
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
