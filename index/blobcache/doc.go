// Package blobcache is a bounded on-disk cache in front of a remote
// index.BlobStore (an object store): the store a mount on another machine
// reads blobs through. A Cache is itself an index.BlobStore; Put, Remove
// and List go to the store it wraps, Open and Fetch are served from the
// cache, fetching what is missing with ranged reads of the inner store.
//
//   - Fetch (index.FetchingBlobStore) brings a whole blob into a local
//     file, with parallel ranged reads for a large one, and returns its
//     path: the mount serves a clip from it by passthrough.
//   - Open gives a reader whose ReadAt serves cached blocks (Options.BlockSize)
//     and fetches missing ones; while reads stay sequential a read-ahead
//     window doubles up to Options.MaxReadAhead, fetched as several ranged
//     reads at once; a random read fetches only the blocks it covers.
//   - Concurrent readers of one block share one fetch.
//   - Every ranged read of the inner store has a timeout and is retried with
//     backoff (Options.Attempts in all); a read that cannot be served is an
//     error, never fewer or other bytes, and a later read tries again.
//
// # Layout on disk
//
//	DIR/LOCK               held (flock) while a Cache is open; holds the boot id of an unclean session
//	DIR/blobs/xx/NAME      complete blobs, xx being the name's first two characters ("__" if shorter)
//	DIR/partial/NAME.data  a blob being fetched: a sparse file of the blob's size
//	DIR/partial/NAME.map   its block map: a header, then one byte per block (1: present)
//	DIR/tmp/               hard links of blobs being put; swept on open
//
// # Invariants
//
//   - Blob names are immutable, so nothing cached is ever invalidated.
//   - A file under blobs/ is complete: a partial file is renamed there only
//     once every block is written and its size is checked. A block is
//     marked present (in memory, then in the map) only after all its bytes
//     were fetched, checked against the size and written; a new Cache on
//     the same folder resumes partial files from their maps.
//   - Files written since the last clean Close are trusted after a crash of
//     the process, not after one of the machine: an unclean session that
//     began under another boot id is discarded whole on open.
//   - The bytes counted (stored blocks, complete files and space reserved
//     for a Fetch) stay under maxBytes: room is made by deleting whole
//     files, least recently used first, never one with a read or fetch in
//     progress. A block that finds no room is served to its readers but not
//     kept. A file removed while read stays counted until the read ends;
//     a file the caller of Fetch holds open is no longer the cache's.
//
// blobcache imports index only (and index/blobtest in its tests); it never
// imports fs, curate, cmd or an object-store client.
package blobcache
