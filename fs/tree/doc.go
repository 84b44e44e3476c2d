// Package tree is the pure layer of the served tree: the read-only tree
// NeMo Curator's ClipWriterStage writes (docs/formats.md §1), computed from
// a clipfs index, without FUSE.
//
// Tree (tree.go) maps a folder and a name to an index entry and renders the
// bytes of generated files (metas JSON and processed_* JSON through
// clipwriter, numpy pickles and Parquet through pack); shard.go opens sealed
// shards (Shard) and renders wds/shards.json; export.go writes a tree to
// disk (Export) or to any ExportTarget (ExportTo: a bucket's prefix) through it, so a mount (fs/mount) and an export hold the same bytes.
// Blobs are reached through the index's blob store (Tree.OpenBlob, or
// Tree.OpenBlobFile where the store keeps local files or fetches blobs
// whole into them; Export copies those with copy_file_range).
//
// Invariants:
//   - Folders are slash-separated paths relative to the root ("" is the
//     root); ChildPath joins them.
//   - Sizes are exact: from the entry for blobs and shards, from
//     pack.PickleSize for pickles, by rendering for everything else.
//   - Errors are plain Go errors (index.ErrNotFound for a name or record
//     that does not exist, os errors such as fs.ErrNotExist from blobs,
//     errors wrapping index.ErrCorrupt); turning them into errnos is the
//     FUSE adapter's job.
//
// tree imports index, pack and clipwriter only: never go-fuse, syscall-level
// FUSE types, fs/mount or curate.
package tree
