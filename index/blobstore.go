package index

import (
	"context"
	"fmt"
	"io"
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

// hashBlob is the size and SHA-256 of blob name's bytes as the store
// serves them.
func (db *DB) hashBlob(ctx context.Context, name string) (blobDigest, error) {
	r, err := db.blobs.Open(ctx, name)
	if err != nil {
		return blobDigest{}, err
	}
	defer r.Close()
	return hashFile(io.NewSectionReader(r, 0, r.Size()))
}
