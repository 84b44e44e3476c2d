package blobcache

import (
	"context"
	"time"

	"github.com/clipfs/clipfs/index"
)

// A Cache in front of the database's own store (the index owner's mount
// or serve) must keep the store's handling of unfinished uploads: the
// sweep aborts them and check reports them. Both go to the inner store;
// one without unfinished uploads has none to abort or list.
var (
	_ index.UploadAborter = (*Cache)(nil)
	_ index.UploadLister  = (*Cache)(nil)
)

// AbortUploads aborts the inner store's unfinished uploads begun more than
// olderThan ago (index.UploadAborter); 0 for a store that keeps none.
func (c *Cache) AbortUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	if a, ok := c.inner.(index.UploadAborter); ok {
		return a.AbortUploads(ctx, olderThan)
	}
	return 0, nil
}

// Uploads lists the inner store's unfinished uploads (index.UploadLister);
// none for a store that keeps none.
func (c *Cache) Uploads(ctx context.Context, fn func(name string, began time.Time) error) error {
	if l, ok := c.inner.(index.UploadLister); ok {
		return l.Uploads(ctx, fn)
	}
	return nil
}
