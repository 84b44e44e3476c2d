package s3store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clipfs/clipfs/index"
)

// Store is an index.BlobStore over one folder of a bucket: blob NAME is
// the object PREFIX/blobs/NAME (Open), or PREFIX/DIR/NAME for a store
// from Sub. It is safe for concurrent use.
type Store struct {
	cl  *minio.Client
	cfg config
	loc Location
	dir string // the folder's key prefix, ending in a slash
}

var (
	_ index.BlobStore     = (*Store)(nil)
	_ index.UploadAborter = (*Store)(nil)
	_ index.UploadLister  = (*Store)(nil)
)

// Open is the store over the blobs of uri, s3://BUCKET/PREFIX (ParseURI),
// on the server and with the credentials opts and the environment name.
// It lists the folder once, so that wrong credentials, a missing bucket
// or an unreachable server fail here, in one line, and not at the first
// blob.
func Open(ctx context.Context, uri string, opts Options) (*Store, error) {
	s, err := dial(ctx, uri, opts)
	if err != nil {
		return nil, err
	}
	s.dir = s.loc.folder("blobs")
	if err := s.probe(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// dial is a store on uri's location with no folder chosen yet (dir is the
// caller's to set) and nothing asked of the server.
func dial(ctx context.Context, uri string, opts Options) (*Store, error) {
	loc, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	cfg, err := opts.resolve(ctx)
	if err != nil {
		return nil, err
	}
	base, err := minio.DefaultTransport(cfg.endpoint.Scheme == "https")
	if err != nil {
		return nil, err
	}
	base.ResponseHeaderTimeout = 0 // the watchdog times every stage
	cl, err := minio.New(cfg.endpoint.Host, &minio.Options{
		Creds:        cfg.creds,
		Secure:       cfg.endpoint.Scheme == "https",
		Region:       cfg.region,
		BucketLookup: cfg.lookup,
		Transport:    &stallTransport{base: base, timeout: cfg.timeout},
		MaxRetries:   cfg.attempts,
	})
	if err != nil {
		return nil, fmt.Errorf("s3store: %s: %s", cfg.endpoint, oneLine(err))
	}
	return &Store{cl: cl, cfg: cfg, loc: loc}, nil
}

// probe lists at most one object of the folder.
func (s *Store) probe(ctx context.Context) error {
	for obj := range s.cl.ListObjectsIter(ctx, s.loc.Bucket, s.listOptions(1)) {
		if obj.Err != nil {
			return &Error{Op: "connect to", URI: s.URI(), Err: fmt.Errorf("%w (server %s)", s.explain(ctx, obj.Err), s.cfg.endpoint)}
		}
		break
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "connect to", URI: s.URI(), Err: err}
	}
	return nil
}

func (s *Store) listOptions(maxKeys int) minio.ListObjectsOptions {
	owner := false
	return minio.ListObjectsOptions{Prefix: s.dir, MaxKeys: maxKeys, FetchOwner: &owner}
}

// Sub is a store over the folder PREFIX/dir/ of the same bucket, with the
// same server, credentials and settings: Sub("index") keeps the index's
// backups beside blobs/. dir is relative to the URI's prefix, not to s's
// folder, and is a slash-separated path without empty, "." or ".." parts.
func (s *Store) Sub(dir string) (*Store, error) {
	if err := checkFolder(dir); err != nil {
		return nil, fmt.Errorf("s3store: %s: %w", s.loc, err)
	}
	t := *s
	t.dir = s.loc.folder(dir)
	return &t, nil
}

// Location is the bucket and prefix the store was opened on.
func (s *Store) Location() Location { return s.loc }

// URI is the store's folder: s3://BUCKET/PREFIX/blobs/ for Open's store.
func (s *Store) URI() string { return "s3://" + s.loc.Bucket + "/" + s.dir }

// Endpoint is the server's URL the store talks to.
func (s *Store) Endpoint() string { return s.cfg.endpoint.String() }

// key is the object that holds blob name.
func (s *Store) key(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("s3store: %q is not a blob name", name)
	}
	return s.dir + name, nil
}

// timed logs one operation at Debug.
func (s *Store) timed(op, key string, start time.Time, size int64, err error) {
	s.cfg.log.Debug("s3store "+op, "key", key, "bytes", size, "took", time.Since(start), "err", err)
}

// Put uploads src as blob name: one PUT up to the part size, a multipart
// upload above it (aborted on error, so no object appears under the name
// unless it is whole). It then checks that the server holds the file's
// size and removes src.
func (s *Store) Put(ctx context.Context, name, src string) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "put", URI: "s3://" + s.loc.Bucket + "/" + key, Err: err}
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("s3store: put %s: %s is not a regular file", name, src)
	}
	if err := s.putReader(ctx, key, f, st.Size(), contentType(name)); err != nil {
		return err
	}
	f.Close()
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("s3store: put %s: uploaded, but removing the local file: %w", name, err)
	}
	return nil
}

// putReader uploads size bytes from r as key: one PUT up to the part
// size, a multipart upload above it (aborted on error), then a HEAD that
// must show size. r should be an io.ReaderAt and io.Seeker (a file, a
// section), so that the client retries a PUT and reads parts in parallel
// without copying them.
func (s *Store) putReader(ctx context.Context, key string, r io.Reader, size int64, ctype string) (err error) {
	start := time.Now()
	defer func() { s.timed("put", key, start, size, err) }()
	_, err = s.cl.PutObject(ctx, s.loc.Bucket, key, r, size, minio.PutObjectOptions{
		PartSize:    uint64(s.cfg.partSize),
		ContentType: ctype,
	})
	if err != nil {
		if size > s.cfg.partSize {
			s.abandonUploads(key)
		}
		return s.fail(ctx, "put", key, err)
	}
	info, err := s.cl.StatObject(ctx, s.loc.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return s.fail(ctx, "check the size of", key, err)
	}
	if info.Size != size {
		s.removeAfterFailure(key)
		return &Error{Op: "put", URI: "s3://" + s.loc.Bucket + "/" + key,
			Err: fmt.Errorf("the server holds %d bytes after %d were sent (the object is removed)", info.Size, size)}
	}
	return nil
}

// removeAfterFailure removes an object Put found wrong, whatever the
// caller's context.
func (s *Store) removeAfterFailure(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	if err := s.cl.RemoveObject(ctx, s.loc.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		s.cfg.log.Warn("s3store: removing a wrong upload", "key", key, "err", s.explain(ctx, err))
	}
}

// abandonUploads aborts what the server still holds of a failed
// multipart Put of key: the client aborts its upload on error, but not one
// whose initiation was answered after a cancel, nor parts that landed
// after its abort. It runs whatever the caller's context; another Put of
// the same key at the same moment (the same bytes, by the BlobStore
// contract) fails and is retried by its caller.
func (s *Store) abandonUploads(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	core := minio.Core{Client: s.cl}
	for up := range s.cl.ListIncompleteUploads(ctx, s.loc.Bucket, key, false) {
		if up.Err != nil {
			s.cfg.log.Warn("s3store: listing the uploads of a failed put", "key", key, "err", s.explain(ctx, up.Err))
			return
		}
		if up.Key != key {
			continue
		}
		if err := core.AbortMultipartUpload(ctx, s.loc.Bucket, key, up.UploadID); err != nil &&
			minio.ToErrorResponse(err).Code != "NoSuchUpload" {
			s.cfg.log.Warn("s3store: aborting the upload of a failed put", "key", key, "err", s.explain(ctx, err))
		}
	}
}

// contentType is the blob's media type by extension, for readers that
// fetch objects directly (presigned URLs, browsers).
func contentType(name string) string {
	switch path.Ext(name) {
	case ".mp4":
		return "video/mp4"
	case ".webp":
		return "image/webp"
	case ".json":
		return "application/json"
	case ".parquet":
		return "application/vnd.apache.parquet"
	}
	return "application/octet-stream"
}

// Open stats blob name for its size; reads are ranged GETs (reader.go).
func (s *Store) Open(ctx context.Context, name string) (index.BlobReader, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: "open", URI: "s3://" + s.loc.Bucket + "/" + key, Err: err}
	}
	start := time.Now()
	info, err := s.cl.StatObject(ctx, s.loc.Bucket, key, minio.StatObjectOptions{})
	s.timed("stat", key, start, info.Size, err)
	if err != nil {
		return nil, s.fail(ctx, "open", key, err)
	}
	return newReader(context.Background(), s, key, info.Size), nil
}

// Remove deletes blob name; S3 answers a missing one with success too.
func (s *Store) Remove(ctx context.Context, name string) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "remove", URI: "s3://" + s.loc.Bucket + "/" + key, Err: err}
	}
	start := time.Now()
	err = s.cl.RemoveObject(ctx, s.loc.Bucket, key, minio.RemoveObjectOptions{})
	s.timed("remove", key, start, 0, err)
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return s.fail(ctx, "remove", key, err)
	}
	return nil
}

// List lists the folder a page (1000 objects) at a time. Keys below a
// further slash (subfolders) are not blobs of this store and are left out.
func (s *Store) List(ctx context.Context, fn func(index.BlobInfo) error) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: "list", URI: s.URI(), Err: err}
	}
	for obj := range s.cl.ListObjectsIter(ctx, s.loc.Bucket, s.listOptions(0)) {
		if obj.Err != nil {
			return s.fail(ctx, "list", s.dir, obj.Err)
		}
		name := strings.TrimPrefix(obj.Key, s.dir)
		if name == "" || strings.HasSuffix(name, "/") {
			continue
		}
		if err := fn(index.BlobInfo{Name: name, Size: obj.Size}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "list", URI: s.URI(), Err: err}
	}
	return nil
}

// AbortUploads aborts the multipart uploads under the folder begun more
// than olderThan ago, and says how many: a process killed during a Put
// leaves its parts on the server (never an object), stored and billed
// until aborted. Uploads younger than olderThan may be another process's
// Put in progress; olderThan <= 0 aborts every one, whatever the server's
// clock says.
func (s *Store) AbortUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	n := 0
	for up := range s.cl.ListIncompleteUploads(ctx, s.loc.Bucket, s.dir, false) {
		if up.Err != nil {
			return n, s.fail(ctx, "list uploads of", s.dir, up.Err)
		}
		if olderThan > 0 && time.Since(up.Initiated) < olderThan {
			continue
		}
		core := minio.Core{Client: s.cl}
		if err := core.AbortMultipartUpload(ctx, s.loc.Bucket, up.Key, up.UploadID); err != nil &&
			minio.ToErrorResponse(err).Code != "NoSuchUpload" {
			return n, s.fail(ctx, "abort upload of", up.Key, err)
		}
		n++
	}
	if err := ctx.Err(); err != nil {
		return n, &Error{Op: "list uploads of", URI: s.URI(), Err: err}
	}
	return n, nil
}

// Uploads lists the unfinished multipart uploads under the folder, by
// blob name; keys below a further slash are not this store's and are left
// out.
func (s *Store) Uploads(ctx context.Context, fn func(name string, began time.Time) error) error {
	for up := range s.cl.ListIncompleteUploads(ctx, s.loc.Bucket, s.dir, false) {
		if up.Err != nil {
			return s.fail(ctx, "list uploads of", s.dir, up.Err)
		}
		name := strings.TrimPrefix(up.Key, s.dir)
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		if err := fn(name, up.Initiated); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "list uploads of", URI: s.URI(), Err: err}
	}
	return nil
}
