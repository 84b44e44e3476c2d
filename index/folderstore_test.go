package index_test

import (
	"path/filepath"
	"testing"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/blobtest"
)

func TestFolderStoreConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) index.BlobStore {
		return index.NewFolderStore(filepath.Join(t.TempDir(), "blobs"))
	})
}
