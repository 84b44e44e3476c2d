// Package mount is the go-fuse adapter that serves a clipfs tree
// (fs/tree) as the read-only FUSE filesystem NeMo Curator's
// ClipWriterStage writes (docs/formats.md §1).
//
// The nodes are thin wrappers over tree.Tree, one file per node kind:
// dir.go for folders (the root among them), file.go for blobs and rendered
// files, shard.go for sealed shards. mount.go mounts them (Mount, Options,
// Detach), notify.go keeps a live mount's kernel caches true to the index,
// ops.go times operations, and errno.go turns the tree's plain Go errors
// into errnos. go-fuse is imported as fusefs.
//
// Invariants:
//   - Read-only: mounted `ro`, no write interface implemented
//     (node_api_check.go lists what is left out on purpose).
//   - Lookup is one point read of the index (plus one record read and a
//     render for generated files); Readdir pages through one prefix scan and
//     hands each listed entry to READDIRPLUS without reading it again.
//   - Inode numbers are a hash of (kind, folder, name): stable across lookups
//     and restarts.
//   - Sizes reported by stat are exact: generated files are rendered before
//     their size is reported, and blob sizes come from the index.
//   - Blobs come from the index's blob store. Where it keeps them as local
//     files (index.LocalBlobStore), or fetches them whole into local files
//     on open (index.FetchingBlobStore: a cache in front of an object
//     store), they are served with FUSE passthrough when the kernel allows,
//     else by pread through the page cache; otherwise every read goes
//     through the store's ReaderAt (storeHandle).
//     Generated files use FOPEN_KEEP_CACHE.
//   - Every error a node returns passes through toErrno (errno.go): not
//     found is ENOENT, a cancelled context EINTR, anything else EIO, logged
//     once.
//
// mount is the only clipfs package that imports go-fuse. It imports
// fs/tree and index; never curate, and fs/tree never imports it.
package mount
