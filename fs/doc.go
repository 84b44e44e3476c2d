// Package fs serves a clipfs index as the read-only tree NeMo Curator's
// ClipWriterStage writes (docs/formats.md §1).
//
// The package has two layers. Tree (tree.go) is pure: it maps a folder and a
// name to an index entry and renders the bytes of generated files (metas
// JSON and processed_* JSON through clipwriter, numpy pickles and Parquet
// through pack).
// It knows nothing of FUSE, and export.go writes a tree to disk through it,
// so a mount and an export hold the same bytes. The FUSE nodes (dir.go for
// folders, the root among them; file.go and shard.go for files), mounted by
// mount.go, are thin wrappers over Tree: one file per node kind, go-fuse
// imported as fusefs.
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
//     files (index.LocalBlobStore) they are served with FUSE passthrough
//     when the kernel allows, else by pread through the page cache, and
//     exported with copy_file_range; otherwise every read goes through the
//     store's ReaderAt (storeHandle). Generated files use FOPEN_KEEP_CACHE.
//
// fs imports index, pack and go-fuse; never curate.
package fs
