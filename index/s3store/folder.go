package s3store

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
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

// URI is the folder as s3://BUCKET/PREFIX.
func (f *Folder) URI() string { return f.s.loc.String() }

// String is URI.
func (f *Folder) String() string { return f.URI() }

// uri is the URI of file rel.
func (f *Folder) uri(rel string) string { return "s3://" + f.s.loc.Bucket + "/" + f.s.dir + rel }

// key is the object of file rel, which must be a valid io/fs path ("." is
// the folder itself). A backslash is refused: S3 servers (SeaweedFS) take
// it for a slash, and io/fs never does.
func (f *Folder) key(rel string) (string, error) {
	if !fs.ValidPath(rel) || strings.Contains(rel, `\`) {
		return "", fmt.Errorf("s3store: %q is not a slash path of a file under %s", rel, f.URI())
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
		return false, &Error{Op: "list", URI: f.URI() + "/", Err: err}
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
		return fmt.Errorf("s3store: write %s: the folder itself is not a file", f.URI())
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "put", URI: f.uri(rel), Err: err}
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
