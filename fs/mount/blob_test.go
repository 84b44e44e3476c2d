package mount

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/fs/tree/treetest"
	"github.com/clipfs/clipfs/index"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// newRemoteFixture is newFixture over a store without local files; the
// folder behind it is returned for tests that look at the blob files.
func newRemoteFixture(t *testing.T, nclips int) (*fixture, *index.FolderStore) {
	t.Helper()
	ix, folder := treetest.NewRemote(t, nclips)
	return fixtureOf(ix), folder
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
		{"local", local.db, false, "*mount.blobHandle"},
		{"local passthrough", local.db, true, "*mount.passthroughHandle"},
		{"no local file", remote.db, false, "*mount.storeHandle"},
		{"no local file, passthrough", remote.db, true, "*mount.storeHandle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			served := newServedTree(tree.New(tc.db, "/mnt/out"), nil)
			served.passthrough = tc.passthrough
			page, err := served.ReadDir(index.DirClips, "", 1)
			if err != nil || len(page) != 1 {
				t.Fatal(page, err)
			}
			n := &blobNode{t: served, dir: index.DirClips, e: page[0]}
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
