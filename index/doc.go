// Package index is clipfs's single source of truth: an embedded Badger
// database holding every curated record, plus a store of immutable media
// blobs. It is the only package that imports Badger, and it imports no
// clipfs package.
//
// # Layout on disk
//
//	DB/badger/          the Badger key-value store
//	DB/blobs/xx/NAME    immutable media files (clip .mp4, preview .webp), the default blob store
//	DB/tmp/             files being written; swept on open
//
// # Blob store
//
// Blobs are reached only through a BlobStore (blobstore.go): Put a finished
// local file under its name, Open it as a sized io.ReaderAt, Remove, List.
// FolderStore (DB/blobs/xx/NAME) is the default; Options.Blobs passes
// another. Staging stays local: TempPath is under DB/tmp, and AdoptBlob
// hashes the file there before putting it. A store whose blobs are local
// files says so through the optional LocalBlobStore (DB.BlobLocalPath),
// which FUSE passthrough needs; one that can bring a blob whole into a
// local file on demand (a cache in front of an object store) through the
// optional FetchingBlobStore. DB.FetchBlob and DB.OpenBlobFile give the
// local file of either kind (LocalPath first, at no extra cost); every other
// caller reads through DB.OpenBlob. Every store runs the conformance test
// in index/blobtest. The packages under index import index only:
// index/blobtest, and index/blobcache, the bounded on-disk cache that
// wraps a remote store (a BlobStore and a FetchingBlobStore itself).
//
// # Key layout
//
// Keys are prefixed by kind so that every directory of the served tree is one
// prefix scan and every lookup one point read:
//
//	v/<source>               VideoRecord (JSON), source = absolute video path
//	k/<chunk uuid>           ChunkRecord (JSON)
//	c/<clip uuid>            ClipRecord (JSON)
//	e/<prefix>/<clip uuid>   Embedding (binary: dtype, shape, raw bytes)
//	m/<chunk uuid>           manifest: every key a chunk wrote (for replacement)
//	b/<blob name>            a referenced blob (orphan sweep checks these): its size and SHA-256
//	n/<dir>\x00<name>        a tree entry: Entry (kind, size, mtime, ref)
//	S/<NNNNNN>               ShardHeader (JSON); the highest unsealed one is open
//	s/<NNNNNN>/<SSSSSSSS>    ShardSample (JSON): members with blob refs or snapshots
//	B/<blob name>            the shard number holding a blob (kept past replacement)
//
// The tree entries (n/) mirror the folders of docs/formats.md §1: `clips/`,
// `filtered_clips/`, `previews/<uuid>/`, `metas/v0/`, `<p>_embd/`,
// `<p>_embd_parquet/`, `processed_videos/<rel>.json` and
// `processed_clip_chunks/<rel>_<i>.json`. The root folder is dir "". A folder
// appears in its parent only once it has content.
//
// # Invariants
//
//   - A chunk's clips, embeddings, tree entries, chunk record and video record
//     become visible in one Badger transaction, after their blobs are durable
//     (written to tmp/, put in the store: for FolderStore fsynced, renamed,
//     directory fsynced). A crash leaves the whole chunk or nothing; blobs no
//     key references are removed from the store on a writable open.
//   - Committing a chunk of a video whose fingerprint changed first deletes
//     every key the video's earlier chunks wrote (their manifests), in the same
//     transaction; replaced blobs are removed from the store after the commit.
//   - Passed clips join the open shard in their chunk's transaction; it seals
//     at ShardLimits or SealOpenShard. A sealed shard's samples and blobs are
//     never deleted: replacing a video removes only its unsealed samples.
//   - A b/ key records its blob's size and SHA-256, taken by AdoptBlob and
//     carried to the commit that writes the key; shard samples copy it into
//     their blob members. Keys written before digests hold empty values.
//     Readers verify a blob once per process before serving its bytes
//     (VerifyBlob, ShardContent); Check verifies the whole database.
//   - Writes are serialised by the DB; reads run concurrently with them and see
//     committed chunks only.
//   - Badger errors never leave this package unwrapped: callers test for
//     ErrNotFound, ErrLocked and ErrNoDatabase.
package index
