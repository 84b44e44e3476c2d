package s3store

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Folder is the objects under s3://BUCKET/PREFIX/ seen as a tree of
// files: file REL (a slash path, as io/fs names them) is the object
// PREFIX/REL, and a folder is a key prefix some object has. clipfs export
// writes a ClipWriterStage tree into one (Write), and import reads one
// (FS), as NeMo Curator writes and reads its output_path on S3. It is safe
// for concurrent use.
type Folder struct {
	s *Store // dir: PREFIX/, or "" for the whole bucket
}

// OpenFolder is the folder uri names, s3://BUCKET/PREFIX, on the server and
// with the credentials opts and the environment name. Like Open it lists
// once, so that wrong keys, a missing bucket or a server that is down fail
// here in one line; a prefix with no objects is a folder (an empty one).
func OpenFolder(ctx context.Context, uri string, opts Options) (*Folder, error) {
	s, err := dial(ctx, uri, opts)
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

// String is the folder as s3://BUCKET/PREFIX.
func (f *Folder) String() string { return f.s.loc.String() }

// URI is file name's s3:// URI, s3://BUCKET/PREFIX/NAME; with name "" the
// folder's, ending in a slash.
func (f *Folder) URI(name string) string { return "s3://" + f.s.loc.Bucket + "/" + f.s.dir + name }

// Location is the bucket and prefix the folder was opened on.
func (f *Folder) Location() Location { return f.s.loc }

// key is the object of file rel, which must be a valid io/fs path ("." is
// the folder itself). A backslash is refused: S3 servers (SeaweedFS) take
// it for a slash, and io/fs never does.
func (f *Folder) key(rel string) (string, error) {
	if !fs.ValidPath(rel) || strings.Contains(rel, `\`) {
		return "", fmt.Errorf("s3store: %q is not a slash path of a file under %s", rel, f.String())
	}
	if rel == "." {
		return f.s.dir, nil
	}
	return f.s.dir + rel, nil
}

// Empty says whether no object has a key under the folder (an unfinished
// multipart upload is no object).
func (f *Folder) Empty(ctx context.Context) (bool, error) {
	for obj := range f.s.cl.ListObjectsIter(ctx, f.s.loc.Bucket, f.s.listOptions(1)) {
		if obj.Err != nil {
			return false, f.s.fail(ctx, "list", f.s.dir, obj.Err)
		}
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, &Error{Op: "list", URI: f.String() + "/", Err: err}
	}
	return true, nil
}

// Write makes file rel the size bytes r holds: one PUT up to the part
// size, a multipart upload above it that S3 shows as an object only once
// complete (and that is aborted on error), then a HEAD that must show the
// size. An object already there is replaced. r is best an io.ReaderAt
// and io.Seeker (a file, an io.SectionReader, a bytes.Reader): the client
// then retries a PUT from the start and reads a multipart upload's parts
// in parallel, straight from r.
func (f *Folder) Write(ctx context.Context, rel string, r io.Reader, size int64) error {
	key, err := f.key(rel)
	if err != nil {
		return err
	}
	if rel == "." {
		return fmt.Errorf("s3store: write %s: the folder itself is not a file", f.String())
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "put", URI: f.URI(rel), Err: err}
	}
	return f.s.putReader(ctx, key, r, size, contentType(path.Base(rel)))
}

// FS is the folder as a read-only io/fs file system whose requests run
// under ctx (fs.FS methods take none): Open, Stat, ReadDir and ReadFile,
// with files that Read (streaming one GET, resumed where a body is cut
// short) and ReadAt (ranged GETs). Its errors are *fs.PathError naming the
// file by rel, with the reason as Error gives it: fs.ErrNotExist for a
// missing file, an Unavailable one for a server that stays unreachable.
func (f *Folder) FS(ctx context.Context) fs.FS { return &folderFS{f: f, ctx: ctx} }

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
