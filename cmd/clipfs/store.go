package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/blobcache"
	"github.com/clipfs/clipfs/index/s3store"
)

// addStoreFlag defines --store, where a database keeps its media blobs.
func addStoreFlag(fs *flag.FlagSet) *string {
	return fs.String("store", "", "keep clips, previews and index.parquet in S3-compatible object storage, s3://BUCKET/PREFIX, and publish the index there for `clipfs mount s3://...` on other machines; a new database records it (server and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws as the AWS SDKs read them; default: the database's own folder)")
}

// cacheFlags are --cache-dir and --cache-size: the bounded on-disk cache
// that blobs in object storage are read through.
type cacheFlags struct{ dir, size *string }

func addCacheFlags(fs *flag.FlagSet, dirDefault string) cacheFlags {
	return cacheFlags{
		dir:  fs.String("cache-dir", "", "object storage: folder for the blobs read from the store (and a mount's index replica) (default: "+dirDefault+")"),
		size: fs.String("cache-size", "10GiB", "object storage: most bytes of blobs kept in --cache-dir, e.g. 50GiB"),
	}
}

// cache is the cache the flags name; dir stays empty for the default.
func (f cacheFlags) cache() (*blobCache, error) {
	size, err := fault.ParseSize(*f.size)
	if err != nil || size <= 0 {
		return nil, usageError{fmt.Sprintf("--cache-size %q is not a size above 0 (e.g. 20GiB)", *f.size)}
	}
	return &blobCache{dir: *f.dir, size: size}, nil
}

// blobCache says how a database that keeps its blobs in object storage
// reads them: the mount and serve of the database's owner read clips and
// shards through a bounded on-disk cache, as a mount on another machine
// does (clips fetched whole and served by passthrough, shards with
// read-ahead). Puts go through to the store; the cache keeps a hard link
// of what it put where it can.
type blobCache struct {
	dir  string // the cache's folder; empty: cacheFolder("db", the store)
	size int64  // most bytes kept
	// mount tunes the store as a mount's: a read the server cannot serve
	// fails within seconds (mountAttempts, mountRequestTimeout).
	mount bool
}

// cacheFolder is the default cache folder of the blobs of the store st:
// the user's cache folder, clipfs/KIND/SERVER/BUCKET/PREFIX, SERVER being
// the endpoint's host and port (one bucket name on two servers is two
// buckets). A mount of the store elsewhere (KIND mount) and its owner
// (KIND db) keep separate ones, since a cache folder is held by one
// process at a time.
func cacheFolder(kind string, st *s3store.Store) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", usageError{"this user has no cache folder: pass --cache-dir DIR"}
	}
	server := st.Endpoint()
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		server = u.Host
	}
	server = strings.ReplaceAll(server, ":", "_")
	loc := st.Location()
	return filepath.Join(base, "clipfs", kind, server, loc.Bucket, filepath.FromSlash(loc.Prefix)), nil
}

// database is an open database and, when it keeps its blobs in object
// storage, the store, the cache its reads go through (if asked for) and,
// when it is written, the publisher that ships its index there.
type database struct {
	*index.DB
	store *s3store.Store
	cache *blobcache.Cache
	pub   *index.Publisher
}

// openDB opens the database in dir with the store it keeps its blobs in:
// store (a URI), which a new database records, or the one it recorded
// (index.StoreURI). index.Open refuses a database opened with another
// store. A written database in object storage gets its publisher at once,
// before any commit (index.Publisher needs it so). With cache, such a
// database reads its blobs through it; a local one ignores it.
func openDB(ctx context.Context, dir, store string, opts index.Options, cache *blobCache) (*database, error) {
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
		sopts := s3store.Options{Logger: opts.Logger}
		if cache != nil && cache.mount {
			sopts.Attempts, sopts.RequestTimeout = mountAttempts, mountRequestTimeout
		}
		st, err := s3store.Open(ctx, uri, sopts)
		if err != nil {
			return nil, err
		}
		d.store, opts.Blobs, opts.BlobsURI = st, st, uri
		if cache != nil {
			if d.cache, err = openCache(st, cache, opts.Logger); err != nil {
				return nil, err
			}
			opts.Blobs = d.cache
		}
	}
	db, err := index.Open(dir, opts)
	if err != nil {
		if d.cache != nil {
			d.cache.Close()
		}
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

// openCache opens the cache of spec in front of st.
func openCache(st *s3store.Store, spec *blobCache, log *slog.Logger) (*blobcache.Cache, error) {
	dir := spec.dir
	if dir == "" {
		var err error
		if dir, err = cacheFolder("db", st); err != nil {
			return nil, err
		}
	}
	copts := blobcache.DefaultOptions()
	copts.Log = log
	if spec.mount {
		copts.Attempts = mountCacheAttempts
	}
	return blobcache.New(st, filepath.Join(dir, "blobs"), spec.size, copts)
}

// close closes the publisher, then the database, then its cache.
func (d *database) close() error {
	var errs []error
	if d.pub != nil {
		errs = append(errs, d.pub.Close())
	}
	errs = append(errs, d.DB.Close())
	if d.cache != nil {
		errs = append(errs, d.cache.Close())
	}
	return errors.Join(errs...)
}

// publishInterval is how often serve publishes its index to object
// storage: a commit is visible to mounts elsewhere within it, plus their
// --poll.
const publishInterval = 5 * time.Second
