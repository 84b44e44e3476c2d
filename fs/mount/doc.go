// Package mount serves a clipfs tree (fs/tree) as the read-only FUSE
// filesystem NeMo Curator's ClipWriterStage writes (docs/formats.md §1).
//
// It answers FUSE requests itself (go-fuse's fuse.RawFileSystem), with no
// node object per file: fs.go has the requests and the files' attributes,
// nodes.go the compact table from kernel node IDs to (folder, name),
// dir.go listings, file.go blobs, rendered.go generated files, shard.go
// sealed shards, splice.go how file bytes reach the kernel. mount.go mounts
// (Mount, Options, Detach), notify.go keeps a live mount's kernel caches
// true to the index, ops.go times operations, and errno.go turns the
// tree's plain Go errors into errnos.
//
// Invariants:
//   - Read-only: mounted `ro`; every request that writes gets go-fuse's
//     default answer, ENOSYS (the kernel answers EROFS first).
//   - Memory per file the kernel holds is one 32-byte table entry; folders
//     are kept for the life of the mount. Nothing loads a whole folder.
//   - Lookup is one point read of the index (plus one record read and a
//     render for generated files); a listing pages through one prefix scan
//     and hands each listed entry to READDIRPLUS without reading it again.
//   - Inode numbers (st_ino) are a hash of (kind, folder, name): stable
//     across lookups and restarts. Node IDs are the mount's own.
//   - Sizes reported by stat are exact: generated files are rendered before
//     their size is reported, and blob sizes come from the index.
//   - Blobs come from the index's blob store. Where it keeps them as local
//     files (index.LocalBlobStore), or fetches them whole into local files
//     on open (index.FetchingBlobStore: a cache in front of an object
//     store), they are served with FUSE passthrough when the kernel allows,
//     else spliced or copied from the page cache; otherwise every read goes
//     through the store's ReaderAt (storeHandle).
//   - Every error a request returns passes through toErrno (errno.go): not
//     found is ENOENT, a cancelled context EINTR, anything else EIO, logged
//     once.
//
// mount is the only clipfs package that imports go-fuse. It imports
// fs/tree and index; never curate, and fs/tree never imports it.
package mount
