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
// index/s3store is the store over an S3 bucket (it imports index only, and
// index never imports it).
//
// # Replication
//
// The owner replicates the database through an object store: a BlobStore
// of its own (PREFIX/index/ beside the blobs; never the blob store, whose
// sweep would remove what no key names) holding Badger's backup stream:
//
//	manifest-<seq>.json   ReplicationManifest: base, increments (since, version) in order, sizes, SHA-256s
//	base-<seq>.backup     a full backup (Badger's format), put by publish seq
//	incr-<seq>.backup     every change after the version before it, put by publish seq
//
// seq is twelve digits, counts publishes and is never used twice (a failed
// publish uses one up).
//
// Publisher.Publish (publish.go) puts an increment, or a fresh base (first
// publish, RebaseAfter, RebaseRatio, or changes this process cannot vouch
// for), then the manifest naming it; objects no manifest names go Retain
// later. A Replica (replica.go, replica_apply.go, replica_changes.go)
// serves a copy of its own:
//
//	DIR/state.json    the store in use, its base and version, an increment being applied
//	DIR/kv-NNNNNN/    a Badger store loaded from the objects (a new one per rebuild)
//	DIR/tmp/          objects being fetched
//	DIR/LOCK          held by the process serving the replica
//
// Invariants of replication:
//
//   - An object holds whole transactions: it is streamed at one read
//     timestamp (writeBackup; DB.Backup's eight goroutines would each take
//     their own).
//   - An increment starts at the version the object before it ended at,
//     unchanged (Backup writes versions above since).
//   - A manifest is put after every object it names; no name is put twice.
//   - While a Publisher is open no tombstone newer than the last published
//     version is compacted away (its held read transaction); a publisher
//     goes on from a manifest only if nothing was committed since its
//     version, and rebases otherwise.
//   - No read of a replica starts while DB.Load applies an increment
//     (gate.go): a read sees the increment whole or not at all. A rebuild
//     loads a new store no one reads and swaps it in.
//   - state.json names a complete store; a crash during an apply, or a
//     store that does not open, means a rebuild. A replica's DB refuses
//     every write (ErrReadOnly).
//   - WatchTree on a replica reports an applied increment's entries once
//     they are readable, and after a rebuild the entries that differ.
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
