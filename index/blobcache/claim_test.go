package blobcache_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/blobcache"
)

// TestStoreClaimBypassesCache: a database whose store is read through a
// cache checks and writes its claim in the store itself, not in the
// cache's copy: a cache that still holds the claim of a database the store
// no longer belongs to (the store emptied and claimed again) does not keep
// the new owner out, nor let another in.
func TestStoreClaimBypassesCache(t *testing.T) {
	root := t.TempDir()
	store := index.NewFolderStore(filepath.Join(root, "store"))
	open := func(db, cacheDir string) (*index.DB, *blobcache.Cache, error) {
		c, err := blobcache.New(store, cacheDir, 1<<20, blobcache.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := index.Open(filepath.Join(root, db), index.Options{Create: true, Blobs: c, BlobsURI: "s3://bucket/prefix"})
		if err != nil {
			c.Close()
		}
		return d, c, err
	}
	cacheDir := filepath.Join(root, "cache")
	first, c, err := open("first", cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	// The cache now holds the first database's claim.
	if r, err := c.Open(context.Background(), "CLIPFS"); err != nil {
		t.Fatal(err)
	} else {
		r.Close()
	}
	first.Close()
	c.Close()
	if err := os.RemoveAll(filepath.Join(root, "store")); err != nil { // the store emptied
		t.Fatal(err)
	}
	second, c, err := open("second", cacheDir)
	if err != nil {
		t.Fatalf("a new database on the emptied store, through a cache holding the old claim: %v", err)
	}
	second.Close()
	c.Close()
	if _, c, err := open("third", filepath.Join(root, "cache2")); err == nil {
		c.Close()
		t.Fatal("a third database took over the store the second one holds")
	}
}
