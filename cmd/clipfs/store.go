package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/s3store"
)

// addStoreFlag defines --store, where a database keeps its media blobs.
func addStoreFlag(fs *flag.FlagSet) *string {
	return fs.String("store", "", "keep clips, previews and index.parquet in S3-compatible object storage, s3://BUCKET/PREFIX, and publish the index there for `clipfs mount s3://...` on other machines; a new database records it (server and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws as the AWS SDKs read them; default: the database's own folder)")
}

// database is an open database and, when it keeps its blobs in object
// storage and is written, the publisher that ships its index there.
type database struct {
	*index.DB
	store *s3store.Store
	pub   *index.Publisher
}

// openDB opens the database in dir with the store it keeps its blobs in:
// store (a URI), which a new database records, or the one it recorded
// (index.StoreURI). index.Open refuses a database opened with another
// store. A written database in object storage gets its publisher at once,
// before any commit (index.Publisher needs it so).
func openDB(ctx context.Context, dir, store string, opts index.Options) (*database, error) {
	uri := store
	if uri == "" {
		recorded, err := index.StoreURI(dir)
		if err != nil {
			return nil, err
		}
		uri = recorded
	}
	d := &database{}
	if uri != "" {
		if !strings.HasPrefix(uri, "s3://") {
			return nil, usageError{fmt.Sprintf("--store %q is not an s3://BUCKET/PREFIX URI", uri)}
		}
		st, err := s3store.Open(ctx, uri, s3store.Options{Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		d.store, opts.Blobs, opts.BlobsURI = st, st, uri
	}
	db, err := index.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	d.DB = db
	if d.store != nil && !opts.ReadOnly {
		objects, err := d.store.Sub("index")
		if err != nil {
			db.Close()
			return nil, err
		}
		d.pub = db.NewPublisher(objects, index.PublishOptions{Logger: opts.Logger})
	}
	return d, nil
}

// publish ships what was committed since the last publish to the store's
// index/ folder; nothing for a database in its own folder.
func (d *database) publish(ctx context.Context) error {
	if d.pub == nil {
		return nil
	}
	if _, err := d.pub.Publish(ctx); err != nil {
		return fmt.Errorf("publish the index to %s: %w", d.store.Location(), err)
	}
	return nil
}

// publishEvery publishes every interval until ctx is done, logging
// failures (the next round retries them).
func (d *database) publishEvery(ctx context.Context, every time.Duration, warn func(string, ...any)) {
	if d.pub == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.publish(ctx); err != nil && ctx.Err() == nil {
				warn(err.Error())
			}
		}
	}
}

// close closes the publisher, then the database.
func (d *database) close() error {
	var errs []error
	if d.pub != nil {
		errs = append(errs, d.pub.Close())
	}
	errs = append(errs, d.DB.Close())
	return errors.Join(errs...)
}

// publishInterval is how often serve publishes its index to object
// storage: a commit is visible to mounts elsewhere within it, plus their
// --poll.
const publishInterval = 5 * time.Second
