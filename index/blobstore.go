package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// BlobStore keeps the database's immutable blobs by name: a folder of files
// (FolderStore, the default) or, later, an object store. The index is its
// only user; index/blobtest is the conformance test every implementation
// runs. Implementations are safe for concurrent use.
//
// A name is a blob's file name (a uuid and an extension: "<uuid>.mp4"):
// never empty, no slash. Its bytes never change once put; putting the same name
// again replaces it with the same bytes.
type BlobStore interface {
	// Put moves the finished local file at src into the store as blob
	// name, durable when Put returns (a folder store fsyncs the file,
	// renames it into place and fsyncs its folder). On success src is gone;
	// on failure it is left for the caller (tmp/ is swept on open).
	Put(ctx context.Context, name, src string) error
	// Open opens blob name for reading; a missing blob gives an error
	// matching fs.ErrNotExist. ctx bounds the open, not the reads: the
	// reader serves until closed.
	Open(ctx context.Context, name string) (BlobReader, error)
	// Remove deletes blob name. Removing a blob that is not there is not
	// an error (nil), so a retried or repeated removal succeeds.
	Remove(ctx context.Context, name string) error
	// List calls fn with each blob the store holds, in no set order; an
	// error from fn stops the listing and is returned. Blobs put or removed
	// meanwhile may or may not be listed.
	List(ctx context.Context, fn func(BlobInfo) error) error
}

// BlobReader is an open blob: ReadAt follows io.ReaderAt (fewer bytes
// than asked only with an error, io.EOF at the end) and is safe for
// concurrent use.
type BlobReader interface {
	io.ReaderAt
	io.Closer
	// Size is the blob's length in bytes.
	Size() int64
}

// BlobInfo is one blob as a store lists it.
type BlobInfo struct {
	Name string
	Size int64
}

// LocalBlobStore is the optional capability of a store whose blobs are
// local files: FUSE passthrough and copy_file_range need one. A store
// without it is read through BlobReader only.
type LocalBlobStore interface {
	// LocalPath is the file that holds (or would hold) blob name; ok is
	// false when this blob has none.
	LocalPath(name string) (path string, ok bool)
}

// UploadAborter is the optional capability of a store that keeps what a
// writer killed during a Put had sent (an object store's unfinished
// multipart uploads: never an object, but stored and billed). The orphan
// sweep of a writable open aborts them.
type UploadAborter interface {
	// AbortUploads aborts the unfinished uploads begun more than
	// olderThan ago (every one for olderThan <= 0) and says how many.
	AbortUploads(ctx context.Context, olderThan time.Duration) (int, error)
}

// UploadLister is the optional capability of a store that can list the
// unfinished uploads it keeps (UploadAborter): Check reports them.
type UploadLister interface {
	// Uploads calls fn with the blob name of each unfinished upload and
	// when it began; an error from fn stops the listing and is returned.
	Uploads(ctx context.Context, fn func(name string, began time.Time) error) error
}

// FetchingBlobStore is the optional capability of a store that can bring a
// whole blob into a local file on demand: a cache in front of an object
// store (index/blobcache). The mount then serves the file as it serves a
// LocalBlobStore's, by passthrough.
type FetchingBlobStore interface {
	// Fetch makes blob name whole in a local file, its size checked, and
	// returns the file's path; a missing blob gives an error matching
	// fs.ErrNotExist. ok is false, with a nil error, when the store keeps no
	// local copy of this blob (too large for its cache): read it through
	// Open. The file may be removed later to make room, so open it at
	// once; one gone before it was opened is fetched again.
	Fetch(ctx context.Context, name string) (path string, ok bool, err error)
}

// OpenBlob opens blob name through the database's store; a missing blob
// gives an error matching fs.ErrNotExist. Close the reader when done.
func (db *DB) OpenBlob(ctx context.Context, name string) (BlobReader, error) {
	r, err := db.blobs.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("index: blob %s: %w", name, err)
	}
	return r, nil
}

// BlobLocalPath is the local file that holds blob name, when the
// database's store keeps blobs as local files (LocalBlobStore); ok is false
// otherwise, and the blob is read through OpenBlob.
func (db *DB) BlobLocalPath(name string) (path string, ok bool) {
	if l, is := db.blobs.(LocalBlobStore); is {
		return l.LocalPath(name)
	}
	return "", false
}

// FetchBlob is the local file that holds blob name: the store's own
// (LocalBlobStore, with no call beyond LocalPath), or one the store fetches
// it into (FetchingBlobStore). ok is false, with a nil error, when there is
// none: read the blob through OpenBlob. A fetched file may be removed to
// make room later; OpenBlobFile opens it at once and fetches again if so.
func (db *DB) FetchBlob(ctx context.Context, name string) (path string, ok bool, err error) {
	if l, is := db.blobs.(LocalBlobStore); is {
		if p, ok := l.LocalPath(name); ok {
			return p, true, nil
		}
	}
	f, is := db.blobs.(FetchingBlobStore)
	if !is {
		return "", false, nil
	}
	p, ok, err := f.Fetch(ctx, name)
	if err != nil {
		return "", false, fmt.Errorf("index: blob %s: %w", name, err)
	}
	return p, ok, nil
}

// OpenBlobFile opens the local file that holds blob name (FetchBlob): for a
// LocalBlobStore exactly LocalPath and one open. A fetched file removed
// before it could be opened is fetched once more. ok is false, with a nil
// error, when there is no local file: read the blob through OpenBlob.
func (db *DB) OpenBlobFile(ctx context.Context, name string) (f *os.File, ok bool, err error) {
	_, fetching := db.blobs.(FetchingBlobStore)
	for try := 0; ; try++ {
		p, ok, err := db.FetchBlob(ctx, name)
		if err != nil || !ok {
			return nil, false, err
		}
		f, err := os.Open(p)
		if err == nil {
			return f, true, nil
		}
		if !fetching || try > 0 || !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
	}
}

// hashBlob is the digest of blob name's bytes (all of it when full, the
// size and XXH3 otherwise) as the store serves them: from the local file
// the store keeps it in or fetches it into (hashed in place, hashFileAt),
// else through its reader.
func (db *DB) hashBlob(ctx context.Context, name string, full bool) (blobDigest, error) {
	f, ok, err := db.OpenBlobFile(ctx, name)
	if err != nil {
		return blobDigest{}, err
	}
	if ok {
		defer f.Close()
		return hashFileAt(f, full)
	}
	r, err := db.blobs.Open(ctx, name)
	if err != nil {
		return blobDigest{}, err
	}
	defer r.Close()
	return hashReader(io.NewSectionReader(r, 0, r.Size()), full)
}
