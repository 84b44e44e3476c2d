package mount

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/fs/tree/treetest"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/blobcache"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// newRemoteFixture is newFixture over a store without local files; the
// folder behind it is returned for tests that look at the blob files.
func newRemoteFixture(t *testing.T, nclips int) (*fixture, *index.FolderStore) {
	t.Helper()
	ix, folder := treetest.NewRemote(t, nclips)
	return fixtureOf(ix), folder
}

// newCachedFixture is newFixture over a cache in front of a store without
// local files, keeping no copy of what is put: every blob is fetched.
func newCachedFixture(t *testing.T, nclips int) (*fixture, *blobcache.Cache, *index.FolderStore) {
	t.Helper()
	folder := index.NewFolderStore(filepath.Join(t.TempDir(), "blobs"))
	c, err := blobcache.New(treetest.RemoteStore{BlobStore: folder}, t.TempDir(), 1<<30, blobcache.Options{NoCopyOnPut: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newFixtureOver(t, nclips, c), c, folder
}

// TestOpenBlobPicksHandle: a blob with a local file, or fetched whole into
// one by a cache, is served from it (which the kernel may read itself, by
// passthrough), one without through the store's reader.
func TestOpenBlobPicksHandle(t *testing.T) {
	local := newFixture(t, 1)
	remote, _ := newRemoteFixture(t, 1)
	cached, cache, _ := newCachedFixture(t, 1)
	cases := []struct {
		name string
		db   *index.DB
		want string
	}{
		{"local", local.db, "*mount.blobHandle"},
		{"no local file", remote.db, "*mount.storeHandle"},
		{"cached", cached.db, "*mount.blobHandle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(tc.db, nil)
			page, err := fs.t.ReadDir(index.DirClips, "", 1)
			if err != nil || len(page) != 1 {
				t.Fatal(page, err)
			}
			h, err := fs.blobHandleOf(context.Background(), page[0])
			if err != nil {
				t.Fatal(err)
			}
			defer h.release()
			if got := fmt.Sprintf("%T", h); got != tc.want {
				t.Fatalf("handle %s, want %s", got, tc.want)
			}
			if bh, ok := h.(*blobHandle); ok && tc.db == cached.db && !strings.HasPrefix(bh.f.Name(), cache.Dir()) {
				t.Fatalf("cached blob served from %s, outside the cache", bh.f.Name())
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
		want, err := os.ReadFile(treetest.FolderBlob(t, folder, c.Media.Blob))
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
	os.Remove(treetest.FolderBlob(t, folder, c.Media.Blob))
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
	p := treetest.FolderBlob(t, folder, c.Media.Blob)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o644)
	e := f.walk(t, "clips", c.ID.String()+".mp4")
	var open fuse.OpenOut
	if st := f.raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: e.NodeId}}, &open); st != fuse.EIO {
		t.Fatalf("open of a corrupt blob: %v, want EIO", st)
	}
}

// TestBlobReadThroughCache reads every clip of a store behind a cache in
// pieces of several sizes: the first open fetches it whole, and the reads
// come from the cache's file.
func TestBlobReadThroughCache(t *testing.T) {
	f, cache, folder := newCachedFixture(t, 4)
	for _, c := range f.clips {
		if c.Filtered {
			continue
		}
		e := f.walk(t, "clips", c.ID.String()+".mp4")
		want, err := os.ReadFile(treetest.FolderBlob(t, folder, c.Media.Blob))
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []uint32{333, 4096, 1 << 20} {
			if got := f.readAll(t, e.NodeId, e.Attr.Size, chunk); !bytes.Equal(got, want) {
				t.Fatalf("%s in %d-byte pieces: %d bytes, want %d", c.ID, chunk, len(got), len(want))
			}
		}
	}
	if st := cache.Stats(); st.Files == 0 {
		t.Fatalf("nothing fetched into the cache: %+v", st)
	}
}
