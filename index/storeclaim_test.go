package index

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestStoreClaim: a database records the named store it was created with
// and must be opened with it; a store claimed by one database is refused
// to another, whose sweep would otherwise delete the first one's blobs.
func TestStoreClaim(t *testing.T) {
	shared := NewFolderStore(filepath.Join(t.TempDir(), "bucket"))
	const uri = "s3://bucket/a"
	dirA := filepath.Join(t.TempDir(), "a")
	db, err := Open(dirA, Options{Create: true, Blobs: shared, BlobsURI: uri})
	if err != nil {
		t.Fatal(err)
	}
	cc := testCommit(t, db, "/in/v.mp4", "f", 0, 2) // clips with blobs in the shared store
	db.Close()
	if got, err := StoreURI(dirA); err != nil || got != uri {
		t.Fatalf("StoreURI = %q, %v; want %q", got, err, uri)
	}
	for name, opts := range map[string]Options{
		"no store":      {},
		"another store": {Blobs: shared, BlobsURI: "s3://bucket/b"},
	} {
		if db, err := Open(dirA, opts); !errors.Is(err, ErrStoreMismatch) {
			if err == nil {
				db.Close()
			}
			t.Errorf("%s: open = %v, want ErrStoreMismatch", name, err)
		}
	}
	db, err = Open(dirA, Options{Blobs: shared, BlobsURI: uri})
	if err != nil {
		t.Fatalf("reopen with its store: %v", err)
	}
	db.Close()

	dirB := filepath.Join(t.TempDir(), "b")
	if db, err := Open(dirB, Options{Create: true, Blobs: shared, BlobsURI: uri}); !errors.Is(err, ErrStoreMismatch) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("a second database on a claimed store: %v, want ErrStoreMismatch", err)
	}
	if p, _ := shared.LocalPath(cc.Clips[0].Media.Blob); !exists(p) {
		t.Errorf("the first database's blob %s is gone", cc.Clips[0].Media.Blob)
	}

	local := filepath.Join(t.TempDir(), "local")
	db, err = Open(local, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(local, Options{Blobs: shared, BlobsURI: "s3://bucket/c"}); !errors.Is(err, ErrStoreMismatch) {
		if err == nil {
			db.Close()
		}
		t.Errorf("a folder database opened with a store: %v, want ErrStoreMismatch", err)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
