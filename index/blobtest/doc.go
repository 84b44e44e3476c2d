// Package blobtest is the conformance test of index.BlobStore: every store
// (index.FolderStore, and any later object store) runs Run in its own
// tests, so that the index can rely on the same contract from each:
//
//   - Put moves a local file in under a name, durable on return, and the
//     source is gone; a missing source is an error. Putting a name again
//     replaces it (with the same bytes, names being immutable).
//   - Open gives a sized io.ReaderAt with io.ReaderAt's end-of-file rules
//     (fewer bytes only with an error, io.EOF at or past the end), safe for
//     concurrent reads; a missing blob matches fs.ErrNotExist.
//   - Remove of a missing blob is nil; List names exactly the blobs held,
//     with their sizes, and stops on its callback's error.
//   - A cancelled context fails Put, Open, Remove and List.
//
// It is not a _test package so that stores in other packages can import
// it; it imports index only, and only the tests of stores import it.
package blobtest
