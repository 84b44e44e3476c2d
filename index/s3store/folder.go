package s3store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Folder is a read-only view of every object under s3://BUCKET/PREFIX/,
// at any depth: where `clipfs curate --input s3://...` finds its videos.
// Objects are named relative to the folder ("a/b.mp4" is the key
// PREFIX/a/b.mp4). It is safe for concurrent use.
type Folder struct {
	s *Store
}

// OpenFolder is the folder uri names, s3://BUCKET/PREFIX (ParseURI), on
// the server and with the credentials opts and the environment name. As
// Open, it lists once, so that wrong credentials, a missing bucket or an
// unreachable server fail here in one line.
func OpenFolder(ctx context.Context, uri string, opts Options) (*Folder, error) {
	s, err := connect(ctx, uri, opts)
	if err != nil {
		return nil, err
	}
	if s.loc.Prefix != "" {
		s.dir = s.loc.Prefix + "/"
	}
	if err := s.probe(ctx); err != nil {
		return nil, err
	}
	return &Folder{s: s}, nil
}

// URI is the object name's s3:// URI, s3://BUCKET/PREFIX/NAME; with name
// "" the folder's, ending in a slash.
func (f *Folder) URI(name string) string { return "s3://" + f.s.loc.Bucket + "/" + f.s.dir + name }

// Location is the bucket and prefix the folder was opened on.
func (f *Folder) Location() Location { return f.s.loc }

// key is the object name's key; a name is a slash-separated path without
// empty, "." or ".." parts.
func (f *Folder) key(name string) (string, error) {
	if err := checkFolder(name); err != nil {
		return "", fmt.Errorf("s3store: %q is not an object name below %s", name, f.URI(""))
	}
	return f.s.dir + name, nil
}

// modified is an object's time to the second, as a HEAD tells it (a
// listing tells milliseconds), so that both agree.
func modified(t time.Time) time.Time { return t.Truncate(time.Second).UTC() }

// Walk calls fn for every object below the folder, at any depth, in key
// order, a listing page (1000 objects) at a time: its name relative to the
// folder, size, time of last modification (to the second) and ETag.
// Folder markers (keys ending in a slash) are left out; a name with an
// empty, "." or ".." part is passed on as it is (Stat and Presign refuse
// it). An error of fn ends the walk and is returned.
func (f *Folder) Walk(ctx context.Context, fn func(name string, size int64, mod time.Time, etag string) error) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: "list", URI: f.URI(""), Err: err}
	}
	owner := false
	opts := minio.ListObjectsOptions{Prefix: f.s.dir, Recursive: true, FetchOwner: &owner}
	for obj := range f.s.cl.ListObjectsIter(ctx, f.s.loc.Bucket, opts) {
		if obj.Err != nil {
			return f.s.fail(ctx, "list", f.s.dir, obj.Err)
		}
		name := strings.TrimPrefix(obj.Key, f.s.dir)
		if name == "" || strings.HasSuffix(name, "/") {
			continue
		}
		if err := fn(name, obj.Size, modified(obj.LastModified), obj.ETag); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "list", URI: f.URI(""), Err: err}
	}
	return nil
}

// Stat is object name's size, time of last modification (to the second)
// and ETag, by a HEAD. A missing object is an error matching
// fs.ErrNotExist.
func (f *Folder) Stat(ctx context.Context, name string) (size int64, mod time.Time, etag string, err error) {
	key, err := f.key(name)
	if err != nil {
		return 0, time.Time{}, "", err
	}
	start := time.Now()
	info, err := f.s.cl.StatObject(ctx, f.s.loc.Bucket, key, minio.StatObjectOptions{})
	f.s.timed("stat", key, start, info.Size, err)
	if err != nil {
		return 0, time.Time{}, "", f.s.fail(ctx, "stat", key, err)
	}
	return info.Size, modified(info.LastModified), info.ETag, nil
}

// MaxPresign is the longest a presigned URL may stay valid (SigV4's limit).
const MaxPresign = 7 * 24 * time.Hour

// Presign is a URL that GETs object name, ranges included, for expiry
// (at most MaxPresign) without further credentials: for a tool such as
// ffmpeg to read it. The URL is a secret (anyone holding it may read the
// object until it expires): it is in no error or log line of this
// package. Presigning asks nothing of the server; temporary credentials
// end the URL's validity when they expire.
func (f *Folder) Presign(ctx context.Context, name string, expiry time.Duration) (string, error) {
	key, err := f.key(name)
	if err != nil {
		return "", err
	}
	if expiry <= 0 || expiry > MaxPresign {
		return "", fmt.Errorf("s3store: presign %s: expiry %v is not between 1s and %v", f.URI(name), expiry, MaxPresign)
	}
	u, err := f.s.cl.PresignedGetObject(ctx, f.s.loc.Bucket, key, expiry, nil)
	if err != nil {
		return "", &Error{Op: "presign", URI: "s3://" + f.s.loc.Bucket + "/" + key, Err: f.s.explain(ctx, err)}
	}
	return u.String(), nil
}
